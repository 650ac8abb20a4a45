"""Link previews kept in step with decisions made elsewhere, end to end: a user's message in
the look-alike, link_shared and chat.unfurl over signed HTTP, then a reaction on the
article's digest message, `newsbot decide` in another process, Undo: the redrawer
re-issues chat.unfurl for the recorded previews (handlers/posting/preview_redraw.py)."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import logging
from pathlib import Path

import pytest
from conftest import (
    CHANNEL,
    CHIEF,
    EDITOR,
    Newsroom,
    parsed,
    run_cli,
    start_newsroom,
)
from newsbot.bot.app.slack_client import RETRIES
from newsbot.bot.newsroom.decisions import decide
from newsbot.bot.newsroom.link_previews import MAX_PER_ARTICLE, forget_previews
from newsbot.handlers.blocks import PUBLISH_ACTION
from newsbot.handlers.link_preview import TO_REVIEW
from newsbot.sandbox import SlackLookalike
from slack_sdk import WebClient
from slack_sdk.models.blocks import Block

DOMAIN = "example-news.org"


@pytest.fixture
def room(tmp_path: Path):
    with start_newsroom(tmp_path, unfurl_domains=(DOMAIN,)) as started:
        started.slack.event_sink = started.client.send_event  # what users do reaches the app
        yield started


def user_posts(slack: SlackLookalike, user: str, text: str) -> dict:
    client = WebClient(token=slack.user_token(user), base_url=slack.base_url)
    return client.chat_postMessage(channel=CHANNEL, text=text)["message"]


def an_article(room: Newsroom) -> dict:
    [row] = room.store.query(
        "SELECT id, web_url FROM articles WHERE error IS NULL AND web_url LIKE ?"
        " ORDER BY quality DESC, id LIMIT 1", [f"%{DOMAIN}%"])
    return row


def shown(call) -> str:
    """The blocks of a chat.unfurl call, checked by slack_sdk's models, as text."""
    [preview] = parsed(call.params["unfurls"]).values()
    for block in preview["blocks"]:
        Block.parse(block).validate_json()
    return json.dumps(preview["blocks"], ensure_ascii=False)


def stored_preview(room: Newsroom, ts: str) -> str:
    [preview] = room.slack.workspace.message(CHANNEL, ts)["attachments"]
    return json.dumps(preview["blocks"], ensure_ascii=False)


def unfurls(room: Newsroom, count: int) -> list:
    return room.slack.wait_for_calls("chat.unfurl", count)


def shared(room: Newsroom, url: str, text: str = "Seen this? <{url}>") -> dict:
    """A user posts the link; its first preview says "to review", and is remembered."""
    before = len(room.slack.calls("chat.unfurl"))
    message = user_posts(room.slack, EDITOR, text.format(url=url))
    first = unfurls(room, before + 1)[before]
    assert first.ok and TO_REVIEW in shown(first)
    room.slack.wait_until(lambda: room.store.query(  # remembered once it is out
        "SELECT 1 FROM unfurls WHERE message_ts = ?", [message["ts"]]))
    return message


def test_a_reaction_on_the_digest_message_redraws_the_preview_and_undo_brings_it_back(
        room: Newsroom):
    plan = room.post_digest(top=8)
    message = next((m for m in plan.messages if DOMAIN in (m.article.web_url or "")), None)
    assert message is not None, "the bundled digest holds an article of the unfurl domain"
    other = f"https://www.{DOMAIN}/not/an/article"
    unknown = user_posts(room.slack, CHIEF, f"Only <{other}>")  # no indexed article: no preview
    pasted = user_posts(room.slack, CHIEF, f"Run <{message.article.web_url}>? and <{other}>")
    [first] = unfurls(room, 1)
    assert list(parsed(first.params["unfurls"])) == [message.article.web_url]  # none for other
    assert TO_REVIEW in shown(first)

    room.client.reaction_added(user_id=EDITOR, reaction="white_check_mark",
                               channel_id=CHANNEL, ts=message.ts)
    redrawn = unfurls(room, 2)[1]
    assert redrawn.ok and (redrawn.params["channel"], redrawn.params["ts"]) == (CHANNEL,
                                                                               pasted["ts"])
    assert list(parsed(redrawn.params["unfurls"])) == [message.article.web_url]
    assert "*Published* by <@U0EDITOR>" in shown(redrawn) and TO_REVIEW not in shown(redrawn)
    assert "*Published* by <@U0EDITOR>" in stored_preview(room, pasted["ts"])

    room.client.reaction_removed(user_id=EDITOR, reaction="white_check_mark",
                                 channel_id=CHANNEL, ts=message.ts)
    undone = unfurls(room, 3)[2]
    assert TO_REVIEW in shown(undone) and "Published" not in stored_preview(room, pasted["ts"])
    assert unknown["ts"] not in {c.params.get("ts") for c in room.slack.calls("chat.unfurl")}
    assert not room.slack.workspace.message(CHANNEL, unknown["ts"]).get("attachments")
    assert all(d.error is None and d.result.status == 200 for d in room.slack.deliveries())


