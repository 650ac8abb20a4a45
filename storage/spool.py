"""A durable local spool: records kept in an fsynced file beside the database.

When the database cannot take a write (locked by another process beyond the wait, read-only,
corrupt, deleted), a decision Slack is about to see acknowledged goes here instead; it is
applied later, in order and exactly once (each record has a key, and recording a key twice
changes nothing). A record is durable once `append` returns: it is written whole and
fsynced (the folder too, when the file is new). A write that cannot be completed (a full
disk: ENOSPC, a short write; EIO) raises OSError after cutting its partial line off again,
so the caller answers 500 and the file holds only whole records. A record torn by a crash
mid-write was never acknowledged: the next append cuts it off before writing.

Every operation holds a lock (a thread lock and `flock` on `<spool>.lock`), so several
threads and processes may share one spool. Applied records are removed by key, rewriting
the file atomically (write, fsync, rename), so a record appended meanwhile is never lost.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

log = logging.getLogger(__name__)


class Spool:
    def __init__(self, path: str | Path) -> None:
        """Open (creating) the spool; OSError if the folder does not let us write it."""
        self.path = Path(path)
        self._lock_path = self.path.with_name(self.path.name + ".lock")
        self._thread_lock = threading.Lock()
        with self._locked():
            if not self.path.exists():
                self._write_atomically([])
                return
            fd = os.open(self.path, os.O_RDWR)
            try:
                _cut_torn_tail(fd, self.path)  # a crash mid-append, before this start
            finally:
                os.close(fd)

    @staticmethod
    def path_beside(db_path: str | Path) -> Path:
        """Where the spool of a database file lives: `<db>.spool`."""
        return Path(str(db_path) + ".spool")

    @staticmethod
    def beside(db_path: str | Path) -> Spool:
        """The spool of a database file."""
        return Spool(Spool.path_beside(db_path))

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._thread_lock:
            fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # releases the flock

    def append(self, record: dict) -> bool:
        """Make `record` (with a "key") durable; False if its key is already spooled."""
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
        with self._locked():
            if any(r.get("key") == record["key"] for r in self._read()):
                return False
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                size = _cut_torn_tail(fd, self.path)
                try:
                    write_all(fd, line)
                    os.fsync(fd)
                except OSError:
                    os.ftruncate(fd, size)  # no partial line left behind to skip later
                    os.fsync(fd)
                    raise
            finally:
                os.close(fd)
        return True

    def pending(self) -> list[dict]:
        """The records not yet applied, oldest first (an empty file: no lock, no read)."""
        if self._size() == 0:
            return []
        with self._locked():
            return self._read()

    def remove(self, keys: Iterable[str]) -> None:
        """Drop the records with these keys (they were applied)."""
        done = set(keys)
        if not done:
            return
        with self._locked():
            self._write_atomically([r for r in self._read() if r.get("key") not in done])

    def depth(self) -> int:
        """How many records wait to be applied."""
        return len(self.pending())

    def oldest_age_seconds(self) -> float | None:
        """Seconds since the oldest waiting record was spooled; None when none waits."""
        records = self.pending()
        if not records:
            return None
        return max(0.0, time.time() - float(records[0].get("spooled_at", time.time())))

    def _size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def _read(self) -> list[dict]:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        records = []
        for line in data.splitlines():
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:  # torn by a crash before it was acknowledged
                log.warning("spool: unreadable record skipped", extra={"spool": str(self.path)})
                continue
            if isinstance(record, dict) and "key" in record:
                records.append(record)
        return records

    def _write_atomically(self, records: list[dict]) -> None:
        temporary = self.path.with_name(self.path.name + ".tmp")
        data = b"".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")).encode()
                        + b"\n" for r in records)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            write_all(fd, data)
            os.fsync(fd)
        except OSError:
            os.close(fd)
            temporary.unlink(missing_ok=True)  # the spool itself is as it was
            raise
        os.close(fd)
        os.replace(temporary, self.path)
        folder = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def write_all(fd: int, data: bytes) -> None:
    """os.write until every byte is written: a short write (a nearly full disk) is
    continued, and the error that stops it (ENOSPC, EIO) is raised."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:  # pragma: no cover - POSIX raises instead
            raise OSError(errno.EIO, "write made no progress")
        view = view[written:]


def _cut_torn_tail(fd: int, path: Path) -> int:
    """Cut a last line left without its newline by a crash mid-write (it was never
    acknowledged); returns the size that whole records end at."""
    size = os.fstat(fd).st_size
    if not size or os.pread(fd, 1, size - 1) == b"\n":
        return size
    data = os.pread(fd, size, 0)
    whole = data.rfind(b"\n") + 1
    os.ftruncate(fd, whole)
    log.warning("spool: a record torn by a crash was cut off (it was never acknowledged)",
                extra={"spool": str(path), "bytes": size - whole})
    return whole
