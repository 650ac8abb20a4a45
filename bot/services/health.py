"""What `GET /healthz` answers: is this bot able to do its job right now?

Unhealthy (503) when the database cannot be written (read-only file or folder, the file
deleted or replaced since start, locked or corrupt, the disk under it full, or one of the
bot's own writes refused by the file in the last minute: a corrupt table page the probe
never touches), when the index has not refreshed for three refresh periods, or when the
durable spool (wired by the composition root) holds events older than a minute. The
reason is a short fixed phrase: internal error text (paths, SQL) never leaves the
process, it goes to the log.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import time
from collections.abc import Callable
from pathlib import Path

from newsbot.storage.db import Store, file_identity

log = logging.getLogger(__name__)

STALE_PERIODS = 3  # refresh periods without a successful refresh before it is unhealthy
FAILURE_SECONDS = 60.0  # a write the file refused (corrupt, disk full) counts this long
MIN_FREE_BYTES = 1 << 20  # less free space beside the database than this is a full disk
SPOOL_MAX_AGE_SECONDS = 60.0
PROBE_TIMEOUT_SECONDS = 1.0  # a write lock held longer than this reads as "cannot write"

Report = tuple[bool, dict]


class Health:
    """A callable returning (healthy, JSON-able body) for /healthz."""

    def __init__(
        self,
        store: Store,
        *,
        refresh_seconds: float | None = None,
        index_age_seconds: Callable[[], float | None] | None = None,
        spool_age_seconds: Callable[[], float | None] | None = None,
        index_follows: Callable[[], dict[str, str]] | None = None,
    ) -> None:
        self.store = store
        self.refresh_seconds = refresh_seconds
        self.index_follows = index_follows  # file events or polling, and why (folder_watch)
        self.index_age_seconds = index_age_seconds
        self.spool_age_seconds = spool_age_seconds

    def __call__(self) -> Report:
        reason = self._database_problem()
        if reason is None:
            reason = self._index_problem() or self._spool_problem()
        if reason is not None:
            return False, {"ok": False, "reason": reason}
        try:
            articles = self.store.db.execute("SELECT count(*) FROM articles").fetchone()[0]
        except sqlite3.Error:
            log.warning("health: the database cannot be read", exc_info=True)
            return False, {"ok": False, "reason": "database cannot be read"}
        body: dict = {"ok": True, "articles": articles}
        if self.index_follows is not None:
            body["index"] = self.index_follows()
        return True, body

    def _database_problem(self) -> str | None:
        path = self.store.path
        identity = file_identity(path)
        if identity is None:
            return "database file missing"
        if identity != self.store.identity:  # not the file the store opened
            return "database file replaced"
        if not (_writable(path) and _writable(path.parent)):
            return "database is read-only"
        if _free_bytes(path.parent) < MIN_FREE_BYTES:
            return "disk full"
        failure = self.store.last_write_failure
        if failure is not None and time.monotonic() - failure[0] < FAILURE_SECONDS:
            # what the bot's own writes met: the probe below touches no table page
            full = "full" in failure[1]
            return "disk full" if full else "database corrupt or failing"
        try:  # the store's mode=rw URI: a probe never creates a file that is not there
            probe = sqlite3.connect(self.store.uri, uri=True, timeout=PROBE_TIMEOUT_SECONDS,
                                    isolation_level=None)
            try:
                probe.execute("BEGIN IMMEDIATE")  # takes the write lock, writes nothing
                probe.execute("ROLLBACK")
            finally:
                probe.close()
        except sqlite3.Error:
            log.warning("health: the database cannot be written", exc_info=True)
            return "database cannot be written"
        return None

    def _index_problem(self) -> str | None:
        if self.index_age_seconds is None or not self.refresh_seconds:
            return None
        age = self.index_age_seconds()
        if age is None:
            return "index not refreshed yet"
        if age > STALE_PERIODS * self.refresh_seconds:
            return "index not refreshed for three refresh periods"
        return None

    def _spool_problem(self) -> str | None:
        if self.spool_age_seconds is None:
            return None
        age = self.spool_age_seconds()
        if age is not None and age > SPOOL_MAX_AGE_SECONDS:
            return "spool holds events older than a minute"
        return None


def _free_bytes(folder: Path) -> int:
    try:
        status = os.statvfs(folder)
    except OSError:
        return MIN_FREE_BYTES  # cannot tell: the write probe decides
    return status.f_bavail * status.f_frsize


def _writable(path: Path) -> bool:
    """Writable for this process, and not marked read-only: root passes every access
    check, so a file or folder with no write bit at all counts as read-only too."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return os.access(path, os.W_OK) and bool(mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
