"""Atomic replacement: all or nothing, never over a file that changed meanwhile, and a write
that meets the swap is given back."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from newsbot.storage import atomic_file
from newsbot.storage.atomic_file import (
    Displaced,
    finish,
    read_bytes,
    replace_if_unchanged,
    swap_in,
    temp_path_for,
)


def test_replaces_and_keeps_the_mode(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_bytes(b"old")
    path.chmod(0o604)
    assert replace_if_unchanged(path, b"old", b"new", 0o604)
    assert read_bytes(path)[0] == b"new"
    assert path.stat().st_mode & 0o7777 == 0o604
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.md"]


def test_a_file_changed_since_it_was_read_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_bytes(b"edited by someone")
    assert not replace_if_unchanged(path, b"old", b"new", 0o644)
    assert path.read_bytes() == b"edited by someone"
    assert not temp_path_for(path).exists()


def test_a_vanished_file_is_not_recreated(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    assert not replace_if_unchanged(path, b"old", b"new", 0o644)
    assert list(tmp_path.iterdir()) == []


def test_a_leftover_temporary_file_is_replaced_not_trusted(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_bytes(b"old")
    temp_path_for(path).write_bytes(b"half a file from a killed run")
    assert replace_if_unchanged(path, b"old", b"new", 0o644)
    assert path.read_bytes() == b"new"
    assert not temp_path_for(path).exists()


# --- writes that meet the swap: given back, never lost


def opened_for_append(path: Path) -> int:
    """A person's `>>` that opened the file before sync's swap and writes after it."""
    return os.open(path, os.O_WRONLY | os.O_APPEND)


def test_a_check_that_finds_nothing_keeps_our_bytes(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_bytes(b"old")
    swap = swap_in(path, b"old", b"new", 0o644)
    assert swap is not None and finish(swap, settle=0)
    assert path.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.md"]


def test_a_write_landing_on_the_displaced_file_is_given_back(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_bytes(b"old")
    original_inode = path.stat().st_ino
    person = opened_for_append(path)
    swap = swap_in(path, b"old", b"new", 0o644)
    assert swap is not None and path.read_bytes() == b"new"
    os.write(person, b" and a late line")
    os.close(person)
    assert not finish(swap, settle=0)
    assert path.read_bytes() == b"old and a late line"
    if swap.exchanged:  # the person's own file, so a descriptor still open keeps working
        assert path.stat().st_ino == original_inode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.md"]


def test_appends_to_our_file_meanwhile_are_carried_over(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_bytes(b"old")
    before_swap = opened_for_append(path)
    swap = swap_in(path, b"old", b"new", 0o644)
    assert swap is not None
    after_swap = opened_for_append(path)  # `>>` run after the swap: lands on our file
    os.write(before_swap, b"+1")
    os.write(after_swap, b"+2")
    for fd in (before_swap, after_swap):
        os.close(fd)
    assert not finish(swap, settle=0)
    assert path.read_bytes() == b"old+1+2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.md"]


def test_a_save_over_ours_and_a_late_write_both_stay(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_bytes(b"old")
    person = opened_for_append(path)
    swap = swap_in(path, b"old", b"new", 0o644)
    assert swap is not None
    os.write(person, b"+late")
    os.close(person)
    saved = tmp_path / "editor-save"
    saved.write_bytes(b"saved by an editor")
    os.replace(saved, path)  # an editor's whole-file save, after the swap
    with pytest.raises(Displaced) as raised:
        finish(swap, settle=0)
    assert path.read_bytes() == b"saved by an editor"
    [aside] = tmp_path.glob(".a.md.newsbot-displaced-*")
    assert aside.read_bytes() == b"old+late" and aside.name in str(raised.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == [aside.name, "a.md"]


def test_where_names_cannot_be_exchanged_a_late_write_is_still_given_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(atomic_file, "_renameat2", None)  # as on macOS or a network share
    path = tmp_path / "a.md"
    path.write_bytes(b"old")
    person = opened_for_append(path)
    swap = swap_in(path, b"old", b"new", 0o644)
    assert swap is not None and not swap.exchanged
    os.write(person, b"+late")
    os.close(person)
    assert not finish(swap, settle=0)
    assert path.read_bytes() == b"old+late"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.md"]
