"""The scheduler and schedule commands joined to the real Slack code, against the look-alike.

This is the wiring `newsbot serve` needs, tested end to end over HTTP on 127.0.0.1:
a scheduled digest goes through plan_digest/post_digest keyed by its fire time, so a
failed run retried by the scheduler resumes the same digest instead of posting twice;
admin rights and the default zone come from users.info, unknown channels from
conversations.info.
"""

from __future__ import annotations

import datetime as dt
import shutil

import pytest
from newsbot.bot.app.slack_client import web_client
from newsbot.bot.config.settings import BUNDLED_ARTICLES, Config
from newsbot.bot.newsroom.fires import recent_runs
from newsbot.bot.newsroom.schedule_command import run_schedule_command
from newsbot.bot.newsroom.schedules import ScheduleSpec, add_schedule, get_schedule
from newsbot.bot.services.admins import AdminCheck
from newsbot.bot.services.scheduler import FAILED_RUN, POSTED, DigestScheduler
from newsbot.handlers.posting.digest_post import scheduled_poster
from newsbot.sandbox import SlackLookalike
from newsbot.storage.db import Store
from newsbot.storage.index import refresh
from slack_sdk.errors import SlackApiError

CHANNEL = "C0NEWSDESK"  # the look-alike's default channel
MONDAY_0700 = dt.datetime(2026, 3, 2, 7, 0, tzinfo=dt.UTC)


@pytest.fixture
def newsroom(tmp_path):
    articles = tmp_path / "articles"
    shutil.copytree(BUNDLED_ARTICLES, articles)
    config = Config(articles=articles, db=tmp_path / "newsbot.db")
    store = Store(config.db)
    refresh(store, articles)
    with SlackLookalike() as slack:
        yield slack, store, config, web_client(slack.bot_token, slack.base_url)


def at(hour, minute=0, second=0):
    return dt.datetime(2026, 3, 2, hour, minute, second, tzinfo=dt.UTC)


def test_a_failed_scheduled_digest_is_retried_and_resumed_not_reposted(newsroom):
    slack, store, config, client = newsroom
    add_schedule(store, ScheduleSpec(CHANNEL, "0 9 * * 1-5", "Europe/London", top=4),
                 origin="cli", now=MONDAY_0700)

    post_scheduled = scheduled_poster(client, store, config)  # what serve passes

    def fail_after_two_articles(change) -> None:
        if len(slack.calls("chat.postMessage")) == 3:  # header + 2 articles
            slack.fail_next("chat.postMessage", error="not_in_channel")

    unsubscribe = slack.subscribe(fail_after_two_articles)
    runner = DigestScheduler(store, post_scheduled, retry_delay=dt.timedelta(seconds=30))
    assert [o.result for o in runner.run_pending(at(9, 0, 1))] == [FAILED_RUN]
    unsubscribe()
    assert [o.result for o in runner.run_pending(at(9, 0, 10))] == [None]  # backing off
    assert [o.result for o in runner.run_pending(at(9, 0, 40))] == [POSTED]
    assert [o.result for o in runner.run_pending(at(9, 5))] == [None]
    good_posts = [c for c in slack.calls("chat.postMessage") if c.ok]
    headers = [c for c in good_posts if not c.params.get("thread_ts")]
    assert len(headers) == 1 and len(good_posts) == 5
    (digest,) = store.query("SELECT key, status FROM digests")
    assert digest == {"key": "schedule:s1:2026-03-02T09:00:00Z", "status": "done"}
    (run,) = recent_runs(store, "s1")
    assert (run.status, run.attempts) == ("done", 2)


def test_schedule_commands_with_rights_and_zones_from_users_info(newsroom):
    slack, store, config, client = newsroom
    admins = AdminCheck(config.admins, lambda user: client.users_info(user=user)["user"])

    def channel_known(channel: str) -> bool:
        try:
            return bool(client.conversations_info(channel=channel)["ok"])
        except SlackApiError:
            return False

    def run(user: str, text: str):
        return run_schedule_command(
            store, text, user_id=user, is_admin=admins.is_admin, user_zone=admins.time_zone,
            fallback_zone=config.timezone, channel_known=channel_known,
            channel_format=lambda c: f"<#{c}>", now=MONDAY_0700,
        )

    refused = run("U0EDITOR", f'add <#{CHANNEL}|newsdesk> "0 9 * * 1-5"')
    assert not refused.ok and refused.text.startswith("Only newsbot admins can add")
    preview = run("U0EDITOR", 'preview "0 9 * * 1-5"')  # Erin's zone: Europe/Berlin
    assert preview.fires[0].isoformat() == "2026-03-02T09:00:00+01:00"
    added = run("U0CHIEF", f'add <#{CHANNEL}|newsdesk> "0 9 * * 1-5" top=5')  # workspace admin
    assert added.ok, added.text
    assert get_schedule(store, "s1").tz == "America/New_York"  # Carl's own zone
    assert added.text.startswith(f'Scheduled s1: <#{CHANNEL}> "0 9 * * 1-5" America/New_York')
    unknown = run("U0CHIEF", 'add C0NOWHERE "0 9 * * *"')
    assert unknown.text.startswith("unknown channel C0NOWHERE")
    assert len(slack.calls("users.info")) == 2  # one look-up per user, then the cache
