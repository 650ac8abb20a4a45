"""Which process runs an interval job that must not run twice (the periodic sync), when
several `serve` processes share one database: a lease row per job, with its holder and
an expiry, taken by one statement that succeeds for one process only.

The holder renews it well before it expires; a holder that dies without letting go
(kill -9, a lost host) is taken over once its lease has expired. A clean stop lets go,
so the other process takes over at its next run.
"""

from __future__ import annotations

import time

from newsbot.storage.db import Store

_TAKE = (
    "INSERT INTO job_leases (job, holder, expires_at) VALUES (?, ?, ?)"
    " ON CONFLICT (job) DO UPDATE SET holder = excluded.holder,"
    " expires_at = excluded.expires_at"
    " WHERE job_leases.holder = excluded.holder OR job_leases.expires_at < ?"
)


def take_lease(store: Store, job: str, holder: str, seconds: float,
               now: float | None = None) -> bool:
    """True when `holder` holds the lease on `job` for the next `seconds`: it was free,
    expired, or already its own (then this renews it)."""
    now = time.time() if now is None else now
    with store.write() as db:
        return db.execute(_TAKE, [job, holder, now + seconds, now]).rowcount == 1


def renew_lease(store: Store, job: str, holder: str, seconds: float,
                now: float | None = None) -> bool:
    """Extend a lease `holder` still holds; never takes one (False then)."""
    now = time.time() if now is None else now
    with store.write() as db:
        return db.execute(
            "UPDATE job_leases SET expires_at = ? WHERE job = ? AND holder = ?"
            " AND expires_at >= ?", [now + seconds, job, holder, now]).rowcount == 1


def release_lease(store: Store, job: str, holder: str) -> None:
    with store.write() as db:
        db.execute("DELETE FROM job_leases WHERE job = ? AND holder = ?", [job, holder])


def lease_holder(store: Store, job: str) -> str | None:
    rows = store.query("SELECT holder FROM job_leases WHERE job = ?", [job])
    return rows[0]["holder"] if rows else None
