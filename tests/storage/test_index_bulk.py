"""A cold build in bulk (indexes and full-text search built after the load) stores what a
row-by-row build stores, in one transaction: a reader or a killed build never sees half."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest
from conftest import Raw, article_text, write_article, write_raw
from hypothesis import given
from hypothesis import strategies as st
from newsbot.bot.newsroom.lookup import list_topics, search
from newsbot.storage import index as index_module
from newsbot.storage.db import Store
from newsbot.storage.index import refresh, topics_json
from newsbot.storage.story_clusters import ClusterSettings

TABLES = {
    "articles": "SELECT id, title, excerpt, web_url, provider_name, provider_domain, topics,"
                " quality, heat, published, skipped, published_at, category, type, image_url,"
                " size, content_hash, error FROM articles ORDER BY id",
    "article_topics": "SELECT * FROM article_topics ORDER BY article_id, topic_key",
    "topic_counts": "SELECT * FROM topic_counts ORDER BY topic_key, topic",
    "cluster_members": "SELECT * FROM cluster_members ORDER BY article_id",
    "schema": "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name",
}


@pytest.fixture
def folder(articles: Path) -> Path:
    return write_folder(articles)


def write_folder(articles: Path) -> Path:
    """30 articles a year apart, a copy of the first (one story cluster), a broken file."""
    for n in range(30):  # a year apart: no two are one story
        write_article(articles, f"{n // 10}/{n:02}.md", title=f"Grid batteries story {n}",
                      excerpt=f"Storage number {n} expands across the region.", quality=n,
                      topics=[f"T{n % 4}", "Energy"], published=n % 5 == 0,
                      webUrl=f"https://example.org/{n}",
                      publishedDateTime=Raw(f"{1990 + n}-07-02T19:21:00Z"))
    # a copy of 00.md: one story cluster
    write_article(articles, "copy.md", title="Grid batteries story 0 | Wire",
                  excerpt="Storage number 0 expands across the region.",
                  webUrl="https://example.org/0?utm_source=x",
                  publishedDateTime=Raw("1990-07-03T19:21:00Z"))
    write_raw(articles, "bad.md", "---\n- a list\n---\n")
    return articles


def build(path: Path, folder: Path, monkeypatch: pytest.MonkeyPatch, bulk: bool,
          progress=None) -> Store:
    """A cold build on a new database; bulk or row by row (the threshold decides)."""
    monkeypatch.setattr(index_module, "PARALLEL_THRESHOLD", 1 if bulk else 10**9)
    store = Store(path)
    refresh(store, folder, workers=1, clusters=ClusterSettings(), progress=progress)
    return store


def dump(store: Store) -> dict[str, list]:
    return {name: store.db.execute(sql).fetchall() for name, sql in TABLES.items()}


def test_a_bulk_cold_build_stores_what_a_row_by_row_build_stores(tmp_path, folder, monkeypatch):
    rows = build(tmp_path / "rows.db", folder, monkeypatch, bulk=False)
    bulk = build(tmp_path / "bulk.db", folder, monkeypatch, bulk=True)
    assert dump(bulk) == dump(rows)
    assert dump(bulk)["cluster_members"]  # the copy was clustered
    for store in (bulk, rows):
        store.db.execute("INSERT INTO articles_fts (articles_fts) VALUES ('integrity-check')")
        assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert ([a.id for a in search(bulk, "batteries storage")]
            == [a.id for a in search(rows, "batteries storage")])
    assert len(search(bulk, "batteries")) == 20  # 30 articles and a copy, limit 20
    assert list_topics(bulk) == list_topics(rows)


def test_after_a_bulk_build_changes_are_indexed_row_by_row(tmp_path, folder, monkeypatch):
    store = build(tmp_path / "bulk.db", folder, monkeypatch, bulk=True)
    (folder / "new.md").write_text(article_text(title="Quantum harbour cranes"),
                                   encoding="utf-8")
    refresh(store, folder, workers=1)  # not cold: the full-text trigger must be back
    assert [a.id for a in search(store, "quantum harbour")] == ["new.md"]


def test_a_reader_sees_nothing_of_a_bulk_build_until_it_is_whole(tmp_path, folder,
                                                                  monkeypatch):
    path = tmp_path / "bulk.db"
    Store(path).close()
    seen: list[int] = []

    def look(done: int, total: int) -> None:
        reader = sqlite3.connect(path)
        seen.append(reader.execute("SELECT count(*) FROM articles").fetchone()[0])
        reader.close()

    monkeypatch.setattr(index_module, "COMMIT_EVERY", 5)
    monkeypatch.setattr(index_module, "BATCH_SIZE", 5)
    store = build(path, folder, monkeypatch, bulk=True, progress=look)
    assert len(seen) > 3 and set(seen) == {0}
    assert store.db.execute("SELECT count(*) FROM articles").fetchone()[0] == 32


def test_a_bulk_build_stopped_half_way_leaves_the_schema_whole(tmp_path, folder, monkeypatch):
    path = tmp_path / "bulk.db"
    schema = dump(Store(path))["schema"]

    def stop(done: int, total: int) -> None:
        if done > 10:
            raise KeyboardInterrupt

    monkeypatch.setattr(index_module, "COMMIT_EVERY", 5)
    monkeypatch.setattr(index_module, "BATCH_SIZE", 5)
    with pytest.raises(KeyboardInterrupt):
        build(path, folder, monkeypatch, bulk=True, progress=stop)
    store = Store(path)
    assert dump(store)["schema"] == schema
    assert store.db.execute("SELECT count(*) FROM articles").fetchone()[0] == 0
    rows = build(tmp_path / "rows.db", folder, monkeypatch, bulk=False)
    refresh(store, folder, workers=1, clusters=ClusterSettings())  # cold again, whole
    assert dump(store) == dump(rows)


def test_a_bulk_build_records_refused_entries_as_a_row_by_row_build_does(
        tmp_path, folder, monkeypatch):
    """The cold build's walk does not stat regular files (the workers fstat what they
    open): a file over the size limit, a link, a FIFO and a name that is not UTF-8 are
    still recorded with the same size and reason as by a build that stats first."""
    write_raw(folder, "huge.md", article_text(title="Huge") + "x" * 5_000)
    write_raw(folder, "small.md", article_text(title="Small"))
    (folder / "link.md").symlink_to(folder / "small.md")
    os.mkfifo(folder / "pipe.md")
    with open(os.fsencode(folder) + b"/caf\xe9.md", "wb") as handle:
        handle.write(article_text(title="Latin-1 name").encode())

    def stores(bulk: bool) -> dict[str, list]:
        monkeypatch.setattr(index_module, "PARALLEL_THRESHOLD", 1 if bulk else 10**9)
        store = Store(tmp_path / f"{bulk}.db")
        refresh(store, folder, workers=1, clusters=ClusterSettings(), max_file_bytes=2_000)
        return dump(store)

    bulk, rows = stores(True), stores(False)
    assert bulk == rows
    errors = {row[0]: (row[15], row[17]) for row in bulk["articles"] if row[17]}
    assert errors["huge.md"][0] > 5_000 and errors["huge.md"][1].startswith("too large")
    assert errors["link.md"] == (-1, "symbolic link")
    assert errors["pipe.md"] == (-2, "not a regular file")
    assert "rename the file" in errors["caf\\xe9.md"][1]


def test_a_bulk_build_with_nothing_to_read_records_every_refused_entry(tmp_path, monkeypatch):
    """Entries the walk refuses are written with the batches that follow them, and those
    left after the last one at the end: here there is no batch at all."""
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "link.md").symlink_to(tmp_path / "elsewhere.md")
    os.mkfifo(folder / "pipe.md")
    monkeypatch.setattr(index_module, "PARALLEL_THRESHOLD", 1)
    store = Store(tmp_path / "bulk.db")
    report = refresh(store, folder, workers=1, clusters=ClusterSettings())
    assert (report.total, report.failed) == (2, 2)
    assert store.db.execute("SELECT id, size, error FROM articles ORDER BY id").fetchall() == [
        ("link.md", -1, "symbolic link"), ("pipe.md", -2, "not a regular file")]


@given(st.lists(st.text(max_size=8) | st.text(st.sampled_from('aZ 9"\\/\x00\x1f\x7fé東😀\u2028'),
                                             max_size=8)))
def test_topics_are_stored_as_json_dumps_writes_them(topics):
    """The cold build writes `topics` itself when no character needs escaping."""
    assert topics_json(topics) == json.dumps(topics, ensure_ascii=False)
