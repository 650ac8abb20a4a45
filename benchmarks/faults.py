"""Fault benchmark: decisions Slack saw acknowledged are never lost, never doubled, and end
as their event times say, whatever happens to the database or the process.

Each scenario starts `newsbot serve --http` as its own process on a posted digest, runs
trials in which many editors add, remove and re-add reactions (event_ts in order, delivered
all at once in shuffled order, as Slack does under load, with Slack's redelivery of what
was not acknowledged, delays compressed) while a fault strikes, then counts:
- events sent, and recorded (distinct event keys in decision_log);
- lost: sent but never recorded; duplicated: log rows beyond one per event;
- out of order: editor/article pairs whose final vote is not what event-time order gives.

The alert rows (benchmarks/faults_alerts.py) count stories instead: matching files written,
alert messages in Slack, files never alerted, alerts doubled.

A scenario is a function (settings -> Row); add a fault by adding one to SCENARIOS.

    python benchmarks/faults.py [--quick] [--seed 1]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import itertools
import random
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from newsbot.handlers.blocks import PUBLISH_ACTION, SKIP_ACTION, UNDO_ACTION
from newsbot.sandbox.fault_site import (
    CHANNEL,
    EXAMPLES,
    SECRET,
    FaultSite,
    Sender,
    drawn_texts,
    eventually,
    fill_disk,
    hold_database,
    second_server,
    small_filesystem,
    start_site,
)
from newsbot.sandbox.lookalike import SlackLookalike
from newsbot.sandbox.redelivery import Redelivery
from newsbot.sandbox.replica import (
    Replicator,
    litestream_binary,
    lose_host,
    replication_interval,
)
from newsbot.sandbox.signed_requests import AppResponse, Delivery, SignedSlackClient
from newsbot.sandbox.workspace import SlackUser

ROOT = Path(__file__).resolve().parent.parent
LITESTREAM_CONFIG = ROOT / "deploy" / "litestream.yml"

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
    pairs: dict[str, tuple[str, str]]  # event key -> (article, editor)


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
    senders, expected, users, pairs = [], {}, set(), {}
    base = 1_800_000_000 + number * 10_000
    for n in range(editors):
        user, message = f"U{name[:4].upper()}{number:03d}E{n:03d}", rng.choice(site.messages)
        sequence = rng.choice(SEQUENCES)
        users.add(user)
        for step, (kind, emoji) in enumerate(sequence):
            key = f"Ev{name}{number}x{n}x{step}"
            pairs[key] = (message["id"], user)
            senders.append((key, site.reaction(kind, user, message, f"{base + n}.{step:06d}",
                                               key, emoji)))
        vote = expected_vote(sequence)
        if vote:
            expected[(message["id"], user)] = vote
    rng.shuffle(senders)
    return Trial(senders, expected, users, pairs)


def deliver(trial: Trial, redelivery: Redelivery, workers: int = 16) -> list:
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda pair: redelivery.deliver(*pair), trial.senders))


def deliver_paced(trial: Trial, redelivery: Redelivery, spread: float,
                  acked_at: dict[str, float], workers: int = 16) -> None:
    """Deliver the trial's events evenly over `spread` seconds; note in `acked_at` when
    each was first answered 2xx (time.monotonic())."""
    started = time.monotonic()

    def timed(key: str, send: Sender) -> Sender:
        def wrapped(delivery):
            answer = send(delivery)
            if 200 <= answer.status < 300:
                acked_at.setdefault(key, time.monotonic())
            return answer

        return wrapped

    def one(step: int) -> None:
        key, send = trial.senders[step]
        time.sleep(max(0.0, started + step * spread / len(trial.senders) - time.monotonic()))
        redelivery.deliver(key, timed(key, send))

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, range(len(trial.senders))))


def count(site: FaultSite, fault: str, trial: Trial, timeout: float = 60,
          skip_pairs: set[tuple[str, str]] = frozenset()) -> Row:
    """Wait for the trial's events to be recorded (or the timeout), then count; the votes
    of `skip_pairs` are not compared."""
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
    pairs = (set(votes) | set(trial.expected)) - skip_pairs
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


def restore_from_replica(settings: Settings) -> Row:
    """Litestream (deploy/litestream.yml) replicates to a file replica while the trial's
    events arrive, paced over a few seconds; at a random moment the host dies: kill -9 of
    serve and litestream, the database, its -wal, -shm, spool and Litestream's state
    deleted. The database is restored from the replica, serve and litestream start again,
    and Slack redelivers what the dead host did not answer.

    Counted: every event except those acknowledged within the replication interval before
    the host died (the loss window, which Slack will not redeliver): those are reported
    apart, on stderr, with how many of them the restore lacked. Out of order: the votes of
    the editor/article pairs no such event touched."""
    fault = "restore from replica (host lost: kill -9, files deleted)"
    interval = replication_interval(LITESTREAM_CONFIG)
    row, rng = Row(fault), random.Random(f"{settings.seed}:{fault}")
    window = {"acked": 0, "missing": 0, "oldest": 0.0}
    with SlackLookalike() as slack, tempfile.TemporaryDirectory(prefix="faults-") as folder:
        site = start_site(slack, Path(folder))
        replicator = Replicator(LITESTREAM_CONFIG, site.db,
                                f"file://{folder}/replica/newsbot.db").start()
        spread = 2 * interval + 3.0  # seconds over which a trial's events arrive
        try:
            for number in range(settings.trials):
                trial = make_trial(site, rng, "restore", number, settings.editors)
                acked_at: dict[str, float] = {}
                sending = threading.Thread(target=deliver_paced, args=(
                    trial, Redelivery((0.5, 6.0, 20.0)), spread, acked_at))
                sending.start()
                time.sleep(rng.uniform(interval + 1.0, spread))
                site.serve.kill()
                replicator.kill()
                died = time.monotonic()
                lose_host(site.db)
                replicator.restore()
                site.restart()
                replicator.start()
                sending.join()
                in_window = {k for k, at in acked_at.items() if died - interval < at <= died}
                counted = Trial([(k, s) for k, s in trial.senders if k not in in_window],
                                trial.expected, trial.users, trial.pairs)
                row.add(count(site, fault, counted,
                              skip_pairs={trial.pairs[k] for k in in_window}))
                recorded = {r["event_key"] for r in site.log_rows()}
                missing = [died - acked_at[k] for k in in_window if k not in recorded]
                window["acked"] += len(in_window)
                window["missing"] += len(missing)
                window["oldest"] = max([window["oldest"], *missing])
        finally:
            if site.serve.process is not None:
                site.serve.kill()
            replicator.kill()
    print(f"{fault}: the loss window: {window['missing']} of {window['acked']} events "
          f"acknowledged within {interval:g} s before the host died were missing after the "
          f"restore, the oldest acknowledged {window['oldest']:.2f} s before; not counted "
          "in the row", file=sys.stderr)
    return row


@contextlib.contextmanager
def database_held(path: Path) -> Iterator[None]:
    """Another process's long transaction, for as long as the block runs."""
    holder = sqlite3.connect(path, isolation_level=None, timeout=30)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def rejected_rows(site: FaultSite) -> dict[str, dict]:
    with sqlite3.connect(f"file:{site.db}?mode=ro", uri=True) as connection:
        connection.row_factory = sqlite3.Row
        return {r["event_key"]: dict(r) for r in connection.execute(
            "SELECT * FROM rejected_decisions")}


