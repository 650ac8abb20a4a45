"""A cold build writes into an empty database with a rollback journal (Store.written_once),
so its pages are written once instead of into the WAL and again at the checkpoint. Only
when no other connection has the file open; the file is back in WAL however the build
ends, and a build killed half way leaves the file as it was."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import article_text, clean_env, run_cli, write_raw
from newsbot.storage import index as index_module
from newsbot.storage.db import Store
from newsbot.storage.index import refresh, refresh_paths
from newsbot.storage.story_clusters import ClusterSettings
from test_index_bulk import build, dump, write_folder


@pytest.fixture
def folder(articles: Path) -> Path:
    return write_folder(articles)


def header_mode(path: Path) -> str:
    """The journal mode the file itself records (bytes 18 and 19 of its header): what
    every connection opening it next starts from."""
    versions = path.read_bytes()[18:20]
    return {b"\x01\x01": "rollback", b"\x02\x02": "wal"}[versions]


def journal(path: Path) -> Path:
    return path.with_name(path.name + "-journal")


def build_watching(path: Path, folder: Path, monkeypatch: pytest.MonkeyPatch,
                   look=None) -> tuple[Store, list[tuple[str, int]]]:
    """A bulk build; (journal mode, synchronous) as the build's connection has them at
    each batch, after `look(path)` when given."""
    seen: list[tuple[str, int]] = []
    store = Store(path)

    def progress(done: int, total: int) -> None:
        if look is not None:
            look(path)
        seen.append((store.db.execute("PRAGMA journal_mode").fetchone()[0],
                     store.db.execute("PRAGMA synchronous").fetchone()[0]))

    monkeypatch.setattr(index_module, "PARALLEL_THRESHOLD", 1)
    monkeypatch.setattr(index_module, "BATCH_SIZE", 5)
    refresh(store, folder, workers=1, clusters=ClusterSettings(), progress=progress)
    return store, seen


def test_a_cold_build_writes_with_a_synced_rollback_journal_then_returns_to_wal(
        tmp_path, folder, monkeypatch):
    path = tmp_path / "bulk.db"
    store, seen = build_watching(path, folder, monkeypatch)
    assert seen and set(seen) == {("delete", 3)}  # 3: EXTRA, the journal's deletion synced
    assert header_mode(path) == "wal" and not journal(path).exists()
    assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL, as before
    assert dump(store) == dump(build(tmp_path / "rows.db", folder, monkeypatch, bulk=False))


def test_with_another_connection_open_a_cold_build_stays_in_wal(tmp_path, folder,
                                                                 monkeypatch):
    path = tmp_path / "bulk.db"
    Store(path).close()
    other = sqlite3.connect(path)  # e.g. `newsbot serve`, idle
    other.execute("SELECT count(*) FROM articles").fetchone()
    started = time.monotonic()
    store, seen = build_watching(path, folder, monkeypatch)
    assert time.monotonic() - started < 5  # asked without waiting (the busy timeout is 10 s)
    assert seen and set(seen) == {("wal", 1)}
    assert other.execute("SELECT count(*) FROM articles").fetchone()[0] == 32
    other.close()
    assert dump(store) == dump(build(tmp_path / "rows.db", folder, monkeypatch, bulk=False))


def test_a_store_opened_during_a_cold_build_waits_for_it_and_wal_comes_back(
        tmp_path, folder, monkeypatch):
    """A process that starts meanwhile (`newsbot serve`) asks for WAL as it opens: it waits
    for the build's commit, then reads all of it; the build goes on in WAL, whole."""
    opened: list[tuple[float, int]] = []

    def open_another(path: Path) -> None:
        if opened or threading.active_count() > 1:
            return

        def read() -> None:
            started = time.monotonic()
            other = Store(path)
            count = other.db.execute("SELECT count(*) FROM articles").fetchone()[0]
            opened.append((time.monotonic() - started, count))
            other.close()

        reader = threading.Thread(target=read)
        reader.start()
        time.sleep(0.3)  # it is waiting on the build's lock by now
        started.append(reader)

    started: list[threading.Thread] = []
    path = tmp_path / "bulk.db"
    store, seen = build_watching(path, folder, monkeypatch, look=open_another)
    started[0].join()
    assert seen[0] == ("delete", 3)
    waited, count = opened[0]
    assert waited >= 0.3 and count == 32  # all of it, never part
    assert header_mode(path) == "wal" and not journal(path).exists()
    assert dump(store) == dump(build(tmp_path / "rows.db", folder, monkeypatch, bulk=False))


def test_a_short_wait_during_a_cold_build_says_the_database_is_locked(tmp_path, folder,
                                                                      monkeypatch):
    failures: list[str] = []

    def open_another(path: Path) -> None:
        try:
            Store(path, busy_timeout_ms=50)
        except sqlite3.OperationalError as error:
            failures.append(str(error))

    path = tmp_path / "bulk.db"
    build_watching(path, folder, monkeypatch, look=open_another)
    assert failures and set(failures) == {"database is locked"}
    assert header_mode(path) == "wal"


@pytest.mark.parametrize("stop", [KeyboardInterrupt, RuntimeError])
def test_a_cold_build_stopped_half_way_leaves_the_file_empty_and_in_wal(
        tmp_path, folder, monkeypatch, stop):
    path = tmp_path / "bulk.db"
    first = Store(path)
    schema = dump(first)["schema"]
    first.close()  # else the build stays in WAL: another connection has the file open
    looked: list[str] = []

    def halt(path: Path) -> None:
        looked.append(header_mode(path))
        raise stop

    with pytest.raises(stop):
        build_watching(path, folder, monkeypatch, look=halt)
    assert looked == ["rollback"]
    assert header_mode(path) == "wal" and not journal(path).exists()
    assert sqlite3.connect(path).execute("SELECT count(*) FROM articles").fetchone()[0] == 0
    assert dump(Store(path))["schema"] == schema


