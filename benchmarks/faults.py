"""Fault benchmark: decisions Slack saw acknowledged are never lost, never doubled, and end
as their event times say, whatever happens to the database or the process.

Each scenario starts `newsbot serve --http` as its own process on a posted digest, runs
trials in which many editors add, remove and re-add reactions (event_ts in order, delivered
all at once in shuffled order, as Slack does under load, with Slack's redelivery of what
was not acknowledged, delays compressed) while a fault strikes, then counts:
- events sent, and recorded (distinct event keys in decision_log);
- lost: sent but never recorded; duplicated: log rows beyond one per event;
- out of order: editor/article pairs whose final vote is not what event-time order gives.

A scenario is a function (settings -> Row); add a fault by adding one to SCENARIOS.

    python benchmarks/faults.py [--quick] [--seed 1]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from newsbot.sandbox.fault_site import (
    FaultSite,
    Sender,
    eventually,
    fill_disk,
    hold_database,
    small_filesystem,
    start_site,
)
from newsbot.sandbox.lookalike import SlackLookalike
from newsbot.sandbox.redelivery import Redelivery

ROOT = Path(__file__).resolve().parent.parent

SEQUENCES = [  # what an editor does, in event-time order: (added|removed, emoji)
    (("added", "white_check_mark"),),
    (("added", "x"), ("removed", "x")),
    (("added", "white_check_mark"), ("removed", "white_check_mark"),
     ("added", "white_check_mark")),
    (("added", "x"), ("added", "white_check_mark"), ("removed", "x")),
]
KIND = {"white_check_mark": "publish", "x": "skip"}


@dataclass(frozen=True)
class Settings:
    trials: int
    editors: int  # per trial
    seed: int


@dataclass
class Row:
    fault: str
    trials: int = 0
    sent: int = 0
    recorded: int = 0
    lost: int = 0
    duplicated: int = 0
    out_of_order: int = 0

    def add(self, other: Row) -> None:
        self.trials += other.trials
        self.sent += other.sent
        self.recorded += other.recorded
        self.lost += other.lost
        self.duplicated += other.duplicated
        self.out_of_order += other.out_of_order


@dataclass
class Trial:
    """One trial's events: (key, sender) pairs, and the votes event-time order gives."""

    senders: list[tuple[str, Sender]]
    expected: dict[tuple[str, str], str]
    users: set[str]


def expected_vote(sequence: tuple[tuple[str, str], ...]) -> str | None:
    """The vote event-time order gives: a removal withdraws only a vote of its emoji."""
    vote = None
    for kind, emoji in sequence:
        if kind == "added":
            vote = KIND[emoji]
        elif vote == KIND[emoji]:
            vote = None
    return vote


def make_trial(site: FaultSite, rng: random.Random, name: str, number: int,
               editors: int) -> Trial:
    senders, expected, users = [], {}, set()
    base = 1_800_000_000 + number * 10_000
    for n in range(editors):
        user, message = f"U{name[:4].upper()}{number:03d}E{n:03d}", rng.choice(site.messages)
        sequence = rng.choice(SEQUENCES)
        users.add(user)
        for step, (kind, emoji) in enumerate(sequence):
            key = f"Ev{name}{number}x{n}x{step}"
            senders.append((key, site.reaction(kind, user, message, f"{base + n}.{step:06d}",
                                               key, emoji)))
        vote = expected_vote(sequence)
        if vote:
            expected[(message["id"], user)] = vote
    rng.shuffle(senders)
    return Trial(senders, expected, users)


def deliver(trial: Trial, redelivery: Redelivery, workers: int = 16) -> list:
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda pair: redelivery.deliver(*pair), trial.senders))


def count(site: FaultSite, fault: str, trial: Trial, timeout: float = 60) -> Row:
    """Wait for the trial's events to be recorded (or the timeout), then count."""
    keys = {key for key, _ in trial.senders}

    def recorded_keys() -> list[str]:
        return [r["event_key"] for r in site.log_rows() if r["event_key"] in keys]

    try:
        eventually(lambda: set(recorded_keys()) >= keys and not site.spooled(), timeout)
    except AssertionError:  # what is missing then is counted as lost
        print(f"{fault}: events missing after {timeout} s; the server's log ends:\n"
              + "".join(site.serve.lines[-15:]), file=sys.stderr)
    recorded = recorded_keys()
    votes = {k: v for k, v in site.votes().items() if k[1] in trial.users}
    pairs = set(votes) | set(trial.expected)
    return Row(fault, 1, len(keys), len(set(recorded)), len(keys - set(recorded)),
               len(recorded) - len(set(recorded)),
               sum(votes.get(p) != trial.expected.get(p) for p in pairs))



