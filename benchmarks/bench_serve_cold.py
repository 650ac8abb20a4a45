"""The cold builds of a real `newsbot serve --http`, two trees in alternating turns.

    python benchmarks/bench_serve_cold.py --corpus DIR [--scenario move|first]
        [--rounds 5] NAME=PYTHON NAME=PYTHON

Each NAME=PYTHON is a virtual environment's python with a tree of newsbot installed in
it (`pip install -e`): a branch against main, say. Rounds alternate which goes first.

- `move`: serve starts on an empty folder and database; once file events drive the
  index, a copy of the corpus (made once, in a temporary folder) is renamed into the folder:
  one event, refresh_paths of one path, the files below it a cold build. The figure is
  from the rename to the "index refreshed from file events" log line.
- `first`: serve starts on an empty database with the corpus as its folder (only read).
  The figure is from the process's start to the first "index refreshed" log line.

Beside each figure: the journal modes the database's header showed meanwhile (read
from the file, no connection) and the most descriptors of the serve process that named
the database file at once: one, its start's connection alone, is when `written_once`
can leave WAL. This is a measurement with no goal: it prints every run and the medians.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from newsbot.sandbox import SlackLookalike
from newsbot.sandbox.alert_site import serve_environment
from newsbot.sandbox.serve_process import free_port

HEADER_MODES = {b"\x01\x01": "rollback", b"\x02\x02": "wal"}  # bytes 18 and 19


class Watch:
    """The database's journal mode and the serve process's descriptors on it, every 10 ms."""

    def __init__(self, db: Path, pid: int) -> None:
        self.db, self.pid = db, pid
        self.modes: set[str] = set()
        self.descriptors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            try:
                with open(self.db, "rb") as handle:
                    handle.seek(18)
                    self.modes.add(HEADER_MODES.get(handle.read(2), "being created"))
                fds = os.listdir(f"/proc/{self.pid}/fd")
                self.descriptors = max(self.descriptors, sum(
                    1 for fd in fds if os.readlink(f"/proc/{self.pid}/fd/{fd}") == str(self.db)))
            except OSError:
                continue

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def wait_for(log: Path, text: str, process: subprocess.Popen) -> float:
    while text not in log.read_text():
        if process.poll() is not None:
            raise SystemExit(f"serve exited:\n{log.read_text()}")
        time.sleep(0.01)
    return time.monotonic()


def turn(slack: SlackLookalike, python: str, args: argparse.Namespace, staged: Path,
         work: Path) -> tuple[float, Watch]:
    """One serve, one cold build: its seconds, and what was seen meanwhile."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    db, log = work / "newsbot.db", work / "serve.log"
    articles = work / "articles" if args.scenario == "move" else args.corpus
    if args.scenario == "move":
        articles.mkdir()
    with open(log, "w") as handle:
        started = time.monotonic()
        process = subprocess.Popen(
            [python, "-m", "newsbot.bot", "serve", "--http", "--host", "127.0.0.1", "--port",
             str(free_port()), "--log-level", "INFO"],
            cwd=work, env=serve_environment(slack, articles, db),
            stdout=subprocess.DEVNULL, stderr=handle)
    try:
        if args.scenario == "move":
            wait_for(log, '"file events drive the index"', process)
            time.sleep(1)  # the scheduler's first jobs have run
            watch = Watch(db, process.pid)
            started = time.monotonic()
            os.rename(staged, articles / "moved")
            ended = wait_for(log, '"index refreshed from file events"', process)
        else:
            watch = Watch(db, process.pid)
            ended = wait_for(log, '"index refreshed"', process)
        watch.stop()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        if args.scenario == "move" and (articles / "moved").exists():
            os.rename(articles / "moved", staged)
    return ended - started, watch


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True, help="only read")
    parser.add_argument("--scenario", choices=("move", "first"), default="move")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("trees", nargs="+", metavar="NAME=PYTHON")
    args = parser.parse_args()
    trees = {name: str(Path(python).absolute())  # serve runs in its own folder
             for name, python in (tree.split("=", 1) for tree in args.trees)}
    figures: dict[str, list[float]] = {name: [] for name in trees}
    with tempfile.TemporaryDirectory() as scratch, SlackLookalike() as slack:
        staged = Path(scratch) / "staged"
        if args.scenario == "move":
            shutil.copytree(args.corpus, staged)
        for round_number in range(args.rounds):
            order = list(trees) if round_number % 2 == 0 else list(reversed(trees))
            for name in order:
                seconds, watch = turn(slack, trees[name], args, staged, Path(scratch) / "run")
                figures[name].append(seconds)
                print(f"round {round_number + 1} {name}: {seconds:.2f} s (header"
                      f" {'/'.join(sorted(watch.modes))}; at most {watch.descriptors}"
                      " descriptors on the database)", flush=True)
    for name, seconds in figures.items():
        print(f"{name}: {' '.join(f'{s:.2f}' for s in seconds)}; "
              f"median {statistics.median(seconds):.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