def test_newsbot_decide_in_another_process_redraws_every_preview_of_the_article(
        room: Newsroom):
    article = an_article(room)
    first = shared(room, article["web_url"])
    second = shared(room, article["web_url"].replace("https://www.", "http://") + "?utm_x=1",
                    "again: <{url}>")
    cli_decides(room, article["id"], "skip")
    redrawn = unfurls(room, 4)[2:]
    assert {c.params["ts"] for c in redrawn} == {first["ts"], second["ts"]}
    assert all(c.ok and "*Skipped* by <@U0ANA>" in shown(c) for c in redrawn)
    room.slack.wait_until(lambda: all("Skipped" in stored_preview(room, m["ts"])
                                      for m in (first, second)))


@pytest.mark.parametrize("fault", [
    {"error": "internal_error"},  # Slack's own error, answered at once
    {"status": 503, "times": 1 + RETRIES},  # past the client's retries
], ids=["internal_error", "503"])
def test_a_redraw_refused_for_now_is_logged_and_the_next_change_redraws(
        room: Newsroom, caplog: pytest.LogCaptureFixture, fault: dict):
    article = an_article(room)
    message = shared(room, article["web_url"])
    room.slack.fail_next("chat.unfurl", **fault)
    with caplog.at_level(logging.WARNING, logger="newsbot.handlers.posting.preview_redraw"):
        cli_decides(room, article["id"], "publish")
        tries = fault.get("times", 1)  # the client's backoff: up to 0.5 + 1 + 2 s, jittered
        refused = room.slack.wait_for_calls("chat.unfurl", 1 + tries, timeout=20)[-1]
        assert not refused.ok
        room.slack.wait_until(lambda: any("could not redraw a link preview" in r.getMessage()
                                          for r in caplog.records))
    assert TO_REVIEW in stored_preview(room, message["ts"])  # the refusal changed nothing
    assert remembered(room) == [message["ts"]]  # kept: it may be drawn next time
    assert not any("forgotten" in r.getMessage() for r in caplog.records)

    cli_decides(room, article["id"], "skip")
    room.slack.wait_until(lambda: "*Skipped* by <@U0ANA>" in stored_preview(room, message["ts"]))
    assert all(d.error is None and d.result.status == 200 for d in room.slack.deliveries())


def test_a_preview_rate_limited_is_drawn_once_slack_allows_without_another_change(
        room: Newsroom):
    """Slack answers chat.unfurl 429 twice (Retry-After: 1): the redrawer does not send it
    again before each Retry-After (nor sleeps on it), the article stays queued, and the
    preview shows the decision without waiting for the next change."""
    article = an_article(room)
    message = shared(room, article["web_url"])
    before = len(room.slack.calls("chat.unfurl"))
    room.slack.fail_next("chat.unfurl", retry_after=1, times=2)
    cli_decides(room, article["id"], "publish")
    # the look-alike stores the preview before it lists the call that made it: wait for both
    room.slack.wait_until(lambda: "*Published* by <@U0ANA>" in stored_preview(
        room, message["ts"]) and len(room.slack.calls("chat.unfurl")) - before >= 3,
        timeout=15)
    calls = room.slack.calls("chat.unfurl")[before:]
    assert [c.status for c in calls] == [429, 429, 200]
    assert all(b.at - a.at >= 1 for a, b in itertools.pairwise(calls))
    assert remembered(room) == [message["ts"]]


def remembered(room: Newsroom) -> list[str]:
    """The message timestamps of the previews newsbot keeps in step, oldest first."""
    return [r["message_ts"] for r in room.store.query(
        "SELECT message_ts FROM unfurls ORDER BY message_ts")]


