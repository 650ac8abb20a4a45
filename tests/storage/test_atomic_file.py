"""Atomic replacement: all or nothing, and never over a file that changed meanwhile."""

from __future__ import annotations

from pathlib import Path

from newsbot.storage.atomic_file import read_bytes, replace_if_unchanged, temp_path_for


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