def article_deleted_before_apply(settings: Settings) -> Row:
    """While the database is held every event goes to the spool (answered 200); one of the
    digest's articles is deleted meanwhile. Freed, each event on it must be kept in
    rejected_decisions and reported to its author by one ephemeral (or be recorded, if it
    reached the database before the deletion was seen); every other event is recorded.
    Counted as recorded: in decision_log, or rejected and reported exactly once (a second
    note for one event counts as duplicated, a rejection without its note as lost)."""
    fault = "article deleted before apply"
    row = Row(fault)
    rng = random.Random(f"{settings.seed}:{fault}")
    with SlackLookalike() as slack, tempfile.TemporaryDirectory(prefix="faults-") as folder:
        site = start_site(slack, Path(folder))
        try:
            for number in range(settings.trials):
                doomed = rng.choice(site.messages)
                trial = make_trial(site, rng, "deleted", number, settings.editors)
                for user in trial.users:  # the editors are members, to be told privately
                    slack.workspace.add_user(SlackUser(id=user, name=user.lower()))
                path = site.folder / "articles" / doomed["id"]
                with database_held(site.db):
                    path.unlink()
                    deliver(trial, Redelivery())
                row.add(count_with_rejections(site, fault, trial, doomed["id"]))
                shutil.copy(EXAMPLES / doomed["id"], path)  # back for the next trials
        finally:
            site.serve.kill()
    return row


