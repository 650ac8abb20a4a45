"""The sandbox over its JSON API: the real app, the look-alike and the page server on 127.0.0.1.

Each action goes through the page's API as the browser sends it, reaches the app as a
signed Slack request, and the test checks what the bot recorded in the database and
what the look-alike shows. (The browser itself: test_sandbox_browser.py.)
"""

from __future__ import annotations

import difflib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from conftest import REPO_ROOT, clean_env
from newsbot.bot.config.settings import BUNDLED_ARTICLES, Config, load_config
from newsbot.bot.newsroom import checks
from newsbot.bot.services.intake import DecisionEvent
from newsbot.handlers.blocks import PUBLISH_ACTION, SKIP_ACTION, UNDO_ACTION
from newsbot.handlers.listeners.unfurls import in_domains
from newsbot.sandbox.runner import (
    CHANNEL_ID,
    DESK_CHANNEL_ID,
    EXAMPLE_UNFURL_DOMAINS,
    SANDBOX_USER,
    SUBSCRIBED_EVENTS,
    Sandbox,
    _keep_loopback_off_proxies,
)
from newsbot.sandbox.working_copy import FOLDER, working_copy

ME = SANDBOX_USER.id
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    articles = tmp_path / "articles"
    shutil.copytree(BUNDLED_ARTICLES, articles)
    with Sandbox(Config(articles=articles, db=tmp_path / "newsbot.db"), port=0) as started:
        yield started


