"""The Redrawer's stop draws every pending redraw before its thread ends."""

from __future__ import annotations

from bot.app import web_client
from bot.decisions import decide
from handlers.article_message import Redrawer
from tests.conftest import CHANNEL, EDITOR, Newsroom


def test_stop_draws_every_pending_redraw_first(newsroom: Newsroom):
    plan = newsroom.post_digest(top=3)
    messages = [m for m in plan.messages if m.ts]
    for message in messages:
        decide(newsroom.store, message.article.id, "publish", EDITOR, source="cli")
    redrawer = Redrawer(web_client(newsroom.slack.bot_token, newsroom.slack.base_url),
                        newsroom.store)
    before = len(newsroom.slack.calls("chat.update"))
    for message in messages:
        redrawer.request(CHANNEL, message.ts, message.article.id)
    assert redrawer.stop(timeout=30) is True
    updates = newsroom.slack.calls("chat.update")[before:]
    assert sorted(c.params["ts"] for c in updates) == sorted(m.ts for m in messages)
    assert not redrawer._thread.is_alive()
