"""File events drive the index (bot/services/folder_watch.py): real inotify events on a
real folder, waited for by condition, never by a sleep standing in for the event."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import write_article
from newsbot.bot.config.settings import Config
from newsbot.bot.services import metrics
from newsbot.bot.services.folder_watch import FolderWatcher
from newsbot.bot.services.refresh import IndexRefresher
from newsbot.storage.db import Store


def eventually(condition: Callable[[], object], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return bool(condition())


def indexed(store: Store) -> dict[str, float | None]:
    return {r["id"]: r["quality"] for r in store.query("SELECT id, quality FROM articles")}


def event_refreshes() -> float:
    return metrics.INDEX_EVENT_REFRESHES._value.get()


@pytest.fixture
def watched(tmp_path: Path) -> Iterator[tuple[Path, Store, FolderWatcher]]:
    articles = tmp_path / "articles"
    write_article(articles, "a.md", quality=10)
    store = Store(tmp_path / "n.db")
    refresher = IndexRefresher(store, Config(articles=articles, db=store.path))
    refresher()
    watcher = FolderWatcher(refresher).start()
    try:
        yield articles, store, watcher
    finally:
        watcher.stop()


def test_created_changed_moved_and_deleted_files_are_indexed_within_a_second_or_two(watched):
    articles, store, watcher = watched
    assert watcher.events and watcher.describe() == {"follows": "file events"}
    assert metrics.INDEX_FILE_EVENTS._value.get() == 1
    started = time.monotonic()
    write_article(articles, "desk/new.md", quality=70, webUrl="https://e.org/new")
    assert eventually(lambda: indexed(store).get("desk/new.md") == 70)
    assert time.monotonic() - started < 3  # debounced 0.3 s; the walk would take minutes
    write_article(articles, "a.md", quality=90)
    assert eventually(lambda: indexed(store).get("a.md") == 90)
    os.rename(articles / "desk", articles / "archive")
    assert eventually(lambda: set(indexed(store)) == {"a.md", "archive/new.md"})
    (articles / "a.md").unlink()
    assert eventually(lambda: set(indexed(store)) == {"archive/new.md"})


def test_a_burst_of_files_becomes_a_few_refreshes(watched):
    articles, store, _ = watched
    before = event_refreshes()
    staging = articles.parent / "staging"
    for n in range(200):
        write_article(staging, f"burst/{n:03}.md", webUrl=f"https://e.org/{n}")
    os.rename(staging / "burst", articles / "burst")  # as a sync tool drops a folder in
    for n in range(200, 260):  # and files written one by one
        write_article(articles, f"burst/{n:03}.md", webUrl=f"https://e.org/{n}")
    assert eventually(lambda: len(indexed(store)) == 261)
    assert event_refreshes() - before <= 5


def test_a_folder_replaced_under_the_watch_is_watched_again(watched):
    articles, store, watcher = watched
    shutil.move(articles, articles.parent / "old-articles")
    articles.mkdir()
    write_article(articles, "fresh.md", quality=5, webUrl="https://e.org/fresh")
    assert eventually(lambda: set(indexed(store)) == {"fresh.md"})
    assert watcher.events
    write_article(articles, "later.md", quality=6, webUrl="https://e.org/later")
    assert eventually(lambda: "later.md" in indexed(store))


def test_without_events_it_says_polling_and_why(tmp_path: Path, caplog):
    articles = tmp_path / "articles"
    articles.mkdir()
    store = Store(tmp_path / "n.db")
    refresher = IndexRefresher(store, Config(articles=articles, db=store.path))
    off = FolderWatcher(refresher, enabled=False).start()
    assert not off.events
    assert off.describe() == {"follows": "polling",
                              "reason": "file events are turned off (serve.file_events)"}
    assert metrics.INDEX_FILE_EVENTS._value.get() == 0
    gone = FolderWatcher(IndexRefresher(store, Config(articles=tmp_path / "missing",
                                                      db=store.path))).start()
    try:
        assert not gone.events and gone.describe()["follows"] == "polling"
        assert gone.describe()["reason"].endswith("missing is not a folder")
        warnings = [r for r in caplog.records if r.getMessage().startswith("file events do not")]
        assert len(warnings) == 2  # once each
    finally:
        gone.stop()
