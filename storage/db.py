"""The SQLite database: one file, WAL, forward-only migrations, one connection per thread.

Bolt runs listeners on a thread pool and APScheduler on threads of its own, while
sqlite3 connections refuse to cross threads. `Store` therefore hands each thread its
own `sqlite_utils.Database` on the same file; WAL lets readers run beside the single
writer and the busy timeout makes writers queue instead of failing. A cold index build
alone on the file leaves WAL while it writes (`Store.written_once`).

Threads of one process queue for writing on a lock of the Store's own before they ask
SQLite: SQLite's busy handler polls, sleeping 1, 2, 5 and up to 100 ms between tries,
so a writer that found the file locked by a neighbour thread's short transaction (the
redraws' bookkeeping, a decision batch) slept on long after it ended, and the decisions
waiting on it with it. A lock hands over the moment the other write ends. Writers in
other processes are still queued by the busy timeout.

Only the first open may create the file (and migrate it). Every later connection opens
with `mode=rw`, and every write first checks that the path still names the file opened
at start (device and inode): a database deleted or replaced behind newsbot's back is an
error the caller sees and the log reports, never an empty un-migrated file created anew.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path

from newsbot.storage import schema
from newsbot.storage.lean_sqlite_utils import sqlite_utils

log = logging.getLogger(__name__)

# How long a writer waits for another one, unless the Store is told otherwise (the config's
# `database.busy_timeout_ms`, NEWSBOT_BUSY_TIMEOUT_MS: for tests, and for sites whose
# backups hold the file longer)
DEFAULT_BUSY_TIMEOUT_MS = 10_000


def file_identity(path: str | Path) -> tuple[int, int] | None:
    """(device, inode) of what the path names now; None when nothing is there. Two
    answers differ when the file (or folder) was replaced, even by one of the same name."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_dev, status.st_ino


class DatabaseReplaced(sqlite3.DatabaseError):
    """The database file was deleted or replaced since this process opened it."""


