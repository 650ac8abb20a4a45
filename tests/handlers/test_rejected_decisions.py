"""No silent drops (issue 21, item 2): a decision acknowledged while the database was down
that cannot be applied when it is back is kept in rejected_decisions, counted, reported to
its author privately (at most once, again after Slack failed), and listed by the CLI.

End to end: the real runtime over signed HTTP, a real lock held by another connection,
the real spool, the look-alike's ephemeral messages, /metrics and `newsbot decisions`.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import CHANNEL, EDITOR, Newsroom, run_cli, start_newsroom
from newsbot.bot.newsroom.decisions import now_text, now_us
from newsbot.bot.services.intake import DecisionEvent
from newsbot.bot.services.spool_apply import apply_spool
from newsbot.handlers.blocks import PUBLISH_ACTION
from newsbot.storage.db import Store
from newsbot.storage.spool import Spool

pytestmark = pytest.mark.usefixtures("no_proxy")


@contextlib.contextmanager
def database_held(path: Path) -> Iterator[None]:
    """Another process's long transaction (a backup), for as long as the block runs."""
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def metric(newsroom: Newsroom, name: str, reason: str) -> float:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"{newsroom.server.url}/metrics") as response:
        text = response.read().decode()
    found = re.search(rf'^{name}{{reason="{reason}"}} (\S+)$', text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def rejected(store: Store) -> list[dict]:
    return store.query("SELECT * FROM rejected_decisions ORDER BY rejected_at, event_key")


def reported(store: Store, state: str = "sent") -> bool:
    rows = rejected(store)
    return len(rows) == 2 and {r["report_state"] for r in rows} == {state}


def notes(newsroom: Newsroom) -> list[str]:
    return [m["text"] for m in newsroom.slack.workspace.ephemeral_messages(EDITOR)
            if "could not be recorded" in m["text"]]


@pytest.fixture
def held_newsroom(tmp_path: Path) -> Iterator[Newsroom]:
    with start_newsroom(tmp_path, busy_timeout_ms=300) as newsroom:
        yield newsroom


def spool_a_reaction_and_a_click(newsroom: Newsroom) -> tuple[str, str]:
    """A digest, then, while the database is held, a ✅ and a Publish click on its first
    article, both answered 200 from the spool; then the article's file is deleted.
    Returns the article id and its message ts; the database is free again on return."""
    plan = newsroom.post_digest(top=3)
    message = plan.messages[0]
    stored = newsroom.slack.workspace.message(CHANNEL, message.ts)
    spool = Spool.beside(newsroom.store.path)
    with database_held(newsroom.store.path):
        assert newsroom.client.reaction_added(user_id=EDITOR, reaction="white_check_mark",
                                              channel_id=CHANNEL, ts=message.ts,
                                              event_id="EvSpooled").status == 200
        assert newsroom.client.block_action(user_id=EDITOR, action_id=PUBLISH_ACTION,
                                            value=message.article.id, channel_id=CHANNEL,
                                            message=stored).status == 200
        assert len(spool.pending()) == 2  # acknowledged: durable in the spool
        (newsroom.config.articles / message.article.id).unlink()
    return message.article.id, message.ts


def test_a_spooled_decision_on_a_deleted_article_is_kept_counted_reported_and_listed(
        held_newsroom: Newsroom, tmp_path: Path):
    newsroom = held_newsroom
    before = metric(newsroom, "newsbot_rejected_decisions_total", "article gone")
    article_id, ts = spool_a_reaction_and_a_click(newsroom)
    newsroom.slack.wait_until(lambda: reported(newsroom.store), timeout=20)

    rows = rejected(newsroom.store)
    assert [(r["source"], r["action"], r["article_id"], r["reason"], r["report_state"])
            for r in rows] == [("reaction", "publish", article_id, "article gone", "sent"),
                               ("button", "publish", article_id, "article gone", "sent")]
    assert all(r["channel"] == CHANNEL and r["user_id"] == EDITOR for r in rows)
    assert rows[0]["message_ts"] == ts and rows[0]["event_key"] == "EvSpooled"
    assert newsroom.log_rows() == [] and not Spool.beside(newsroom.store.path).pending()
    assert metric(newsroom, "newsbot_rejected_decisions_total", "article gone") == before + 2
    text = notes(newsroom)[0]
    assert "publish reaction" in text and "no article with id" in text
    assert "publish click" in notes(newsroom)[1]

    listed = run_cli("decisions", "--rejected", "--json", cwd=tmp_path,
                     env={"NEWSBOT_DB": str(newsroom.store.path),
                          "NEWSBOT_ARTICLES": str(newsroom.config.articles)})
    assert listed.code == 0, listed.stderr
    assert [(r["key"], r["id"], r["user"], r["source"], r["reason"], r["report"])
            for r in listed.json["rejected"]] == [
        (rows[1]["event_key"], article_id, EDITOR, "button", "article gone", "sent"),
        ("EvSpooled", article_id, EDITOR, "reaction", "article gone", "sent")]
    plain = run_cli("decisions", "--rejected", cwd=tmp_path,
                    env={"NEWSBOT_DB": str(newsroom.store.path),
                         "NEWSBOT_ARTICLES": str(newsroom.config.articles)})
    assert f"publish {article_id}  by {EDITOR} via reaction: article gone" in plain.stdout
    assert plain.stdout.count("; told") == 2


def test_a_report_slack_refused_is_sent_again_later_and_only_once(held_newsroom: Newsroom):
    newsroom = held_newsroom
    newsroom.slack.fail_next("chat.postEphemeral", status=429, retry_after=0, times=4)
    spool_a_reaction_and_a_click(newsroom)
    newsroom.slack.wait_until(lambda: reported(newsroom.store), timeout=30)
    rows = rejected(newsroom.store)
    assert {r["report_state"] for r in rows} == {"sent"}
    assert max(r["report_attempts"] for r in rows) == 2  # one report waited for a later pass
    newsroom.runtime.apply_spool()  # another pass sends nothing more
    assert len(notes(newsroom)) == 2


def test_a_report_whose_fate_slack_left_unknown_is_not_sent_twice(held_newsroom: Newsroom):
    newsroom = held_newsroom
    newsroom.slack.fail_next("chat.postEphemeral", status=500, stored=True, times=2)
    spool_a_reaction_and_a_click(newsroom)
    newsroom.slack.wait_until(lambda: reported(newsroom.store, "unsure"), timeout=20)
    newsroom.runtime.apply_spool()
    assert len(newsroom.slack.calls("chat.postEphemeral")) == 2  # one call each, no resend
    assert len(notes(newsroom)) == 2  # Slack did show them


def test_an_editor_no_longer_an_editor_when_the_spool_is_applied(store: Store, articles: Path):
    """The spool outlived a restart with a new list of editors: U0GONE's decision is kept
    as rejected (not an editor), U0STAYS's is recorded."""
    from conftest import write_article
    from newsbot.storage.index import refresh

    write_article(articles, "a.md")
    refresh(store, articles)
    spool = Spool.beside(store.path)
    for key, user in (("EvGone", "U0GONE"), ("EvStays", "U0STAYS")):
        spool.append(DecisionEvent(key=key, action="publish", user_id=user, source="button",
                                   event_us=now_us(), received_at=now_text(),
                                   article_id="a.md").to_json())
    assert apply_spool(store, spool, editors=("U0STAYS",)) == 2
    assert [(r["event_key"], r["reason"], r["detail"]) for r in rejected(store)] == [
        ("EvGone", "not an editor", "you are no longer one of the newsroom's editors")]
    assert [r["event_key"] for r in store.query("SELECT * FROM decision_log")] == ["EvStays"]
    assert not spool.pending()


def test_a_rejection_already_kept_is_not_kept_twice(store: Store, articles: Path):
    """A crash after the rejection but before the spool's removal applies it again."""
    from newsbot.bot.newsroom.rejections import ARTICLE_GONE, reject

    event = DecisionEvent(key="EvTwice", action="skip", user_id="U1", source="reaction",
                          event_us=now_us(), received_at=now_text(), article_id="x.md")
    assert reject(store, event.to_json(), ARTICLE_GONE, "gone") is True
    assert reject(store, event.to_json(), ARTICLE_GONE, "gone") is False
    assert len(rejected(store)) == 1
