"""Store(read_only=True): a database newsbot may not write still answers, and is never
written, migrated or read without the changes waiting in its -wal."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest
import sqlite_utils
from conftest import read_only_even_for_root
from newsbot.storage import schema
from newsbot.storage.db import Store, migrate

ROWS = "SELECT id FROM articles ORDER BY id"


def test_a_read_only_store_answers_and_writes_nothing(indexed: Store):
    indexed.close()  # the last connection: the -wal is folded into the file and removed
    db = indexed.path
    before, mtime = db.read_bytes(), db.stat().st_mtime_ns
    store = Store(db, read_only=True)
    assert [row["id"] for row in store.query(ROWS)] == ["a.md", "b.md"]
    with pytest.raises(sqlite3.OperationalError, match="readonly"), store.write() as writing:
        writing.execute("DELETE FROM articles")
    store.close()
    assert db.read_bytes() == before and db.stat().st_mtime_ns == mtime
    # SQLite may create an (empty) -wal beside it where the folder allows: nothing in it
    wal = db.with_name(db.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0


def test_a_read_only_store_of_an_older_schema_says_it_needs_a_writable_run(tmp_path: Path):
    path = tmp_path / "old.db"
    old = sqlite_utils.Database(path)
    migrate(old, schema.MIGRATIONS[:3])
    old.close()
    with pytest.raises(RuntimeError) as refused:
        Store(path, read_only=True)
    assert str(refused.value) == (
        f"the read-only database {path} has schema version 3, older than this newsbot's "
        f"({len(schema.MIGRATIONS)}): run newsbot once where it may write the file, to bring "
        "it up to date")
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA user_version").fetchone() == (3,)  # not migrated


def test_a_read_only_folder_is_read_as_it_is_but_not_without_its_wal(indexed: Store,
                                                                      tmp_path: Path):
    """Where SQLite cannot create the -shm, the file is read as immutable, which skips the
    -wal: with changes waiting there, it refuses rather than answer without them."""
    folder = tmp_path / "copy"
    folder.mkdir()
    indexed.close()  # the file holds a.md and b.md; the -wal, next, deletes b.md
    writer = sqlite3.connect(indexed.path)
    writer.execute("PRAGMA wal_autocheckpoint = 0")  # keep the next change in the -wal
    writer.execute("DELETE FROM articles WHERE id = 'b.md'")
    writer.commit()
    for name in (indexed.path.name, indexed.path.name + "-wal"):
        shutil.copyfile(indexed.path.with_name(name), folder / name)  # as a backup copies
    writer.close()
    copy, wal = folder / indexed.path.name, folder / (indexed.path.name + "-wal")
    assert wal.stat().st_size > 0
    with read_only_even_for_root(copy, wal, folder):
        with pytest.raises(RuntimeError, match=f"has changes in {wal.name} that SQLite reads"):
            Store(copy, read_only=True)
        assert sorted(os.listdir(folder)) == sorted([copy.name, wal.name])
    wal.unlink()  # no -wal: the file is all there is, and it is read as it is (b.md too)
    with read_only_even_for_root(copy, folder):
        store = Store(copy, read_only=True)
        assert [row["id"] for row in store.query(ROWS)] == ["a.md", "b.md"]
        store.close()
        assert sorted(os.listdir(folder)) == [copy.name]
