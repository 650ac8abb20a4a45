"""Replacing a file so that every reader, and every crash, sees either the old or the new
bytes, and no one else's write is lost to the swap.

The new bytes go to a temporary file in the same folder (same file system, so the rename
is atomic), are flushed and fsynced, take the original's permissions, and are swapped in;
then the folder is fsynced so the rename itself survives a power cut. The temporary file's
name is fixed per target and hidden (leading dot, `.tmp` suffix), so the indexer never
picks it up and a later run knows which leftover to remove.

What "a person's edit" is, for the guarantee that sync never loses one:
- a whole-file save through a rename (most editors): where the kernel exchanges names
  (Linux, renameat2 RENAME_EXCHANGE on ext4, xfs, btrfs, tmpfs) the inode the swap
  displaces keeps a name, so a save that lands between sync's check and its swap is put
  back whole; elsewhere it can be lost in the few system calls between check and rename;
- a write through a descriptor opened before the swap: `echo >> f` (opens, appends,
  closes), an editor's truncate-and-write in place. Such a write lands on the displaced
  inode; `finish` looks at it again SETTLE_SECONDS after the swap (size, mtime, bytes),
  and if anything changed gives the person's inode back to the path, appends the bytes
  writers meanwhile appended to ours, and reports the change so the caller redoes its
  edit on the newer content;
- two such writes at once, one replacing ours whole after the swap and one landing on
  the displaced inode: the first stays, the other is kept as `.NAME.newsbot-displaced-TIME`
  and `Displaced` says so.

What is not covered (the residual window): a write through a descriptor opened before
the swap that lands more than SETTLE_SECONDS after it (a program that keeps the file
open and writes later, as a logger does) goes to an inode no name points to, as after
any rename by any tool; and a sync killed between its swap and `finish` leaves the
displaced inode under the temporary name, which the next sync removes.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import stat
import sys
import time
from dataclasses import dataclass
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


SETTLE_SECONDS = 0.05  # how long a write that opened the file before the swap may take to land


class Displaced(OSError):
    """Two writes of other people met sync's swap, and both could not stay at the path: the
    one that is not there is kept beside it, under the name this error gives."""


@dataclass
class Swap:
    """One file swapped in: ours at the path, the displaced inode still open (and, where
    the kernel exchanges names, still named) until `finish` has looked at it again."""

    path: Path
    expected: bytes
    data: bytes
    before: os.stat_result  # of the file at the path just before the swap
    ours: int  # fd on our new inode
    displaced: int  # fd on the inode the swap took the path from
    exchanged: bool  # the displaced inode is named by the temporary file


def replace_if_unchanged(path: Path, expected: bytes, data: bytes, mode: int,
                         owner: tuple[int, int] | None = None,
                         settle: float = SETTLE_SECONDS) -> bool:
    """Atomically replace `path` with `data` if it still holds `expected`, and only if no
    write of someone else landed on it during the swap (`swap_in`, then `finish`).

    False, with the file as that person left it, when it changed (or vanished): the caller
    decides again from the file as it is now."""
    swap = swap_in(path, expected, data, mode, owner)
    if swap is None:
        return False
    time.sleep(settle)
    return finish(swap, settle)


def swap_in(path: Path, expected: bytes, data: bytes, mode: int,
            owner: tuple[int, int] | None = None) -> Swap | None:
    """Put `data` at `path` if it holds `expected` now; None, writing nothing, if not.

    The new file takes the original's mode and, as far as the bot is allowed, its owner
    and group: in a shared content folder the group is what lets editors keep writing.
    The swap is a rename; where the kernel can (Linux renameat2 RENAME_EXCHANGE) it
    exchanges the two names instead, so the inode it displaces, whoever put it there a
    moment before, keeps a name until `finish` has checked it."""
    temp = temp_path_for(path)
    remove_leftover(path)
    ours = _write_temp(temp, data, mode, owner)
    displaced, exchanged = -1, False
    try:
        try:
            current, before = read_bytes(path)
        except FileNotFoundError:
            current = None
        if current != expected:
            os.unlink(temp)
            os.close(ours)
            return None
        exchanged = _exchange(temp, path)
        if exchanged:
            displaced = os.open(temp, os.O_RDONLY | os.O_NONBLOCK | _OPEN_FLAGS)
        else:  # the inode at the path now is the one the rename displaces (a few calls on)
            displaced = os.open(path, os.O_RDONLY | os.O_NONBLOCK | _OPEN_FLAGS)
            os.replace(temp, path)
    except BaseException:
        for fd in (ours, displaced):
            with contextlib.suppress(OSError):
                os.close(fd)
        if not exchanged:  # once exchanged, the temporary name holds what a person wrote
            with contextlib.suppress(OSError):
                os.unlink(temp)
        raise
    return Swap(path, expected, data, before, ours, displaced, exchanged)


def finish(swap: Swap, settle: float = SETTLE_SECONDS) -> bool:
    """After the settle: True when the displaced inode still holds exactly what was
    expected (size, mtime and bytes), so no one's write went to it; else the person's
    file is given back (with anything already appended to ours) and False is returned."""
    try:
        late = _changed(swap)
        if not late:
            if swap.exchanged:
                os.unlink(temp_path_for(swap.path))
            return True
        _give_back(swap, settle)
        return False
    finally:
        os.close(swap.ours)
        os.close(swap.displaced)


def _changed(swap: Swap) -> bool:
    st = os.fstat(swap.displaced)
    moved = (st.st_ino, st.st_size, st.st_mtime_ns) != (
        swap.before.st_ino, swap.before.st_size, swap.before.st_mtime_ns)
    return moved or _read_fd(swap.displaced) != swap.expected


def _give_back(swap: Swap, settle: float) -> None:
    """The person's file back at the path: their inode exchanged back (where names cannot
    be exchanged, its bytes in a new file), after the bytes that writers appended to ours
    so far; after a settle, the few appended to ours since then follow. Ours is removed."""
    path, temp = swap.path, temp_path_for(swap.path)
    if not _is_named(path, swap.ours):  # a whole-file save replaced ours after the swap
        _keep_aside(swap, temp)
    carried = len(swap.data)
    early = _appended_to_ours(swap, temp, carried, given_back=False)
    if swap.exchanged:
        _append(temp, early)  # temp names the person's inode until the exchange back
        _exchange(temp, path)
    else:
        ours = _write_temp(temp, _read_fd(swap.displaced) + early,
                           swap.before.st_mode & 0o7777, (swap.before.st_uid, swap.before.st_gid))
        os.close(ours)
        os.replace(temp, path)
    fsync_folder(path.parent)
    time.sleep(settle)
    _append(path, _appended_to_ours(swap, temp, carried + len(early), given_back=True))
    if swap.exchanged:
        os.unlink(temp)


def _appended_to_ours(swap: Swap, temp: Path, offset: int, given_back: bool) -> bytes:
    """What writers appended to ours past `offset`. If someone rewrote ours in place, both
    versions are someone's: the one the path does not hold is kept aside (Displaced)."""
    written = _read_fd(swap.ours)
    if not written.startswith(swap.data):
        _keep_aside(swap, temp, written if given_back else None)
    return written[offset:]


