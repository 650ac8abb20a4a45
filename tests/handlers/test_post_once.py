"""Posting once when Slack's answer leaves it unknown whether a message was stored.

Against the Slack look-alike over real HTTP (which can store a message and then answer
500, or drop the connection), with a real SQLite file: a post that may have reached Slack
is never sent again before the digest's thread or the channel has been read back.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import threading
from collections import Counter
from pathlib import Path

import pytest
from newsbot.bot.app.slack_client import web_client
from newsbot.bot.config.settings import BUNDLED_ARTICLES, Config
from newsbot.bot.newsroom.digest import DigestOptions, load_digest, plan_digest
from newsbot.bot.newsroom.schedules import ScheduleSpec, add_schedule
from newsbot.bot.services.scheduler import DigestScheduler
from newsbot.handlers.posting.digest_post import (
    ARTICLE_EVENT,
    DIGEST_EVENT,
    DigestPostError,
    post_digest,
    scheduled_poster,
)
from newsbot.sandbox import SlackLookalike
from newsbot.storage.db import Store
from newsbot.storage.index import refresh
from slack_sdk.errors import SlackApiError

CHANNEL = "C0NEWSDESK"
CHANNELS = {"C0NEWSDESK": "newsdesk", "C0SCIENCE": "science"}


@pytest.fixture
def config(tmp_path: Path) -> Config:
    articles = tmp_path / "articles"
    shutil.copytree(BUNDLED_ARTICLES, articles)
    config = Config(articles=articles, db=tmp_path / "newsbot.db")
    refresh(Store(config.db), articles)
    return config


@pytest.fixture
def store(config: Config) -> Store:
    return Store(config.db)


@pytest.fixture
def slack():
    with SlackLookalike(channels=CHANNELS) as lookalike:
        yield lookalike


def client_for(slack: SlackLookalike):
    return web_client(slack.bot_token, slack.base_url)


def in_slack(slack: SlackLookalike, channel: str = CHANNEL) -> tuple[Counter, Counter]:
    """(headers by digest key, articles by article id) among the channel's messages."""
    headers, articles = Counter(), Counter()
    for message in slack.workspace.messages(channel):
        metadata = message.get("metadata") or {}
        payload = metadata.get("event_payload") or {}
        if metadata.get("event_type") == DIGEST_EVENT:
            headers[payload["digest_key"]] += 1
        elif metadata.get("event_type") == ARTICLE_EVENT:
            articles[payload["article_id"]] += 1
    return headers, articles


def after_posts(slack: SlackLookalike, count: int, **fault) -> None:
    """Inject `fault` into the next chat.postMessage once `count` messages are stored."""
    stored = []

    def inject(change) -> None:
        if change.kind == "message_posted":
            stored.append(change)
            if len(stored) == count:
                slack.fail_next("chat.postMessage", **fault)

    slack.subscribe(inject)


def test_an_article_stored_then_answered_500_is_found_not_posted_again(store, slack, caplog):
    caplog.set_level(logging.INFO, logger="newsbot.handlers.posting.digest_post")
    after_posts(slack, 2, status=500, stored=True)  # header and article 1 went fine
    plan = post_digest(client_for(slack), store, plan_digest(store, CHANNEL,
                                                             DigestOptions(top=3)))
    headers, articles = in_slack(slack)
    assert list(headers.values()) == [1]
    assert sorted(articles.values()) == [1, 1, 1]
    assert plan.status == "done" and all(m.ts for m in plan.messages)
    assert [c.status for c in slack.calls("chat.postMessage")] == [200, 200, 500, 200]
    assert len(slack.calls("conversations.replies")) == 1
    found = [r for r in caplog.records if getattr(r, "resolution", None) == "found"]
    assert [r.post for r in found] == ["article 2"]
    assert any(r.message.startswith("ambiguous failure") and r.error == "internal_error"
               for r in caplog.records)


