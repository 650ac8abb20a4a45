"""The redraw queue: every change to what an article message shows queues its article once,
from any process, and survives a restart; drawn rows go, rows changed meanwhile stay."""

from __future__ import annotations

import time

import sqlite_utils
from conftest import bump_mtime
from newsbot.bot.config.settings import Config
from newsbot.bot.newsroom.decisions import (
    STANDS,
    SUPERSEDED,
    WITHDRAWN,
    WRITTEN,
    decide,
    decision_history,
)
from newsbot.bot.newsroom.redraw_queue import (
    CLAIM_SECONDS,
    queue_redraw,
    queued_redraws,
    redraw_done,
)
from newsbot.bot.services.sync import sync_decisions
from newsbot.storage import schema
from newsbot.storage.db import Store, migrate
from newsbot.storage.index import refresh


def queued(store) -> list[str]:
    return [q.article_id for q in queued_redraws(store, "test")]


def test_nothing_is_queued_by_indexing(indexed):
    assert queued(indexed) == []


def test_votes_cast_changed_and_withdrawn_queue_their_article_once(indexed):
    decide(indexed, "a.md", "publish", "U1", source="cli")
    decide(indexed, "a.md", "skip", "U1", source="cli")  # changed
    decide(indexed, "a.md", "publish", "U2", source="cli")
    assert queued(indexed) == ["a.md"]  # coalesced: one row however many changes
    redraw_done(indexed, queued_redraws(indexed, "test")[0])
    decide(indexed, "a.md", "undo", "U2", source="cli")  # withdrawn
    decide(indexed, "b.md", "skip", "U1", source="cli")
    assert queued(indexed) == ["a.md", "b.md"]


def test_a_no_op_queues_nothing(indexed):
    decide(indexed, "a.md", "undo", "U1", source="cli")
    assert queued(indexed) == []


def test_a_change_after_the_queue_was_read_is_kept_for_the_next_pass(indexed):
    decide(indexed, "a.md", "publish", "U1", source="cli")
    [seen] = queued_redraws(indexed, "test")
    decide(indexed, "a.md", "skip", "U2", source="cli")  # while `seen` is being drawn
    redraw_done(indexed, seen)
    [again] = queued_redraws(indexed, "test")
    assert again.article_id == "a.md" and again.seq > seen.seq
    redraw_done(indexed, again)
    assert queued(indexed) == []


def test_the_queue_survives_a_restart(indexed):
    decide(indexed, "a.md", "publish", "U1", source="cli")
    indexed.close()
    assert queued(Store(indexed.path)) == ["a.md"]


def test_an_explicit_request_queues_without_a_change(indexed):
    queue_redraw(indexed, "b.md")
    queue_redraw(indexed, "b.md")
    assert queued(indexed) == ["b.md"]


def test_sync_writing_the_file_and_the_file_changing_queue_the_article(indexed, articles):
    decide(indexed, "a.md", "publish", "U1", source="cli")
    redraw_done(indexed, queued_redraws(indexed, "test")[0])
    report = sync_decisions(indexed, Config(articles=articles, db=indexed.path))
    assert [w.id for w in report.written] == ["a.md"]
    assert queued(indexed) == ["a.md"]
    redraw_done(indexed, queued_redraws(indexed, "test")[0])
    path = articles / "b.md"  # someone publishes b.md by editing its file
    path.write_text(path.read_text().replace("published: false", "published: true"))
    bump_mtime(path)
    refresh(indexed, articles)
    assert queued(indexed) == ["b.md"]


def test_history_shows_what_each_event_amounts_to_now(indexed, articles):
    decide(indexed, "a.md", "publish", "U1", source="button")
    decide(indexed, "a.md", "skip", "U2", source="reaction")  # supersedes U1's publish
    decide(indexed, "b.md", "skip", "U1", source="cli")
    decide(indexed, "b.md", "undo", "U1", source="cli")
    history = decision_history(indexed)
    assert [(e["article_id"], e["user_id"], e["action"], e["status"]) for e in history] == [
        ("b.md", "U1", "undo", WITHDRAWN),
        ("b.md", "U1", "skip", WITHDRAWN),
        ("a.md", "U2", "skip", STANDS),
        ("a.md", "U1", "publish", SUPERSEDED),
    ]
    sync_decisions(indexed, Config(articles=articles, db=indexed.path))
    assert decision_history(indexed)[2]["status"] == WRITTEN


