"""Alerts as rules: what becomes an alert, when, and how often, against a real SQLite file
and real article files (no Slack: handlers/ posts what these plan; tests/handlers/test_alerts.py
runs the whole loop)."""

from __future__ import annotations

import datetime as dt
import zlib
from pathlib import Path

from conftest import bump_mtime, write_article
from newsbot.bot.newsroom.alerts import (
    BURST,
    collect,
    plan_alerts,
    unposted_alerts,
    waiting_alerts,
)
from newsbot.bot.newsroom.decisions import decide
from newsbot.bot.newsroom.digest import load_digest
from newsbot.bot.newsroom.subscription_filters import Filters
from newsbot.bot.newsroom.subscriptions import SubscriptionSpec, add_subscription
from newsbot.storage.db import Store
from newsbot.storage.index import refresh
from newsbot.storage.story_clusters import ClusterSettings

CHANNEL = "C0NEWSDESK"
NOW = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC)
CLUSTERS = ClusterSettings()


def index(store: Store, articles: Path) -> None:
    refresh(store, articles, clusters=CLUSTERS)


WORDS = ("harbour", "senate", "glacier", "vaccine", "orbit", "tariff", "drought", "striker",
         "museum", "reactor", "ballot", "coral", "pipeline", "verdict", "satellite", "wildfire")


def article(articles: Path, name: str, **fields) -> Path:
    """An article of its own story: its own address, and words no other one shares."""
    seed = zlib.crc32(name.encode())
    own = [f"{WORDS[(seed >> shift) % len(WORDS)]}{seed % 97 + shift}" for shift in range(6)]
    fields.setdefault("webUrl", f"https://example.org/{name}")
    fields.setdefault("title", f"{name} {' '.join(own[:3])}")
    fields.setdefault("excerpt", " ".join(own[3:]))
    return write_article(articles, name, **fields)


def subscribe(store: Store, channel: str = CHANNEL, now: dt.datetime = NOW, **spec):
    filters = spec.pop("filters", Filters())
    return add_subscription(store, SubscriptionSpec(channel, filters, **spec), now=now)


def alert_pass(store: Store, now: dt.datetime = NOW) -> list[list[str]]:
    """collect + plan, as the poster runs them: the article ids of each planned message
    (a burst is one message with several)."""
    collect(store, now)
    return [[m.article.id for m in load_digest(store, digest_id).messages]
            for digest_id in plan_alerts(store, now)]


def test_a_new_subscription_never_replays_the_backlog(store, articles):
    article(articles, "old.md", topics=["AI"])
    index(store, articles)
    subscribe(store, filters=Filters(topics=("AI",)))
    assert alert_pass(store) == []
    bump_mtime(article(articles, "old.md", topics=["AI"], excerpt="A typo fixed."))
    index(store, articles)
    assert alert_pass(store) == []  # it matched all along: still the backlog
    article(articles, "new.md", topics=["AI"])
    article(articles, "other.md", topics=["Space"])
    index(store, articles)
    assert alert_pass(store) == [["new.md"]]
    assert alert_pass(store) == []  # once


def test_first_becoming_matching_alerts_once_and_a_fall_and_rise_does_not_repeat(
        store, articles):
    path = article(articles, "rising.md", heat=10)
    index(store, articles)
    subscribe(store, filters=Filters(min_heat=50))
    assert alert_pass(store) == []
    for heat, expected in ((80, [["rising.md"]]), (10, []), (90, [])):
        path = article(articles, "rising.md", heat=heat)
        bump_mtime(path, by_ns=heat * 1_000_000_000)
        index(store, articles)
        assert alert_pass(store) == expected, heat


def test_decided_published_or_broken_articles_are_not_alerted(store, articles):
    subscribe(store)
    article(articles, "published.md", published=True)
    article(articles, "skipped.md", skipped=True)
    (articles / "broken.md").write_text("---\ntitle: [unclosed\n---\n")
    article(articles, "fine.md")
    index(store, articles)
    assert alert_pass(store) == [["fine.md"]]


def test_one_story_one_alert_a_later_copy_is_not_posted(store, articles):
    subscribe(store)
    article(articles, "lead.md", webUrl="https://www.example.org/story?utm_source=x",
            quality=90)
    index(store, articles)
    [[lead]] = alert_pass(store)
    assert lead == "lead.md"
    article(articles, "copy.md", webUrl="https://example.org/story/", quality=95,
            provider={"name": "Other", "domain": "other.org"})
    index(store, articles)
    assert alert_pass(store) == []
    [copy] = store.query("SELECT state FROM alerts WHERE article_id = 'copy.md'")
    assert copy["state"] == "copy"


def test_a_story_decided_meanwhile_is_not_alerted(store, articles):
    subscribe(store)
    article(articles, "decided.md")
    index(store, articles)
    decide(store, "decided.md", "publish", "U1", source="cli")
    assert alert_pass(store) == []


def test_an_embargoed_article_is_alerted_when_its_embargo_lifts(store, articles):
    subscribe(store)
    lifts = NOW + dt.timedelta(minutes=5)
    article(articles, "embargoed.md", publishedDateTime=lifts.strftime("%Y-%m-%dT%H:%M:%SZ"))
    index(store, articles)
    assert alert_pass(store, NOW) == []
    assert alert_pass(store, lifts - dt.timedelta(seconds=1)) == []
    assert alert_pass(store, lifts + dt.timedelta(seconds=1)) == [["embargoed.md"]]
    assert alert_pass(store, lifts + dt.timedelta(minutes=1)) == []


