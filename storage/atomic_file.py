"""Replacing a file so that every reader, and every crash, sees either the old or the new bytes.

The new bytes go to a temporary file in the same folder (same file system, so the rename
is atomic), are flushed and fsynced, take the original's permissions, and are renamed
over the original; then the folder is fsynced so the rename itself survives a power cut.
The temporary file's name is fixed per target and hidden (leading dot, `.tmp` suffix), so
the indexer never picks it up and a later run knows which leftover to remove.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

_OPEN_FLAGS = os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)


def temp_path_for(path: Path) -> Path:
    return path.with_name(f".{path.name}.newsbot-sync.tmp")


def read_bytes(path: Path) -> tuple[bytes, os.stat_result]:
    """The file's bytes and stat, without following a symlink at the last step."""
    fd = os.open(path, os.O_RDONLY | _OPEN_FLAGS)
    with os.fdopen(fd, "rb") as handle:
        return handle.read(), os.fstat(handle.fileno())


def remove_leftover(path: Path) -> bool:
    """Remove the temporary file a killed run may have left next to `path`."""
    try:
        os.unlink(temp_path_for(path))
    except FileNotFoundError:
        return False
    return True


def replace_if_unchanged(path: Path, expected: bytes, data: bytes, mode: int) -> bool:
    """Atomically replace `path` with `data` if it still holds `expected`.

    Returns False, writing nothing, when the file changed (or vanished) since `expected`
    was read: the caller decides again from the file as it is now. The check runs after
    the temporary file is durable and right before the rename, which keeps the window in
    which another program's write could be overtaken to a few system calls.
    """
    temp = temp_path_for(path)
    remove_leftover(path)
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _OPEN_FLAGS, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        try:
            current, _ = read_bytes(path)
        except FileNotFoundError:
            current = None
        if current != expected:
            os.unlink(temp)
            return False
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    return True


def fsync_folder(folder: Path) -> None:
    """Make renames inside `folder` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
