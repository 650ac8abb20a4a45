"""Fault rows for alerts (issue 18): every story that matches a subscription is alerted
exactly once, whatever Slack answers and whatever happens to the `serve` processes.

Each row starts a folder with the bundled example articles, indexed (a backlog, never alerted),
CHANNELS channels each subscribed to one topic, and real `newsbot serve --http`
processes on it against the Slack look-alike, with file events driving the index. Each
trial writes `files` new stories (one topic each, round robin over the channels) one by
one while the fault strikes. More files per channel than a burst allows within a minute
become burst messages (header + thread): those are counted too. Counted in stories:
- sent: matching files written;
- recorded: alert messages in Slack (article messages, by `event_payload.article_id`);
- lost: files with no alert; duplicated: alert messages beyond one per file.

Faults:
- stored then 500: a seeded share of `chat.postMessage` calls is stored by Slack and still
  answered 500 (the poster must read back, not post again);
- kill -9 between indexing and posting: once the index holds a trial's files, serve is
  killed at a random moment within 0.2 s (alerts not yet judged, planned, half posted
  or posted) and started again;
- two serve processes: two on one database and one folder, both seeing every file event.

    python benchmarks/faults_alerts.py [--trials 2] [--files 12]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import corpus
from newsbot.bot.config.settings import BUNDLED_ARTICLES
from newsbot.sandbox.alert_site import (
    alert_channels,
    alert_messages,
    serve_environment,
    story_text,
    subscribe_channels,
    tally,
    write_story,
)
from newsbot.sandbox.lookalike import SlackLookalike
from newsbot.sandbox.serve_process import ServeProcess
from newsbot.storage.db import Store
from newsbot.storage.index import refresh
from newsbot.storage.story_clusters import ClusterSettings

ROOT = Path(__file__).resolve().parent.parent
CHANNELS = 20
ARRIVAL_TIMEOUT_S = 180.0  # bursts wait for the channel's minute: allow a few of them
QUIET_S = 3.0  # no new alert message for this long: nothing more is on its way
WRITE_GAP_S = 0.05
FIELDS = ("fault", "trials", "events sent", "events recorded", "lost", "duplicated",
          "out of order")


@dataclass
class AlertSite:
    slack: SlackLookalike
    articles: Path
    db: Path
    serves: list[ServeProcess]
    rng: random.Random
    sent: set[str]

    @property
    def channels(self) -> list[str]:
        return list(alert_channels(CHANNELS))

    def write_files(self, trial: int, files: int, gap: float = WRITE_GAP_S) -> list[str]:
        """`files` new stories, one by one, `gap` seconds apart; their article ids."""
        topics = corpus.TOPICS[:CHANNELS]
        names = []
        for number in range(files):
            name = f"landed/t{trial:02d}_{number:03d}_{self.rng.getrandbits(32):08x}.md"
            write_story(self.articles, name, story_text(self.rng, topics[number % CHANNELS]))
            names.append(name)
            time.sleep(gap)
        self.sent.update(names)
        return names

    def indexed(self, names: list[str]) -> bool:
        """Whether the index (read as another process does) holds all these files."""
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=10) as connection:
            found = connection.execute(
                "SELECT count(*) FROM articles WHERE id IN (SELECT value FROM json_each(?))",
                [json.dumps(names)]).fetchone()[0]
        return found == len(names)

    def alerted(self) -> set[str]:
        return {article for article, _ in alert_messages(self.slack, self.channels)}

    def settle(self) -> None:
        """Wait until every file sent has an alert (or the timeout), then until no alert
        message has arrived for QUIET_S (a doubled post would come late)."""
        deadline = time.monotonic() + ARRIVAL_TIMEOUT_S
        while not self.sent <= self.alerted() and time.monotonic() < deadline:
            time.sleep(0.2)
        if not self.sent <= self.alerted():
            print(f"alerts missing after {ARRIVAL_TIMEOUT_S:g} s:"
                  f" {sorted(self.sent - self.alerted())[:5]}", file=sys.stderr)
        seen, quiet_since = len(alert_messages(self.slack, self.channels)), time.monotonic()
        while time.monotonic() - quiet_since < QUIET_S:
            time.sleep(0.2)
            now = len(alert_messages(self.slack, self.channels))
            if now != seen:
                seen, quiet_since = now, time.monotonic()

    def row(self, fault: str, trials: int) -> dict:
        self.settle()
        recorded, lost, duplicated = tally(self.slack, self.channels, self.sent)
        return dict(zip(FIELDS, (fault, trials, len(self.sent), recorded, lost, duplicated, 0),
                        strict=True))


@contextmanager
def alert_site(seed: int, serves: int = 1) -> Iterator[AlertSite]:
    """The bundled examples, CHANNELS subscribed channels and `serves` serve processes on
    one database and folder; all stopped and removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="faults-alerts-") as work, \
            SlackLookalike(channels=alert_channels(CHANNELS)) as slack:
        articles, db = Path(work) / "articles", Path(work) / "newsbot.db"
        shutil.copytree(BUNDLED_ARTICLES, articles)
        store = Store(db)
        refresh(store, articles, clusters=ClusterSettings())  # indexed before: the backlog
        store.close()
        subscribe_channels(db, dict(zip(alert_channels(CHANNELS), corpus.TOPICS[:CHANNELS],
                                        strict=True)))
        environment = serve_environment(slack, articles, db)
        site = AlertSite(slack, articles, db,
                         [ServeProcess(environment, Path(work)) for _ in range(serves)],
                         random.Random(seed), set())
        try:
            for serve in site.serves:
                serve.start()
            yield site
        finally:
            for serve in site.serves:
                serve.stop()


def stored_then_500(trials: int, files: int, seed: int) -> dict:
    """30% of chat.postMessage calls stored, then answered 500."""
    with alert_site(seed) as site:
        site.slack.flaky("chat.postMessage", stored=0.3, seed=seed)
        for trial in range(trials):
            site.write_files(trial, files)
        row = site.row("alert stored then 500 (30% of posts)", trials)
        site.slack.flaky("chat.postMessage")
        return row


def killed_between_indexing_and_posting(trials: int, files: int, seed: int) -> dict:
    """kill -9 once a trial's files are indexed, at a random moment after; restart."""
    with alert_site(seed) as site:
        [serve] = site.serves
        for trial in range(trials):
            names = site.write_files(trial, files, gap=0)
            wait_for(site.indexed, names, timeout=60)
            time.sleep(site.rng.uniform(0, 0.2))
            serve.kill()
            print(f"kill -9, trial {trial}: {len(site.alerted() & set(names))} of {files}"
                  " alerted when killed", file=sys.stderr)
            serve.start()
        return site.row("alert: kill -9 between indexing and posting", trials)


def two_serve_processes(trials: int, files: int, seed: int) -> dict:
    """Two serve processes on one database and folder."""
    with alert_site(seed, serves=2) as site:
        for trial in range(trials):
            site.write_files(trial, files)
        return site.row("alert: two serve processes", trials)


def wait_for(predicate: Callable[[list[str]], bool], names: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate(names):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s")
        time.sleep(0.005)


def rows(trials: int, files: int, seed: int) -> list[dict]:
    return [scenario(trials, files, seed) for scenario in (
        stored_then_500, killed_between_indexing_and_posting, two_serve_processes)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=2)
    parser.add_argument("--files", type=int, default=12, help="files per trial")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    table = rows(args.trials, args.files, args.seed)
    for row in table:
        print(" | ".join(str(row[name]) for name in FIELDS))
    return 1 if any(r["lost"] or r["duplicated"] for r in table) else 0


if __name__ == "__main__":
    sys.exit(main())
