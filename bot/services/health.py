"""What `GET /healthz` answers: is this bot able to do its job right now?

Unhealthy (503) when the database cannot be written (read-only file or folder, the file
deleted or replaced since start, locked, or one of the bot's own writes refused by the
file in the last minute: a corrupt table page the probe never touches), when a real write
fails (a heartbeat row, rewritten at most every HEARTBEAT_SECONDS), when the last
scheduled `PRAGMA quick_check` found corruption, when the disk of the database or of the
spool has less free space than the floor (`health.min_free_mb`), when the index has not
refreshed for three refresh periods, or when the durable spool (wired by the composition
root) holds events older than a minute. Every reason that holds is in the body
(`reasons`, the first also as `reason`) and in newsbot_health_failing{reason}. A reason
is a short fixed phrase: internal error text (paths, SQL) never leaves the process, it
goes to the log.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import time
from collections.abc import Callable
from pathlib import Path

from newsbot.bot.services import metrics
from newsbot.storage.db import Store, file_identity

log = logging.getLogger(__name__)

STALE_PERIODS = 3  # refresh periods without a successful refresh before it is unhealthy
FAILURE_SECONDS = 60.0  # a write the file refused (corrupt, disk full) counts this long
MIN_FREE_BYTES = 1 << 20  # the default floor of free space (health.min_free_mb: 1)
SPOOL_MAX_AGE_SECONDS = 60.0
PROBE_TIMEOUT_SECONDS = 1.0  # a write lock held longer than this reads as "cannot write"
HEARTBEAT_SECONDS = 5.0  # at most one real write per this long, however often polled

MISSING = "database file missing"
REPLACED = "database file replaced"
READ_ONLY = "database is read-only"
CANNOT_WRITE = "database cannot be written"
FAILING = "database corrupt or failing"
CORRUPT = "database corrupt (quick_check)"
DISK_FULL = "disk full"
SPOOL_DISK_FULL = "spool disk full"  # only when the spool is on another file system
CANNOT_READ = "database cannot be read"
INDEX_NOT_YET = "index not refreshed yet"
INDEX_STALE = "index not refreshed for three refresh periods"
SPOOL_OLD = "spool holds events older than a minute"
REASONS = (MISSING, REPLACED, READ_ONLY, CANNOT_WRITE, FAILING, CORRUPT, DISK_FULL,
           SPOOL_DISK_FULL, CANNOT_READ, INDEX_NOT_YET, INDEX_STALE, SPOOL_OLD)

Report = tuple[bool, dict]


class Health:
    """A callable returning (healthy, JSON-able body) for /healthz; `check_integrity` is
    the scheduled quick_check (bot/app/runtime.py runs it as an interval job)."""

    def __init__(
        self,
        store: Store,
        *,
        refresh_seconds: float | None = None,
        index_age_seconds: Callable[[], float | None] | None = None,
        spool_age_seconds: Callable[[], float | None] | None = None,
        index_follows: Callable[[], dict[str, str]] | None = None,
        spool_path: Path | None = None,
        min_free_bytes: int = MIN_FREE_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.refresh_seconds = refresh_seconds
        self.index_follows = index_follows  # file events or polling, and why (folder_watch)
        self.index_age_seconds = index_age_seconds
        self.spool_age_seconds = spool_age_seconds
        self.spool_path = spool_path
        self.min_free_bytes = min_free_bytes
        self.clock = clock
        self._beat_at: float | None = None  # clock() of the last heartbeat written
        self._corruption: str | None = None  # what the last quick_check found

    def __call__(self) -> Report:
        reasons = [r for r in (self._database_problem(), self._corruption and CORRUPT,
                               *self._disk_problems(), self._index_problem(),
                               self._spool_problem()) if r]
        articles = None
        if not reasons:
            try:
                articles = self.store.db.execute("SELECT count(*) FROM articles").fetchone()[0]
            except sqlite3.Error:
                log.warning("health: the database cannot be read", exc_info=True)
                reasons.append(CANNOT_READ)
        reasons = list(dict.fromkeys(reasons))  # the full disk seen twice is said once
        metrics.health_failing({reason: reason in reasons for reason in REASONS})
        if reasons:
            return False, {"ok": False, "reason": reasons[0], "reasons": reasons}
        body: dict = {"ok": True, "articles": articles}
        if self.index_follows is not None:
            body["index"] = self.index_follows()
        return True, body

    def check_integrity(self) -> bool:
        """`PRAGMA quick_check` on its own connection; /healthz answers 503 from the first
        check that finds corruption until one finds none. True when it found none."""
        try:
            probe = sqlite3.connect(self.store.uri, uri=True, timeout=PROBE_TIMEOUT_SECONDS)
            try:
                found = [row[0] for row in probe.execute("PRAGMA quick_check")]
            finally:
                probe.close()
        except sqlite3.DatabaseError as error:  # a header too broken to open
            found = [str(error)]
        except sqlite3.Error:  # locked, gone: the write probe reports that
            log.info("quick_check not run: the database cannot be opened", exc_info=True)
            return self._corruption is None
        corruption = None if found == ["ok"] else "; ".join(found[:5])
        if corruption and corruption != self._corruption:
            log.error("quick_check found the database corrupt", extra={"found": corruption})
        elif self._corruption and not corruption:
            log.info("quick_check finds the database sound again")
        self._corruption = corruption
        metrics.health_failing({CORRUPT: corruption is not None})
        return corruption is None

    def _database_problem(self) -> str | None:
        path = self.store.path
        identity = file_identity(path)
        if identity is None:
            return MISSING
        if identity != self.store.identity:  # not the file the store opened
            return REPLACED
        if not (_writable(path) and _writable(path.parent)):
            return READ_ONLY
        failure = self.store.last_write_failure
        if failure is not None and time.monotonic() - failure[0] < FAILURE_SECONDS:
            # what the bot's own writes met: the heartbeat touches one page of its own
            return DISK_FULL if "full" in failure[1] else FAILING
        return self._heartbeat()

    def _heartbeat(self) -> str | None:
        """Take the write lock; rewrite the heartbeat row when the last one is older than
        HEARTBEAT_SECONDS (a commit the disk must take, fsynced), else roll back."""
        now = self.clock()
        due = self._beat_at is None or now - self._beat_at >= HEARTBEAT_SECONDS
        try:  # the store's mode=rw URI: a probe never creates a file that is not there
            probe = sqlite3.connect(self.store.uri, uri=True, timeout=PROBE_TIMEOUT_SECONDS,
                                    isolation_level=None)
            try:
                probe.execute("BEGIN IMMEDIATE")
                if not due:
                    probe.execute("ROLLBACK")
                    return None
                probe.execute(
                    "INSERT INTO health_heartbeat (id, beat_at, pid) VALUES"
                    " (1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), ?) ON CONFLICT (id)"
                    " DO UPDATE SET beat_at = excluded.beat_at, pid = excluded.pid",
                    [os.getpid()])
                probe.execute("COMMIT")
            finally:
                probe.close()
        except sqlite3.Error as error:
            log.warning("health: the database cannot be written", exc_info=True)
            text = str(error).lower()
            if "full" in text:
                return DISK_FULL
            if any(sign in text for sign in ("malformed", "not a database", "disk i/o")):
                return FAILING
            return CANNOT_WRITE
        self._beat_at = now
        return None

    def _disk_problems(self) -> list[str]:
        """The floor of free space, on the database's file system and the spool's."""
        problems, seen = [], set()
        folders = [(DISK_FULL, self.store.path.parent)]
        if self.spool_path is not None:
            folders.append((SPOOL_DISK_FULL, Path(os.path.realpath(self.spool_path)).parent))
        for reason, folder in folders:
            try:
                status = os.statvfs(folder)
                device = os.stat(folder).st_dev
            except OSError:
                continue  # cannot tell: the heartbeat decides
            if device in seen:
                continue
            seen.add(device)
            if status.f_bavail * status.f_frsize < self.min_free_bytes:
                problems.append(reason)
        return problems

    def _index_problem(self) -> str | None:
        if self.index_age_seconds is None or not self.refresh_seconds:
            return None
        age = self.index_age_seconds()
        if age is None:
            return INDEX_NOT_YET
        if age > STALE_PERIODS * self.refresh_seconds:
            return INDEX_STALE
        return None

    def _spool_problem(self) -> str | None:
        if self.spool_age_seconds is None:
            return None
        age = self.spool_age_seconds()
        if age is not None and age > SPOOL_MAX_AGE_SECONDS:
            return SPOOL_OLD
        return None


def _writable(path: Path) -> bool:
    """Writable for this process, and not marked read-only: root passes every access
    check, so a file or folder with no write bit at all counts as read-only too."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return os.access(path, os.W_OK) and bool(mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