def test_a_preview_whose_message_was_deleted_is_forgotten_once_slack_says_so(tmp_path: Path):
    """The user deletes their message: the next redraw's chat.unfurl is answered
    cannot_find_message, the preview is forgotten, and later changes do not ask again."""
    with start_newsroom(tmp_path, manual_redraw=True, unfurl_domains=(DOMAIN,)) as room:
        room.slack.event_sink = room.client.send_event
        assert room.redrawer is not None
        article = an_article(room)
        deleted, kept = (shared(room, article["web_url"], f"{n}: <{{url}}>") for n in range(2))
        author = WebClient(token=room.slack.user_token(EDITOR), base_url=room.slack.base_url)
        author.chat_delete(channel=CHANNEL, ts=deleted["ts"])
        before = len(room.slack.calls("chat.unfurl"))
        decide(room.store, article["id"], "publish", EDITOR, source="cli")
        assert room.redrawer.redraw_now() == 1  # the preview still there
        refused, drawn = room.slack.calls("chat.unfurl")[before:]
        assert (refused.params["ts"], refused.response["error"]) == (deleted["ts"],
                                                                    "cannot_find_message")
        assert drawn.ok and drawn.params["ts"] == kept["ts"]
        assert remembered(room) == [kept["ts"]]

        decide(room.store, article["id"], "skip", EDITOR, source="cli")
        assert room.redrawer.redraw_now() == 1
        [again] = room.slack.calls("chat.unfurl")[before + 2:]
        assert again.ok and again.params["ts"] == kept["ts"]  # the deleted one not asked


@pytest.mark.parametrize("error", [  # chat.unfurl's documented errors, and the Web API's
    "cannot_find_message", "cannot_unfurl_message", "cannot_find_channel",  # for a channel
    "channel_not_found", "is_archived"])  # deleted or archived
def test_a_preview_slack_refuses_for_good_is_forgotten_and_the_others_kept(
        tmp_path: Path, error: str):
    with start_newsroom(tmp_path, manual_redraw=True, unfurl_domains=(DOMAIN,)) as room:
        room.slack.event_sink = room.client.send_event
        assert room.redrawer is not None
        article = an_article(room)
        gone, kept = (shared(room, article["web_url"], f"{n}: <{{url}}>") for n in range(2))
        room.slack.fail_next("chat.unfurl", error=error)
        decide(room.store, article["id"], "publish", EDITOR, source="cli")
        assert room.redrawer.redraw_now() == 1
        assert remembered(room) == [kept["ts"]]
        assert "Published" not in stored_preview(room, gone["ts"])


def test_a_link_shared_again_while_its_refused_redraw_was_out_is_kept(tmp_path: Path):
    """Refused as it was (say, the link edited out), the preview was remembered anew
    after the call was made (the link edited back in): that newer row stays."""
    with start_newsroom(tmp_path, manual_redraw=True, unfurl_domains=(DOMAIN,)) as room:
        room.slack.event_sink = room.client.send_event
        message = shared(room, an_article(room)["web_url"])
        [url] = [r["url"] for r in room.store.query("SELECT url FROM unfurls")]
        asked_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        assert forget_previews(room.store, CHANNEL, message["ts"], [url], asked_at) == 0
        assert remembered(room) == [message["ts"]]
        asked_at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
        assert forget_previews(room.store, CHANNEL, message["ts"], [url], asked_at) == 1
        assert remembered(room) == []


def cli_decides(room: Newsroom, article_id: str, action: str) -> None:
    done = run_cli("decide", article_id, action, "--user", "U0ANA", "--db", str(room.config.db),
                   "--articles", str(room.config.articles), cwd=room.config.db.parent)
    assert done.code == 0, done.stderr


def test_old_previews_are_not_redrawn_and_are_pruned(room: Newsroom):
    article = an_article(room)
    old, recent = (shared(room, article["web_url"], f"{n}: <{{url}}>") for n in range(2))
    with room.store.write() as db:  # the first preview made long ago
        db.execute("UPDATE unfurls SET unfurled_at = '2000-01-01T00:00:00.000Z'"
                   " WHERE message_ts = ?", [old["ts"]])
    before = len(room.slack.calls("chat.unfurl"))
    cli_decides(room, article["id"], "publish")
    [redrawn] = unfurls(room, before + 1)[before:]
    assert redrawn.params["ts"] == recent["ts"]
    room.slack.wait_until(lambda: room.store.query("SELECT 1 FROM redraw_queue") == [])
    assert len(room.slack.calls("chat.unfurl")) == before + 1
    assert TO_REVIEW in stored_preview(room, old["ts"])

    new = user_posts(room.slack, EDITOR, f"and <{article['web_url']}>")  # prunes the old one
    room.slack.wait_until(lambda: room.store.query(
        "SELECT 1 FROM unfurls WHERE message_ts = ?", [new["ts"]]))
    assert old["ts"] not in {r["message_ts"] for r in room.store.query("SELECT * FROM unfurls")}
    assert len(room.store.query("SELECT 1 FROM unfurls")) == 2


