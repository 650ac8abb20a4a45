"""`/news subscribe`, `/news subscriptions` and `/news unsubscribe` end to end: the real Bolt
app over signed HTTP, the Slack look-alike, a real database."""

from __future__ import annotations

import json

import pytest
from conftest import CHANNEL, CHIEF, EDITOR, Newsroom, private_answer
from newsbot.sandbox.workspace import dm_channel_id

pytestmark = pytest.mark.usefixtures("no_proxy")


def answer_text(newsroom: Newsroom, text: str, user: str, channel: str = CHANNEL) -> str:
    """The private answer to `/news <text>` typed by `user` in `channel`."""
    post = private_answer(newsroom, text, user, channel)
    return "\n".join(block["text"]["text"] for block in post.payload["blocks"])


def rows(newsroom: Newsroom) -> list[dict]:
    return newsroom.store.query("SELECT id, channel, filters, quiet, tz, created_by"
                                " FROM subscriptions ORDER BY seq")


def test_subscribing_is_for_admins_and_listing_for_everyone(newsroom: Newsroom):
    refused = answer_text(newsroom, "subscribe topics=AI", EDITOR)
    assert "Only newsbot admins can subscribe channels" in refused
    assert "Anyone can use /news subscriptions" in refused
    assert rows(newsroom) == []
    added = answer_text(newsroom, 'subscribe topics=AI,Climate words=“heat wave” min_quality=3 '
                                  "quiet=22:00-07:00", CHIEF)
    assert added.startswith("Subscribed sub1:") and "heat wave" in added
    [row] = rows(newsroom)
    assert {k: row[k] for k in ("id", "channel", "quiet", "tz", "created_by")} == {
        "id": "sub1", "channel": CHANNEL, "quiet": "22:00-07:00",
        "tz": "America/New_York", "created_by": CHIEF}  # this channel, the admin's own zone
    assert json.loads(row["filters"])["topics"] == ["AI", "Climate"]
    assert json.loads(row["filters"])["words"] == "heat wave"
    listed = answer_text(newsroom, "subscriptions", EDITOR)
    assert listed.startswith("Channel subscriptions:") and "sub1" in listed
    assert "Only newsbot admins can unsubscribe" in answer_text(newsroom, "unsubscribe sub1",
                                                                EDITOR)
    assert len(rows(newsroom)) == 1
    assert answer_text(newsroom, "unsubscribe sub1", CHIEF).startswith("Removed sub1")
    assert rows(newsroom) == []
    assert "No channel subscriptions yet" in answer_text(newsroom, "subscriptions", EDITOR)


def test_a_named_channel_typed_elsewhere_and_a_zone(newsroom: Newsroom):
    added = answer_text(newsroom, f"subscribe <#{CHANNEL}|newsdesk> providers=Reuters "
                                  "tz=Europe/Paris", CHIEF, channel=dm_channel_id(CHIEF))
    assert added.startswith("Subscribed sub1:")
    [row] = rows(newsroom)
    assert (row["channel"], row["tz"]) == (CHANNEL, "Europe/Paris")


@pytest.mark.parametrize("text,message", [
    ("subscribe tz=Mars/Olympus", "Mars/Olympus"),
    ("subscribe quiet=25:00-07:00", "quiet hours '25:00-07:00': must be HH:MM-HH:MM"),
    ("subscribe min_heat=hot", "min_heat 'hot': must be a number"),
    ("subscribe colour=red", "unknown option 'colour='"),
    ("subscribe C0NOWHERE", "unknown channel C0NOWHERE"),
    ("unsubscribe sub4", "no subscription with id 'sub4' (there are no subscriptions)"),
    ("unsubscribe", "takes one subscription id"),
])
def test_mistakes_are_one_line_and_change_nothing(newsroom: Newsroom, text: str, message: str):
    answer = answer_text(newsroom, text, CHIEF)
    assert message in answer and "\n" not in answer.strip()
    assert rows(newsroom) == []


def test_the_help_names_the_subscription_commands(newsroom: Newsroom):
    help_text = answer_text(newsroom, "help", EDITOR)
    assert "/news subscribe [#channel]" in help_text and "/news unsubscribe <id>" in help_text
