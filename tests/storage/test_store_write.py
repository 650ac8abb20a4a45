"""Store.write nested in a write: a savepoint, rolled back alone when its block raises;
writes of one process queue on the Store's lock, within the wait they are given."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time

import pytest
from newsbot.storage.db import Store


def test_a_nested_write_that_raises_is_rolled_back_alone(store: Store):
    store.db.execute("CREATE TABLE t (n INTEGER)")
    with store.write() as db:
        db.execute("INSERT INTO t VALUES (1)")
        with contextlib.suppress(ValueError), store.write() as inner:
            inner.execute("INSERT INTO t VALUES (2)")
            with store.write() as innermost:  # same savepoint name, one level deeper
                innermost.execute("INSERT INTO t VALUES (3)")
            raise ValueError("this event's own failure")
        with store.write() as inner:
            inner.execute("INSERT INTO t VALUES (4)")
            with contextlib.suppress(ValueError), store.write() as innermost:
                innermost.execute("INSERT INTO t VALUES (5)")
                raise ValueError("only the innermost")
        db.execute("INSERT INTO t VALUES (6)")
    assert [row[0] for row in store.db.execute("SELECT n FROM t ORDER BY n")] == [1, 4, 6]
    assert not store.db.conn.in_transaction


def _hold_write(store: Store, seconds: float, began: threading.Event,
                ended: list[float]) -> None:
    """On a thread of its own: a write transaction that lasts `seconds`."""
    with store.write() as db:
        db.execute("INSERT INTO t VALUES (1)")
        began.set()
        time.sleep(seconds)
        ended.append(time.monotonic())  # its COMMIT follows at once


def _seconds_until_refused(store: Store, wait_ms: int) -> float:
    """How long a write asking for `wait_ms` waited before it was told the database is
    locked (it must be told)."""
    asked = time.monotonic()
    with pytest.raises(sqlite3.OperationalError, match="database is locked"), \
            store.write(wait_ms=wait_ms) as db:
        db.execute("INSERT INTO t VALUES (2)")
    return time.monotonic() - asked


def test_a_write_behind_another_thread_of_the_process_starts_as_that_one_ends(store: Store):
    """SQLite's busy handler would sleep on in steps of up to 100 ms after the other
    write ended (it tries at 0.928 and 1.028 s of waiting: 88 ms after this one's 0.94 s);
    the Store's own lock hands over at once."""
    store.db.execute("CREATE TABLE t (n INTEGER)")
    began, ended = threading.Event(), []
    holder = threading.Thread(target=_hold_write, args=(store, 0.94, began, ended))
    holder.start()
    began.wait(5)
    with store.write(wait_ms=5_000) as db:
        started = time.monotonic()
        db.execute("INSERT INTO t VALUES (2)")
    holder.join()
    assert started - ended[0] < 0.06  # SQLite's next try: 1.028 s after it began waiting
    # the wait for other processes, cut short by this one, is the asked-for one again
    assert store.db.execute("PRAGMA busy_timeout").fetchone()[0] == 5_000
    assert [row[0] for row in store.db.execute("SELECT n FROM t ORDER BY n")] == [1, 2]


def test_a_write_that_waits_past_its_wait_for_another_thread_says_the_database_is_locked(
        store: Store):
    store.db.execute("CREATE TABLE t (n INTEGER)")
    began, ended = threading.Event(), []
    holder = threading.Thread(target=_hold_write, args=(store, 0.8, began, ended))
    holder.start()
    began.wait(5)
    waited = _seconds_until_refused(store, wait_ms=200)
    holder.join()
    assert 0.19 < waited < 0.6
    assert [row[0] for row in store.db.execute("SELECT n FROM t")] == [1]


def test_the_wait_for_another_process_is_what_is_left_after_the_wait_for_this_one(
        store: Store, tmp_path):
    """Another process holds the file (a plain connection here); a writer of this process
    waits 300 ms for it in SQLite, then gives up. The writer queued behind that one has
    waited for it already: SQLite gets only what is left of its 500 ms, not 500 more."""
    store.db.execute("CREATE TABLE t (n INTEGER)")
    began, done = threading.Event(), threading.Event()

    def the_other_process_then_a_neighbour() -> None:
        other = sqlite3.connect(tmp_path / "index.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        began.set()
        with contextlib.suppress(sqlite3.OperationalError), store.write(wait_ms=300):
            pass
        done.wait(5)
        other.execute("ROLLBACK")
        other.close()

    holder = threading.Thread(target=the_other_process_then_a_neighbour)
    holder.start()
    began.wait(5)
    time.sleep(0.05)  # the neighbour is waiting in SQLite now, holding the Store's lock
    waited = _seconds_until_refused(store, wait_ms=500)
    done.set()
    holder.join()
    assert 0.45 < waited < 0.7