def count_with_rejections(site: FaultSite, fault: str, trial: Trial, doomed: str,
                          timeout: float = 60) -> Row:
    keys = {key for key, _ in trial.senders}

    def settled() -> bool:
        logged = {r["event_key"] for r in site.log_rows()}
        rejected = rejected_rows(site)
        return not site.spooled() and all(
            k in logged or rejected.get(k, {}).get("report_state") in ("sent", "unsure",
                                                                        "failed")
            for k in keys)

    try:
        eventually(settled, timeout)
    except AssertionError:
        print(f"{fault}: events missing after {timeout} s", file=sys.stderr)
    logged = [r["event_key"] for r in site.log_rows() if r["event_key"] in keys]
    rejected = {k: r for k, r in rejected_rows(site).items() if k in keys}
    reported = {k for k, r in rejected.items() if r["report_state"] == "sent"}
    notes_per_user: dict[str, int] = {}
    for user in trial.users:
        notes_per_user[user] = sum("could not be recorded" in m["text"]
                                   for m in site.slack.workspace.ephemeral_messages(user))
    rejected_per_user: dict[str, int] = {}
    for r in rejected.values():
        rejected_per_user[r["user_id"]] = rejected_per_user.get(r["user_id"], 0) + 1
    extra_notes = sum(max(0, n - rejected_per_user.get(u, 0)) for u, n in notes_per_user.items())
    missing_notes = sum(max(0, n - notes_per_user.get(u, 0))
                        for u, n in rejected_per_user.items())
    done = set(logged) | reported
    # Out of order is counted on the other articles: an event on the deleted one that
    # reached the database before anything re-read its folder (the listener gave up
    # waiting and spooled it, its writer then got the lock) is recorded, as a live
    # decision a moment after the deletion would be, and counted so above.
    votes = {k: v for k, v in site.votes().items() if k[1] in trial.users and k[0] != doomed}
    expected = {k: v for k, v in trial.expected.items() if k[0] != doomed}
    pairs = set(votes) | set(expected)
    return Row(fault, 1, len(keys), len(done), len(keys - done) + missing_notes,
               len(logged) - len(set(logged)) + len(set(logged) & set(rejected)) + extra_notes,
               sum(votes.get(p) != expected.get(p) for p in pairs))


SKEWED_SEQUENCES = [  # a reaction (Slack's event clock), then clicks (the click clock)
    (("white_check_mark", None), (None, UNDO_ACTION)),
    (("x", None), (None, PUBLISH_ACTION)),
    (("white_check_mark", None), (None, UNDO_ACTION), (None, SKIP_ACTION)),
]
SKEWED_EXPECTED = [None, "publish", "skip"]


def skewed_clocks(settings: Settings) -> Row:
    """Each editor reacts (event_ts from Slack's clock, 5 s ahead of the clock stamping the
    clicks in odd trials, 5 s behind in even ones), then clicks Undo, Publish or Skip
    right after, each step once the last was acknowledged: the click must win. Out of
    order counts the editors whose final vote is not the one their last step gives."""
    fault = "skewed clocks (Slack 5 s ahead / behind)"
    row = Row(fault)
    rng = random.Random(f"{settings.seed}:{fault}")
    with SlackLookalike() as slack, tempfile.TemporaryDirectory(prefix="faults-") as folder:
        site = start_site(slack, Path(folder))
        stored = {m["ts"]: slack.workspace.message(CHANNEL, m["ts"]) for m in site.messages}
        try:
            for number in range(settings.trials):
                skew = 5.0 if number % 2 else -5.0
                editors = [(f"USKEW{number:03d}E{n:03d}", rng.choice(site.messages),
                            rng.randrange(len(SKEWED_SEQUENCES)))
                           for n in range(settings.editors)]
                with ThreadPoolExecutor(16) as pool:
                    keys = [k for ks in pool.map(
                        lambda e, skew=skew: skewed_editor(site, stored, *e, skew), editors)
                        for k in ks]
                expected = {(m["id"], u): SKEWED_EXPECTED[w] for u, m, w in editors
                            if SKEWED_EXPECTED[w]}
                row.add(count_keys(site, fault, set(keys), expected, {u for u, _, _ in editors}))
        finally:
            site.serve.kill()
    return row


