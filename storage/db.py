"""The SQLite database: one file, WAL, forward-only migrations, one connection per thread.

Bolt runs listeners on a thread pool and APScheduler on threads of its own, while
sqlite3 connections refuse to cross threads. `Store` therefore hands each thread its
own `sqlite_utils.Database` on the same file; WAL lets readers run beside the single
writer and the busy timeout makes writers queue instead of failing.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import sqlite_utils

from storage import schema

BUSY_TIMEOUT_MS = 10_000


class Store:
    """The bot's database file. Safe to share between threads; cheap to create."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        migrate(self.db, schema.MIGRATIONS)

    @property
    def db(self) -> sqlite_utils.Database:
        """This thread's connection, opened on first use."""
        db = getattr(self._local, "db", None)
        if db is None:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000)
            db = sqlite_utils.Database(conn, execute_plugins=False)
            db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute("PRAGMA foreign_keys = ON")
            self._local.db = db
        return db

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite_utils.Database]:
        """A write transaction that takes the write lock up front.

        `BEGIN IMMEDIATE` queues behind other writers (busy timeout) instead of
        failing half way when a deferred transaction tries to upgrade.
        Nested use becomes a savepoint.
        """
        db = self.db
        if db.conn.in_transaction:
            with db.atomic():
                yield db
            return
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.rollback()
            raise
        db.execute("COMMIT")

    def query(self, sql: str, params: tuple | list | dict = ()) -> list[dict]:
        return list(self.db.query(sql, params))

    def close(self) -> None:
        """Close this thread's connection (others close with their threads)."""
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None


Migration = Callable[[sqlite_utils.Database], None]


def schema_version(db: sqlite_utils.Database) -> int:
    return db.execute("PRAGMA user_version").fetchone()[0]


def migrate(db: sqlite_utils.Database, migrations: list[Migration]) -> int:
    """Bring the database up to the newest schema; returns the version reached.

    Each step runs in its own immediate transaction and re-reads the version inside
    it, so two processes starting at once migrate exactly once.
    """
    for version, step in enumerate(migrations, start=1):
        if schema_version(db) >= version:
            continue
        db.execute("BEGIN IMMEDIATE")
        try:
            if schema_version(db) < version:
                step(db)
                db.execute(f"PRAGMA user_version = {version}")
        except BaseException:
            db.rollback()
            raise
        db.execute("COMMIT")
    current = schema_version(db)
    if current > len(migrations):
        raise RuntimeError(
            f"database schema version {current} is newer than this newsbot knows "
            f"({len(migrations)}); upgrade newsbot"
        )
    return current