def test_a_change_while_claimed_stays_with_the_claimer_until_it_lets_go(indexed):
    """Two servers: while one draws an article, a new change must not let the other draw it
    too (their chat.updates would race, and the older content could land last)."""
    decide(indexed, "a.md", "publish", "U1", source="cli")
    [first] = queued_redraws(indexed, "first")
    decide(indexed, "a.md", "skip", "U2", source="cli")  # while `first` draws
    assert queued_redraws(indexed, "second") == []
    redraw_done(indexed, first)  # drew the publish: the skip is left, for either of them
    [second] = queued_redraws(indexed, "second")
    assert second.article_id == "a.md" and second.seq > first.seq
    redraw_done(indexed, second)
    assert queued(indexed) == []


def test_a_claim_is_taken_over_once_it_is_too_old(indexed):
    decide(indexed, "a.md", "publish", "U1", source="cli")
    queued_redraws(indexed, "crashed")
    assert queued_redraws(indexed, "second") == []
    with indexed.write() as db:  # as CLAIM_SECONDS later
        db.execute("UPDATE redraw_queue SET claimed_at = claimed_at - ?", [CLAIM_SECONDS + 1])
    assert [q.article_id for q in queued_redraws(indexed, "second")] == ["a.md"]


def test_an_article_changed_again_while_queued_keeps_its_place(indexed):
    """The redrawer draws only what Slack's rate allows, a few articles a pass: an article
    that went to the back at each new vote would wait as long as the votes went on."""
    decide(indexed, "a.md", "publish", "U1", source="cli")
    time.sleep(0.005)  # queued_at counts milliseconds
    decide(indexed, "b.md", "publish", "U1", source="cli")
    time.sleep(0.005)
    decide(indexed, "a.md", "skip", "U2", source="cli")  # a.md again, b.md still waiting
    [first] = queued_redraws(indexed, "test", limit=1)
    assert first.article_id == "a.md"


def test_an_article_changed_while_drawn_waits_behind_those_that_waited_longer(indexed):
    decide(indexed, "a.md", "publish", "U1", source="cli")
    time.sleep(0.005)
    decide(indexed, "b.md", "publish", "U1", source="cli")
    [drawing] = queued_redraws(indexed, "test", limit=1)
    time.sleep(0.005)
    decide(indexed, "a.md", "skip", "U2", source="cli")  # while a.md is drawn
    redraw_done(indexed, drawing)
    assert [q.article_id for q in queued_redraws(indexed, "test", limit=1)] == ["b.md"]
    assert queued(indexed) == ["b.md", "a.md"]


def test_an_article_left_undrawn_keeps_its_place(indexed):
    decide(indexed, "a.md", "publish", "U1", source="cli")
    time.sleep(0.005)
    decide(indexed, "b.md", "publish", "U1", source="cli")
    claimed = queued_redraws(indexed, "test")
    redraw_done(indexed, left=claimed)  # the budget ran out before either was drawn
    assert queued(indexed) == ["a.md", "b.md"]


def test_a_database_from_before_keeps_its_queue_and_its_places_from_now_on(tmp_path):
    """v19 replaces the triggers: rows queued before stay, and a change now keeps its row's
    place where the old triggers moved it to the back."""
    db = sqlite_utils.Database(tmp_path / "old.db")
    migrate(db, schema.MIGRATIONS[: schema.MIGRATIONS.index(schema.redraw_waiting_since)])
    db.execute("INSERT INTO articles (id, size, mtime_ns, content_hash, indexed_at)"
               " VALUES ('a.md', 1, 1, 'h', 'now'), ('b.md', 1, 1, 'h', 'now')")
    db.execute("INSERT INTO votes (article_id, user_id, decision, decided_at, seq, source)"
               " VALUES ('a.md', 'U1', 'publish', 'now', 1, 'cli')")
    db.conn.commit()
    migrate(db, schema.MIGRATIONS)
    db.close()
    store = Store(tmp_path / "old.db")
    time.sleep(0.005)
    decide(store, "b.md", "publish", "U1", source="cli")
    time.sleep(0.005)
    decide(store, "a.md", "skip", "U2", source="cli")  # a.md queued before the migration
    assert queued(store) == ["a.md", "b.md"]
