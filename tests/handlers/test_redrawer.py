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
    import threading

    from newsbot.storage.db import Store

    with start_newsroom(tmp_path, manual_redraw=True) as newsroom:
        plan = newsroom.post_digest(top=10)
        messages = [m for m in plan.messages if m.ts]
        client = web_client(newsroom.slack.bot_token, newsroom.slack.base_url)
        servers = [Redrawer(client, Store(newsroom.store.path)) for _ in range(2)]
        before = len(newsroom.slack.calls("chat.update"))
        for message in messages:
            decide(newsroom.store, message.article.id, "publish", EDITOR, source="cli")
        start = threading.Barrier(2)
        drawn = [0, 0]

        def poll(n: int) -> None:
            start.wait()
            drawn[n] = servers[n].redraw_now()

        threads = [threading.Thread(target=poll, args=(n,)) for n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
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
