"""Coverage gaps: `newsbot gaps` and its JSON, and gap alerts and reports posted by
schedules of those kinds (once per topic and day), against the Slack look-alike."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import Raw, write_article
from newsbot.bot.app.slack_client import web_client
from newsbot.bot.config.settings import load_config
from newsbot.bot.newsroom.config_schedules import apply_config_schedules
from newsbot.bot.newsroom.schedules import get_schedule, list_schedules
from newsbot.bot.services.scheduler import FAILED_RUN, POSTED, DigestScheduler
from newsbot.handlers.posting.by_kind import scheduled_poster_by_kind
from newsbot.sandbox import SlackLookalike
from newsbot.storage.db import Store

CHANNEL = "C0NEWSDESK"


def hours_ago(hours: float) -> dt.datetime:
    return (dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours)).replace(microsecond=0)


def iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def desk(workdir, newsbot):
    """Articles whose gaps are known; returns their publishedDateTime by id."""
    folder = workdir / "articles"
    times = {
        "ai-fresh.md": (["AI"], 2, 60),
        "space-old.md": (["Space"], 72, 80),
        "health-fresh.md": (["Health"], 1, 70),  # decided (skip) below
        "health-old.md": (["Health"], 120, 30),
        "climate-weak.md": (["Climate"], 3, 20),
        "old-topic.md": (["Old"], 40 * 24, 90),
    }
    stamps = {}
    for name, (topics, age, quality) in times.items():
        stamps[name] = iso(hours_ago(age))
        write_article(folder, name, title=name, topics=topics, quality=quality,
                      publishedDateTime=Raw(stamps[name]))
    (workdir / "newsbot.yaml").write_text("articles: articles\ndb: newsbot.db\n")
    assert newsbot("decide", "health-fresh.md", "skip", "--user", "U0EDITOR").code == 0
    return stamps


def test_gaps_json_for_the_topics_seen_in_30_days(desk, newsbot):
    result = newsbot("gaps", "--json")
    assert result.code == 0, result.stderr
    # AI and Climate have a fresh open article; Old was not seen in 30 days
    assert result.json == {"gaps": [
        {"topic": "Health", "lastArticle": desk["health-fresh.md"],
         "best": {"id": "health-old.md", "quality": 30}},
        {"topic": "Space", "lastArticle": desk["space-old.md"],
         "best": {"id": "space-old.md", "quality": 80}},
    ]}


def test_gaps_with_a_minimum_quality_hours_and_named_topics(desk, newsbot):
    gaps = newsbot("gaps", "--min-quality", "50", "--json", "--no-refresh").json["gaps"]
    assert gaps == [
        {"topic": "Climate", "lastArticle": None,
         "best": {"id": "climate-weak.md", "quality": 20}},
        {"topic": "Health", "lastArticle": desk["health-fresh.md"],
         "best": {"id": "health-old.md", "quality": 30}},
        {"topic": "Space", "lastArticle": desk["space-old.md"],
         "best": {"id": "space-old.md", "quality": 80}},
    ]
    gaps = newsbot("gaps", "--hours", "100", "--json", "--no-refresh").json["gaps"]
    assert [g["topic"] for g in gaps] == ["Health"]
    gaps = newsbot("gaps", "--topic", "old", "--topic", "Nope", "--topic", "ai",
                   "--json", "--no-refresh").json["gaps"]
    assert gaps == [
        {"topic": "old", "lastArticle": desk["old-topic.md"],
         "best": {"id": "old-topic.md", "quality": 90}},
        {"topic": "Nope", "lastArticle": None, "best": None},
    ]


def test_gaps_topics_from_the_config_and_bad_flags(desk, newsbot, workdir):
    (workdir / "newsbot.yaml").write_text(
        "articles: articles\ndb: newsbot.db\ngaps:\n  topics: [Space, AI]\n")
    assert [g["topic"] for g in newsbot("gaps", "--json").json["gaps"]] == ["Space"]
    text = newsbot("gaps", "--no-refresh").stdout
    assert "1 of 2 watched topics" in text and "Space: last article" in text
    assert newsbot("gaps", "--hours", "0").code == 2


# --- schedules of kind gaps and report, against the look-alike


@pytest.fixture
def slack():
    with SlackLookalike() as lookalike:
        yield lookalike


def fire(hours_from_now: int) -> dt.datetime:
    """A whole hour in the future (schedules only fire after they were added)."""
    base = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    return base + dt.timedelta(hours=hours_from_now)


def scheduler_for(slack, workdir):
    config = load_config(workdir / "newsbot.yaml")
    store = Store(config.db)
    poster = scheduled_poster_by_kind(web_client(slack.bot_token, slack.base_url), store,
                                      config)
    return store, DigestScheduler(store, poster, retry_delay=dt.timedelta(0))


def alerts(slack) -> list[str]:
    return [str(call.params["blocks"]) for call in slack.calls("chat.postMessage")]


def test_gap_alerts_fire_once_per_topic_per_day(desk, newsbot, workdir, slack):
    added = newsbot("schedule", "add", CHANNEL, "0 * * * *", "--kind", "gaps", "--topic",
                    "Space", "--topic", "Health", "--topic", "AI", "--json")
    assert added.code == 0, added.stderr
    assert added.json["schedule"]["kind"] == "gaps"
    store, scheduler = scheduler_for(slack, workdir)
    schedule = get_schedule(store, added.json["schedule"]["id"])
    # the day of the fire times: tomorrow, 01:00 to 03:00 UTC, then the day after
    day = fire(24).replace(hour=1)
    assert scheduler.check(schedule, day + dt.timedelta(seconds=5)).result == POSTED
    [first] = alerts(slack)
    assert "*Space*" in first and "*Health*" in first and "*AI*" not in first
    assert "gap open since <!date^" in first  # when it opened, in the reader's zone
    assert "`health-old.md` (quality 30)" in first

    later = day + dt.timedelta(hours=1, seconds=5)
    assert scheduler.check(schedule, later).result == POSTED
    assert len(alerts(slack)) == 1, "the same gaps are not alerted twice a day"

    assert newsbot("decide", "ai-fresh.md", "publish", "--user", "U0EDITOR").code == 0
    assert scheduler.check(schedule, later + dt.timedelta(hours=1)).result == POSTED
    second = alerts(slack)[1]
    assert "*AI*" in second and "*Space*" not in second and "*Health*" not in second

    next_day = day + dt.timedelta(days=1, seconds=5)
    assert scheduler.check(schedule, next_day).result == POSTED
    third = alerts(slack)[2]
    assert all(f"*{topic}*" in third for topic in ("Space", "Health", "AI"))
    rows = store.query("SELECT topic_key, day FROM gap_alerts ORDER BY day, topic_key")
    assert rows == [{"topic_key": key, "day": d} for d, keys in (
        (day.date().isoformat(), ("ai", "health", "space")),
        (next_day.date().isoformat(), ("ai", "health", "space"))) for key in keys]


def test_a_refused_gap_alert_is_given_back_and_the_retry_posts_it(desk, newsbot, workdir,
                                                                  slack):
    newsbot("schedule", "add", CHANNEL, "0 * * * *", "--kind", "gaps", "--topic", "Space")
    store, scheduler = scheduler_for(slack, workdir)
    [schedule] = list_schedules(store)
    slack.fail_next("chat.postMessage", error="fatal_error")
    at = fire(26) + dt.timedelta(seconds=5)
    assert scheduler.check(schedule, at).result == FAILED_RUN
    assert store.query("SELECT * FROM gap_alerts") == []
    assert scheduler.check(schedule, at + dt.timedelta(seconds=1)).result == POSTED
    assert len([c for c in slack.calls("chat.postMessage") if c.ok]) == 1
    assert len(store.query("SELECT * FROM gap_alerts")) == 1


def test_no_gap_no_alert(desk, newsbot, workdir, slack):
    newsbot("schedule", "add", CHANNEL, "0 * * * *", "--kind", "gaps", "--topic", "AI")
    store, scheduler = scheduler_for(slack, workdir)
    [schedule] = list_schedules(store)
    assert scheduler.check(schedule, fire(30) + dt.timedelta(seconds=5)).result == POSTED
    assert slack.calls("chat.postMessage") == []


def test_a_report_schedule_from_the_config_posts_the_report_and_chart(desk, newsbot,
                                                                      workdir, slack):
    (workdir / "newsbot.yaml").write_text(
        "articles: articles\ndb: newsbot.db\nschedules:\n"
        f"  - {{id: weekly, channel: {CHANNEL}, cron: '0 9 * * 1', kind: report}}\n"
        f"  - {{channel: {CHANNEL}, cron: '0 9 * * 1'}}\n")
    config = load_config(workdir / "newsbot.yaml")
    store, scheduler = scheduler_for(slack, workdir)
    applied = apply_config_schedules(store, config.schedules)
    assert len(applied.added) == 2
    kinds = {s.id: s.kind for s in list_schedules(store)}
    assert kinds["weekly"] == "report" and sorted(kinds.values()) == ["digest", "report"]
    schedule = get_schedule(store, "weekly")
    fires = schedule.trigger().get_next_fire_time(None, dt.datetime.now(dt.UTC))
    assert scheduler.check(schedule, fires + dt.timedelta(seconds=5)).result == POSTED
    [summary] = slack.calls("chat.postMessage")
    assert "Editorial report, last 7 days" in str(summary.params["blocks"])
    assert "1 decided (0 published, 1 skipped)" in summary.params["text"]
    assert [c.method for c in slack.calls() if c.method.startswith("files.")
            or c.method == "upload"] == ["files.getUploadURLExternal", "upload",
                                         "files.completeUploadExternal"]
    # applying the same file again changes nothing (the kind is part of the entry)
    assert apply_config_schedules(store, config.schedules).unchanged == ["weekly", "s2"]


def test_schedule_kind_is_checked(newsbot, workdir, desk):
    bad = newsbot("schedule", "add", CHANNEL, "0 9 * * *", "--kind", "weekly")
    assert bad.code == 2 and "invalid choice" in bad.stderr
    (workdir / "newsbot.yaml").write_text(
        "articles: articles\ndb: newsbot.db\nschedules:\n"
        f"  - {{channel: {CHANNEL}, cron: '0 9 * * 1', kind: weekly}}\n")
    result = newsbot("gaps")
    assert result.code == 2 and "schedules[0].kind" in result.stderr


def test_the_alert_says_when_each_gap_opened(desk):
    from newsbot.bot.newsroom.gaps import Gap
    from newsbot.handlers.posting.gap_alerts import gap_alert_blocks

    now = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.UTC)
    gaps = [Gap("Space", "2026-11-27T09:30:00Z", "space-old.md", 80),
            Gap("Health", "2026-11-29T11:00:00Z", "health-old.md", 30),
            Gap("Nope", None, None, None)]
    text, blocks = gap_alert_blocks(gaps, hours=24, min_quality=50, now=now)
    assert text == "Coverage gaps: 3 topics with no new article of quality 50 or more in the " \
                   "last 24 hours"
    lines = blocks[1]["text"]["text"].splitlines()
    opened = int(dt.datetime(2026, 11, 28, 9, 30, tzinfo=dt.UTC).timestamp())
    assert lines[0] == (f"• *Space*: gap open since <!date^{opened}^{{date_short_pretty}} "
                        "{time}|2026-11-28 09:30 UTC>; best still open: `space-old.md` "
                        "(quality 80)")
    assert lines[1].startswith("• *Health*: every recent article was decided (the last from ")
    assert lines[2] == "• *Nope*: no article of quality 50 or more on record; nothing left to " \
                       "review"


def test_slack_schedule_add_takes_a_kind(store):
    from newsbot.bot.newsroom.schedule_command import run_schedule_command

    def run(text):
        return run_schedule_command(store, text, user_id="U0CHIEF", is_admin=lambda u: True)

    reply = run(f'add <#{CHANNEL}|news> "0 9 * * 1" kind=report')
    assert reply.ok and reply.schedule.kind == "report", reply.text
    assert "report" in reply.text
    assert run(f'add <#{CHANNEL}|news> "0 9 * * 1"').schedule.kind == "digest"
    again = run(f'add <#{CHANNEL}|news> "0 9 * * 1" kind=REPORT')
    assert not again.ok and "the same report is already scheduled" in again.text
    bad = run(f'add <#{CHANNEL}|news> "0 9 * * 1" kind=weekly')
    assert not bad.ok and "must be one of digest, report, gaps" in bad.text
