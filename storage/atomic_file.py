"""Replacing a file so that every reader, and every crash, sees either the old or the new bytes.

The new bytes go to a temporary file in the same folder (same file system, so the rename
is atomic), are flushed and fsynced, take the original's permissions, and are renamed
over the original; then the folder is fsynced so the rename itself survives a power cut.
The temporary file's name is fixed per target and hidden (leading dot, `.tmp` suffix), so
the indexer never picks it up and a later run knows which leftover to remove.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path

_OPEN_FLAGS = os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)


def temp_path_for(path: Path) -> Path:
    return path.with_name(f".{path.name}.newsbot-sync.tmp")


class NotARegularFile(OSError):
    """A folder, FIFO or device where an article file should be."""


def read_bytes(path: Path) -> tuple[bytes, os.stat_result]:
    """The file's bytes and stat, without following a symlink at the last step.

    Opened non-blocking and checked to be a regular file before reading, so a FIFO
    planted at an article's path cannot hang a sync that holds the lock.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | _OPEN_FLAGS)
    with os.fdopen(fd, "rb") as handle:
        st = os.fstat(handle.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise NotARegularFile(errno.EINVAL, "not a regular file", str(path))
        return handle.read(), st


def remove_leftover(path: Path) -> bool:
    """Remove the temporary file a killed run may have left next to `path`."""
    try:
        os.unlink(temp_path_for(path))
    except FileNotFoundError:
        return False
    return True


def replace_if_unchanged(path: Path, expected: bytes, data: bytes, mode: int,
                         owner: tuple[int, int] | None = None) -> bool:
    """Atomically replace `path` with `data` if it still holds `expected`.

    The new file takes the original's mode and, as far as the bot is allowed, its owner
    and group: in a shared content folder the group is what lets editors keep writing.

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
            if owner is not None:
                _keep_owner(handle.fileno(), *owner)
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


def _keep_owner(fd: int, uid: int, gid: int) -> None:
    """The original owner and group; only the group when the bot may not give files away
    (an unprivileged process may still set a group it belongs to); else as created."""
    for wanted_uid in (uid, -1):
        try:
            os.fchown(fd, wanted_uid, gid)
            return
        except PermissionError:
            continue


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
