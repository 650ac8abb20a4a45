"""Alerts as articles land: how long from a file written into the articles folder to its
alert's `chat.postMessage` reaching Slack, and what an idle `serve` costs, at 10,000 and
100,000 articles.

    python benchmarks/bench_alerts.py [--quick] [--files 200] [--dir bench-data] [--seed 1]

For each folder size (the corpus of benchmarks/corpus.py; `--quick`: 2,000 and 10,000):
- the corpus is indexed once by `newsbot index` (the database is kept in `--dir` and
  copied for each run, so a run starts from a warm, complete index as a server does);
- 40 channels are subscribed, each to one topic of the corpus (their backlog is marked,
  never alerted), so that files spread over channels are single alerts, not bursts;
- a real `newsbot serve --http` runs on the folder against the Slack look-alike, with
  file events driving the index;
- `--files` new articles (one story each, a topic each, round robin over the channels)
  are written one by one, `--interval` seconds apart, into a subfolder of the corpus
  (removed afterwards); latency = the look-alike's `ts` of the alert message (its clock
  as it stores the post) minus the moment the file was closed. p50, p99 and the worst.

At the largest size, before any file is written, the CPU of the idle serve over
`--idle-seconds` (utime + stime from /proc of the process and its children) is measured
at the same time as a second serve on a copy of the database with
`NEWSBOT_FILE_EVENTS=false`, which walks the folder every 60 s instead.

Goals: p99 < 3 s at each size; the idle serve with file events < 2% of one core. This is
a benchmark, not a test: it prints PASS/FAIL per goal and exits 1 if a goal is missed.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import corpus
from bench_index import ensure_corpus
from newsbot.sandbox.alert_site import (
    alert_channels,
    alert_messages,
    serve_environment,
    story_text,
    subscribe_channels,
    write_story,
)
from newsbot.sandbox.lookalike import SlackLookalike
from newsbot.sandbox.serve_process import ServeProcess

ROOT = Path(__file__).resolve().parent.parent
CHANNELS = 40
P99_GOAL_S = 3.0
IDLE_GOAL = 0.02  # of one core
SETTLE_S = 5.0  # after "serving HTTP", before the idle window opens
ARRIVAL_TIMEOUT_S = 60.0  # after the last file, for the alerts still on their way
SUBFOLDER = "bench-alerts"  # in the corpus folder, for the files this run writes
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def indexed_database(folder: Path, cache: Path) -> Path:
    """The corpus's index by `newsbot index` (a real process), built once into `cache`."""
    if cache.exists() and cache.stat().st_mtime >= (folder / corpus.MANIFEST).stat().st_mtime:
        return cache
    started = time.perf_counter()
    partial = cache.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    subprocess.run([sys.executable, "-m", "newsbot.bot", "index", "--json", "--articles",
                    str(folder), "--db", str(partial)], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    partial.replace(cache)
    print(f"indexed {folder.name} in {time.perf_counter() - started:.1f} s", flush=True)
    return cache


def copy_database(source: Path, target: Path) -> Path:
    """A consistent copy (SQLite's backup), as a restore would give."""
    with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as src, \
            sqlite3.connect(target) as dst:
        src.backup(dst)
    return target


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process, its reaped children and its live descendants."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        this, parent = int(stat.parent.name), int(fields[1])
        if this == pid:
            total += sum(int(v) for v in fields[11:15]) / CLOCK_TICKS  # + cutime, cstime
        elif parent == pid or _descends(parent, pid):
            total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return total


def _descends(pid: int, ancestor: int) -> bool:
    for _ in range(8):
        if pid <= 1:
            return False
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except OSError:
            return False
        if pid == ancestor:
            return True
    return False


def idle_cpu(serves: dict[str, ServeProcess], seconds: float) -> dict[str, float]:
    """Each serve's CPU over the same `seconds`, as a share of one core."""
    time.sleep(SETTLE_S)
    pids = {name: serve.process.pid for name, serve in serves.items()}
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    started = time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - started
    return {name: (cpu_seconds(pid) - before[name]) / elapsed for name, pid in pids.items()}


def percentile(values: list[float], share: float) -> float:
    """Nearest rank: the smallest value at least `share` of all are not above."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def latencies(slack: SlackLookalike, articles: Path, files: int, interval: float,
              rng: random.Random, topics: list[str]) -> tuple[list[float], int]:
    """Write `files` new stories one by one; (each one's seconds to its alert, missing)."""
    channels = list(alert_channels(CHANNELS))
    written: dict[str, float] = {}
    for number in range(files):
        name = f"{SUBFOLDER}/{number:04d}_{rng.getrandbits(32):08x}.txt"
        text = story_text(rng, topics[number % len(topics)])
        next_at = time.monotonic() + interval
        write_story(articles, name, text)
        written[name] = time.time()
        time.sleep(max(0.0, next_at - time.monotonic()))
    deadline = time.monotonic() + ARRIVAL_TIMEOUT_S
    while True:
        arrived = {}
        for article, ts in alert_messages(slack, channels):
            arrived.setdefault(article, ts)
        if set(written) <= set(arrived) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    seconds = [arrived[name] - at for name, at in written.items() if name in arrived]
    return seconds, len(written) - len(seconds)


def run_size(count: int, args: argparse.Namespace, measure_idle: bool) -> list[tuple]:
    """One folder size: its latency row, and at the largest the idle CPU rows."""
    folder = (args.dir / f"corpus-{count}-s{args.seed}").resolve()
    ensure_corpus(folder, count, args.seed)
    shutil.rmtree(folder / SUBFOLDER, ignore_errors=True)  # left by an interrupted run
    cache = indexed_database(folder, args.dir.resolve() / f"alerts-index-{count}-s{args.seed}.db")
    topics = list(corpus.TOPICS[:CHANNELS])
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-alerts-") as work, \
            SlackLookalike(channels=alert_channels(CHANNELS)) as slack:
        db = copy_database(cache, Path(work) / "newsbot.db")
        started = time.perf_counter()
        subscribe_channels(db, dict(zip(alert_channels(CHANNELS), topics, strict=True)))
        print(f"{count}: {CHANNELS} subscriptions in {time.perf_counter() - started:.1f} s",
              flush=True)
        serves = {"file events": ServeProcess(serve_environment(slack, folder, db), ROOT)}
        if measure_idle:
            polling_db = copy_database(db, Path(work) / "polling.db")
            serves["polling"] = ServeProcess(serve_environment(
                slack, folder, polling_db, NEWSBOT_FILE_EVENTS="false"), ROOT)
        try:
            for serve in serves.values():
                serve.start(timeout=300)
            if measure_idle:
                print(f"{count}: idle for {args.idle_seconds:g} s, load average"
                      f" {load_average()}", flush=True)
                shares = idle_cpu(serves, args.idle_seconds)
                serves.pop("polling").stop()
                rows.append((f"idle serve at {count} articles, file events",
                             f"{shares['file events']:.2%}", f"< {IDLE_GOAL:.0%}",
                             verdict(shares["file events"] < IDLE_GOAL)))
                rows.append((f"idle serve at {count} articles, polling (60 s walk)",
                             f"{shares['polling']:.2%}", "", ""))
            print(f"{count}: writing {args.files} files, load average {load_average()}",
                  flush=True)
            seconds, missing = latencies(slack, folder, args.files, args.interval,
                                         random.Random(args.seed * 1000 + count), topics)
        finally:
            for serve in serves.values():
                serve.stop()
            shutil.rmtree(folder / SUBFOLDER, ignore_errors=True)
    p50, p99 = (percentile(seconds, 0.5), percentile(seconds, 0.99)) if seconds else (
        math.inf, math.inf)
    worst = max(seconds, default=math.inf)
    rows.append((f"file -> alert at {count} articles, p50 / p99 / worst ({len(seconds)} of"
                 f" {args.files})", f"{p50:.2f} / {p99:.2f} / {worst:.2f} s",
                 f"p99 < {P99_GOAL_S:g} s", verdict(p99 < P99_GOAL_S and not missing)))
    return rows


def load_average() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="2,000 and 10,000 articles, 40 files, 20 s idle")
    parser.add_argument("--files", type=int, help="files written per size (default 200)")
    parser.add_argument("--interval", type=float, default=0.3,
                        help="seconds between two files (default 0.3)")
    parser.add_argument("--idle-seconds", type=float, help="the idle window (default 60)")
    parser.add_argument("--dir", type=Path, default=ROOT / "bench-data")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    sizes = (2_000, 10_000) if args.quick else (10_000, 100_000)
    args.files = args.files or (40 if args.quick else 200)
    args.idle_seconds = args.idle_seconds or (20.0 if args.quick else 60.0)
    rows = []
    for count in sizes:
        rows += run_size(count, args, measure_idle=count == sizes[-1])
    width = max(len(row[0]) for row in rows)
    print()
    for name, figure, goal, result in rows:
        print(f"{name.ljust(width)}  {figure:>24}  {goal:>10}  {result}")
    return 1 if any(row[3] == "FAIL" for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
