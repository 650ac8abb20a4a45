"""`skipped: true` in a file keeps the article out of digests, decision or not."""

from __future__ import annotations

import hashlib
from pathlib import Path

import sqlite_utils
from newsbot.bot.newsroom.digest import select_digest
from newsbot.storage import schema
from newsbot.storage.db import Store, migrate
from newsbot.storage.index import refresh

ARTICLE = "---\ntitle: A\nquality: 5\npublished: false\nskipped: true\n---\n"


def test_a_skipped_file_is_indexed_as_skipped_and_left_out_of_the_digest(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text(ARTICLE)
    (tmp_path / "b.md").write_text(ARTICLE.replace("skipped: true\n", ""))
    (tmp_path / "c.md").write_text(ARTICLE.replace("skipped: true", "skipped: maybe"))
    store = Store(tmp_path / "n.db")
    report = refresh(store, tmp_path)
    assert (report.indexed, report.failed) == (2, 1)
    assert store.query("SELECT id, skipped, error FROM articles ORDER BY id") == [
        {"id": "a.md", "skipped": 1, "error": None},
        {"id": "b.md", "skipped": 0, "error": None},
        {"id": "c.md", "skipped": 0, "error": "skipped must be true or false, not 'maybe'"},
    ]
    assert [a.id for a in select_digest(store)] == ["b.md"]


def test_upgrading_an_index_learns_skipped_from_files_already_indexed(tmp_path: Path) -> None:
    """The migration makes every file be parsed again once, so `skipped` is not missed."""
    folder = tmp_path / "articles"
    folder.mkdir()
    path = folder / "a.md"
    path.write_text(ARTICLE)
    data, st = path.read_bytes(), path.stat()
    old = sqlite_utils.Database(tmp_path / "n.db")
    before_sync = schema.MIGRATIONS[: schema.MIGRATIONS.index(schema.sync)]
    migrate(old, before_sync)  # a database from before sync existed
    old["articles"].insert({
        "id": "a.md", "title": "A", "size": st.st_size, "mtime_ns": st.st_mtime_ns,
        "content_hash": hashlib.blake2b(data, digest_size=16).hexdigest(),
        "indexed_at": "2026-01-01T00:00:00+00:00"})
    old.close()
    store = Store(tmp_path / "n.db")
    report = refresh(store, folder)
    assert report.indexed == 1
    assert store.query("SELECT skipped FROM articles") == [{"skipped": 1}]
    assert select_digest(store) == []
