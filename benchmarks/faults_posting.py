"""Fault scenarios for posting digests: ambiguous chat.postMessage failures, racing posters.

Each scenario runs the real posting code against the Slack look-alike over HTTP with a
real SQLite file, then compares what Slack holds with what was meant to be posted:

- events sent: the messages intended (one header per digest, one message per article);
- events recorded: the digest messages in Slack (found by the metadata each one carries);
- lost: intended messages not in Slack;
- duplicated: extra copies (a digest's header beyond one, an article beyond one per channel);
- out of order: article messages that came after a later article of the same digest (each
  ambiguous post is settled before the next, so a refused one is posted again in its place).

Faults: a seeded fraction of chat.postMessage calls is stored and then answered 500
(`stored`), stored and then the connection dropped (`dropped`), or refused with a plain
500 (`refused`); racing: two processes with their own scheduler, client and database
connection check one schedule at the same fire times.

    python benchmarks/faults_posting.py
"""

from __future__ import annotations

import datetime as dt
import logging
import multiprocessing
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path

from newsbot.bot.app.slack_client import web_client
from newsbot.bot.config.settings import BUNDLED_ARTICLES, Config
from newsbot.bot.newsroom.digest import DigestOptions, plan_digest
from newsbot.bot.newsroom.fires import recent_runs
from newsbot.bot.newsroom.schedules import ScheduleSpec, add_schedule, get_schedule
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

ROOT = Path(__file__).resolve().parent.parent

FIELDS = ("fault", "trials", "events sent", "events recorded", "lost", "duplicated",
          "out of order")
CHANNELS = {"C0NEWSDESK": "newsdesk", "C0SCIENCE": "science", "C0POLITICS": "politics"}
RERUNS = 6  # how often `newsbot digest --post` is run again after it failed


def _newsroom(folder: Path) -> tuple[Config, Store]:
    articles = folder / "articles"
    shutil.copytree(BUNDLED_ARTICLES, articles)
    config = Config(articles=articles, db=folder / "newsbot.db")
    store = Store(config.db)
    refresh(store, articles)
    return config, store


def tally(slack: SlackLookalike, store: Store, fault: str, trials: int) -> dict:
    """Compare the digests in the database with the digest messages in Slack."""
    intended = 0
    for digest in store.query("SELECT id, key FROM digests"):
        articles = store.query("SELECT count(*) AS n FROM digest_messages WHERE digest_id = ?"
                               " AND (skipped IS NULL OR ts IS NOT NULL)", [digest["id"]])
        intended += 1 + articles[0]["n"]
    headers: Counter = Counter()
    articles_here: Counter = Counter()
    places: set = set()
    recorded = out_of_order = 0
    for channel in CHANNELS:
        highest: dict[str, int] = {}
        for message in slack.workspace.messages(channel):  # oldest first
            metadata = message.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            key = payload.get("digest_key")
            if metadata.get("event_type") == DIGEST_EVENT:
                headers[key] += 1
                places.add((key, -1))
            elif metadata.get("event_type") == ARTICLE_EVENT:
                articles_here[(channel, payload["article_id"])] += 1
                places.add((key, payload["position"]))
                if payload["position"] < highest.get(key, -1):
                    out_of_order += 1
                highest[key] = max(highest.get(key, -1), payload["position"])
            else:
                continue
            recorded += 1
    duplicated = (sum(n - 1 for n in headers.values())
                  + sum(n - 1 for n in articles_here.values()))
    return {"fault": fault, "trials": trials, "events sent": intended,
            "events recorded": recorded, "lost": intended - len(places),
            "duplicated": duplicated, "out of order": out_of_order}


