"""`newsbot serve --http` and `newsbot digest --post` as real processes against the look-alike."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from sandbox import SignedSlackClient, SlackLookalike
from tests.conftest import EXAMPLES, clean_env, run_cli

SECRET = "serve-test-secret"


@pytest.fixture
def slack():
    with SlackLookalike() as lookalike:
        yield lookalike


def slack_env(slack: SlackLookalike, tmp_path: Path, **extra: str) -> dict[str, str]:
    articles = tmp_path / "articles"
    if not articles.exists():
        shutil.copytree(EXAMPLES, articles)
    env = {"SLACK_BOT_TOKEN": slack.bot_token, "SLACK_API_URL": slack.base_url,
           "NEWSBOT_ARTICLES": str(articles), "NEWSBOT_DB": str(tmp_path / "newsbot.db")}
    env.update(extra)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        env[name] = ""
    return env


def test_serve_http_answers_signed_requests_and_stops_cleanly(slack, tmp_path: Path):
    config = tmp_path / "newsbot.yaml"
    config.write_text('schedules:\n  - channel: C0NEWSDESK\n    cron: "0 9 * * 1-5"\n'
                      "    tz: Europe/London\n", encoding="utf-8")
    env = clean_env(slack_env(slack, tmp_path, SLACK_SIGNING_SECRET=SECRET))
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--http", "--host", "127.0.0.1", "--port", "0",
         "--config", str(config)],
        cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True,
    )
    lines = []
    try:
        url = None
        deadline = time.monotonic() + 30
        while url is None and time.monotonic() < deadline:
            line = process.stderr.readline()
            if not line:
                break
            lines.append(line)
            record = json.loads(line)
            if record["msg"] == "serving HTTP":
                url = record["url"]
        assert url, "".join(lines)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"{url}/healthz") as response:
            assert json.loads(response.read()) == {"ok": True, "articles": 39}
        client = SignedSlackClient(f"{url}/slack/events", SECRET,
                                   response_url_factory=slack.new_response_url)
        assert client.slash_command("/news", "schedule list", user_id="U0EDITOR",
                                    channel_id="C0NEWSDESK").status == 200
        slack.wait_until(lambda: slack.response_posts(), timeout=10)
        listing = json.dumps(slack.response_posts()[0].payload)
        assert "0 9 * * 1-5" in listing  # the config file's schedule was applied at start
    finally:
        process.send_signal(signal.SIGTERM)
        _, rest = process.communicate(timeout=15)
        lines.append(rest)
    log = "".join(lines)
    assert process.returncode == 0, log
    assert slack.bot_token not in log and SECRET not in log
    for line in filter(None, log.splitlines()):
        json.loads(line)  # every log line is one JSON object


def test_serve_without_a_signing_secret_in_http_mode_names_it(tmp_path: Path, slack):
    result = run_cli("serve", "--http", cwd=tmp_path, env=slack_env(slack, tmp_path))
    assert result.code == 2
    assert "SLACK_SIGNING_SECRET" in result.stderr and "Traceback" not in result.stderr


def test_digest_post_from_the_command_line_and_resume(slack, tmp_path: Path):
    env = slack_env(slack, tmp_path)
    result = run_cli("digest", "--post", "--channel", "<#C0NEWSDESK|newsdesk>", "--top", "3",
                     "--json", cwd=tmp_path, env=env)
    assert result.code == 0, result.stderr
    document = result.json
    assert document["channel"] == "C0NEWSDESK" and len(document["articles"]) == 3
    assert all(a["ts"] for a in document["articles"])
    assert len(slack.calls("chat.postMessage")) == 4
    again = run_cli("digest", "--post", "--channel", "C0NEWSDESK", "--top", "3", "--json",
                    cwd=tmp_path, env=env)
    assert {a["id"] for a in again.json["articles"]}.isdisjoint(
        {a["id"] for a in document["articles"]})


def test_digest_post_reports_a_slack_failure_and_the_rerun_posts_only_what_is_missing(
        slack, tmp_path: Path):
    env = slack_env(slack, tmp_path)
    slack.fail_next("chat.postMessage", error="channel_not_found")
    failed = run_cli("digest", "--post", "--channel", "C0NEWSDESK", "--top", "2", cwd=tmp_path,
                     env=env)
    assert failed.code == 2 and "channel_not_found" in failed.stderr
    assert "run it again" in failed.stderr
    rerun = run_cli("digest", "--post", "--channel", "C0NEWSDESK", "--top", "2", "--json",
                    cwd=tmp_path, env=env)
    assert rerun.code == 0, rerun.stderr
    assert [c.ok for c in slack.calls("chat.postMessage")] == [False, True, True, True]


# --- unusable credentials, an unreachable Web API, a taken port: one line, exit 2

WRONG_BOT_TOKEN = "xoxb-0000-not-a-real-token"
WRONG_APP_TOKEN = "xapp-1-not-a-real-token"


def closed_port() -> int:
    """A loopback port nothing listens on (connections to it are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def assert_one_line_naming(result_stderr: str, code: int, variable: str) -> None:
    assert code == 2, result_stderr
    assert "Traceback" not in result_stderr
    last = result_stderr.strip().splitlines()[-1]
    assert last.startswith("newsbot: error: ") and variable in last, last
    assert "not-a-real-token" not in result_stderr


def test_serve_with_a_refused_bot_token_names_it(slack, tmp_path: Path):
    env = slack_env(slack, tmp_path, SLACK_BOT_TOKEN=WRONG_BOT_TOKEN, SLACK_SIGNING_SECRET=SECRET)
    result = run_cli("serve", "--http", "--host", "127.0.0.1", "--port", "0", cwd=tmp_path,
                     env=env)
    assert_one_line_naming(result.stderr, result.code, "SLACK_BOT_TOKEN")
    assert "invalid_auth" in result.stderr


def test_serve_in_socket_mode_with_a_refused_app_token_names_it(slack, tmp_path: Path):
    env = slack_env(slack, tmp_path, SLACK_APP_TOKEN=WRONG_APP_TOKEN)
    result = run_cli("serve", cwd=tmp_path, env=env)
    assert_one_line_naming(result.stderr, result.code, "SLACK_APP_TOKEN")
    assert [c.method for c in slack.calls()][-1] == "apps.connections.open"


def test_serve_on_a_taken_port_names_the_port(slack, tmp_path: Path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = slack_env(slack, tmp_path, SLACK_SIGNING_SECRET=SECRET)
        result = run_cli("serve", "--http", "--host", "127.0.0.1", "--port", str(port),
                         cwd=tmp_path, env=env)
    assert_one_line_naming(result.stderr, result.code, f"127.0.0.1:{port}")
    assert "--port" in result.stderr


def test_digest_post_with_a_refused_bot_token_names_it(slack, tmp_path: Path):
    env = slack_env(slack, tmp_path, SLACK_BOT_TOKEN=WRONG_BOT_TOKEN)
    result = run_cli("digest", "--post", "--channel", "C0NEWSDESK", "--top", "2",
                     cwd=tmp_path, env=env)
    assert_one_line_naming(result.stderr, result.code, "SLACK_BOT_TOKEN")


def test_an_unreachable_web_api_is_named_by_serve_and_digest_post(slack, tmp_path: Path):
    nowhere = f"http://127.0.0.1:{closed_port()}/api/"
    env = clean_env(slack_env(slack, tmp_path, SLACK_API_URL=nowhere,
                              SLACK_SIGNING_SECRET=SECRET))
    commands = [["serve", "--http", "--host", "127.0.0.1", "--port", "0"],
                ["digest", "--post", "--channel", "C0NEWSDESK", "--top", "2"]]
    # slack_sdk retries a refused connection for about 5 s: both wait at the same time
    processes = [subprocess.Popen([sys.executable, "-m", "bot", *args], cwd=tmp_path, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for args in commands]
    for process in processes:
        _, stderr = process.communicate(timeout=60)
        assert_one_line_naming(stderr, process.returncode, "SLACK_API_URL")
        assert nowhere in stderr
    rerun = run_cli("digest", "--post", "--channel", "C0NEWSDESK", "--top", "2", "--json",
                    cwd=tmp_path, env=slack_env(slack, tmp_path))
    assert rerun.code == 0, rerun.stderr  # as the message says: run it again
    assert len(rerun.json["articles"]) == 2


def test_the_periodic_refresh_keeps_the_index_when_the_folder_goes_away(tmp_path: Path):
    from bot.app import refresh_index
    from bot.config import Config
    from storage.db import Store

    articles = tmp_path / "articles"
    shutil.copytree(EXAMPLES, articles)
    config = Config(articles=articles, db=tmp_path / "newsbot.db")
    store = Store(config.db)
    refresh_index(store, config)
    shutil.rmtree(articles)  # the share is unmounted
    refresh_index(store, config)
    assert store.db.execute("SELECT count(*) FROM articles").fetchone()[0] == 39


def test_serve_with_a_missing_articles_folder_says_so(tmp_path: Path, slack):
    env = slack_env(slack, tmp_path, SLACK_SIGNING_SECRET=SECRET,
                    NEWSBOT_ARTICLES=str(tmp_path / "nowhere"))
    result = run_cli("serve", "--http", "--port", "0", cwd=tmp_path, env=env)
    assert result.code == 2 and "nowhere" in result.stderr and "Traceback" not in result.stderr
