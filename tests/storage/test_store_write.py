"""Store.write nested in a write: a savepoint, rolled back alone when its block raises."""

from __future__ import annotations

import contextlib

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
