"""What a member types reaches the newsroom's rules as typed. Slack sends a typed `&`, `<`
and `>` as `&amp;`, `&lt;` and `&gt;` (the texts below are spelled as Slack sends them);
the Slack edge undoes that, while markup Slack writes itself (`<#C123|name>`) stays markup
and markup a member types as text stays text."""

from __future__ import annotations

import json

import pytest
from conftest import CHANNEL, CHIEF, EDITOR, Newsroom, private_answer
from newsbot.sandbox.workspace import dm_channel_id

pytestmark = pytest.mark.usefixtures("no_proxy")


def answer_text(newsroom: Newsroom, text: str, user: str = CHIEF) -> str:
    post = private_answer(newsroom, text, user)
    return "\n".join(block["text"]["text"] for block in post.payload["blocks"])


def test_a_schedules_topics_are_stored_as_typed(newsroom: Newsroom):
    """Typed: `"topics=Arts & Culture,R&amp;D,<b>,&lt;i&gt;"`, entities and all."""
    answer = answer_text(newsroom, f'schedule add <#{CHANNEL}|newsdesk> "0 9 * * 1-5" '
                                   '"topics=Arts &amp; Culture,R&amp;amp;D,&lt;b&gt;,'
                                   '&amp;lt;i&amp;gt;"')
    assert answer.startswith("Scheduled s1")
    [row] = newsroom.store.query("SELECT topics FROM schedules")
    assert json.loads(row["topics"]) == ["Arts & Culture", "R&amp;D", "<b>", "&lt;i&gt;"]


def test_a_subscriptions_and_a_follows_filters_are_stored_as_typed(newsroom: Newsroom):
    """Typed: `words="<b> & co" topics=R&amp;D` and `exclude_words=<ad>`."""
    answer = answer_text(newsroom, 'subscribe words="&lt;b&gt; &amp; co" topics=R&amp;amp;D')
    assert answer.startswith("Subscribed sub1")
    answer = answer_text(newsroom, "follow exclude_words=&lt;ad&gt;", EDITOR)
    assert answer.startswith("Following follow2")
    rows = newsroom.store.query("SELECT channel, filters FROM subscriptions ORDER BY seq")
    stored = [(row["channel"], json.loads(row["filters"])) for row in rows]
    assert [(channel, filters["words"], filters["topics"], filters["exclude_words"])
            for channel, filters in stored] == [
        (CHANNEL, "<b> & co", ["R&amp;D"], None), (dm_channel_id(EDITOR), None, [], "<ad>")]


def test_a_channel_typed_as_markup_is_not_a_channel(newsroom: Newsroom):
    """Typed: `<#C0NEWSDESK|newsdesk>` as text, not picked from Slack's menu."""
    answer = answer_text(newsroom, f'schedule add &lt;#{CHANNEL}|newsdesk&gt; "0 9 * * 1-5"')
    assert "is not a channel id" in answer
    assert newsroom.store.query("SELECT id FROM schedules") == []
