"""Posting alerts: the alert digests bot/newsroom/alerts.py plans, posted as digests are.

`AlertPoster.run` is one pass: judge what the index queued, plan what may go, post what
is planned. The runtime runs it as a scheduler job every few seconds, and at once when
the index changes (`wake`). Posts keep to Slack's one message a second per channel, and
channels are posted to side by side, so one channel's burst delays no other.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from newsbot.bot.config.settings import Config
from newsbot.bot.newsroom.alerts import collect, plan_alerts, unposted_alerts
from newsbot.bot.newsroom.digest import (
    DigestBusy,
    load_digest,
    release_dead_claims,
    skip_message,
)
from newsbot.bot.services import metrics
from newsbot.handlers.posting.digest_post import (
    DigestPostError,
    claim_holder_died,
    post_digest,
)
from newsbot.storage.db import Store
from slack_sdk import WebClient

log = logging.getLogger(__name__)

POST_SECONDS = 1.0  # Slack allows about one chat.postMessage a second per channel
MAX_ROUNDS = 50  # passes in one run while new alerts keep arriving (then the next run)
# Channels posted to at once: one channel's burst, paced at a post a second, must not hold
# up the alerts of every other channel (serially, 300 burst posts delayed others by 5 min).
POSTING_THREADS = 8


class ChannelPace:
    """At most one post every `seconds` to each channel: the caller waits its turn."""

    def __init__(self, seconds: float = POST_SECONDS,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.seconds, self.clock, self.sleep = seconds, clock, sleep
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def __call__(self, channel: str) -> None:
        with self._lock:
            now = self.clock()
            turn = max(now, self._next.get(channel, now))
            self._next[channel] = turn + self.seconds
        if turn > now:
            self.sleep(turn - now)


class AlertPoster:
    """Collects, plans and posts alerts; one pass at a time, another if woken meanwhile."""

    def __init__(self, client: WebClient, store: Store, config: Config,
                 pace: ChannelPace | None = None) -> None:
        self.client, self.store, self.config = client, store, config
        self.pace = pace or ChannelPace()
        self.kick: Callable[[], None] = lambda: None  # runs `run` soon (the runtime's job)
        self._again = threading.Event()
        self._lock = threading.Lock()
        self._running = False

    def wake(self) -> None:
        """The index changed: run now, or once more after the pass that is running."""
        self._again.set()
        with self._lock:
            running = self._running
        if not running:
            self.kick()

    def run(self) -> int:
        """Passes until nothing new is waiting; returns how many articles were alerted."""
        with self._lock:
            if self._running:
                self._again.set()
                return 0
            self._running = True
        posted = 0
        try:
            for _ in range(MAX_ROUNDS):
                self._again.clear()
                posted += self.one_pass()
                if not self._again.is_set():
                    break
        finally:
            with self._lock:
                self._running = False
        return posted

    def one_pass(self) -> int:
        config, store = self.config, self.store
        collect(store, clustered=config.cluster_settings.enabled)
        editors = set(config.editors)
        plan_alerts(store, may_decide=lambda member: not editors or member in editors)
        by_channel: dict[str, list[int]] = {}
        for digest_id in unposted_alerts(store):
            by_channel.setdefault(load_digest(store, digest_id).channel, []).append(digest_id)
        if len(by_channel) <= 1:
            return sum(map(self._post_channel, by_channel.values()))
        with ThreadPoolExecutor(min(POSTING_THREADS, len(by_channel)),
                                thread_name_prefix="alert-post") as pool:
            return sum(pool.map(self._post_channel, by_channel.values()))

    def _post_channel(self, digest_ids: list[int]) -> int:
        """One channel's alert digests, oldest first, at the channel's own pace."""
        config, store = self.config, self.store
        posted = 0
        for digest_id in digest_ids:
            plan = load_digest(store, digest_id)
            before = len(plan.posted)
            for message in plan.pending:
                if not (Path(config.articles) / message.article.id).is_file():
                    skip_message(store, plan.id, message.position,
                                 "the article's file was deleted")
            try:
                done = post_digest(self.client, store, load_digest(store, digest_id),
                                   pace=self.pace)
            except DigestBusy:  # another process posts it, unless it died meanwhile:
                if release_dead_claims(store, claim_holder_died):
                    self._again.set()  # then it is ours to post, in the next round
                continue
            except DigestPostError as error:
                log.warning("alert not posted", extra={"digest": digest_id,
                                                       "error": str(error)})
                continue
            metrics.alerts_posted(len(done.posted) - before)
            posted += len(done.posted) - before
        return posted
