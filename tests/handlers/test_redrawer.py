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
