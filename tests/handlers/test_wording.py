"""Accessibility and wording in Slack (issue 19): top-level text everywhere, times as
<!date> tokens whose fallback names its zone, schedule lines named for their kind, bare
look-ups that say what is missing, the header hint, the help on reactions, "withdrawn"."""

from __future__ import annotations

import re

from conftest import CHANNEL, CHIEF, EDITOR, Newsroom, private_answer, texts
from newsbot.handlers.listeners.news_command import MISSING
from newsbot.handlers.listeners.reactions import HEADER_HINT


def answer(newsroom: Newsroom, text: str, user: str = EDITOR) -> str:
    return texts(private_answer(newsroom, text, user).payload["blocks"])


DATE_TOKEN = re.compile(r"<!date\^\d+\^\{date_short_pretty\} \{time\}\|([^>]*)>")


def test_schedule_lines_say_what_runs_next_in_each_readers_zone(newsroom: Newsroom):
    added = answer(newsroom, f'schedule add <#{CHANNEL}|newsdesk> "0 9 * * 1-5" kind=report',
                   CHIEF)
    assert "next report <!date^" in added
    [fallback] = DATE_TOKEN.findall(added)
    assert fallback.endswith(" America/New_York")  # the admin's own zone, named
    gaps = answer(newsroom, f'schedule add <#{CHANNEL}|newsdesk> "0 8 * * *" kind=gaps '
                            "tz=Europe/Berlin", CHIEF)
    assert "next gap check <!date^" in gaps and DATE_TOKEN.findall(gaps)[0].endswith(
        " Europe/Berlin")
    listed = answer(newsroom, "schedule list")
    assert "next report <!date^" in listed and "next gap check <!date^" in listed
    assert "T09:00:00" not in listed  # no ISO strings in Slack
    preview = answer(newsroom, 'schedule preview "0 9 * * 1-5" tz=Europe/London')
    assert len(DATE_TOKEN.findall(preview)) == 5


def test_bare_topic_and_search_say_what_is_missing(newsroom: Newsroom):
    assert MISSING["topic"] in answer(newsroom, "topic")
    assert MISSING["search"] in answer(newsroom, "search   ")
    assert "Which topic?" in private_answer(newsroom, "topic", EDITOR).payload["text"]


def test_help_says_reactions_decide(newsroom: Newsroom):
    shown = answer(newsroom, "help")
    assert ":white_check_mark: (publish)" in shown and ":x: (skip)" in shown
    assert "withdraw your vote" in shown


def test_a_decision_emoji_on_the_digest_header_gets_a_private_hint(newsroom: Newsroom):
    plan = newsroom.post_digest(top=2)
    article_ts = plan.messages[0].ts
    newsroom.client.reaction_added(user_id=EDITOR, reaction="white_check_mark",
                                   channel_id=CHANNEL, ts=article_ts)  # decides, no hint
    newsroom.client.reaction_added(user_id=EDITOR, reaction="white_check_mark",
                                   channel_id=CHANNEL, ts=plan.header_ts)
    [hint] = newsroom.slack.wait_for_calls("chat.postEphemeral")
    assert hint.params["text"] == HEADER_HINT and hint.params["user"] == EDITOR
    assert len(newsroom.votes()) == 1  # the header decided nothing


def test_every_message_and_answer_has_top_level_text(newsroom: Newsroom):
    plan = newsroom.post_digest(top=3)
    for text in ("help", "topics", "digest", "search breach", "topic AI", "schedule list"):
        private_answer(newsroom, text, EDITOR)
    newsroom.client.reaction_added(user_id=EDITOR, reaction="x", channel_id=CHANNEL,
                                   ts=plan.messages[0].ts)
    newsroom.slack.wait_until(lambda: newsroom.slack.calls("chat.update"))
    posted = [c for c in newsroom.slack.calls()
              if c.method in ("chat.postMessage", "chat.update", "chat.postEphemeral")]
    assert posted and all((c.params.get("text") or "").strip() for c in posted)
    assert all((p.payload.get("text") or "").strip() for p in newsroom.slack.response_posts())


def test_an_undone_vote_is_withdrawn_on_the_command_line(newsbot, workdir):
    from conftest import write_article

    (workdir / "newsbot.yaml").write_text("articles: articles\ndb: newsbot.db\n")
    write_article(workdir / "articles", "a.md")
    assert newsbot("decide", "a.md", "publish", "--user", "U1").code == 0
    undone = newsbot("decide", "a.md", "undo", "--user", "U1")
    assert undone.stdout.startswith("a.md: withdrawn;")
