"""Group commit: events queued together are recorded in one durable transaction, each
listener is answered only after that commit, and one event refused does not fail the
others (bot/services/intake.py)."""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import REPO_ROOT, clean_env, write_article
from newsbot.bot.newsroom.decisions import DUPLICATE, RECORDED, UnknownArticle
from newsbot.bot.services.intake import SPOOLED, DecisionEvent, Intake, record_together
from newsbot.bot.services.spool_apply import apply_spool
from newsbot.storage.db import Store
from newsbot.storage.index import refresh
from newsbot.storage.spool import Spool

T0 = 1_700_000_000_000_000


def event(key: str, action: str = "publish", user: str = "U1", n: int = 0,
          article: str = "a.md", **extra) -> DecisionEvent:
    return DecisionEvent(key=key, action=action, user_id=user, source="reaction",
                         event_us=T0 + n, received_at="2026-01-01T00:00:00.000Z",
                         article_id=article, **extra)


@pytest.fixture
def indexed(store: Store, articles: Path) -> Store:
    write_article(articles, "a.md")
    write_article(articles, "b.md")
    refresh(store, articles)
    return store


# Another connection holds the write lock; the writer takes a first event and waits for
# the lock, and nineteen more listeners queue theirs behind it. Once the lock is released
# each listener checks, from a connection of its own, that its decision is committed by
# the time it is answered.
QUEUED = 20
SCRIPT = """
import sqlite3, sys, threading, time
from newsbot.bot.services.intake import DecisionEvent, Intake
from newsbot.storage.db import Store
from newsbot.storage.spool import Spool
store = Store(sys.argv[1])
intake = Intake(store, Spool(sys.argv[1] + ".spool"), wait_ms=30_000)
count = int(sys.argv[2])
holder = sqlite3.connect(sys.argv[1], isolation_level=None)
holder.execute("BEGIN IMMEDIATE")
print("ready", flush=True)
sys.stdin.readline()  # strace counts from here on
answers = {}
def listener(n):
    taken = intake.take(DecisionEvent(
        key=f"Ev{n}", action="publish" if n % 2 else "skip", user_id=f"U{n}",
        source="reaction", event_us=1_700_000_000_000_000 + n, received_at="x",
        article_id="a.md"))
    reader = sqlite3.connect(sys.argv[1])
    seen = reader.execute("SELECT count(*) FROM decision_log WHERE event_key = ?",
                          [f"Ev{n}"]).fetchone()[0]
    answers[n] = (taken[1].outcome, seen)
threads = [threading.Thread(target=listener, args=(n,)) for n in range(count)]
threads[0].start()
def wait_for(condition):
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, "the listeners did not queue"
        time.sleep(0.01)
# it is queued before the pass is asked for: a pass asked for and an empty queue mean
# the writer took it, and waits for the lock
wait_for(lambda: intake.writing() and not intake._queued)
for thread in threads[1:]:
    thread.start()
wait_for(lambda: len(intake._queued) == count - 1)  # the others, queued behind it
holder.execute("ROLLBACK")
for thread in threads:
    thread.join()
assert sorted(answers) == list(range(count)), answers
assert all(answer == ("recorded", 1) for answer in answers.values()), answers
intake.close(5)
print("done", flush=True)
"""


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace (.ci/run installs it)")
def test_queued_events_share_one_fsync_and_each_is_answered_once_committed(
        indexed: Store, tmp_path: Path):
    log = tmp_path / "strace.log"
    process = subprocess.Popen(
        ["strace", "-f", "-qq", "-e", "trace=fsync,fdatasync", "-o", str(log),
         sys.executable, "-c", SCRIPT, str(indexed.path), str(QUEUED)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT,
        env=clean_env())
    assert process.stdout.readline().strip() == "ready"
    before = len(re.findall(r"\b(fsync|fdatasync)\(", log.read_text()))
    out, _ = process.communicate("go\n", timeout=120)
    assert process.returncode == 0 and out.strip() == "done"
    syncs = len(re.findall(r"\b(fsync|fdatasync)\(", log.read_text())) - before
    # the first event's transaction, then one for the nineteen queued behind it (one
    # each would be twenty); a WAL checkpoint may add a few
    assert 1 <= syncs <= 6, syncs
    assert len(indexed.query("SELECT * FROM decision_log")) == QUEUED


def test_an_event_refused_alone_does_not_fail_the_others(indexed: Store):
    answers = record_together(indexed, [
        event("Ev1", n=1), event("Ev2", n=2, article="gone.md"), event("Ev3", "skip", "U2", 3),
    ])
    assert answers[0][1].outcome == RECORDED
    assert isinstance(answers[1], UnknownArticle)
    assert answers[2][1].outcome == RECORDED
    assert [r["event_key"] for r in indexed.query(
        "SELECT event_key FROM decision_log ORDER BY id")] == ["Ev1", "Ev3"]


def test_an_event_the_database_refuses_fails_alone_and_the_others_are_recorded(
        indexed: Store):
    # decision_log.user_id is NOT NULL: this event's INSERT fails inside the shared
    # transaction, which rolls back; every event is then recorded on its own
    broken = event("Ev2", n=2, user=None)  # type: ignore[arg-type]
    answers = record_together(indexed, [event("Ev1", n=1), broken, event("Ev3", "skip", "U2", 3)])
    assert answers[0][1].outcome == RECORDED
    assert isinstance(answers[1], sqlite3.IntegrityError)
    assert answers[2][1].outcome == RECORDED
    assert len(indexed.query("SELECT * FROM decision_log")) == 2


def test_a_batch_records_in_event_time_and_exactly_once(indexed: Store):
    # delivered newest first, with Slack's retry of the first in the same batch
    answers = record_together(indexed, [
        event("Ev3", "publish", n=3), event("Ev2", "undo", n=2, only_if="skip"),
        event("Ev1", "skip", n=1), event("Ev3", "publish", n=3),
    ])
    outcomes = [answer[1].outcome for answer in answers]
    assert sorted(outcomes[:3]) == ["recorded", "recorded", "retracted"]
    assert outcomes[3] == DUPLICATE
    rows = indexed.query("SELECT event_key FROM decision_log ORDER BY id")
    assert [r["event_key"] for r in rows] == ["Ev1", "Ev2", "Ev3"]  # in event time
    assert indexed.query("SELECT decision FROM votes") == [{"decision": "publish"}]


def test_a_batch_that_cannot_begin_fails_every_event_and_records_none(indexed: Store):
    holder = sqlite3.connect(indexed.path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        answers = record_together(indexed, [event("Ev1", n=1), event("Ev2", n=2)], wait_ms=50)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert all(isinstance(answer, sqlite3.OperationalError) for answer in answers)
    assert indexed.query("SELECT * FROM decision_log") == []


def test_the_busy_timeout_is_set_once_not_per_transaction(indexed: Store):
    statements: list[str] = []
    indexed.db.conn.set_trace_callback(statements.append)
    for n in range(5):
        record_together(indexed, [event(f"Ev{n}", n=n)], wait_ms=1_500)
    indexed.db.conn.set_trace_callback(None)
    assert sum("busy_timeout" in s for s in statements) == 1
    assert sum(s.startswith("BEGIN IMMEDIATE") for s in statements) == 5


def test_events_taken_one_after_another_are_each_recorded(indexed: Store, tmp_path: Path):
    """A listener asks for a pass only when none is waiting to begin: each event still
    finds one, whether it comes while a pass runs or after it ended."""
    intake = Intake(indexed, Spool(tmp_path / "spool"), wait_ms=5_000)
    try:
        for n in range(5):
            taken = intake.take(event(f"Ev{n}", "publish" if n % 2 else "skip", n=n))
            assert taken is not None and taken[1].outcome == RECORDED
    finally:
        intake.close(5)
    assert Spool(tmp_path / "spool").pending() == []


def test_listeners_taking_at_once_are_each_answered_and_none_waits_for_nothing(
        indexed: Store, tmp_path: Path):
    """Eight listeners take events at once, each as soon as its last was answered: every
    event finds a pass that records it (none is left waiting until its time-out, which
    would spool it) and none is recorded twice."""
    intake = Intake(indexed, Spool(tmp_path / "spool"), wait_ms=2_000)
    threads, per_thread = 8, 40
    outcomes: list[str] = []

    def listener(t: int) -> None:
        for n in range(per_thread):
            key = t * per_thread + n
            taken = intake.take(event(f"Ev{key}", "publish" if n % 2 else "skip",
                                      f"U{t}", n=key, article="ab"[n % 2] + ".md"))
            outcomes.append(taken[1].outcome)

    pool = [threading.Thread(target=listener, args=(t,)) for t in range(threads)]
    try:
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join(60)
        assert not any(thread.is_alive() for thread in pool)
    finally:
        assert intake.close(5)
    assert outcomes.count(RECORDED) == threads * per_thread, set(outcomes)
    assert Spool(tmp_path / "spool").pending() == []
    assert indexed.query("SELECT count(DISTINCT event_key) AS n FROM decision_log") == [
        {"n": threads * per_thread}]


def test_events_taken_after_close_go_to_the_spool_at_once(indexed: Store, tmp_path: Path,
                                                          caplog: pytest.LogCaptureFixture):
    """Once the writer thread has ended, nothing would record a queued event: it is
    spooled straight away (the next start applies the spool), not after the wait."""
    spool = Spool(tmp_path / "spool")
    intake = Intake(indexed, spool, wait_ms=5_000)
    assert intake.take(event("Ev1", n=1))[1].outcome == RECORDED
    assert intake.close(5)
    with caplog.at_level("WARNING"):
        assert intake.take(event("Ev2", "skip", n=2))[1].outcome == SPOOLED
    assert [r.reason for r in caplog.records if hasattr(r, "reason")] == [
        "newsbot is stopping"]
    assert [entry["key"] for entry in spool.pending()] == ["Ev2"]
    assert apply_spool(indexed, spool) == 1
    assert [r["event_key"] for r in indexed.query(
        "SELECT event_key FROM decision_log ORDER BY id")] == ["Ev1", "Ev2"]


def test_a_batch_failing_for_a_bug_leaves_the_events_behind_it_to_the_same_pass(
        indexed: Store, tmp_path: Path):
    """A batch that fails for a bug of ours (here a listener hands over something that is
    not an event) answers each of its listeners with the error, and the writer goes on:
    the events queued behind it are recorded, not left to their time-out and the spool."""
    intake = Intake(indexed, Spool(tmp_path / "spool"), wait_ms=20_000)
    holder = sqlite3.connect(indexed.path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # the writer's first batch waits for it
    answers: dict[int, str] = {}

    def listener(n: int, item: object) -> None:
        try:
            answers[n] = intake.take(item)[1].outcome
        except Exception as error:  # noqa: BLE001 - the answer under test
            answers[n] = type(error).__name__

    def queued(count: int) -> None:
        deadline = time.monotonic() + 30
        while len(intake._queued) != count:
            assert time.monotonic() < deadline, "the listeners did not queue"
            time.sleep(0.005)

    behind = Intake.MAX_BATCH + 20
    threads = [threading.Thread(target=listener, args=(0, event("Ev0")))]
    threads[0].start()
    deadline = time.monotonic() + 30
    while not (intake.writing() and not intake._queued):  # the writer holds Ev0
        assert time.monotonic() < deadline
        time.sleep(0.005)
    threads.append(threading.Thread(target=listener, args=(1, "not an event")))
    threads[1].start()
    queued(1)  # first in the next batch
    for n in range(2, behind + 1):
        threads.append(threading.Thread(target=listener, args=(n, event(
            f"Ev{n}", "publish" if n % 2 else "skip", f"U{n}", n=n))))
        threads[-1].start()
    queued(behind)
    holder.execute("ROLLBACK")
    for thread in threads:
        thread.join(60)
    assert intake.close(5)
    outcomes = list(answers.values())
    assert outcomes.count("AttributeError") == Intake.MAX_BATCH  # the batch with it
    assert outcomes.count(RECORDED) == 1 + behind - Intake.MAX_BATCH, set(outcomes)
    assert Spool(tmp_path / "spool").pending() == []


def test_close_says_when_the_writer_is_still_busy(indexed: Store, tmp_path: Path):
    """`close` waits for the event being written up to its bound, and says False past it
    (the runtime logs it); the event is still recorded once the database lets it."""
    intake = Intake(indexed, Spool(tmp_path / "spool"), wait_ms=20_000)
    holder = sqlite3.connect(indexed.path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    answers: list[str] = []
    listener = threading.Thread(target=lambda: answers.append(
        intake.take(event("Ev1"))[1].outcome))
    listener.start()
    deadline = time.monotonic() + 30
    while not (intake.writing() and not intake._queued):
        assert time.monotonic() < deadline
        time.sleep(0.005)
    assert intake.close(0.2) is False
    holder.execute("ROLLBACK")
    listener.join(30)
    assert answers == [RECORDED]
    assert intake.close(5) is True