def test_past_the_cap_only_the_newest_previews_are_redrawn(room: Newsroom):
    article = an_article(room)
    messages = [shared(room, article["web_url"], f"{n}: <{{url}}>")
                for n in range(MAX_PER_ARTICLE + 2)]
    before = len(room.slack.calls("chat.unfurl"))
    cli_decides(room, article["id"], "publish")
    redrawn = unfurls(room, before + MAX_PER_ARTICLE)[before:]
    assert {c.params["ts"] for c in redrawn} == {m["ts"] for m in messages[2:]}  # the newest
    room.slack.wait_until(lambda: room.store.query("SELECT 1 FROM redraw_queue") == [])
    assert len(room.slack.calls("chat.unfurl")) == before + MAX_PER_ARTICLE
    assert TO_REVIEW in stored_preview(room, messages[1]["ts"])


def test_two_servers_redraw_a_preview_once(tmp_path: Path):
    """Two processes polling one queue: the preview is redrawn by whichever claims the
    article, once."""
    with start_newsroom(tmp_path, manual_redraw=True, unfurl_domains=(DOMAIN,)) as room:
        room.slack.event_sink = room.client.send_event
        article = an_article(room)
        message = shared(room, article["web_url"])
        decide(room.store, article["id"], "publish", EDITOR, source="cli")
        drawn = room.redraw_on_two_servers()
        assert sorted(drawn) == [0, 1]
        assert room.redrawer is not None and room.redrawer.redraw_now() == 0
        [_, redrawn] = room.slack.calls("chat.unfurl")
        assert redrawn.params["ts"] == message["ts"] and "*Published*" in shown(redrawn)


def test_a_decision_made_while_the_preview_is_on_its_way_is_redrawn(tmp_path: Path):
    """The preview is drawn "to review", then Slack holds it (429, retried after a second);
    meanwhile a decision is recorded and its redraw pass finds no preview to draw. Once the
    preview is out and remembered, it is queued again, and the next pass draws it."""
    with start_newsroom(tmp_path, manual_redraw=True, unfurl_domains=(DOMAIN,)) as room:
        room.slack.event_sink = room.client.send_event
        article = an_article(room)
        room.slack.fail_next("chat.unfurl", retry_after=1)
        message = user_posts(room.slack, EDITOR, f"<{article['web_url']}>")
        unfurls(room, 1)  # refused for now
        decide(room.store, article["id"], "publish", EDITOR, source="cli")
        assert room.redrawer is not None and room.redrawer.redraw_now() == 0
        assert TO_REVIEW in shown(unfurls(room, 2)[1])  # the retry, drawn before the decision
        room.slack.wait_until(lambda: room.store.query(
            "SELECT 1 FROM redraw_queue WHERE article_id = ?", [article["id"]]))
        assert room.redrawer.redraw_now() == 1
        assert "*Published* by <@U0EDITOR>" in stored_preview(room, message["ts"])


def test_a_click_in_a_preview_not_remembered_redraws_it_and_keeps_it_in_step(room: Newsroom):
    """A preview newsbot no longer remembers (made before the table, or past the window) is
    remembered again by a click in it: the click and later decisions redraw it."""
    article = an_article(room)
    message = shared(room, article["web_url"])
    with room.store.write() as db:
        db.execute("DELETE FROM unfurls")
    click = room.client.unfurl_action(
        user_id=EDITOR, action_id=PUBLISH_ACTION, value=article["id"], channel_id=CHANNEL,
        message=room.slack.workspace.message(CHANNEL, message["ts"]), url=article["web_url"])
    assert click.status == 200
    room.slack.wait_until(lambda: "*Published* by <@U0EDITOR>" in stored_preview(
        room, message["ts"]))
    cli_decides(room, article["id"], "skip")  # U0ANA's later vote stands
    room.slack.wait_until(lambda: "*Skipped* by <@U0ANA>" in stored_preview(room, message["ts"]))