class Store:
    """The bot's database file. Safe to share between threads; cheap to create.

    `read_only` opens an existing file without ever writing it (no migration): for reading
    commands on a database the user may not write, such as a copy in a read-only folder.
    In a folder it may write, SQLite still creates its (empty) -wal and -shm beside the
    file, as every WAL reader does. Where it cannot create the -shm, the file is read as
    immutable, as it is on disk, unless its -wal holds changes that reading would skip."""

    def __init__(self, path: str | Path, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS, *,
                 read_only: bool = False) -> None:
        self.path = Path(path)
        self.busy_timeout_ms = busy_timeout_ms
        self.read_only = read_only
        # (time.monotonic(), message) of the last write the database refused for a reason
        # of its own (corrupt, disk full, I/O): /healthz reports it for a while
        self.last_write_failure: tuple[float, str] | None = None
        self._local = threading.local()
        self._write_lock = threading.Lock()  # this process's writers, in turn (see above)
        self._reported = False
        quoted = "file:" + urllib.parse.quote(str(self.path.resolve()))
        if read_only:
            st = self.path.stat()  # FileNotFoundError: there is nothing to read
            self.identity = (st.st_dev, st.st_ino)
            self.uri = quoted + "?mode=ro"
            try:
                self._connect(create=False)
            except sqlite3.OperationalError:  # cannot create -shm beside it: read as it is
                refuse_unread_changes(self.path)
                self.uri = quoted + "?mode=ro&immutable=1"
                self._connect(create=False)
            check_schema(self.db, schema.MIGRATIONS, self.path)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # every connection after the first, and any probe, opens this: never creating it
            self.uri = quoted + "?mode=rw"
            self._connect(create=True)
            st = self.path.stat()
            self.identity = (st.st_dev, st.st_ino)
            migrate(self.db, schema.MIGRATIONS)

    @property
    def db(self) -> sqlite_utils.Database:
        """This thread's connection, opened on first use (never creating the file)."""
        db = getattr(self._local, "db", None)
        return db if db is not None else self._connect(create=False)

    def _connect(self, create: bool) -> sqlite_utils.Database:
        try:
            if create:
                conn = sqlite3.connect(self.path, timeout=self.busy_timeout_ms / 1000)
            else:
                conn = sqlite3.connect(self.uri, uri=True, timeout=self.busy_timeout_ms / 1000)
        except sqlite3.Error:
            if not create:
                self.check_identity()  # a vanished file says so, rather than "cannot open"
            raise
        db = sqlite_utils.Database(conn, execute_plugins=False)
        try:
            db.execute(f"PRAGMA busy_timeout = {self.busy_timeout_ms}")
            if self.read_only:
                db.execute("PRAGMA query_only = ON")
                db.execute("SELECT count(*) FROM sqlite_master").fetchone()  # fail here
                self._local.db = db
                return db
            ask_for_wal(db, self.busy_timeout_ms)
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error:
            conn.close()
            if not create:
                self.check_identity()
            raise
        self._local.db = db
        self._local.full_sync = False  # a new connection starts at NORMAL
        self._local.busy_ms = self.busy_timeout_ms  # set by connect's timeout and the pragma
        return db

    def check_identity(self) -> None:
        """DatabaseReplaced if the path no longer names the file opened at start."""
        if file_identity(self.path) == self.identity:
            return
        message = (f"the database file {self.path} was deleted or replaced while newsbot "
                   "ran; nothing is written to it until newsbot is restarted on the right file")
        if not self._reported:  # once: every later write fails the same way
            self._reported = True
            log.error("database file replaced", extra={"db": str(self.path)})
        raise DatabaseReplaced(message)

    @contextlib.contextmanager
    def write(self, wait_ms: int | None = None,
              durable: bool = False) -> Iterator[sqlite_utils.Database]:
        """A write transaction that takes the write lock up front.

        `BEGIN IMMEDIATE` queues behind other writers instead of failing half way when a
        deferred transaction tries to upgrade: first behind this process's, on the Store's
        lock, then behind other processes', by the busy timeout; the two waits together
        last at most the busy timeout, or `wait_ms` for this transaction, after which
        sqlite3.OperationalError says the database is locked. Nested use becomes a
        savepoint.

        `durable`: the commit reaches the disk before this returns (WAL with
        `synchronous=FULL`: the log is fsynced at commit). WAL's NORMAL, the default, keeps
        a commit through a killed process but not through a power cut or an OS crash: a
        decision someone is told is recorded, and a file rename a sync is about to make,
        need FULL. The connection keeps FULL from then on (the pragma is set once).

        `wait_ms` stays the connection's busy timeout until a write asks for another: a
        thread that always writes with the same wait (the decision writer) sets it once,
        not twice per transaction.
        """
        db = self.db
        if durable and not getattr(self._local, "full_sync", False):
            db.execute("PRAGMA synchronous = FULL")
            self._local.full_sync = True
        if db.conn.in_transaction:
            with savepoint(db.conn):
                yield db
            return
        self.check_identity()
        wanted_ms = self.busy_timeout_ms if wait_ms is None else int(wait_ms)
        asked = time.monotonic()
        if not self._write_lock.acquire(timeout=wanted_ms / 1000):
            raise sqlite3.OperationalError(
                "database is locked (by another write of this process)")
        try:
            # what is left of the wait, for writers of other processes
            waited_ms = int((time.monotonic() - asked) * 1000)
            yield from self._transaction(db, max(1, wanted_ms - waited_ms)
                                         if waited_ms else wanted_ms, wanted_ms)
        finally:
            self._write_lock.release()

    def _transaction(self, db: sqlite_utils.Database, begin_ms: int,
                     busy_ms: int) -> Iterator[sqlite_utils.Database]:
        """BEGIN IMMEDIATE (waiting `begin_ms` for other processes), the caller's block,
        COMMIT; a rollback and a fresh connection next time when the file failed. The
        connection's busy timeout is `busy_ms` again once the transaction began."""
        try:
            if getattr(self._local, "busy_ms", None) != begin_ms:
                db.execute(f"PRAGMA busy_timeout = {begin_ms}")
                self._local.busy_ms = begin_ms
            db.execute("BEGIN IMMEDIATE")
            if begin_ms != busy_ms:  # only after a wait for this process's writers
                db.execute(f"PRAGMA busy_timeout = {busy_ms}")
                self._local.busy_ms = busy_ms
        except sqlite3.Error as error:
            self.close()
            if _a_fault_of_the_file(error):
                self.last_write_failure = (time.monotonic(), str(error))
            raise
        try:
            yield db
            db.execute("COMMIT")  # may fail too (a read-only or vanished file)
        except BaseException as error:
            with contextlib.suppress(sqlite3.Error):
                db.rollback()
            if isinstance(error, sqlite3.Error):
                # A connection opened while the file was read-only stays read-only, and
                # one that saw corruption may keep stale pages: the next write opens anew.
                self.close()
                if _a_fault_of_the_file(error):
                    self.last_write_failure = (time.monotonic(), str(error))
            raise

    @contextlib.contextmanager
    def written_once(self) -> Iterator[None]:
        """This thread's writes in rollback-journal mode for the block, then WAL again: for
        a build into an empty database. WAL writes every page twice, into the log and again
        when the checkpoint copies it into the file (88 MB of each at 50,000 articles); a
        rollback journal keeps only the pages the file already had, and pages appended
        past its end are written once.

        Only when no other connection has the file open: SQLite refuses to leave WAL
        otherwise, and the block runs in WAL as always. Inside it, a connection opened
        meanwhile waits for the commit (its busy timeout; then "database is locked") where
        WAL would let it read the old state, and asks for WAL back, which this connection
        then follows. Commits inside are `synchronous = EXTRA`: the journal's deletion, the
        commit point, is synced too, so a commit is on the disk when it returns, as the
        checkpoint that followed a big commit made it in WAL. WAL comes back however the
        block ends (if a reader holds the file past the busy timeout after the commit, that
        is logged, and the next connection asks for WAL); a process killed inside it leaves
        a hot journal, which the next connection rolls back (the file as it was) before it
        asks for WAL."""
        db = self.db
        try:  # SQLite answers at once, without its busy timeout
            mode = db.execute("PRAGMA journal_mode = DELETE").fetchone()[0]
        except sqlite3.OperationalError:  # locked: another connection has the file open
            mode = "wal"
        if mode != "delete":
            yield
            return
        db.execute("PRAGMA synchronous = EXTRA")
        try:
            yield
        except BaseException:
            with contextlib.suppress(sqlite3.Error):  # the block's own error says more
                self._back_to_wal()
            raise
        try:
            self._back_to_wal()
        except sqlite3.Error as error:  # what the block wrote is committed: not a failure
            log.warning("the database stays in rollback-journal mode until its next "
                        "connection asks for WAL", extra={"db": str(self.path),
                                                          "reason": str(error)})

    def _back_to_wal(self) -> None:
        # a new connection if a failed write closed this one: it asks for WAL itself
        db = self.db
        ask_for_wal(db, self.busy_timeout_ms)
        db.execute(f"PRAGMA synchronous = {'FULL' if self._local.full_sync else 'NORMAL'}")

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[sqlite_utils.Database]:
        """A read transaction: every query in the block sees the database as its first read
        did, whatever other threads and processes commit meanwhile (WAL keeps that view).
        Inside a transaction already it joins it."""
        db = self.db
        if db.conn.in_transaction:
            yield db
            return
        db.execute("BEGIN DEFERRED")
        try:
            yield db
        finally:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")  # it only read

    def query(self, sql: str, params: tuple | list | dict = ()) -> list[dict]:
        return list(self.db.query(sql, params))

    def close(self) -> None:
        """Close this thread's connection (others close with their threads)."""
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None
            self._local.full_sync = False


