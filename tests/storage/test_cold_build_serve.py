"""The cold builds of a real `newsbot serve --http` on an empty database: its first start
builds alone on the file, with a rollback journal; a folder moved into its empty index
later is built while the start's connection is open, in WAL. Either way a reader never
sees part of the build, and a build killed with SIGKILL leaves an empty index that the
next start builds whole."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import article_text, write_raw
from newsbot.sandbox import SlackLookalike
from newsbot.sandbox.alert_site import serve_environment
from newsbot.sandbox.serve_process import ServeProcess, free_port
from newsbot.storage.db import Store
from test_cold_build_journal import header_mode, journal

FILES = 2_500  # past the cold build's threshold (2,000)

# `newsbot serve` with a small page cache, so that a build spills its pages into the file
# (or the -wal) before it commits, as one of 50,000 files does with its 32 MB; and lots
# of 250 rows for a refresh that is not a cold build, so that one would commit in parts
SPILLING_SERVE = ("import sys; from newsbot.storage import index; "
                  "index.WRITE_CACHE_KIB = index.TAIL_CACHE_KIB = 128; index.COMMIT_EVERY = 250; "
                  "from newsbot.bot.cli.main import main; sys.exit(main(sys.argv[1:]))")


@pytest.fixture
def slack():
    with SlackLookalike() as lookalike:
        yield lookalike


def write_files(folder: Path) -> Path:
    for n in range(FILES):
        write_raw(folder, f"{n // 500}/{n:05}.md", article_text(
            f"Body {n}.", title=f"Harbour cranes report {n}", webUrl=f"https://example.org/{n}"))
    return folder


@contextlib.contextmanager
def spilling_serve(env: dict[str, str], cwd: Path) -> Iterator[tuple[subprocess.Popen, Path]]:
    """A real `newsbot serve --http` (SPILLING_SERVE) and the file its log goes to. In a
    session of its own: what it leaves running (its workers, once it is killed) is ended
    with it, however the test ends."""
    log = cwd / f"serve-{time.monotonic_ns()}.log"
    with open(log, "w") as handle:
        process = subprocess.Popen(
            [sys.executable, "-c", SPILLING_SERVE, "serve", "--http", "--host", "127.0.0.1",
             "--port", str(free_port()), "--log-level", "INFO"],
            cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=handle, start_new_session=True)
    try:
        yield process, log
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


def wait_until(condition: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "waited too long"
        time.sleep(0.002)


def kill(process: subprocess.Popen) -> None:
    os.kill(process.pid, signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL


def count(path: Path) -> int:
    store = Store(path)
    assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    found = store.db.execute("SELECT count(*) FROM articles").fetchone()[0]
    store.close()
    return found


def an_empty_database(tmp_path: Path) -> tuple[Path, int]:
    path = tmp_path / "newsbot.db"
    Store(path).close()
    return path, path.stat().st_size


def test_a_reader_opened_during_serves_first_build_waits_and_reads_all_of_it(slack, tmp_path):
    articles = write_files(tmp_path / "articles")
    path, empty = an_empty_database(tmp_path)
    with spilling_serve(serve_environment(slack, articles, path), tmp_path) as (_, log):
        wait_until(lambda: path.stat().st_size > empty + (1 << 20))  # uncommitted pages in it
        assert header_mode(path) == "rollback" and journal(path).exists()
        reader = Store(path)  # asks for WAL: waits for the build's commit
        assert reader.db.execute("SELECT count(*) FROM articles").fetchone()[0] == FILES
        wait_until(lambda: '"serving HTTP"' in log.read_text())
    assert header_mode(path) == "wal" and not journal(path).exists()
    assert count(path) == FILES


def test_serve_killed_during_its_first_build_leaves_the_index_empty_and_builds_it_again(
        slack, tmp_path):
    articles = write_files(tmp_path / "articles")
    path, empty = an_empty_database(tmp_path)
    env = serve_environment(slack, articles, path)
    with spilling_serve(env, tmp_path) as (process, _):
        wait_until(lambda: path.stat().st_size > empty + (1 << 20))  # uncommitted pages in it
        kill(process)
    assert header_mode(path) == "rollback" and journal(path).stat().st_size > 0
    assert count(path) == 0  # the hot journal rolled back
    assert path.stat().st_size == empty and header_mode(path) == "wal"
    serve = ServeProcess(env, tmp_path).start()
    serve.stop()
    assert count(path) == FILES


def test_a_folder_moved_into_a_running_serves_empty_index_is_built_in_wal_never_seen_in_part(
        slack, tmp_path):
    """Its start's connection is open: the build stays in WAL, where a reader goes on
    reading the empty index, without waiting, until the build commits all of it."""
    articles = tmp_path / "articles"
    articles.mkdir()
    staged = write_files(tmp_path / "staged")
    path, _ = an_empty_database(tmp_path)
    wal = path.with_name(path.name + "-wal")
    seen: list[tuple[int, str, float]] = []  # (articles, the file's journal mode, seconds)
    with spilling_serve(serve_environment(slack, articles, path), tmp_path) as (_, log):
        wait_until(lambda: '"file events drive the index"' in log.read_text())
        before = wal.stat().st_size
        staged.rename(articles / "moved")
        # building (its pages spill into the -wal) before anything else opens the file
        wait_until(lambda: header_mode(path) == "rollback"
                   or wal.stat().st_size > before + (1 << 20))
        reader = Store(path)
        deadline = time.monotonic() + 60
        while not seen or seen[-1][0] == 0:
            started = time.monotonic()
            found = reader.db.execute("SELECT count(*) FROM articles").fetchone()[0]
            seen.append((found, header_mode(path), time.monotonic() - started))
            assert started < deadline
    assert {found for found, _, _ in seen} == {0, FILES}
    assert {mode for _, mode, _ in seen} == {"wal"}
    assert max(seconds for _, _, seconds in seen) < 1  # never waited for the build
    assert count(path) == FILES


def test_serve_killed_while_building_a_moved_folder_starts_again_and_builds_it(slack, tmp_path):
    articles = tmp_path / "articles"
    articles.mkdir()
    staged = write_files(tmp_path / "staged")
    path, _ = an_empty_database(tmp_path)
    env = serve_environment(slack, articles, path)
    wal = path.with_name(path.name + "-wal")
    with spilling_serve(env, tmp_path) as (process, log):
        wait_until(lambda: '"file events drive the index"' in log.read_text())
        before = wal.stat().st_size
        staged.rename(articles / "moved")
        wait_until(lambda: wal.stat().st_size > before + (1 << 20))  # uncommitted pages in it
        kill(process)
    assert count(path) == 0 and header_mode(path) == "wal"
    serve = ServeProcess(env, tmp_path).start()  # its first refresh: a cold build
    serve.stop()
    assert count(path) == FILES