def test_a_plain_500_is_posted_again_after_the_read_back(store, slack, caplog):
    caplog.set_level(logging.INFO, logger="newsbot.handlers.posting.digest_post")
    after_posts(slack, 1, status=500)  # article 1 refused, nothing stored
    plan = post_digest(client_for(slack), store, plan_digest(store, CHANNEL,
                                                             DigestOptions(top=3)))
    _, articles = in_slack(slack)
    assert sorted(articles.values()) == [1, 1, 1] and plan.status == "done"
    thread = slack.workspace.replies(CHANNEL, plan.header_ts)[1:]
    positions = [m["metadata"]["event_payload"]["position"] for m in thread]
    assert positions == [0, 1, 2], "the refused article is posted again in its place"
    reposted = [r for r in caplog.records if getattr(r, "resolution", None) == "re-posted"]
    assert [r.post for r in reposted] == ["article 1"]


def test_each_ambiguous_failure_is_settled_before_the_next_article(store, slack):
    after_posts(slack, 1, status=500, stored=True)  # article 1: stored, then 500
    after_posts(slack, 2, status=500)  # article 2: refused
    plan = post_digest(client_for(slack), store,
                       plan_digest(store, CHANNEL, DigestOptions(top=4)))
    headers, articles = in_slack(slack)
    assert list(headers.values()) == [1]
    assert sorted(articles.values()) == [1, 1, 1, 1]
    # header, 1 (stored, 500), 2 (500), 2 again, 3, 4: one read back after each failure
    assert [c.status for c in slack.calls("chat.postMessage")] == [200, 500, 500, 200, 200, 200]
    assert len(slack.calls("conversations.replies")) == 2
    thread = slack.workspace.replies(CHANNEL, plan.header_ts)[1:]
    assert [m["metadata"]["event_payload"]["position"] for m in thread] == [0, 1, 2, 3]


def test_a_header_stored_then_dropped_is_found_in_the_channel(store, slack, caplog):
    caplog.set_level(logging.INFO, logger="newsbot.handlers.posting.digest_post")
    slack.fail_next("chat.postMessage", drop=True, stored=True)
    plan = post_digest(client_for(slack), store, plan_digest(store, CHANNEL,
                                                             DigestOptions(top=2)))
    headers, articles = in_slack(slack)
    assert list(headers.values()) == [1] and sorted(articles.values()) == [1, 1]
    assert len(slack.calls("chat.postMessage")) == 3, "the dropped header was not resent"
    assert len(slack.calls("conversations.history")) == 1
    history = slack.calls("conversations.history")[0].params
    assert history["include_all_metadata"] in ("1", "true", True)
    assert plan.header_ts == slack.workspace.history(CHANNEL)[-1]["ts"]
    assert [r.post for r in caplog.records if getattr(r, "resolution", None)] == ["header"]


def test_a_rate_limited_read_back_waits_for_retry_after(store, slack):
    after_posts(slack, 1, status=500, stored=True)
    slack.fail_next("conversations.replies", status=429, retry_after=0)
    plan = post_digest(client_for(slack), store, plan_digest(store, CHANNEL,
                                                             DigestOptions(top=2)))
    assert [c.status for c in slack.calls("conversations.replies")] == [429, 200]
    assert sorted(in_slack(slack)[1].values()) == [1, 1] and plan.status == "done"


def test_a_failed_read_back_posts_nothing_more_and_a_rerun_settles(store, slack):
    after_posts(slack, 1, status=500, stored=True)
    slack.fail_next("conversations.replies", error="internal_error")  # read back fails
    options = DigestOptions(top=3)
    with pytest.raises(DigestPostError):
        post_digest(client_for(slack), store, plan_digest(store, CHANNEL, options))
    assert len(slack.calls("chat.postMessage")) == 2  # header, article 1: nothing after it
    resumed = post_digest(client_for(slack), store, plan_digest(store, CHANNEL, options))
    assert resumed.status == "done" and all(m.ts for m in resumed.messages)
    assert len(slack.calls("chat.postMessage")) == 4  # articles 2 and 3; 1 was found
    assert sorted(in_slack(slack)[1].values()) == [1, 1, 1]
    thread = slack.workspace.replies(CHANNEL, resumed.header_ts)[1:]
    assert [m["metadata"]["event_payload"]["position"] for m in thread] == [0, 1, 2]