def skewed_editor(site: FaultSite, stored: dict[str, dict], user: str, message: dict,
                  which: int, skew: float) -> list[str]:
    """One editor's steps of SKEWED_SEQUENCES[which], each once the last was answered;
    returns the events' keys."""
    keys = []
    for step, (emoji, action_id) in enumerate(SKEWED_SEQUENCES[which]):
        if emoji:
            key = f"Ev{user}x{step}"
            send = site.reaction("added", user, message, f"{time.time() + skew:.6f}", key,
                                 emoji)
        else:
            moment = time.time()
            key = f"button:{user}:{message['ts']}:{moment:.6f}"
            send = click_sender(site, user, message, stored[message["ts"]], action_id, moment)
        keys.append(key)
        Redelivery().deliver(key, send)
    return keys


def click_sender(site: FaultSite, user: str, message: dict, stored: dict, action_id: str,
                 moment: float) -> Sender:
    """A sender of one button click on a digest message, its action_ts `moment`."""
    client = SignedSlackClient(site.client.app_url, SECRET, clock=lambda: moment,
                               response_url_factory=site.slack.new_response_url)

    def send(delivery: Delivery | None) -> AppResponse:
        return client.block_action(user_id=user, action_id=action_id, value=message["id"],
                                   channel_id=CHANNEL, message=stored, delivery=delivery)

    return send


def count_keys(site: FaultSite, fault: str, keys: set[str],
               expected: dict[tuple[str, str], str], users: set[str],
               timeout: float = 60) -> Row:
    def recorded_keys() -> list[str]:
        return [r["event_key"] for r in site.log_rows() if r["event_key"] in keys]

    try:
        eventually(lambda: set(recorded_keys()) >= keys and not site.spooled(), timeout)
    except AssertionError:
        print(f"{fault}: events missing after {timeout} s", file=sys.stderr)
    recorded = recorded_keys()
    votes = {k: v for k, v in site.votes().items() if k[1] in users}
    pairs = set(votes) | set(expected)
    return Row(fault, 1, len(keys), len(set(recorded)), len(keys - set(recorded)),
               len(recorded) - len(set(recorded)),
               sum(votes.get(p) != expected.get(p) for p in pairs))


def ambiguous_posting(settings: Settings) -> list[Row]:
    """Digests posted while Slack stores messages and still answers 5xx, drops connections
    after storing, refuses with 500, and two `serve` processes race on a schedule
    (benchmarks/faults_posting.py). Counted in messages: none may be lost or doubled, and
    each thread must keep its digest's order."""
    import faults_posting  # beside this file

    return [Row(r["fault"], r["trials"], r["events sent"], r["events recorded"], r["lost"],
                r["duplicated"], r["out of order"]) for r in faults_posting.rows()]


def slow_connections(settings: Settings) -> Row:
    """600 slowloris connections (a request begun, one header line every 2 s, from 12
    addresses under the per-address cap) held open while the trial's events arrive; a
    /healthz is timed each trial (printed). Trickled requests are cut at 10 s."""
    def trial_with_fault(site: FaultSite, trial: Trial, rng: random.Random) -> None:
        host, port = "127.0.0.1", site.serve.port
        slow = [socket.create_connection((host, port), timeout=30,
                                         source_address=(f"127.0.0.{2 + n % 12}", 0))
                for n in range(600)]
        stop = threading.Event()

        def trickle() -> None:
            while not stop.wait(2.0):
                for connection in slow:
                    with contextlib.suppress(OSError):
                        connection.sendall(b"X-Slow: 1\r\n")

        for connection in slow:
            connection.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\n")
        trickler = threading.Thread(target=trickle)
        trickler.start()
        try:
            started = time.monotonic()
            direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback
            with direct.open(f"{site.serve.url}/healthz", timeout=30) as answer:
                answer.read()
            print(f"slow connections: /healthz answered {answer.status} in"
                  f" {time.monotonic() - started:.3f} s with 600 slow connections open",
                  file=sys.stderr)
            deliver(trial, Redelivery())
        finally:
            stop.set()
            trickler.join()
            for connection in slow:
                connection.close()

    return run_scenario("600 slow connections", settings, trial_with_fault)


APPENDER = """
import os, random, sys, time
paths, stop = sys.argv[1:-1], sys.argv[-1]
count = 0
while not os.path.exists(stop):
    for _ in range(2):
        for number, path in enumerate(paths):
            fd = os.open(path, os.O_WRONLY | os.O_APPEND)  # as `echo >> f`
            os.write(fd, b"appended %d %d\\n" % (number, count))
            os.close(fd)
        count += 1
    time.sleep(random.uniform(0, 0.02))
print(count)
"""


