"""What the scheduler posts at a schedule's fire time, by the schedule's kind: the
digest, the editorial report or coverage-gap alerts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

from newsbot.bot.config.settings import Config
from newsbot.bot.newsroom.gaps import DEFAULT_HOURS, find_gaps, watched_topics
from newsbot.bot.newsroom.report import DEFAULT_DAYS, build_report
from newsbot.bot.newsroom.schedules import Schedule
from newsbot.handlers.posting.digest_post import scheduled_poster
from newsbot.handlers.posting.gap_alerts import post_gap_alerts
from newsbot.handlers.posting.report_post import post_report
from newsbot.storage.db import Store
from slack_sdk import WebClient


def scheduled_poster_by_kind(
    client: WebClient, store: Store, config: Config
) -> Callable[[Schedule, dt.datetime], None]:
    """What the scheduler calls at a fire time: the digest, the report or gap alerts."""
    post_digest = scheduled_poster(client, store, config)

    def post(schedule: Schedule, fire_time: dt.datetime) -> None:
        if schedule.kind == "report":
            report = build_report(store, DEFAULT_DAYS, now=fire_time, tz=schedule.tz)
            post_report(client, report, schedule.channel)
        elif schedule.kind == "gaps":
            now = dt.datetime.now(dt.UTC)
            topics = watched_topics(store, schedule.topics or config.gap_topics, now)
            gaps = find_gaps(store, topics, hours=DEFAULT_HOURS,
                             min_quality=schedule.min_quality, now=now)
            day = fire_time.astimezone(ZoneInfo(schedule.tz)).date()
            post_gap_alerts(client, store, schedule.channel, gaps, hours=DEFAULT_HOURS,
                            min_quality=schedule.min_quality, day=day,
                            schedule_id=schedule.id, now=now)
        else:
            post_digest(schedule, fire_time)

    return post
