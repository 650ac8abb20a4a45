"""The index reads only regular files inside the folder, and none larger than the limit.

Real files, links, FIFOs and folders on disk; a real SQLite file; the CLI in-process.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import article_text, write_article, write_raw
from newsbot.bot.config.settings import load_config
from newsbot.bot.newsroom.digest import select_digest
from newsbot.bot.newsroom.lookup import search
from newsbot.storage.index import _parse_batch, failures, read_and_parse, refresh

LIMIT = 1 << 20


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """An article file outside the folder (think /etc/passwd), worth reading if followed."""
    return write_article(tmp_path / "elsewhere", "secret.md", title="Outside secret")


def reasons(store) -> dict[str, str]:
    return {row["id"]: row["reason"] for row in failures(store)}


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX links and FIFOs")
def test_links_and_special_files_are_listed_never_read(store, articles, outside):
    write_article(articles, "good.md", title="A good one")
    os.symlink(outside, articles / "link.md")
    os.symlink(outside.parent, articles / "linked-folder")
    os.symlink("loop.md", articles / "loop.md")
    os.symlink("/dev/zero", articles / "zero.md")
    os.mkfifo(articles / "pipe.md")
    (articles / "folder.md").mkdir()
    write_article(articles / "folder.md", "inside.md", title="Inside a folder named .md")
    os.symlink(outside, articles / "folder.md" / "deeper.txt")

    report = refresh(store, articles)

    assert reasons(store) == {
        "link.md": "symbolic link", "linked-folder": "symbolic link",
        "loop.md": "symbolic link", "zero.md": "symbolic link",
        "folder.md/deeper.txt": "symbolic link",
        "pipe.md": "not a regular file", "folder.md": "not a regular file",
    }
    assert (report.total, report.indexed, report.failed) == (9, 2, 7)
    assert search(store, "Outside secret") == []
    assert {a.id for a in select_digest(store)} == {"good.md", "folder.md/inside.md"}
    again = refresh(store, articles)
    assert (again.indexed, again.unchanged, again.failed) == (0, 2, 7)


def test_a_link_replaced_by_a_file_is_indexed_and_back(store, articles, outside):
    os.symlink(outside, articles / "a.md")
    refresh(store, articles)
    assert reasons(store) == {"a.md": "symbolic link"}
    (articles / "a.md").unlink()
    write_article(articles, "a.md", title="Now a real file")
    assert refresh(store, articles).indexed == 1 and reasons(store) == {}
    (articles / "a.md").unlink()
    os.symlink(outside, articles / "a.md")
    assert refresh(store, articles).failed == 1 and reasons(store) == {"a.md": "symbolic link"}


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX links and FIFOs")
def test_reading_refuses_a_link_or_fifo_that_appeared_after_the_walk(articles, outside):
    os.symlink(outside, articles / "swapped.md")
    os.mkfifo(articles / "pipe.md")
    link = read_and_parse(str(articles), "swapped.md", None)
    pipe = read_and_parse(str(articles), "pipe.md", None)  # would block if opened plainly
    assert (link[0], link[-1]) == ("broken", "symbolic link")
    assert (pipe[0], pipe[-1]) == ("broken", "not a regular file")
    # as the workers read them: each file relative to the folder, opened once per batch
    batch = _parse_batch(str(articles), [("swapped.md", None), ("pipe.md", None)], 1 << 20)
    assert {(row[0], row[-1]) for row in batch.broken} == {
        ("swapped.md", "symbolic link"), ("pipe.md", "not a regular file")}


def test_index_failed_lists_links_with_their_reason(newsbot, workdir, outside):
    folder = workdir / "articles"
    write_article(folder, "good.md")
    os.symlink(outside, folder / "link.md")
    counts = newsbot("index", "--json", "--articles", str(folder))
    assert counts.code == 0 and counts.json["failed"] == 1
    listed = newsbot("index", "--failed", "--articles", str(folder))
    assert listed.stdout.strip() == "link.md: symbolic link"


def big_article(size: int) -> str:
    """An article whose front matter alone is `size` bytes or more."""
    text = article_text()
    return text.replace('excerpt: "', 'excerpt: "' + "x" * (size - len(text)), 1)


def test_a_file_over_the_limit_is_failed_without_being_parsed(store, articles):
    write_article(articles, "small.md")
    write_raw(articles, "big.md", big_article(LIMIT + 1))
    size = (articles / "big.md").stat().st_size
    report = refresh(store, articles)
    assert (report.indexed, report.failed) == (1, 1)
    assert reasons(store) == {"big.md": f"too large: {size} bytes (limit {LIMIT})"}
    assert refresh(store, articles).indexed == 0  # not looked at again while unchanged


def test_changing_the_limit_looks_at_the_files_again(store, articles):
    write_raw(articles, "big.md", big_article(LIMIT + 1))
    refresh(store, articles)
    raised = refresh(store, articles, max_file_bytes=4 * LIMIT)
    assert (raised.indexed, raised.failed) == (1, 0)
    lowered = refresh(store, articles, max_file_bytes=1000)
    assert lowered.failed == 1
    assert reasons(store)["big.md"].endswith("(limit 1000)")


def test_a_file_that_grows_past_the_limit_while_read_is_not_read_on(articles, monkeypatch):
    path = write_article(articles, "growing.md")
    real_fstat = os.fstat

    def fstat_before_growth(fd):
        st = real_fstat(fd)
        with open(path, "ab") as grow:  # more bytes arrive after the size was taken
            grow.write(b"y" * 5000)
        return st

    monkeypatch.setattr(os, "fstat", fstat_before_growth)
    result = read_and_parse(str(articles), "growing.md", None, 2000)
    assert result[0] == "broken" and result[-1].startswith("too large: ")
    assert result[-1].endswith("bytes (limit 2000)")


def test_the_limit_is_configured_by_file_and_environment(tmp_path: Path, newsbot, workdir):
    (workdir / "newsbot.yaml").write_text("index:\n  max_file_bytes: 2048\n")
    assert load_config(None, env={}, cwd=workdir).max_file_bytes == 2048
    env = {"NEWSBOT_MAX_FILE_BYTES": "4096"}
    assert load_config(None, env=env, cwd=workdir).max_file_bytes == 4096
    folder = workdir / "articles"
    write_raw(folder, "big.md", big_article(3000))
    listed = newsbot("index", "--failed", "--articles", str(folder))
    size = (folder / "big.md").stat().st_size
    assert listed.stdout.strip() == f"big.md: too large: {size} bytes (limit 2048)"
