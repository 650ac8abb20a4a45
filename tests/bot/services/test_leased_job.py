"""The periodic sync runs in one process only when two share a database: two schedulers,
each with its own connection to one real SQLite file, race for the job's lease."""

from __future__ import annotations

import time
from pathlib import Path

from newsbot.bot.newsroom.job_leases import lease_holder
from newsbot.bot.services.leased_job import LeasedJob
from newsbot.bot.services.scheduler import DigestScheduler
from newsbot.storage.db import Store

INTERVAL = 0.1  # the lease lasts three of these


def wait_for(condition, timeout: float = 20.0) -> bool:
    """Bounds only a failing test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


class Process:
    """What one `serve` process contributes: its store, its scheduler, the leased job."""

    def __init__(self, db: Path, name: str) -> None:
        self.store = Store(db)
        self.runs: list[float] = []
        self.job = LeasedJob(self.store, "sync", lambda: self.runs.append(time.time()),
                             INTERVAL, holder=name)
        self.scheduler = DigestScheduler(self.store, lambda *_: None, poll_seconds=3600,
                                         digests=False)
        self.scheduler.add_interval_job(self.job, INTERVAL, "sync")
        self.scheduler.add_interval_job(self.job.renew, self.job.renew_seconds, "sync-lease")

    def start(self) -> Process:
        self.scheduler.start()
        return self

    def crash(self) -> None:
        """As kill -9: the lease is left to expire."""
        self.scheduler.shutdown(wait=True)


def test_one_of_two_processes_runs_the_job_and_the_other_takes_over_after_a_crash(
        tmp_path: Path) -> None:
    db = tmp_path / "newsbot.db"
    Store(db)  # migrated once
    first, second = Process(db, "first").start(), Process(db, "second").start()
    try:
        assert wait_for(lambda: len(first.runs) + len(second.runs) >= 10)
        holder, other = (first, second) if first.runs else (second, first)
        assert other.runs == [], "both processes ran the job"
        assert lease_holder(holder.store, "sync") == holder.job.holder
        holder.crash()
        stopped = time.time()
        [lease] = holder.store.query("SELECT holder, expires_at FROM job_leases")
        assert lease["holder"] == holder.job.holder  # left behind, as by kill -9
        assert wait_for(lambda: other.runs)
        assert other.runs[0] >= lease["expires_at"]  # taken over only after the expiry
        assert all(run <= stopped for run in holder.runs)
        assert lease_holder(other.store, "sync") == other.job.holder
    finally:
        first.scheduler.shutdown()
        second.scheduler.shutdown()


def test_a_clean_stop_lets_go_at_once(tmp_path: Path) -> None:
    db = tmp_path / "newsbot.db"
    Store(db)
    first = Process(db, "first").start()
    assert wait_for(lambda: first.runs)
    second = Process(db, "second").start()
    try:
        first.crash()
        first.job.release()  # what Runtime.stop does after the scheduler stopped
        assert lease_holder(second.store, "sync") is None
        assert wait_for(lambda: second.runs)
    finally:
        second.scheduler.shutdown()
