"""An interval job that only one of several `serve` processes on one database runs: each
run first takes (or renews) the job's lease (bot/newsroom/job_leases.py) and is skipped
when another process holds it. A second, cheap job renews the lease while it is held, so
a run longer than the lease does not hand the job over half way.

Which jobs need it (bot/app/runtime.py): the periodic sync, which rewrites files people
edit and may commit them, so two runs per interval would double both the race with people
and the commits. The index refresh stays per process (each process's health reports its
own index age; its writes are upserts), and so does the spool apply (the spool is
serialised by flock and applying it is idempotent).
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable

from newsbot.bot.newsroom.job_leases import release_lease, renew_lease, take_lease
from newsbot.storage.db import Store

log = logging.getLogger(__name__)

LEASE_PERIODS = 3  # a lease lasts this many intervals: a holder that misses two is replaced


def holder_name() -> str:
    """Host, pid and a random part: two runtimes in one process are two holders."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class LeasedJob:
    def __init__(self, store: Store, name: str, function: Callable[[], object],
                 interval_seconds: float, holder: str | None = None) -> None:
        self.store = store
        self.name = name
        self.function = function
        self.lease_seconds = interval_seconds * LEASE_PERIODS
        self.renew_seconds = max(interval_seconds / 2, 0.1)
        self.holder = holder or holder_name()
        self.held = False

    def __call__(self) -> None:
        """Run the job if this process holds (or can take) the lease."""
        held = take_lease(self.store, self.name, self.holder, self.lease_seconds)
        self._note(held)
        if held:
            self.function()

    def renew(self) -> None:
        if self.held:
            self._note(renew_lease(self.store, self.name, self.holder, self.lease_seconds))

    def release(self) -> None:
        """On a clean stop: the other process need not wait for the expiry."""
        if self.held:
            release_lease(self.store, self.name, self.holder)
            self.held = False

    def _note(self, held: bool) -> None:
        if held != self.held:
            log.info("job lease taken" if held else "job lease held by another process",
                     extra={"job": self.name, "holder": self.holder})
        self.held = held