def run_scenario(fault: str, settings: Settings,
                 trial_with_fault: Callable[[FaultSite, Trial, random.Random], None],
                 disk_size: str | None = None) -> Row:
    """A site for the scenario, then `settings.trials` trials with the fault. With
    `disk_size` the site lives on a tmpfs of that size (needs root)."""
    row = Row(fault)
    rng = random.Random(f"{settings.seed}:{fault}")
    with (SlackLookalike() as slack, tempfile.TemporaryDirectory(prefix="faults-") as folder,
          contextlib.ExitStack() as disk):
        if disk_size:
            folder = str(disk.enter_context(small_filesystem(Path(folder) / "disk", disk_size)))
        site = start_site(slack, Path(folder))
        try:
            for number in range(settings.trials):
                trial = make_trial(site, rng, fault.split()[0], number, settings.editors)
                trial_with_fault(site, trial, rng)
                row.add(count(site, fault, trial))
        finally:
            if site.serve.process is not None:
                site.serve.kill()
    return row


# --- the scenarios


def concurrent_order(settings: Settings) -> Row:
    def trial_with_fault(site: FaultSite, trial: Trial, rng: random.Random) -> None:
        deliver(trial, Redelivery(), workers=32)

    return run_scenario("delivered all at once (no fault)", settings, trial_with_fault)


def held_database(settings: Settings) -> Row:
    def trial_with_fault(site: FaultSite, trial: Trial, rng: random.Random) -> None:
        holder = hold_database(site.db, seconds=rng.uniform(1.0, 3.0))
        deliver(trial, Redelivery())
        holder.join()

    return run_scenario("database held (BEGIN EXCLUSIVE > busy timeout)", settings,
                        trial_with_fault)


def read_only_database(settings: Settings) -> Row:
    def trial_with_fault(site: FaultSite, trial: Trial, rng: random.Random) -> None:
        files = [str(site.db), str(site.db) + "-wal"]
        subprocess.run(["chattr", "+i", *files], check=True)
        try:
            deliver(trial, Redelivery())
        finally:
            subprocess.run(["chattr", "-i", *files], check=True)

    return run_scenario("database read-only (chattr +i)", settings, trial_with_fault)


def corrupt_database(settings: Settings) -> Row:
    def trial_with_fault(site: FaultSite, trial: Trial, rng: random.Random) -> None:
        with open(site.db, "r+b") as file:
            header = file.read(16)
            file.seek(0)
            file.write(b"this is garbage!")
        try:
            deliver(trial, Redelivery())
        finally:
            with open(site.db, "r+b") as file:
                file.write(header)

    return run_scenario("database corrupt, then repaired", settings, trial_with_fault)


def deleted_database(settings: Settings) -> Row:
    def trial_with_fault(site: FaultSite, trial: Trial, rng: random.Random) -> None:
        saved = site.folder / "saved.db"
        with (sqlite3.connect(f"file:{site.db}?mode=ro", uri=True) as source,
              sqlite3.connect(saved) as copy):
            source.backup(copy)
        for path in site.folder.glob("newsbot.db*"):
            if not path.name.endswith((".spool", ".lock")):
                path.unlink()
        deliver(trial, Redelivery())
        site.serve.stop()
        shutil.move(saved, site.db)  # the operator restores the file and restarts
        site.restart()

    return run_scenario("database deleted, restored, restart", settings, trial_with_fault)


def killed_with_spool(settings: Settings) -> Row:
    """kill -9 at a random moment while events arrive and the spool holds some; Slack
    redelivers what the dead process did not answer (delays compressed from 1 and 5 min)."""
    def trial_with_fault(site: FaultSite, trial: Trial, rng: random.Random) -> None:
        holder = hold_database(site.db, seconds=rng.uniform(1.5, 3.0))
        sending = threading.Thread(target=deliver, args=(trial, Redelivery((0.5, 6.0, 20.0))))
        sending.start()
        eventually(site.spooled, timeout=30)  # the spool is not empty
        time.sleep(rng.uniform(0.0, 0.5))
        site.serve.kill()
        holder.join()
        time.sleep(rng.uniform(0.0, 1.0))
        site.restart()
        sending.join()

    return run_scenario("kill -9 with a non-empty spool, restart", settings, trial_with_fault)


