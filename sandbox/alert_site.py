"""Channels subscribed to topics, `newsbot serve --http` on an articles folder, and the alert
messages as the Slack look-alike holds them: for the alert benchmark
(benchmarks/bench_alerts.py) and the alert fault rows (benchmarks/faults_alerts.py).

One subscription per channel, each to one topic, so a file of that topic is one alert in
one channel: spread over many channels, files are single alerts rather than bursts.
Each written file is a story of its own (random words in its title and lede, its own
address), so none clusters with another and every one must be alerted.
"""

from __future__ import annotations

import os
import random
from collections import Counter
from pathlib import Path

from newsbot.bot.newsroom.subscription_filters import Filters
from newsbot.bot.newsroom.subscriptions import SubscriptionSpec, add_subscription
from newsbot.handlers.posting.digest_post import ARTICLE_EVENT
from newsbot.sandbox.fault_site import SECRET
from newsbot.sandbox.lookalike import SlackLookalike
from newsbot.storage.db import Store

_SYLLABLES = ("ka", "lo", "mi", "ne", "ru", "ta", "vo", "zi", "be", "do", "fa", "gu", "ho",
              "ji", "pe", "sa", "tu", "we", "yo", "xa")


def alert_channels(count: int) -> dict[str, str]:
    """Channel ids -> names for the look-alike: C0ALERT00, C0ALERT01, ..."""
    return {f"C0ALERT{n:02d}": f"alerts-{n:02d}" for n in range(count)}


def subscribe_channels(db: Path, topics_by_channel: dict[str, str]) -> None:
    """One subscription per channel to its topic (what the folder holds now is its
    backlog, never alerted)."""
    store = Store(db)
    try:
        for channel, topic in topics_by_channel.items():
            add_subscription(store, SubscriptionSpec(channel, Filters(topics=(topic,))),
                             created_by="U0BENCH")
    finally:
        store.close()


def serve_environment(slack: SlackLookalike, articles: Path, db: Path,
                      **extra: str) -> dict[str, str]:
    """What `newsbot serve` needs to run against the look-alike, nothing from the caller's
    NEWSBOT_* variables, no proxy (loopback)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")}
    environment.update({
        "SLACK_BOT_TOKEN": slack.bot_token, "SLACK_API_URL": slack.base_url,
        "SLACK_SIGNING_SECRET": SECRET, "NEWSBOT_ARTICLES": str(articles),
        "NEWSBOT_DB": str(db), "PYTHONIOENCODING": "utf-8",
        "HTTP_PROXY": "", "HTTPS_PROXY": "", "http_proxy": "", "https_proxy": "", **extra,
    })
    return environment


def _words(rng: random.Random, count: int) -> str:
    return " ".join("".join(rng.choices(_SYLLABLES, k=rng.randint(2, 4)))
                    for _ in range(count))


def story_text(rng: random.Random, topic: str) -> str:
    """A usable, undecided article of `topic` in the newsroom's layout, a story of its own."""
    token = f"{rng.getrandbits(48):012x}"
    return (
        "---\ncategory: news\n"
        f'title: "{_words(rng, 7).title()}"\n'
        f'excerpt: "{_words(rng, 18).capitalize()}."\n'
        "publishedDateTime: 2026-11-30T09:00:00Z\n"
        f'webUrl: "https://alerts.example.org/{token}/"\n'
        "type: article\nquality: 60\nheat: 40\npublished: false\n\n"
        "provider:\n  name: Alert Wire\n  domain: alerts.example.org\n\n"
        f"topics:\n  - {topic}\n---\n")


def write_story(articles: Path, name: str, text: str) -> None:
    """Write one article file as a person's editor does: create, write, close."""
    path = articles / name
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def alert_messages(slack: SlackLookalike, channels: list[str]) -> list[tuple[str, float]]:
    """(article id, ts as Unix time) of every article message in these channels, top
    level and in burst threads: one per alert posted, a doubled alert twice."""
    found = []
    for channel in channels:
        for message in slack.workspace.messages(channel):
            metadata = message.get("metadata") or {}
            if metadata.get("event_type") == ARTICLE_EVENT:
                found.append((metadata["event_payload"]["article_id"], float(message["ts"])))
    return found


def tally(slack: SlackLookalike, channels: list[str], sent: set[str]) -> tuple[int, int, int]:
    """(recorded, lost, duplicated), counted in stories: alert messages for the files
    sent, sent files with none, messages beyond one per file."""
    counts = Counter(article for article, _ in alert_messages(slack, channels))
    recorded = sum(counts[article] for article in sent)
    return recorded, len(sent - set(counts)), sum(max(0, counts[a] - 1) for a in sent)
