"""The Redrawer's stop draws every queued redraw before its thread ends."""

from __future__ import annotations

from conftest import CHANNEL, EDITOR, start_newsroom
from newsbot.bot.app.slack_client import web_client
from newsbot.bot.newsroom.decisions import decide
from newsbot.handlers.posting.redrawer import Redrawer


def test_stop_draws_every_queued_redraw_first(tmp_path):
    with start_newsroom(tmp_path, manual_redraw=True) as newsroom:  # no other redrawer runs
        _stop_draws_every_queued_redraw(newsroom)


def _stop_draws_every_queued_redraw(newsroom) -> None:
    plan = newsroom.post_digest(top=3)
    messages = [m for m in plan.messages if m.ts]
    # an interval far longer than the test: only the draining stop can draw these
    redrawer = Redrawer(web_client(newsroom.slack.bot_token, newsroom.slack.base_url),
                        newsroom.store, interval=3600).start()
    before = len(newsroom.slack.calls("chat.update"))
    for message in messages:
        decide(newsroom.store, message.article.id, "publish", EDITOR, source="cli")
    assert redrawer.stop(timeout=30) is True
    updates = [c for c in newsroom.slack.calls("chat.update")[before:]
               if c.params["channel"] == CHANNEL]
    assert sorted(c.params["ts"] for c in updates) == sorted(m.ts for m in messages)
    assert not redrawer._thread.is_alive()


def test_two_servers_on_one_database_draw_each_change_once(tmp_path):
    """A rolling deploy or a second replica: two processes poll one queue. Each claims
    what it draws, so every message is updated once, not once by each."""
    with start_newsroom(tmp_path, manual_redraw=True) as newsroom:
        plan = newsroom.post_digest(top=10)
        messages = [m for m in plan.messages if m.ts]
        before = len(newsroom.slack.calls("chat.update"))
        for message in messages:
            decide(newsroom.store, message.article.id, "publish", EDITOR, source="cli")
        drawn = newsroom.redraw_on_two_servers()
        updates = [c.params["ts"] for c in newsroom.slack.calls("chat.update")[before:]]
        assert sorted(updates) == sorted(m.ts for m in messages)  # each once
        assert sum(drawn) == len(messages)
        assert newsroom.store.query("SELECT * FROM redraw_queue") == []


def test_a_pass_takes_the_write_lock_twice_however_many_articles_it_draws(tmp_path):
    """Claiming and forgetting are one write each per pass: the decision writer waits
    behind every write the redraws make."""
    with start_newsroom(tmp_path, manual_redraw=True) as newsroom:
        plan = newsroom.post_digest(top=5)
        messages = [m for m in plan.messages if m.ts]
        for message in messages:
            decide(newsroom.store, message.article.id, "publish", EDITOR, source="cli")
        statements: list[str] = []
        newsroom.store.db.conn.set_trace_callback(statements.append)
        drawn = newsroom.redrawer.redraw_now()
        newsroom.store.db.conn.set_trace_callback(None)
        assert drawn == len(messages) == 5
        assert sum(s.startswith("BEGIN IMMEDIATE") for s in statements) == 2
        assert newsroom.store.query("SELECT * FROM redraw_queue") == []


def test_a_change_made_between_the_claim_and_the_read_is_drawn_once(tmp_path):
    """A change that lands after a pass claimed its article but before it read what to draw
    is shown by that drawing: it must not be drawn a second time by the next pass. The
    other process's write is made from SQLite's trace hook, right after the claim."""
    from newsbot.storage.db import Store

    with start_newsroom(tmp_path, manual_redraw=True) as newsroom:
        plan = newsroom.post_digest(top=1)
        [message] = [m for m in plan.messages if m.ts]
        other_process = Store(newsroom.store.path)  # its own connection
        decide(newsroom.store, message.article.id, "publish", EDITOR, source="cli")
        seen = {"claim": False, "commit": False, "change": False}

        def after_the_claim(statement: str) -> None:
            """The statement after the claim's COMMIT: the other process decides, once."""
            if seen["change"]:
                return
            if "SET claimed_by" in statement:
                seen["claim"] = True
            elif seen["claim"] and statement == "COMMIT":
                seen["commit"] = True
            elif seen["commit"]:
                seen["change"] = True
                decide(other_process, message.article.id, "skip", "U0OTHER", source="cli")

        before = len(newsroom.slack.calls("chat.update"))
        newsroom.store.db.conn.set_trace_callback(after_the_claim)
        try:
            newsroom.redrawer.redraw_now()
        finally:
            newsroom.store.db.conn.set_trace_callback(None)
        assert seen["change"]
        newsroom.redrawer.redraw_now()  # the next pass: nothing left to draw
        updates = [c.params["text"] for c in newsroom.slack.calls("chat.update")[before:]]
        assert len(updates) == 1 and updates[0].endswith("skipped by U0OTHER"), updates
        assert newsroom.store.query("SELECT * FROM redraw_queue") == []