def killed_mid_batch(settings: Settings) -> Row:
    """kill -9 while events stream in on 32 connections, so that group commits are in
    flight (bot/services/intake.py): an event answered 200 must be in the database after
    the restart, since Slack never sends it again; the rest are redelivered. At least 40
    editors a trial even with --quick: with fewer, every event is in before the kill."""
    def trial_with_fault(site: FaultSite, trial: Trial, rng: random.Random) -> None:
        keys = {key for key, _ in trial.senders}
        sending = threading.Thread(target=deliver,
                                   args=(trial, Redelivery((0.5, 6.0, 20.0)), 32))
        sending.start()
        eventually(lambda: any(r["event_key"] in keys for r in site.log_rows()), timeout=30)
        time.sleep(rng.uniform(0.0, 0.05))
        site.serve.kill()
        time.sleep(rng.uniform(0.0, 0.5))
        site.restart()
        sending.join()

    return run_scenario("kill -9 while batches commit, restart",
                        dataclasses.replace(settings, editors=max(40, settings.editors)),
                        trial_with_fault)


def full_disk(settings: Settings) -> Row:
    """The database held (so events go to the spool) and the spool on a 16 MB tmpfs
    filled up to 0 to 2 pages while the trial's events arrive, so that appends run out
    of room part way (short writes); freed again 0.2 to 2 s later. An event is answered
    200 only once it is durable; the rest are redelivered."""
    def trial_with_fault(site: FaultSite, trial: Trial, rng: random.Random) -> None:
        holder = hold_database(site.db, seconds=rng.uniform(2.5, 4.0))
        filler = fill_disk(site.folder, leave_pages=rng.randint(0, 2))
        freed = threading.Timer(rng.uniform(0.2, 2.0), filler.unlink)
        freed.start()
        try:
            deliver(trial, Redelivery())
        finally:
            freed.join()
            holder.join()

    return run_scenario("disk full under the spool, then freed", settings, trial_with_fault,
                        disk_size="16m")


def ambiguous_posting(settings: Settings) -> list[Row]:
    """Digests posted while Slack stores messages and still answers 5xx, drops connections
    after storing, refuses with 500, and two `serve` processes race on a schedule
    (benchmarks/faults_posting.py). Counted in messages: none may be lost or doubled, and
    each thread must keep its digest's order."""
    import faults_posting  # beside this file

    return [Row(r["fault"], r["trials"], r["events sent"], r["events recorded"], r["lost"],
                r["duplicated"], r["out of order"]) for r in faults_posting.rows()]


SCENARIOS: list[Callable[[Settings], Row | list[Row]]] = [
    concurrent_order, held_database, read_only_database, corrupt_database, deleted_database,
    killed_with_spool, killed_mid_batch, full_disk, ambiguous_posting,
]


def chattr_allowed() -> bool:
    """Whether files can be made immutable here (a read-only file even for root)."""
    with tempfile.NamedTemporaryFile() as probe:
        if subprocess.run(["chattr", "+i", probe.name], capture_output=True).returncode:
            return False
        subprocess.run(["chattr", "-i", probe.name], check=True)
        return True


def mount_allowed() -> bool:
    """Whether a small tmpfs can be mounted here (the full-disk scenario's file system)."""
    with tempfile.TemporaryDirectory() as folder:
        try:
            with small_filesystem(Path(folder) / "probe", "64k"):
                return True
        except PermissionError:
            return False


def print_table(rows: list[Row]) -> None:
    header = ("fault", "trials", "events sent", "events recorded", "lost", "duplicated",
              "out of order")
    cells = [header] + [(r.fault, str(r.trials), str(r.sent), str(r.recorded), str(r.lost),
                         str(r.duplicated), str(r.out_of_order)) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(header))]
    lines = ["| " + " | ".join(c[i].ljust(widths[i]) if i == 0 else c[i].rjust(widths[i])
                               for i in range(len(header))) + " |" for c in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    print("\n".join(lines), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer trials and editors")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--trials", type=int, help="trials per fault (default 8; quick 2)")
    parser.add_argument("--editors", type=int, help="editors per trial (default 40; quick 12)")
    parser.add_argument("--only", help="run only the scenarios whose name contains this")
    args = parser.parse_args(argv)
    settings = Settings(args.trials or (2 if args.quick else 8),
                        args.editors or (12 if args.quick else 40), args.seed)
    if not chattr_allowed():
        print("read-only scenario skipped: chattr +i is not allowed here (needs root)",
              file=sys.stderr)
        SCENARIOS.remove(read_only_database)
    if not mount_allowed():
        print("full-disk scenario skipped: mounting a tmpfs is not allowed here (needs root)",
              file=sys.stderr)
        SCENARIOS.remove(full_disk)
    rows = []
    started = time.monotonic()
    for scenario in SCENARIOS:
        if args.only and args.only not in scenario.__name__:
            continue
        result = scenario(settings)
        rows.extend(result if isinstance(result, list) else [result])
        print(f"{scenario.__name__}: done ({time.monotonic() - started:.0f} s)", file=sys.stderr)
    print_table(rows)
    bad = [r for r in rows if r.lost or r.duplicated or r.out_of_order or r.sent != r.recorded]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