@contextlib.contextmanager
def savepoint(conn: sqlite3.Connection) -> Iterator[None]:
    """A nested write: rolled back alone when it raises. sqlite_utils' `atomic` names each
    savepoint anew (a statement SQLite prepares every time); nested ones may share a
    name, since ROLLBACK TO and RELEASE take the innermost of that name."""
    conn.execute("SAVEPOINT newsbot_nested")
    try:
        yield
    except BaseException:
        # a RAISE(ROLLBACK) or a failed COMMIT may have ended the transaction already
        if conn.in_transaction:
            conn.execute("ROLLBACK TO newsbot_nested")
            conn.execute("RELEASE newsbot_nested")
        raise
    conn.execute("RELEASE newsbot_nested")


def ask_for_wal(db: sqlite_utils.Database, busy_timeout_ms: int) -> None:
    """`PRAGMA journal_mode = WAL`, waiting for a cold build as a writer would. While a
    build holds the file in rollback mode (`Store.written_once`), the switch needs its
    write lock, and SQLite refuses at once instead of waiting (a reader waiting for a
    writer could deadlock it): asked again until the busy timeout has passed."""
    deadline = time.monotonic() + busy_timeout_ms / 1000
    while True:
        try:
            db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if error.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() >= deadline:
                raise
        time.sleep(0.01)


