"""Digest runs: one row per (schedule, fire time), the key to posting each digest once.

Whoever inserts the row posts the digest; everyone else sees the row and stays quiet.
The row is written and committed before anything is posted, so a second process, a
restart or a retry never posts the same fire time again. A failed run can be claimed
once more (by one process) while its fire time is inside the grace window.

A process that dies while posting leaves its run 'running'. Once the claim is older
than STALE_RUN (longer than a digest's own claim lease) another process may take the run
over: the digest it resumes reads the channel back first, so what went out is adopted,
not posted again.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from dataclasses import dataclass

from newsbot.bot.newsroom.schedules import parse_utc_text, utc_text
from newsbot.storage.db import Store

STALE_RUN = dt.timedelta(minutes=15)
RUNNING = "running"
DONE = "done"
FAILED = "failed"
MISSED = "missed"


def process_name() -> str:
    """Who claimed a run: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


def fire_key(fire_time: dt.datetime) -> str:
    """A fire time as stored and compared: UTC to the second, `Z`."""
    if fire_time.tzinfo is None:
        raise ValueError("fire times must carry their time zone")
    return fire_time.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _bound(moment: dt.datetime) -> str:
    """A query bound comparable with fire keys: fire times are whole seconds, so rounding
    the bound up keeps `>=` and `<` exact."""
    if moment.microsecond:
        moment = moment.replace(microsecond=0) + dt.timedelta(seconds=1)
    return fire_key(moment)


@dataclass(frozen=True)
class Run:
    schedule_id: str
    fire_time: dt.datetime  # UTC
    status: str
    attempts: int
    claimed_by: str | None
    claimed_at: str | None
    finished_at: str | None
    error: str | None

    @classmethod
    def from_row(cls, row: dict) -> Run:
        return cls(row["schedule_id"], parse_utc_text(row["fire_time"]), row["status"],
                   row["attempts"], row["claimed_by"], row["claimed_at"], row["finished_at"],
                   row["error"])

    def stale(self, now: dt.datetime) -> bool:
        """Claimed so long ago that its poster must have died."""
        return (self.status == RUNNING and self.claimed_at is not None
                and parse_utc_text(self.claimed_at) < now - STALE_RUN)

    def to_json(self) -> dict:
        return {"schedule": self.schedule_id, "fireTime": fire_key(self.fire_time),
                "status": self.status, "attempts": self.attempts, "claimedBy": self.claimed_by,
                "finishedAt": self.finished_at, "error": self.error}


def claim_run(
    store: Store,
    schedule_id: str,
    fire_time: dt.datetime,
    *,
    owner: str | None = None,
    now: dt.datetime | None = None,
) -> bool:
    """Take the right to post this digest. True for exactly one caller per fire time.

    A new fire time is claimed by inserting its row; a failed or stale one by flipping
    it back to 'running' (a retry). Either statement succeeds for one process only.
    """
    owner = owner or process_name()
    stamp = utc_text(now)
    stale_before = utc_text((now or dt.datetime.now(dt.UTC)) - STALE_RUN)
    with store.write() as db:
        inserted = db.execute(
            "INSERT INTO schedule_runs (schedule_id, fire_time, status, attempts, claimed_by,"
            " claimed_at) VALUES (?, ?, 'running', 1, ?, ?)"
            " ON CONFLICT (schedule_id, fire_time) DO NOTHING",
            [schedule_id, fire_key(fire_time), owner, stamp],
        ).rowcount
        if inserted:
            return True
        retried = db.execute(
            "UPDATE schedule_runs SET status = 'running', attempts = attempts + 1,"
            " claimed_by = ?, claimed_at = ?, finished_at = NULL"
            " WHERE schedule_id = ? AND fire_time = ? AND (status = 'failed'"
            " OR (status = 'running' AND claimed_at < ?))",
            [owner, stamp, schedule_id, fire_key(fire_time), stale_before],
        ).rowcount
        return bool(retried)


def _finish(store: Store, schedule_id: str, fire_time: dt.datetime, status: str,
            error: str | None, now: dt.datetime | None) -> None:
    with store.write() as db:
        db.execute(
            "UPDATE schedule_runs SET status = ?, error = ?, finished_at = ?"
            " WHERE schedule_id = ? AND fire_time = ?",
            [status, error, utc_text(now), schedule_id, fire_key(fire_time)],
        )


def finish_run(store: Store, schedule_id: str, fire_time: dt.datetime,
               now: dt.datetime | None = None) -> None:
    """The digest went out."""
    _finish(store, schedule_id, fire_time, DONE, None, now)


def fail_run(store: Store, schedule_id: str, fire_time: dt.datetime, error: str,
             now: dt.datetime | None = None) -> None:
    """The digest did not go out; it may be claimed again within the grace window."""
    _finish(store, schedule_id, fire_time, FAILED, error[:2000], now)


def record_missed(store: Store, schedule_id: str, fire_time: dt.datetime, reason: str,
                  now: dt.datetime | None = None) -> bool:
    """Note a fire time that will not be posted; True if this call recorded it.

    A failed run becomes missed too (its retries are over); a run that was posted or is
    being posted is left alone.
    """
    stamp = utc_text(now)
    with store.write() as db:
        changed = db.execute(
            "INSERT INTO schedule_runs (schedule_id, fire_time, status, finished_at, error)"
            " VALUES (?, ?, 'missed', ?, ?)"
            " ON CONFLICT (schedule_id, fire_time) DO UPDATE SET status = 'missed',"
            " finished_at = excluded.finished_at,"
            " error = coalesce(schedule_runs.error || '; ', '') || excluded.error"
            " WHERE schedule_runs.status = 'failed'",
            [schedule_id, fire_key(fire_time), stamp, reason],
        ).rowcount
    return bool(changed)


def runs_since(store: Store, schedule_id: str, start: dt.datetime) -> dict[str, Run]:
    """The schedule's runs with fire times at or after `start`, by fire key."""
    rows = store.query(
        "SELECT * FROM schedule_runs WHERE schedule_id = ? AND fire_time >= ?"
        " ORDER BY fire_time",
        [schedule_id, _bound(start)],
    )
    return {row["fire_time"]: Run.from_row(row) for row in rows}


def latest_run_before(store: Store, schedule_id: str, before: dt.datetime) -> Run | None:
    """The schedule's last run (any status) with a fire time before `before`."""
    rows = store.query(
        "SELECT * FROM schedule_runs WHERE schedule_id = ? AND fire_time < ?"
        " ORDER BY fire_time DESC LIMIT 1",
        [schedule_id, _bound(before)],
    )
    return Run.from_row(rows[0]) if rows else None


def failed_runs_before(store: Store, schedule_id: str, before: dt.datetime) -> list[Run]:
    rows = store.query(
        "SELECT * FROM schedule_runs WHERE schedule_id = ? AND status = 'failed'"
        " AND fire_time < ? ORDER BY fire_time",
        [schedule_id, _bound(before)],
    )
    return [Run.from_row(row) for row in rows]


def recent_runs(store: Store, schedule_id: str | None = None, limit: int = 20) -> list[Run]:
    """Newest first, for `schedule list` and the logs."""
    where, params = ("WHERE schedule_id = ?", [schedule_id]) if schedule_id else ("", [])
    rows = store.query(
        f"SELECT * FROM schedule_runs {where} ORDER BY fire_time DESC LIMIT ?", [*params, limit]
    )
    return [Run.from_row(row) for row in rows]