def test_more_than_five_at_once_become_one_message_with_a_thread(store, articles):
    subscribe(store, filters=Filters(topics=("AI",)))
    for n in range(BURST + 2):
        article(articles, f"burst{n}.md", topics=["AI"], quality=50 + n)
    index(store, articles)
    collect(store, NOW)
    [digest_id] = plan_alerts(store, NOW)
    burst = load_digest(store, digest_id)
    assert burst.header and burst.in_thread and burst.title == "7 new articles on AI"
    assert [m.article.id for m in burst.messages] == [f"burst{n}.md" for n in range(6, -1, -1)]


def test_a_channel_at_its_limit_waits_then_bursts(store, articles):
    subscribe(store)
    for n in range(BURST):
        article(articles, f"single{n}.md")
    index(store, articles)
    assert len(alert_pass(store)) == BURST  # five single messages
    article(articles, "sixth.md")
    index(store, articles)
    later = NOW + dt.timedelta(seconds=30)
    assert alert_pass(store, later) == []  # a sixth message within the minute: it waits
    assert waiting_alerts(store) == 1
    assert alert_pass(store, NOW + dt.timedelta(seconds=61)) == [["sixth.md"]]
    assert waiting_alerts(store) == 0


def test_quiet_hours_hold_alerts_and_release_them_as_one_batch(store, articles):
    subscribe(store, quiet="11:00-13:00", tz="UTC")  # NOW is 12:00
    article(articles, "night1.md")
    article(articles, "night2.md")
    index(store, articles)
    assert alert_pass(store, NOW) == []
    assert alert_pass(store, NOW + dt.timedelta(minutes=59)) == []
    assert waiting_alerts(store) == 2
    [digest_id] = plan_alerts(store, NOW + dt.timedelta(hours=1))
    batch = load_digest(store, digest_id)
    assert batch.header and sorted(m.article.id for m in batch.messages) == [
        "night1.md", "night2.md"]
    assert "held during the quiet hours (11:00-13:00 UTC)" in batch.title


def test_two_channels_each_get_it_and_two_subscriptions_of_one_channel_post_once(
        store, articles):
    subscribe(store, filters=Filters(topics=("AI",)))
    subscribe(store, filters=Filters(min_quality=10))
    subscribe(store, channel="C0OTHER")
    article(articles, "both.md", topics=["AI"], quality=50)
    index(store, articles)
    collect(store, NOW)
    channels = sorted(load_digest(store, d).channel for d in plan_alerts(store, NOW))
    assert channels == ["C0NEWSDESK", "C0OTHER"]
    assert len(store.query("SELECT * FROM alerts WHERE state = 'planned'")) == 3


def test_at_most_once_when_two_processes_collect(store, articles, tmp_path):
    subscribe(store)
    article(articles, "raced.md")
    index(store, articles)
    other = Store(tmp_path / "index.db")  # a second process's connection to the same file
    try:
        collect(store, NOW)
        collect(other, NOW)
        assert len(plan_alerts(other, NOW)) == 1
        assert plan_alerts(store, NOW) == []
    finally:
        other.close()
    assert len(unposted_alerts(store, NOW)) == 1


def test_a_follow_ends_after_its_last_day(store, articles):
    subscribe(store, channel="D0FOLLOWER", member="U0FOLLOWER", until="2026-12-02", tz="UTC")
    article(articles, "today.md")
    index(store, articles)
    assert alert_pass(store, NOW) == [["today.md"]]
    article(articles, "tomorrow.md")
    index(store, articles)
    assert alert_pass(store, NOW + dt.timedelta(days=1)) == []


def test_a_non_editor_followers_alerts_carry_no_buttons(store, articles):
    subscribe(store, channel="D0READER", member="U0READER")
    article(articles, "news.md")
    index(store, articles)
    collect(store, NOW)
    [digest_id] = plan_alerts(store, NOW, may_decide=lambda member: member == "U0EDITOR")
    assert load_digest(store, digest_id).buttons is False


def test_an_index_without_subscriptions_queues_nothing(store, articles):
    article(articles, "a.md")
    index(store, articles)
    assert store.query("SELECT * FROM alert_candidates") == []


def vm_steps(store: Store, call, *args, **kwargs) -> int:
    """SQLite virtual machine steps that `call(*args, **kwargs)` makes on the store's
    connection: work, counted exactly, without timing anything."""
    steps = 0

    def count() -> int:
        nonlocal steps
        steps += 1
        return 0

    store.db.conn.set_progress_handler(count, 1)
    try:
        call(*args, **kwargs)
    finally:
        store.db.conn.set_progress_handler(None, 1)
    return steps


def test_judging_a_new_article_costs_the_same_in_a_small_and_a_large_folder(tmp_path):
    """The alert pass runs after every file event and every 2 s, so its work must follow
    the queue, not the folder (it once scanned every article: 0.1 s a pass at 100,000)."""
    costs = []
    for size in (20, 400):
        folder = tmp_path / f"articles-{size}"
        for number in range(size):
            article(folder, f"old-{number}.md")
        store = Store(tmp_path / f"index-{size}.db")
        try:
            index(store, folder)
            subscribe(store)
            article(folder, "new.md")
            index(store, folder)
            costs.append(vm_steps(store, collect, store, NOW))
            assert store.query("SELECT state FROM alerts WHERE article_id = 'new.md'") == [
                {"state": "held"}]
        finally:
            store.close()
    assert costs[1] < costs[0] * 1.5, costs