def request(url: str, body: object = None, *, content_type: str = "application/json",
            headers: dict[str, str] | None = None, timeout: float = 30) -> tuple[int, dict]:
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
    all_headers = {"Content-Type": content_type} if data is not None else {}
    all_headers.update(headers or {})
    try:
        with OPENER.open(urllib.request.Request(url, data=data, headers=all_headers),
                         timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def api(sandbox: Sandbox, path: str, body: object = None) -> dict:
    status, document = request(sandbox.url + path, body)
    assert status == 200, document
    return document


def first_article(sandbox: Sandbox):
    assert sandbox.digest is not None
    return sandbox.digest.messages[0]


def decisions(sandbox: Sandbox) -> list[dict]:
    return sandbox.store.query("SELECT article_id, decision, user_id, source FROM decisions")


def blocks_text(message: dict) -> str:
    return json.dumps(message.get("blocks", []), ensure_ascii=False)


# --- start-up


def test_start_posts_the_first_digest_to_newsroom_and_serves_the_page(sandbox: Sandbox):
    assert sandbox.url.startswith("http://127.0.0.1:")
    with OPENER.open(sandbox.url) as response:
        page = response.read().decode()
        assert "newsbot sandbox" in page and 'src="/app.js"' in page
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    for asset in ("app.js", "style.css"):
        with OPENER.open(sandbox.url + asset) as response:
            assert response.status == 200 and len(response.read()) > 1000
    state = api(sandbox, "api/state")
    assert state["channels"] == [{"id": CHANNEL_ID, "name": "newsroom"},
                                 {"id": DESK_CHANNEL_ID, "name": "newsdesk"}]
    assert state["dms"] == [{"id": "D0YOU", "name": "newsbot"}]  # with the bot, from the start
    assert state["messages"][DESK_CHANNEL_ID] == state["messages"]["D0YOU"] == []
    assert state["me"]["id"] == ME
    header, *articles = state["messages"][CHANNEL_ID]
    assert header["text"].startswith("Top 10 unpublished articles")
    assert header["reply_count"] == 10 and len(articles) == 10
    assert [m["ts"] for m in articles] == [m.ts for m in sandbox.digest.messages]
    assert all(m["thread_ts"] == header["ts"] and m["bot_id"] for m in articles)
    assert "metadata" not in header  # for apps, not for the page


def test_everything_listens_on_loopback_only(sandbox: Sandbox):
    assert sandbox._page.server_address[0] == "127.0.0.1"
    assert sandbox.runtime.server.server_address[0] == "127.0.0.1"
    assert sandbox.slack.url.startswith("http://127.0.0.1:")
    assert sandbox.client.app_url.startswith("http://127.0.0.1:")


def test_the_sandbox_applies_spooled_decisions_as_serve_does(sandbox: Sandbox):
    """The sandbox runs serve's jobs (bot/app/runtime.py): a decision spooled while the
    database refused it is applied by the spool-apply job, and its message redrawn."""
    assert sandbox.runtime is not None and sandbox.runtime.spool is not None
    message = sandbox.digest.messages[0]
    sandbox.runtime.spool.append(DecisionEvent(
        key="Ev-spooled", action="publish", user_id=SANDBOX_USER.id, source="reaction",
        event_us=1_700_000_000_000_000, received_at="2026-01-01T00:00:00.000Z",
        channel=CHANNEL_ID, message_ts=message.ts).to_json())
    sandbox.slack.wait_until(lambda: "*Published* by" in json.dumps(
        sandbox.slack.workspace.message(CHANNEL_ID, message.ts)["blocks"]))
    assert [row["event_key"] for row in sandbox.store.query("SELECT event_key FROM decision_log")
            ] == ["Ev-spooled"]
    assert sandbox.runtime.spool.depth() == 0


def test_the_forwarded_events_are_the_ones_the_manifest_subscribes_to():
    manifest = yaml.safe_load((REPO_ROOT / "deploy" / "manifest.yml").read_text())
    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == SUBSCRIBED_EVENTS


# --- reactions


def test_a_reaction_reaches_the_app_as_a_signed_event_and_records_the_decision(
        sandbox: Sandbox):
    message = first_article(sandbox)
    api(sandbox, "api/react", {"channel": CHANNEL_ID, "ts": message.ts,
                               "name": "white_check_mark", "add": True})
    slack = sandbox.slack
    slack.wait_until(lambda: "*Published* by" in blocks_text(
        slack.workspace.message(CHANNEL_ID, message.ts)))
    assert decisions(sandbox) == [{"article_id": message.article.id, "decision": "publish",
                                   "user_id": ME, "source": "reaction"}]
    [delivery] = slack.deliveries()
    assert delivery.event["type"] == "reaction_added" and delivery.result.status == 200
    [logged] = sandbox.store.query("SELECT event_key FROM decision_log")
    assert logged["event_key"].startswith("Ev")  # Slack's event_id, from the event envelope
    shown = api(sandbox, "api/state")["messages"][CHANNEL_ID]
    updated = next(m for m in shown if m["ts"] == message.ts)
    assert updated["edited"] and updated["reactions"] == [
        {"name": "white_check_mark", "users": [ME], "count": 1}]

    api(sandbox, "api/react", {"channel": CHANNEL_ID, "ts": message.ts,
                               "name": "white_check_mark", "add": False})
    slack.wait_until(lambda: not decisions(sandbox))
    slack.wait_until(lambda: "*Published* by" not in blocks_text(
        slack.workspace.message(CHANNEL_ID, message.ts)))


def test_reactions_slack_would_refuse_are_refused_with_its_error(sandbox: Sandbox):
    message = first_article(sandbox)
    react = {"channel": CHANNEL_ID, "ts": message.ts, "name": "eyes", "add": True}
    api(sandbox, "api/react", react)
    assert request(sandbox.url + "api/react", react) == (
        400, {"ok": False, "error": "already_reacted"})
    status, document = request(sandbox.url + "api/react", {**react, "ts": "1.000001"})
    assert (status, document["error"]) == (400, "message_not_found")
    status, document = request(sandbox.url + "api/react", {"channel": CHANNEL_ID})
    assert (status, document["error"]) == (400, "ts_required")
    assert decisions(sandbox) == []  # :eyes: is no decision


# --- buttons


def click_on(sandbox: Sandbox, ts: str, action_id: str) -> dict:
    """What the page sends for a click: the button's block as the message now has it."""
    stored = sandbox.slack.workspace.message(CHANNEL_ID, ts)
    actions = next(b for b in stored["blocks"] if b["type"] == "actions")
    return {"channel": CHANNEL_ID, "ts": ts, "block_id": actions["block_id"],
            "action_id": action_id}


def test_button_clicks_decide_and_undo_withdraws(sandbox: Sandbox):
    message = sandbox.digest.messages[1]
    api(sandbox, "api/click", click_on(sandbox, message.ts, SKIP_ACTION))
    sandbox.slack.wait_until(lambda: decisions(sandbox))
    assert decisions(sandbox) == [{"article_id": message.article.id, "decision": "skip",
                                   "user_id": ME, "source": "button"}]
    sandbox.slack.wait_until(lambda: "*Skipped* by" in blocks_text(
        sandbox.slack.workspace.message(CHANNEL_ID, message.ts)))
    api(sandbox, "api/click", click_on(sandbox, message.ts, UNDO_ACTION))
    sandbox.slack.wait_until(lambda: not decisions(sandbox))
    status, document = request(sandbox.url + "api/click",
                               click_on(sandbox, message.ts, "nope"))
    assert (status, document["error"]) == (404, "action_not_found")


# --- /news and messages


def wait_for_ephemeral(sandbox: Sandbox, count: int) -> list[dict]:
    sandbox.slack.wait_until(
        lambda: len(sandbox.slack.workspace.ephemeral_messages(ME)) >= count)
    return sandbox.slack.workspace.ephemeral_messages(ME)


def test_news_answers_privately_and_its_buttons_decide(sandbox: Sandbox):
    api(sandbox, "api/command", {"channel": CHANNEL_ID, "text": "/news topics"})
    [topics] = wait_for_ephemeral(sandbox, 1)
    assert topics["channel"] == CHANNEL_ID and "*Climate*: 9 unpublished of 11" in (
        blocks_text(topics))
    api(sandbox, "api/command", {"channel": CHANNEL_ID, "text": "/news topic climate"})
    answer = wait_for_ephemeral(sandbox, 2)[1]
    first = next(b for b in answer["blocks"] if b["type"] == "actions")
    article_id = first["elements"][0]["value"]
    api(sandbox, "api/click", {"channel": CHANNEL_ID, "ts": answer["ts"], "ephemeral": True,
                               "block_id": first["block_id"], "action_id": PUBLISH_ACTION})
    sandbox.slack.wait_until(lambda: decisions(sandbox))
    assert decisions(sandbox)[0]["article_id"] == article_id
    assert "Recorded: publish" in wait_for_ephemeral(sandbox, 3)[2]["text"]
    shown = api(sandbox, "api/state")["ephemeral"]
    assert [m["ts"] for m in shown] == [m["ts"] for m in wait_for_ephemeral(sandbox, 3)]


def test_other_commands_are_refused_and_plain_text_is_posted(sandbox: Sandbox):
    status, document = request(sandbox.url + "api/command",
                               {"channel": CHANNEL_ID, "text": "/frobnicate now"})
    assert status == 400 and "/frobnicate is not a valid command" in document["error"]
    api(sandbox, "api/command", {"channel": CHANNEL_ID, "text": "Morning all <b>&"})
    last = sandbox.slack.workspace.messages(CHANNEL_ID)[-1]
    assert (last["user"], last["text"]) == (ME, "Morning all &lt;b&gt;&amp;")  # as Slack's
    [delivery] = sandbox.slack.deliveries()
    assert delivery.event["type"] == "message"
    assert delivery.result is None  # not forwarded: the app does not subscribe to messages


def test_news_typed_in_a_thread_is_refused_as_slack_refuses_it(sandbox: Sandbox):
    """Slack's clients refuse an app's slash command in a thread reply and send the app
    nothing; plain text there is a reply, and `/news` in the channel's box is answered."""
    [parent] = sandbox.slack.workspace.history(CHANNEL_ID)[-1:]  # the digest's first message
    in_thread = {"channel": CHANNEL_ID, "thread_ts": parent["ts"]}
    status, document = request(sandbox.url + "api/command", {**in_thread, "text": "/news topics"})
    assert (status, document["error"]) == (400, "/news is not supported in threads. Sorry!")
    api(sandbox, "api/command", {**in_thread, "text": "worth a look"})
    reply = sandbox.slack.workspace.messages(CHANNEL_ID)[-1]
    assert (reply["text"], reply["thread_ts"]) == ("worth a look", parent["ts"])
    api(sandbox, "api/command", {"channel": CHANNEL_ID, "text": "/news topics"})
    [answer] = wait_for_ephemeral(sandbox, 1)  # the channel's only: the thread's never went
    assert answer["channel"] == CHANNEL_ID and "thread_ts" not in answer
    assert len(sandbox.slack.response_posts()) == 1


def test_each_action_is_signed_as_the_member_the_page_names(sandbox: Sandbox):
    """The page may act as any member (`user`); the app gets the request as theirs, and
    the state it draws is theirs: their ephemeral answers, their DM, their Home tab."""
    state = api(sandbox, "api/state?user=U0SAM")
    assert state["me"] == {"id": "U0SAM", "name": "sam"}
    assert [m["id"] for m in state["members"]] == [ME, "U0SAM"]
    api(sandbox, "api/command", {"channel": CHANNEL_ID, "text": '/news schedule add '
                                 '#newsroom "0 9 * * *"', "user": "U0SAM"})
    sandbox.slack.wait_until(lambda: sandbox.slack.response_posts())
    [refusal] = sandbox.slack.response_posts()
    assert refusal.target.user == "U0SAM"
    assert "Only newsbot admins" in json.dumps(refusal.payload)
    assert api(sandbox, "api/state")["ephemeral"] == []  # Sam's answer is not yours
    assert api(sandbox, "api/state?user=U0SAM")["ephemeral"][0]["text"].startswith("Only")
    api(sandbox, "api/react", {"channel": CHANNEL_ID, "ts": first_article(sandbox).ts,
                               "name": "x", "user": "U0SAM"})
    sandbox.slack.wait_until(lambda: decisions(sandbox))
    assert decisions(sandbox)[0]["user_id"] == "U0SAM"
    for path, body in (("api/command", {"channel": CHANNEL_ID, "text": "hi"}),
                       ("api/home", {})):
        status, document = request(sandbox.url + path, {**body, "user": "U0NOBODY"})
        assert (status, document["error"]) == (404, "user_not_found")
    assert request(sandbox.url + "api/state?user=U0NOBODY")[0] == 404


def test_a_message_shortcut_is_sent_only_for_one_the_app_declares(sandbox: Sandbox):
    [shortcut] = api(sandbox, "api/state")["shortcuts"]
    assert shortcut["name"] == "Decide on this article"
    ts = first_article(sandbox).ts
    status, document = request(sandbox.url + "api/shortcut", {
        "callback_id": "nope", "channel": CHANNEL_ID, "ts": ts})
    assert (status, document["error"]) == (404, "shortcut_not_found")
    api(sandbox, "api/shortcut", {"callback_id": shortcut["callback_id"],
                                  "channel": CHANNEL_ID, "ts": ts})
    [opened] = sandbox.slack.wait_for_calls("views.open")
    assert opened.ok and "Decide on this article" in json.dumps(opened.params)
    assert api(sandbox, "api/state")["modal"]["view"]["title"]["text"] == \
        "Decide on this article"


def test_app_home_opens_with_the_queue(sandbox: Sandbox):
    api(sandbox, "api/home", {})
    sandbox.slack.wait_until(lambda: sandbox.slack.workspace.home_view(ME))
    home = api(sandbox, "api/state")["home"]
    assert "Newsroom queue" in blocks_text(home)


# --- live updates


def test_state_waits_for_the_next_change(sandbox: Sandbox):
    version = api(sandbox, "api/state")["version"]
    answers: list[dict] = []
    waiting = threading.Thread(
        target=lambda: answers.append(api(sandbox, f"api/state?since={version}")))
    waiting.start()
    api(sandbox, "api/react", {"channel": CHANNEL_ID, "ts": first_article(sandbox).ts,
                               "name": "tada", "add": True})
    waiting.join(timeout=25)
    assert answers and answers[0]["version"] > version


# --- sync


def test_sync_preview_shows_the_diff_and_running_it_edits_one_line(sandbox: Sandbox):
    message = first_article(sandbox)
    path = sandbox.config.articles / message.article.id
    before = path.read_text(encoding="utf-8")
    assert api(sandbox, "api/sync")["diff"] == ""
    api(sandbox, "api/react", {"channel": CHANNEL_ID, "ts": message.ts,
                               "name": "white_check_mark", "add": True})
    sandbox.slack.wait_until(lambda: decisions(sandbox))
    preview = api(sandbox, "api/sync")
    assert preview["dryRun"] and "-published: false\n+published: true" in preview["diff"]
    assert path.read_text(encoding="utf-8") == before  # a dry run writes nothing
    done = api(sandbox, "api/sync", {})
    assert [w["id"] for w in done["written"]] == [message.article.id] and not done["conflicts"]
    changed = [line for line in difflib.ndiff(before.splitlines(),
                                              path.read_text(encoding="utf-8").splitlines())
               if line[:1] in "+-"]
    assert changed == ["- published: false", "+ published: true"]
    assert api(sandbox, "api/sync")["diff"] == ""


# --- refusing what is not the page's own


def test_the_api_refuses_cross_site_requests(sandbox: Sandbox):
    react = {"channel": CHANNEL_ID, "ts": first_article(sandbox).ts, "name": "x"}
    form = b"channel=C0NEWSROOM&ts=1&name=x"
    status, document = request(sandbox.url + "api/sync", form,
                               content_type="application/x-www-form-urlencoded")
    assert (status, document["error"]) == (415, "json_body_required")
    status, document = request(sandbox.url + "api/react", react,
                               headers={"Origin": "http://evil.example"})
    assert (status, document["error"]) == (403, "foreign_origin")
    status, document = request(sandbox.url + "api/state",
                               headers={"Host": "evil.example:80"})
    assert (status, document["error"]) == (421, "unknown_host")
    assert request(sandbox.url + "api/nope", {})[0] == 404
    assert sandbox.slack.calls("reactions.add") == [] and decisions(sandbox) == []


# --- working folder, proxies


def test_on_the_bundled_examples_it_works_on_a_kept_copy_with_its_own_database(
        tmp_path: Path):
    config = working_copy(Config(), tmp_path)
    assert config.articles == tmp_path / FOLDER / "articles"
    assert config.db == tmp_path / FOLDER / "newsbot.db"
    assert sorted(p.name for p in config.articles.rglob("*.md")) == sorted(
        p.name for p in BUNDLED_ARTICLES.rglob("*.md"))
    edited = next(config.articles.rglob("*.md"))
    edited.write_text("changed by a sync", encoding="utf-8")
    assert working_copy(Config(), tmp_path) == config
    assert edited.read_text(encoding="utf-8") == "changed by a sync"  # kept, not copied again
    assert working_copy(Config(db=tmp_path / "mine.db"), tmp_path).db == tmp_path / "mine.db"
    own = Config(articles=tmp_path / "elsewhere")
    assert working_copy(own, tmp_path) is own


def test_loopback_is_kept_off_proxies_only_when_one_is_set():
    env = {"HTTPS_PROXY": "http://proxy:3128", "no_proxy": "intranet"}
    _keep_loopback_off_proxies(env)
    assert env["no_proxy"] == "intranet,127.0.0.1,localhost"
    assert env["NO_PROXY"] == "127.0.0.1,localhost"
    untouched: dict[str, str] = {}
    _keep_loopback_off_proxies(untouched)
    assert untouched == {}


# --- the command line


def env_without_slack(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in clean_env().items()
           if not k.startswith("SLACK_") and k.lower() not in ("http_proxy", "https_proxy")}
    return {**env, **(extra or {})}


def test_serve_without_any_credentials_and_no_terminal_stops_naming_them(tmp_path: Path):
    done = subprocess.run(
        [sys.executable, "-m", "newsbot.bot", "serve", "--port", "0"], cwd=tmp_path,
        env=env_without_slack(), stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=60)
    assert done.returncode == 2, done.stderr
    assert "SLACK_BOT_TOKEN and SLACK_APP_TOKEN are not set" in done.stderr
    assert "newsbot sandbox" in done.stderr and "Traceback" not in done.stderr
    http = subprocess.run(
        [sys.executable, "-m", "newsbot.bot", "serve", "--http"], cwd=tmp_path,
        env=env_without_slack(), stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=60)
    assert http.returncode == 2 and "SLACK_SIGNING_SECRET" in http.stderr
    assert not (tmp_path / FOLDER).exists()  # no sandbox was started


def test_serve_without_any_credentials_on_a_terminal_says_so_then_offers_the_sandbox(
        tmp_path: Path):
    import pty

    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "newsbot.bot", "serve", "--port", "0"], cwd=tmp_path,
        env=env_without_slack(), stdin=terminal, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, encoding="utf-8")
    os.close(terminal)
    lines = []
    try:
        first = process.stdout.readline()
        assert "not Slack" in first and "newsbot sandbox" in first  # said before it asks
        os.write(controller, b"y\n")
        for line in process.stdout:
            lines.append(line)
            if "Open http://" in line:
                break
        url = lines[-1].split("Open ", 1)[1].split()[0]
        alerts = next(line for line in lines if line.startswith("Alerts:"))
        assert "/news subscribe topics=AI" in alerts and f"{FOLDER}/articles" in alerts
        assert url.startswith("http://127.0.0.1:")
        with OPENER.open(url) as response:
            assert "newsbot sandbox" in response.read().decode()
        with OPENER.open(url + "api/state") as response:
            header = json.loads(response.read())["messages"][CHANNEL_ID][0]
            assert header["text"].startswith("Top 10 unpublished articles")
    finally:
        process.send_signal(signal.SIGTERM)
        rest, errors = process.communicate(timeout=15)
        os.close(controller)
    assert process.returncode == 0, errors
    assert "Sandbox stopped." in rest
    assert (tmp_path / FOLDER / "articles").is_dir()  # a copy: the examples stay as shipped