def refuse_unread_changes(path: Path) -> None:
    """Before reading `path` as immutable: SQLite then ignores its -wal and -journal files.
    Changes committed in the -wal but not yet copied into the file would be missing from
    every answer, silently; a -journal left by a write killed half way (a cold build,
    `Store.written_once`) holds the pages that write overwrote, and without it the file
    reads half written. Say so instead (an empty or absent file holds nothing)."""
    if wal := _holding_something(path, "-wal"):
        raise RuntimeError(
            f"the read-only database {path} has changes in {wal.name} that SQLite reads "
            f"only where it may create {path.name}-shm: run newsbot once where it may "
            "write the folder, or copy the database with its -wal to such a folder")
    if journal := _holding_something(path, "-journal"):
        raise RuntimeError(
            f"the read-only database {path} was left half written by a write that "
            f"stopped (its {journal.name} undoes it where SQLite may write the file): "
            "run newsbot once where it may write the file and the folder")


def _holding_something(path: Path, suffix: str) -> Path | None:
    """SQLite's file beside `path` with this suffix, if it is there and not empty."""
    beside = path.with_name(path.name + suffix)
    try:
        return beside if beside.stat().st_size > 0 else None
    except FileNotFoundError:
        return None


def _a_fault_of_the_file(error: sqlite3.Error) -> bool:
    """The file or the disk under it failed (corrupt, full, I/O), not our statement nor a
    lock another process holds (that is waited for, and the spool takes over)."""
    text = str(error).lower()
    return isinstance(error, sqlite3.DatabaseError) and any(
        sign in text for sign in ("malformed", "not a database", "disk is full", "disk i/o"))


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
    return check_schema(db, migrations)


def check_schema(db: sqlite_utils.Database, migrations: list[Migration],
                 read_only_path: Path | None = None) -> int:
    """The schema version, if this newsbot can use it: not newer than it knows, and (for
    a database opened read-only at `read_only_path`, which cannot be migrated) not older."""
    current = schema_version(db)
    if current > len(migrations):
        raise RuntimeError(
            f"database schema version {current} is newer than this newsbot knows "
            f"({len(migrations)}); upgrade newsbot"
        )
    if read_only_path is not None and current < len(migrations):
        raise RuntimeError(
            f"the read-only database {read_only_path} has schema version {current}, older "
            f"than this newsbot's ({len(migrations)}): run newsbot once where it may write "
            "the file, to bring it up to date")
    return current