def sync_racing_appends(settings: Settings) -> Row:
    """The probe's race: a person appends to 8 article files (reopening each time, as
    `>>`) while `sync` writes decisions into them, 40 syncs per trial. Counted in
    appends: each must be in its file exactly once; "out of order" counts files whose
    `published` line is not what the last decision says, unless sync reported a conflict."""
    from newsbot.bot.config.settings import Config
    from newsbot.bot.newsroom.decisions import decide
    from newsbot.bot.services.sync import sync_decisions
    from newsbot.storage.db import Store
    from newsbot.storage.index import refresh

    row = Row("sync racing appends")
    article = ("---\ntitle: \"A story\"\nquality: 50\nheat: 40\npublished: false\n---\n"
               + "A long body line, as a person's notes grow.\n" * 10_000)
    for _ in range(settings.trials):
        with tempfile.TemporaryDirectory(prefix="faults-sync-") as folder_name:
            folder = Path(folder_name) / "articles"
            folder.mkdir()
            paths = [folder / f"a{n}.md" for n in range(8)]
            for path in paths:
                path.write_text(article)
            db = Path(folder_name) / "newsbot.db"
            store, config = Store(db), Config(articles=folder, db=db)
            stop = Path(folder_name) / "stop"
            appender = subprocess.Popen([sys.executable, "-c", APPENDER, *map(str, paths),
                                         str(stop)], stdout=subprocess.PIPE, text=True)
            conflicts: set[str] = set()
            try:
                for number in range(40):
                    refresh(store, folder)
                    for path in paths:
                        decide(store, path.name, "undo" if number % 2 else "publish", "U1",
                               source="cli")
                    report = sync_decisions(store, config)
                    conflicts = {c["id"] for c in report.to_json()["conflicts"]}
            finally:
                stop.touch()
                appends = int(appender.communicate(timeout=60)[0])
            refresh(store, folder)
            for path in paths:  # the last decision (undo) written once more, at rest
                decide(store, path.name, "undo", "U1", source="cli")
            report = sync_decisions(store, config)
            conflicts = {c["id"] for c in report.to_json()["conflicts"]}
            for number, path in enumerate(paths):
                text = path.read_text()
                found = [int(line.split()[2]) for line in text.splitlines()
                         if line.startswith(f"appended {number} ")]
                row.add(Row(row.fault, 0, appends, len(set(found)), appends - len(set(found)),
                            len(found) - len(set(found)),
                            int("published: false\n" not in text and path.name not in conflicts)))
            row.trials += 1
    return row


TURN_KINDS = [("white_check_mark", None), (None, PUBLISH_ACTION), ("x", None), (None, SKIP_ACTION)]