def test_a_folder_moved_into_an_empty_index_is_built_with_a_rollback_journal_too(
        tmp_path, articles, monkeypatch):
    """File events name the folder (refresh_paths): built as `refresh` builds, alone on
    the file with a rollback journal, then WAL; every row, as a row-by-row build."""
    write_folder(articles / "moved")
    path = tmp_path / "bulk.db"
    store = Store(path)
    monkeypatch.setattr(index_module, "PARALLEL_THRESHOLD", 1)
    inserting: set[str] = set()  # the file's journal mode whenever articles are inserted
    store.db.conn.set_trace_callback(
        lambda sql: inserting.add(header_mode(path)) if "INSERT INTO articles (" in sql else None)
    report = refresh_paths(store, articles, ["moved"], clusters=ClusterSettings())
    store.db.conn.set_trace_callback(None)
    assert inserting == {"rollback"}
    assert (report.total, report.indexed, report.failed) == (32, 31, 1)
    assert header_mode(path) == "wal" and not journal(path).exists()
    assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 1
    assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    store.db.execute("INSERT INTO articles_fts (articles_fts) VALUES ('integrity-check')")
    assert dump(store) == dump(build(tmp_path / "rows.db", articles, monkeypatch, bulk=False))


# A real `newsbot index` with a small page cache, so that the build spills pages into
# the file before it commits (as a build of 50,000 files does with its 32 MB).
SPILLING_INDEX = ("import sys; from newsbot.storage import index; "
                  "index.WRITE_CACHE_KIB = index.TAIL_CACHE_KIB = 128; "
                  "from newsbot.bot.cli.main import main; sys.exit(main(sys.argv[1:]))")


def killed_half_way(tmp_path: Path) -> tuple[Path, list[str], int, int]:
    """A real `newsbot index` killed (SIGKILL) once a megabyte of its cold build's pages is
    in the file, uncommitted: (database, its index arguments, files, the empty file's size)."""
    articles = tmp_path / "articles"
    files = index_module.PARALLEL_THRESHOLD + 500
    for n in range(files):
        write_raw(articles, f"{n // 500}/{n:05}.md", article_text(
            f"Body {n}.", title=f"Harbour cranes report {n}", webUrl=f"https://example.org/{n}"))
    path = tmp_path / "newsbot.db"
    Store(path).close()
    empty = path.stat().st_size
    args = ["index", "--articles", str(articles), "--db", str(path)]
    process = subprocess.Popen([sys.executable, "-c", SPILLING_INDEX, *args], env=clean_env(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while path.stat().st_size <= empty + (1 << 20) and time.monotonic() < deadline:
        time.sleep(0.002)
    os.kill(process.pid, signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL
    assert journal(path).stat().st_size > 0 and header_mode(path) == "rollback"
    assert path.stat().st_size > empty + (1 << 20)
    return path, args, files, empty


def test_a_cold_build_killed_half_way_is_rolled_back_and_a_rerun_completes(tmp_path: Path):
    path, args, files, empty = killed_half_way(tmp_path)
    store = Store(path)  # rolls the hot journal back, then asks for WAL
    assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert store.db.execute("SELECT count(*) FROM articles").fetchone()[0] == 0
    assert header_mode(path) == "wal" and not journal(path).exists()
    store.close()
    assert path.stat().st_size == empty

    rerun = run_cli(*args, "--json", cwd=tmp_path, env={})
    assert rerun.code == 0, rerun.stderr
    assert f'"indexed": {files}' in rerun.stdout
    store = Store(path)
    assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    store.db.execute("INSERT INTO articles_fts (articles_fts) VALUES ('integrity-check')")
    assert store.db.execute("SELECT count(*) FROM article_topics").fetchone()[0] > files
    assert header_mode(path) == "wal"


def test_a_read_only_store_refuses_a_build_killed_half_way(tmp_path: Path):
    """Where SQLite may not roll the journal back, a read-only store would read the file
    as immutable, half written: it says so instead, and leaves both files as they are."""
    path, _, _, _ = killed_half_way(tmp_path)
    before = path.read_bytes(), journal(path).read_bytes()
    with pytest.raises(RuntimeError, match="left half written by a write that stopped"):
        Store(path, read_only=True)
    assert (path.read_bytes(), journal(path).read_bytes()) == before


def test_a_reader_holding_on_after_the_commit_leaves_rollback_mode_for_later_not_a_failure(
        tmp_path, caplog):
    """What the block wrote is committed: a reader that keeps the file past the busy
    timeout only delays WAL (the next connection asks for it), it fails nothing."""
    path = tmp_path / "bulk.db"
    store = Store(path, busy_timeout_ms=200)
    reader = None
    with store.written_once():
        with store.write() as db:
            db.execute("CREATE TABLE t (n INTEGER)")
            db.execute("INSERT INTO t VALUES (1)")
        reader = sqlite3.connect(path, isolation_level=None)
        reader.execute("BEGIN")
        assert reader.execute("SELECT n FROM t").fetchall() == [(1,)]  # holds the file
    assert "stays in rollback-journal mode" in caplog.text
    assert header_mode(path) == "rollback"
    reader.execute("ROLLBACK")
    reader.close()
    later = Store(path)
    assert later.db.execute("SELECT n FROM t").fetchall() == [(1,)]
    assert header_mode(path) == "wal"