def test_serve_with_some_but_not_all_credentials_names_what_is_missing(tmp_path: Path):
    done = subprocess.run(
        [sys.executable, "-m", "newsbot.bot", "serve"], cwd=tmp_path, capture_output=True,
        text=True, env=env_without_slack({"SLACK_SIGNING_SECRET": "abc"}), timeout=60)
    assert done.returncode == 2
    assert "SLACK_BOT_TOKEN is not set" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / FOLDER).exists()


def test_sandbox_on_a_busy_port_says_so(tmp_path: Path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "newsbot.bot", "sandbox", "--port", str(port)], cwd=tmp_path,
            capture_output=True, text=True, env=env_without_slack(), timeout=60)
    assert done.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr and "--port 0" in done.stderr
    bad = subprocess.run([sys.executable, "-m", "newsbot.bot", "sandbox", "--port", "70000"],
                         cwd=tmp_path, capture_output=True, text=True, env=env_without_slack(),
                         timeout=60)
    assert bad.returncode == 2 and "must be 0 to 65535" in bad.stderr


def test_the_page_files_ship_with_the_package():
    pyproject = (REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"newsbot.sandbox" = ["static/*", "static/emoji/*"]' in pyproject
    static = REPO_ROOT / "sandbox" / "static"
    assert {p.name for p in static.iterdir()} >= {"index.html", "app.js", "style.css", "emoji"}
    emoji = {p.name for p in (static / "emoji").iterdir()}
    assert {"white_check_mark.svg", "x.svg", "add_reaction.svg"} <= emoji
    script = (static / "app.js").read_text(encoding="utf-8")
    named = set(re.findall(r':\s*"([a-z_]+)"', script[script.index("const EMOJI"):
                                                    script.index("const PICKER_EXTRA")]))
    assert {f"{name}.svg" for name in named} <= emoji  # every mapped emoji has its image


def test_emoji_images_are_served_and_nothing_else_from_their_folder(sandbox: Sandbox):
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(sandbox.url + "emoji/white_check_mark.svg") as response:
        assert response.headers["Content-Type"] == "image/svg+xml"
        assert response.read().startswith(b"<svg")
    for path in ("emoji/../app.js", "emoji/nope.svg", "emoji/"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            opener.open(sandbox.url + path)
        assert refused.value.code == 404


def test_the_example_images_are_served_in_place_of_their_unreachable_urls(sandbox: Sandbox):
    import urllib.request

    images = api(sandbox, "api/state")["images"]
    first = sandbox.digest.messages[0].article
    local = images[first.image_url]
    assert re.fullmatch(r"/images/[0-9a-f_]+\.svg", local)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(sandbox.url + local.lstrip("/")) as response:
        assert response.headers["Content-Type"] == "image/svg+xml"
        assert response.read().startswith(b"<svg")
    for path in ("images/images.json", "images/../style.css", "images/nope.svg"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            opener.open(sandbox.url + path)
        assert refused.value.code == 404


def test_every_image_an_example_article_names_is_bundled():
    """No example shows a placeholder on the page: each image URL of each bundled article
    (YAML, TOML and JSON front matter alike) maps to a bundled file that exists."""
    from newsbot.sandbox.bundled_images import BundledImages
    from newsbot.storage.article_file import load_front_matter

    bundled = BundledImages()
    named = [image["url"] for path in sorted(BUNDLED_ARTICLES.rglob("*"))
             if path.suffix in (".md", ".txt")
             for image in load_front_matter(path.read_bytes()).get("images") or []]
    assert len(named) >= 36
    assert [url for url in named if url not in bundled.by_url] == []
    assert all(bundled.file(bundled.by_url[url]) for url in named)


def test_the_sandbox_shows_a_syndicated_story_once_with_its_also_line(sandbox: Sandbox):
    """The bundled examples hold a story from three outlets: one entry, the others named."""
    header, *articles = api(sandbox, "api/state")["messages"][CHANNEL_ID]
    shown = [blocks_text(m) for m in articles]
    story = [text for text in shown if "AI-Assisted Mammography" in text]
    assert len(story) == 1
    assert "Also: <https://healthwire.example/news/2026/11/04/ai-mammography-trial-missed-" \
           "cancers|Health Wire> (quality 71)" in story[0]
    assert not any("017_3b9e0d1c52a7f460" in text or "018_c07d5a9e1f3b2c84" in text
                   for text in shown)


# --- link previews


def test_the_sandboxs_default_unfurl_domains_are_valid_and_the_configs_win(tmp_path):
    """At most 5 valid domains, as Slack allows; a configured list is kept as it is, and
    `serve`'s default stays none."""
    assert checks.unfurl_domains(list(EXAMPLE_UNFURL_DOMAINS)) == EXAMPLE_UNFURL_DOMAINS
    assert Sandbox(Config()).config.unfurl_domains == EXAMPLE_UNFURL_DOMAINS
    configured = Config(unfurl_domains=("news.example.net",))
    assert Sandbox(configured).config.unfurl_domains == ("news.example.net",)
    assert Config().unfurl_domains == () and load_config(env={}, cwd=tmp_path).unfurl_domains == ()


def test_a_pasted_article_link_is_previewed_on_the_page_and_its_buttons_decide(sandbox):
    """No `unfurl.domains` configured: the sandbox's cover every bundled example's link,
    and each of them covers some example (none is there for nothing)."""
    urls = [r["web_url"] for r in sandbox.store.query(
        "SELECT web_url FROM articles WHERE web_url IS NOT NULL")]
    assert len(urls) > 30 and all(in_domains(url, EXAMPLE_UNFURL_DOMAINS) for url in urls)
    for domain in EXAMPLE_UNFURL_DOMAINS:
        assert any(in_domains(url, (domain,)) for url in urls), domain
    [row] = sandbox.store.query("SELECT id, web_url FROM articles WHERE web_url LIKE"
                                " '%policyledger%' ORDER BY id LIMIT 1")
    api(sandbox, "api/command", {"channel": CHANNEL_ID, "text": f"see {row['web_url']}"})
    sandbox.slack.wait_for_calls("chat.unfurl")
    [message] = [m for m in api(sandbox, "api/state")["messages"][CHANNEL_ID]
                 if m.get("attachments")]
    [preview] = message["attachments"]
    assert preview["is_app_unfurl"] and preview["app_unfurl_url"] == row["web_url"]
    [actions] = [b for b in preview["blocks"] if b["type"] == "actions"]
    api(sandbox, "api/click", {"action_id": PUBLISH_ACTION, "block_id": actions["block_id"],
                               "channel": CHANNEL_ID, "ts": message["ts"],
                               "unfurl": row["web_url"]})
    sandbox.slack.wait_until(lambda: decisions(sandbox))
    assert decisions(sandbox)[0]["article_id"] == row["id"]
    sandbox.slack.wait_for_calls("chat.unfurl", 2)  # the preview shows the decision