def two_servers_redrawing(settings: Settings) -> Row:
    """Two `serve` processes on one database and one articles folder (a rolling deploy, a
    second replica). In each trial every digest message gets decisions in turn, each by a
    new editor (so each changes what the message shows) and answered before the next: a
    reaction or a click, on one server or the other, all messages at once. Counted as the
    other rows; besides, the chat.updates Slack applied are read back (printed): a change
    drawn twice (two updates in a row showing one decision) or a message that does not end
    on its last decision fails the run."""
    fault = "two servers redrawing"
    row, rng = Row(fault), random.Random(f"{settings.seed}:{fault}")
    turns = max(6, settings.editors // 5)
    draws = {"changes": 0, "updates": 0, "twice": 0, "stale": 0}
    with SlackLookalike() as slack, tempfile.TemporaryDirectory(prefix="faults-") as folder:
        site = start_site(slack, Path(folder))
        other, other_client = second_server(site)
        sites = [site, dataclasses.replace(site, serve=other, client=other_client)]
        stored = {m["ts"]: slack.workspace.message(CHANNEL, m["ts"]) for m in site.messages}
        try:
            for number in range(settings.trials):
                offsets = [rng.random() for _ in site.messages]
                with ThreadPoolExecutor(len(site.messages)) as pool:
                    turns_taken = list(pool.map(
                        lambda m, offset, number=number: decide_in_turn(
                            sites, stored, m, number, turns, offset),
                        site.messages, offsets))
                keys = {key for taken in turns_taken for key, _, _ in taken}
                expected = {(m["id"], user): kind
                            for m, taken in zip(site.messages, turns_taken, strict=True)
                            for _, user, kind in taken}
                row.add(count_keys(site, fault, keys, expected, {u for _, u in expected}))
                eventually(lambda: not queued_redraws(site), timeout=60)
                for message, taken in zip(site.messages, turns_taken, strict=True):
                    shown = slack.workspace.message(CHANNEL, message["ts"])["text"]
                    draws["stale"] += not shown.endswith(f" by {taken[-1][1]}")
                draws["changes"] += len(keys)
        finally:
            for serve in (site.serve, other):
                if serve.process is not None:
                    serve.stop()  # a clean stop draws what is left, then nothing more
        for message in site.messages:
            texts = drawn_texts(slack, message["ts"])
            draws["updates"] += len(texts)
            draws["twice"] += sum(a == b for a, b in itertools.pairwise(texts))
    print(f"{fault}: {draws['changes']} changes, {draws['updates']} chat.updates applied; "
          f"{draws['twice']} changes drawn twice, {draws['stale']} messages not ending on "
          "their last decision", file=sys.stderr)
    TWO_SERVER_DRAWS.update(draws)
    return row


TWO_SERVER_DRAWS: dict[str, int] = {}  # the last run's draw counts (main fails on any bad one)


def decide_in_turn(sites: list[FaultSite], stored: dict[str, dict], message: dict,
                   number: int, turns: int, offset: float) -> list[tuple[str, str, str]]:
    """`turns` decisions on one message, each by a new editor once the last was answered,
    alternating reactions and clicks and, shifted by `offset`, the two servers; returns
    (event key, editor, vote) in order."""
    taken = []
    for step in range(turns):
        site = sites[(step + int(offset * 2)) % len(sites)]
        emoji, action_id = TURN_KINDS[(step + int(offset * 4)) % len(TURN_KINDS)]
        user = f"UTWO{number:03d}{message['ts'][-4:]}S{step:02d}"
        if emoji:
            key = f"Ev{user}"
            send = site.reaction("added", user, message, f"{time.time():.6f}", key, emoji)
        else:
            moment = time.time()
            key = f"button:{user}:{message['ts']}:{moment:.6f}"
            send = click_sender(site, user, message, stored[message["ts"]], action_id, moment)
        Redelivery().deliver(key, send)
        taken.append((key, user, KIND[emoji] if emoji else
                      ("publish" if action_id == PUBLISH_ACTION else "skip")))
    return taken


def queued_redraws(site: FaultSite) -> int:
    with sqlite3.connect(f"file:{site.db}?mode=ro", uri=True) as connection:
        return connection.execute("SELECT count(*) FROM redraw_queue").fetchone()[0]


def alert_row(scenario: str, settings: Settings) -> Row:
    """An alert row of benchmarks/faults_alerts.py: `settings.editors` files per trial,
    counted in stories (sent: matching files; recorded: alert messages in Slack)."""
    import faults_alerts  # beside this file

    r = getattr(faults_alerts, scenario)(settings.trials, settings.editors, settings.seed)
    return Row(r["fault"], r["trials"], r["events sent"], r["events recorded"], r["lost"],
               r["duplicated"], r["out of order"])


def alert_stored_then_500(settings: Settings) -> Row:
    """30% of alert posts stored by Slack and still answered 500: read back, not doubled."""
    return alert_row("stored_then_500", settings)


def alert_killed_between_indexing_and_posting(settings: Settings) -> Row:
    """serve killed (-9) right after a trial's files are indexed, then started again."""
    return alert_row("killed_between_indexing_and_posting", settings)


def alert_two_serve_processes(settings: Settings) -> Row:
    """Two serve processes on one database and folder: each story alerted once."""
    return alert_row("two_serve_processes", settings)


SCENARIOS: list[Callable[[Settings], Row | list[Row]]] = [
    concurrent_order, held_database, read_only_database, corrupt_database, deleted_database,
    killed_with_spool, killed_mid_batch, full_disk, restore_from_replica,
    article_deleted_before_apply, skewed_clocks, ambiguous_posting, slow_connections,
    sync_racing_appends, two_servers_redrawing, alert_stored_then_500,
    alert_killed_between_indexing_and_posting, alert_two_serve_processes,
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
    if litestream_binary() is None:
        print("restore-from-replica scenario skipped: no litestream binary (pip install "
              "'newsbot[replica]')", file=sys.stderr)
        SCENARIOS.remove(restore_from_replica)
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
    return 1 if bad or TWO_SERVER_DRAWS.get("twice") or TWO_SERVER_DRAWS.get("stale") else 0


if __name__ == "__main__":
    sys.exit(main())