def test_the_client_never_resends_a_post_but_retries_reads(slack):
    client = client_for(slack)
    slack.fail_next("chat.postMessage", status=500)
    with pytest.raises(SlackApiError):
        client.chat_postMessage(channel=CHANNEL, text="hello")
    assert len(slack.calls("chat.postMessage")) == 1
    slack.fail_next("chat.postMessage", status=429, retry_after=0)
    client.chat_postMessage(channel=CHANNEL, text="hello")
    assert [c.status for c in slack.calls("chat.postMessage")] == [500, 429, 200]
    slack.fail_next("conversations.history", status=503)
    client.conversations_history(channel=CHANNEL)
    assert [c.status for c in slack.calls("conversations.history")] == [503, 200]


def test_an_abandoned_digest_that_began_posting_keeps_its_articles(store, slack):
    after_posts(slack, 1, status=500, stored=True)
    slack.fail_next("conversations.replies", error="internal_error")
    first = plan_digest(store, CHANNEL, DigestOptions(top=3))
    with pytest.raises(DigestPostError):
        post_digest(client_for(slack), store, first)
    other = plan_digest(store, CHANNEL, DigestOptions(top=5))  # other options: abandons
    assert load_digest(store, first.id).status == "abandoned"
    unsure = load_digest(store, first.id).messages[0].article.id
    assert unsure not in {m.article.id for m in other.messages}


def test_flaky_slack_posts_every_article_once_per_channel(store, slack):
    slack.flaky("chat.postMessage", stored=0.3, dropped=0.1, refused=0.1, seed=5)
    client = client_for(slack)
    for channel in CHANNELS:
        for in_thread in (True, False):
            for _ in range(6):  # `newsbot digest --post` run again until it succeeds
                plan = plan_digest(store, channel, DigestOptions(top=6), in_thread=in_thread)
                try:
                    post_digest(client, store, plan)
                    break
                except DigestPostError:
                    continue
    slack.flaky("chat.postMessage")
    assert sum(c.status == 500 for c in slack.calls("chat.postMessage")) >= 5
    for channel in CHANNELS:
        headers, articles = in_slack(slack, channel)
        assert len(headers) == 2 and set(headers.values()) == {1}
        assert len(articles) == 12 and set(articles.values()) == {1}
    assert {d["status"] for d in store.query("SELECT status FROM digests")} == {"done"}


def test_two_schedulers_racing_under_faults_post_each_fire_time_once(config, slack):
    store = Store(config.db)
    first = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    schedule = add_schedule(store, ScheduleSpec(CHANNEL, "* * * * *", "UTC", top=4),
                            origin="cli", now=first - dt.timedelta(minutes=1))
    slack.flaky("chat.postMessage", stored=0.3, refused=0.1, seed=11)
    fires = [first + dt.timedelta(minutes=n) for n in range(3)]

    def serve(owner: str, start: threading.Barrier) -> None:
        own_store = Store(config.db)
        scheduler = DigestScheduler(
            own_store, scheduled_poster(client_for(slack), own_store, config),
            retry_delay=dt.timedelta(0), owner=owner)
        for fire in fires:
            start.wait()
            for attempt in range(10):
                scheduler.check(schedule, fire + dt.timedelta(seconds=1 + attempt))

    start = threading.Barrier(2)
    threads = [threading.Thread(target=serve, args=(name, start)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    slack.flaky("chat.postMessage")
    headers, articles = in_slack(slack)
    assert len(headers) == 3 and set(headers.values()) == {1}
    assert len(articles) == 12 and set(articles.values()) == {1}