def ambiguous_posts(fault: str, *, stored: float = 0.0, dropped: float = 0.0,
                    refused: float = 0.0, in_thread: bool = True, seed: int = 1) -> dict:
    """Three digests of 10 articles into each of three channels, posted the way
    `newsbot digest --post` does, run again (resuming) until it succeeds."""
    with tempfile.TemporaryDirectory(prefix="faults-posting-") as folder, \
            SlackLookalike(channels=CHANNELS) as slack:
        config, store = _newsroom(Path(folder))
        slack.flaky("chat.postMessage", stored=stored, dropped=dropped, refused=refused,
                    seed=seed)
        client = web_client(slack.bot_token, slack.base_url)
        trials = 0
        for channel in CHANNELS:
            for _ in range(3):
                trials += 1
                for _ in range(RERUNS):
                    plan = plan_digest(store, channel, DigestOptions(top=10),
                                       in_thread=in_thread)
                    try:
                        post_digest(client, store, plan)
                        break
                    except DigestPostError:
                        continue
        slack.flaky("chat.postMessage")
        row = tally(slack, store, fault, trials)
        store.close()
        return row


def _serve(db: str, articles: str, base_url: str, token: str, owner: str, schedule_id: str,
           fire_times: list[dt.datetime], start: multiprocessing.synchronize.Barrier) -> None:
    """One `serve` process: its own database connection, client and scheduler."""
    logging.disable(logging.ERROR)
    config = Config(articles=Path(articles), db=Path(db))
    store = Store(config.db)
    client = web_client(token, base_url)
    scheduler = DigestScheduler(store, scheduled_poster(client, store, config),
                                retry_delay=dt.timedelta(0), owner=owner)
    schedule = get_schedule(store, schedule_id)
    for fire in fire_times:
        start.wait()
        for attempt in range(12):  # ticks a second apart, as serve's tick would retry
            scheduler.check(schedule, fire + dt.timedelta(seconds=1 + attempt))
            runs = {run.fire_time: run.status for run in recent_runs(store, schedule_id)}
            if runs.get(fire) == "done":
                break
            time.sleep(0.02)
    store.close()


def racing_schedulers(fault: str, *, stored: float, refused: float, fires: int = 4,
                      seed: int = 2) -> dict:
    """Two serve processes, one schedule firing every minute, `fires` fire times."""
    with tempfile.TemporaryDirectory(prefix="faults-racing-") as folder, \
            SlackLookalike(channels=CHANNELS) as slack:
        config, store = _newsroom(Path(folder))
        first = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
        schedule = add_schedule(store, ScheduleSpec("C0NEWSDESK", "* * * * *", "UTC", top=5),
                                origin="cli", now=first - dt.timedelta(minutes=1))
        fire_times = [first + dt.timedelta(minutes=n) for n in range(fires)]
        slack.flaky("chat.postMessage", stored=stored, refused=refused, seed=seed)
        spawn = multiprocessing.get_context("spawn")
        start = spawn.Barrier(2)
        processes = [spawn.Process(target=_serve, args=(
            str(config.db), str(config.articles), slack.base_url, slack.bot_token,
            f"serve-{name}", schedule.id, fire_times, start)) for name in "ab"]
        for process in processes:
            process.start()
        for process in processes:
            process.join(timeout=300)
        slack.flaky("chat.postMessage")
        row = tally(slack, store, fault, fires)
        store.close()
        return row


def rows() -> list[dict]:
    """Every posting fault scenario, one row each."""
    return [
        ambiguous_posts("post: 30% stored then 500, 10% plain 500", stored=0.3, refused=0.1),
        ambiguous_posts("post: 20% stored then connection dropped, 10% plain 500",
                        dropped=0.2, refused=0.1, seed=3),
        ambiguous_posts("post, no thread: 30% stored then 500, 10% plain 500", stored=0.3,
                        refused=0.1, in_thread=False, seed=4),
        racing_schedulers("post: two serve processes racing, 30% stored then 500, 10% plain "
                          "500", stored=0.3, refused=0.1),
    ]


def print_table(table: list[dict]) -> None:
    widths = [max(len(name), *(len(str(row[name])) for row in table)) for name in FIELDS]
    print(" | ".join(name.ljust(w) for name, w in zip(FIELDS, widths, strict=True)))
    print("-+-".join("-" * w for w in widths))
    for row in table:
        print(" | ".join(str(row[name]).ljust(w) for name, w in zip(FIELDS, widths,
                                                                      strict=True)))


if __name__ == "__main__":
    logging.disable(logging.ERROR)  # each ambiguous post logs; the table says it all
    print_table(rows())