def _append(path: Path, data: bytes) -> None:
    if not data:
        return
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | _OPEN_FLAGS)
    try:
        _write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _keep_aside(swap: Swap, temp: Path, written: bytes | None = None) -> None:
    """Both versions are someone's: the one not at the path (the displaced file, or ours
    as rewritten in place) goes beside it, hidden, under a name no later one takes."""
    kept = _read_fd(swap.displaced) if written is None else written
    aside = swap.path.with_name(f".{swap.path.name}.newsbot-displaced-{time.time_ns()}")
    staging = aside.with_name(aside.name + ".tmp")
    os.close(_write_temp(staging, kept, swap.before.st_mode & 0o7777, None))
    os.replace(staging, aside)
    if swap.exchanged:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
    raise Displaced(errno.EEXIST, "the file was written twice during sync's swap; the"
                    f" version not in place is kept in {aside.name}", str(swap.path))


def _write_temp(temp: Path, data: bytes, mode: int, owner: tuple[int, int] | None) -> int:
    """A new durable file with `data`; returns an fd on it (a second one, read-only)."""
    fd = os.open(temp, os.O_RDWR | os.O_CREAT | os.O_EXCL | _OPEN_FLAGS, 0o600)
    try:
        _write_all(fd, data)
        if owner is not None:
            _keep_owner(fd, *owner)
        os.fchmod(fd, mode)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    return fd


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise OSError(errno.EIO, "short write")
        view = view[written:]


def _read_fd(fd: int) -> bytes:
    chunks, offset = [], 0
    while chunk := os.pread(fd, 1 << 20, offset):
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def _is_named(path: Path, fd: int) -> bool:
    """Whether `path` names the inode open as `fd`."""
    try:
        named, held = os.stat(path, follow_symlinks=False), os.fstat(fd)
    except OSError:
        return False
    return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
_renameat2 = None
if sys.platform.startswith("linux"):
    with contextlib.suppress(OSError, AttributeError):
        _renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
        _renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                               ctypes.c_uint]


def _exchange(a: Path, b: Path) -> bool:
    """Swap the names `a` and `b` atomically; False where this kernel or file system
    cannot (nothing changed then)."""
    if _renameat2 is None:
        return False
    if _renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    error = ctypes.get_errno()
    if error in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(error, os.strerror(error), str(b))


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
