"""The spool on a real, nearly full file system (a 64 KiB tmpfs the test mounts; CI runs
as root): a record is either whole and durable or refused with OSError, never torn."""

from __future__ import annotations

import errno
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import fill, small_filesystem
from newsbot.sandbox.fault_site import PAGE
from newsbot.storage.spool import Spool


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    with small_filesystem(tmp_path / "disk", "64k") as mount:
        yield mount


def keys(spool: Spool) -> list[str]:
    return [r["key"] for r in spool.pending()]


def test_a_record_that_does_not_fit_is_refused_and_leaves_no_torn_line(disk, caplog):
    spool = Spool(disk / "newsbot.db.spool")
    for key in ("a", "b"):
        spool.append({"key": key, "note": "small"})
    before = spool.path.read_bytes()
    filler = fill(disk, leave_pages=1)  # room for part of the next record: a short write
    big = {"key": "big", "note": "y" * (3 * PAGE)}
    with caplog.at_level(logging.WARNING), pytest.raises(OSError) as refused:
        spool.append(big)
    assert refused.value.errno == errno.ENOSPC
    assert spool.path.read_bytes() == before  # the partial line was cut off again
    assert keys(spool) == ["a", "b"]
    assert not [r for r in caplog.records if "unreadable" in r.getMessage()]
    fill(disk)  # not a page left
    with pytest.raises(OSError):  # removing applied records needs room to rewrite too
        spool.remove(["a"])
    assert keys(spool) == ["a", "b"]  # the spool is as it was
    filler.unlink()
    assert spool.append(big) is True  # once there is room, the same record is kept
    assert keys(spool) == ["a", "b", "big"]


def test_a_torn_tail_left_by_a_crash_is_cut_at_start(disk, caplog):
    path = disk / "newsbot.db.spool"
    Spool(path).append({"key": "a"})
    with open(path, "ab") as file:
        file.write(b'{"key":"torn","x":')  # the process died in the middle of a write
    with caplog.at_level(logging.WARNING):
        spool = Spool(path)
    assert path.read_bytes().endswith(b'{"key":"a"}\n')
    assert keys(spool) == ["a"]
    assert any("torn by a crash was cut off" in r.getMessage() for r in caplog.records)
