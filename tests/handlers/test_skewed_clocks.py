"""One order across clocks, the button half (issue 21, item 7): a reaction carries the
event_ts of Slack's event clock, a click the action_ts of another; an Undo clicked after a
reaction withdraws it whether that clock runs 5 s ahead of the click's or 5 s behind.

End to end: the real app over signed HTTP, the look-alike, the real database."""

from __future__ import annotations

import time

import pytest
from conftest import CHANNEL, EDITOR, SECRET, Newsroom, digest_message, wait_for_log
from newsbot.handlers.blocks import UNDO_ACTION
from newsbot.sandbox import SignedSlackClient

pytestmark = pytest.mark.usefixtures("no_proxy")


@pytest.mark.parametrize("skew", [5.0, -5.0], ids=["slack-5s-ahead", "slack-5s-behind"])
def test_an_undo_clicked_after_a_reaction_wins_whatever_the_clocks_say(newsroom: Newsroom,
                                                                      skew: float):
    message = digest_message(newsroom)
    stored = newsroom.slack.workspace.message(CHANNEL, message.ts)
    reacted = newsroom.client.send_event(
        {"type": "reaction_added", "user": EDITOR, "reaction": "white_check_mark",
         "item": {"type": "message", "channel": CHANNEL, "ts": message.ts},
         "event_ts": f"{time.time() + skew:.6f}"}, event_id=f"EvSkew{skew}")
    assert reacted.status == 200
    assert [r["outcome"] for r in wait_for_log(newsroom, 1)] == ["recorded"]
    assert newsroom.votes() == [{"article_id": message.article.id, "user_id": EDITOR,
                                 "decision": "publish"}]
    clicks = SignedSlackClient(newsroom.client.app_url, SECRET,
                               response_url_factory=newsroom.slack.new_response_url)
    assert clicks.block_action(user_id=EDITOR, action_id=UNDO_ACTION, value=message.article.id,
                               channel_id=CHANNEL, message=stored).status == 200
    rows = wait_for_log(newsroom, 2)
    assert [(r["source"], r["outcome"]) for r in rows] == [("reaction", "recorded"),
                                                           ("button", "retracted")]
    assert rows[1]["event_us"] > rows[0]["event_us"]
    assert newsroom.votes() == []
