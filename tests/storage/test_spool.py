"""The spool, the database's own fault detection, and recording or spooling decisions."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from conftest import write_article
from newsbot.bot.newsroom.decisions import standing_decision
from newsbot.bot.services.intake import SPOOLED, DecisionEvent, Intake
from newsbot.bot.services.spool_apply import apply_spool
from newsbot.storage.db import DatabaseReplaced, Store
from newsbot.storage.index import refresh
from newsbot.storage.spool import Spool

T0 = 1_700_000_000_000_000


def event(key: str, action: str = "publish", user: str = "U1", n: int = 0,
          **extra) -> DecisionEvent:
    return DecisionEvent(key=key, action=action, user_id=user, source="reaction",
                         event_us=T0 + n, received_at="2026-01-01T00:00:00.000Z",
                         article_id="a.md", **extra)


@pytest.fixture
def indexed(store, articles):
    write_article(articles, "a.md")
    refresh(store, articles)
    return store


@pytest.fixture
def spool(tmp_path: Path) -> Spool:
    return Spool(tmp_path / "index.db.spool")


# --- the spool file


def test_appended_records_survive_a_new_instance_in_order(spool: Spool, tmp_path: Path):
    assert spool.append({"key": "a", "n": 1}) and spool.append({"key": "b", "n": 2})
    again = Spool(tmp_path / "index.db.spool")
    assert [r["key"] for r in again.pending()] == ["a", "b"]
    assert again.depth() == 2


def test_a_key_is_spooled_once(spool: Spool):
    assert spool.append({"key": "a"}) is True
    assert spool.append({"key": "a"}) is False
    assert spool.depth() == 1


def test_a_torn_record_is_skipped_and_the_next_one_is_whole(spool: Spool):
    spool.append({"key": "a"})
    with open(spool.path, "ab") as file:
        file.write(b'{"key":"torn","x":')  # a crash in the middle of a write
    spool.append({"key": "b"})
    assert [r["key"] for r in spool.pending()] == ["a", "b"]


def test_remove_keeps_records_appended_meanwhile(spool: Spool):
    for key in "abc":
        spool.append({"key": key})
    seen = spool.pending()
    spool.append({"key": "d"})  # arrives while a, b, c are being applied
    spool.remove(r["key"] for r in seen)
    assert [r["key"] for r in spool.pending()] == ["d"]


def test_concurrent_appends_from_threads_are_all_kept(spool: Spool):
    threads = [threading.Thread(target=spool.append, args=({"key": f"k{n}"},))
               for n in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r["key"] for r in spool.pending()) == sorted(f"k{n}" for n in range(40))


def test_depth_and_age_of_the_oldest_record(spool: Spool):
    assert (spool.depth(), spool.oldest_age_seconds()) == (0, None)
    spool.append({"key": "a", "spooled_at": 1_000.0})
    spool.append({"key": "b", "spooled_at": 2_000.0})
    assert spool.depth() == 2
    expected = time.time() - 1_000.0  # counted from the first record, not the second
    assert abs(spool.oldest_age_seconds() - expected) < 60


# --- the database file: never recreated, a replaced file detected


def test_a_deleted_database_is_not_recreated_and_writes_fail(indexed: Store):
    indexed.path.unlink()
    with pytest.raises(DatabaseReplaced, match="deleted or replaced"), indexed.write() as db:
        db.execute("DELETE FROM articles")
    failed: list[BaseException] = []

    def new_thread_reads() -> None:
        try:
            indexed.db.execute("SELECT count(*) FROM articles").fetchone()
        except sqlite3.Error as error:
            failed.append(error)

    thread = threading.Thread(target=new_thread_reads)
    thread.start()
    thread.join()
    assert failed and not indexed.path.exists()


def test_a_replaced_database_file_is_detected(indexed: Store, tmp_path: Path):
    copy = tmp_path / "copy.db"
    copy.write_bytes(indexed.path.read_bytes())
    os.replace(copy, indexed.path)
    with pytest.raises(DatabaseReplaced), indexed.write():
        pass


# --- recording, or spooling when the database cannot take it


def hold_exclusive(path: Path) -> sqlite3.Connection:
    """Another connection (as another process would) holding the write lock."""
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    return holder


def test_a_locked_database_spools_and_the_spool_applies_exactly_once(indexed: Store,
                                                                    spool: Spool):
    intake = Intake(indexed, spool, wait_ms=50)
    holder = hold_exclusive(indexed.path)
    taken = [intake.take(event("Ev1", "skip", n=1)),
             intake.take(event("Ev2", "undo", n=2, only_if="skip")),
             intake.take(event("Ev2", "undo", n=2, only_if="skip")),  # Slack's retry
             intake.take(event("Ev3", "publish", n=3))]
    assert [t[1].outcome for t in taken] == [SPOOLED] * 4
    assert spool.depth() == 3
    assert apply_spool(indexed, spool, wait_ms=50) == 0  # still locked: nothing lost
    assert spool.depth() == 3
    holder.execute("ROLLBACK")
    holder.close()
    assert apply_spool(indexed, spool) == 3
    assert spool.depth() == 0
    rows = indexed.query("SELECT event_key, outcome FROM decision_log ORDER BY id")
    assert [r["event_key"] for r in rows] == ["Ev1", "Ev2", "Ev3"]
    assert standing_decision(indexed, "a.md").decision == "publish"
    for entry in ("Ev1", "Ev2"):  # a crash after recording, before the spool was emptied
        spool.append({**event(entry).to_json(), "spooled_at": 0})
    assert apply_spool(indexed, spool) == 2
    assert len(indexed.query("SELECT * FROM decision_log")) == 3


def test_when_neither_database_nor_spool_can_keep_it_take_raises(indexed: Store,
                                                                 spool: Spool):
    spool.path.unlink()
    spool.path.mkdir()  # the spool cannot be written any more
    intake = Intake(indexed, spool, wait_ms=50)
    holder = hold_exclusive(indexed.path)
    try:
        with pytest.raises(OSError):
            intake.take(event("Ev1"))
    finally:
        holder.execute("ROLLBACK")
    assert indexed.query("SELECT * FROM decision_log") == []


def test_spooled_button_clicks_toggle_in_action_time_when_applied(indexed: Store,
                                                                   spool: Spool):
    intake = Intake(indexed, spool, wait_ms=50)
    holder = hold_exclusive(indexed.path)
    # in action time: Publish, Skip (changes the vote), Skip again (withdraws it);
    # spooled (and applied) in another order, which alone would leave a skip standing
    clicks = {1: "publish", 2: "skip", 3: "skip"}
    for n in (3, 1, 2):
        click = DecisionEvent(key=f"button:U1:1.0:{n}", action=clicks[n], user_id="U1",
                              source="button", event_us=T0 + n, received_at="x",
                              article_id="a.md", toggle=True)
        assert intake.take(click)[1].outcome == SPOOLED
    holder.execute("ROLLBACK")
    assert apply_spool(indexed, spool) == 3
    assert standing_decision(indexed, "a.md") is None
    assert len(indexed.query("SELECT * FROM decision_log WHERE source = 'button'")) == 3


def test_after_a_failure_events_go_straight_to_the_spool_for_a_while(indexed: Store,
                                                                     spool: Spool):
    intake = Intake(indexed, spool, wait_ms=50)
    intake.RETRY_SECONDS = 3600  # the window, made long enough to observe
    holder = hold_exclusive(indexed.path)
    assert intake.take(event("Ev1", n=1))[1].outcome == SPOOLED  # tried and failed
    holder.execute("ROLLBACK")
    assert intake.take(event("Ev2", n=2))[1].outcome == SPOOLED  # not tried: still spooled
    assert indexed.query("SELECT * FROM decision_log") == []
    assert apply_spool(indexed, spool) == 2  # the periodic apply catches up
    intake.RETRY_SECONDS = 0
    intake._down_until = 0.0
    article_id, outcome = intake.take(event("Ev3", "skip", n=3))
    assert (article_id, outcome.outcome) == ("a.md", "recorded")
