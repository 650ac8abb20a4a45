"""Sync, step two: the planned edits written, each recorded as pending in `sync_state`
before its file is replaced and confirmed after, so that a killed sync is finished by the
next one; a file that changed under us is planned again, up to MAX_ROUNDS.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from newsbot.bot.services.sync_plan import REVERT, Plan, Refused, State, plan_edit, resolve_article
from newsbot.storage.article_file import BrokenArticle
from newsbot.storage.atomic_file import (
    SETTLE_SECONDS,
    Displaced,
    Swap,
    finish,
    fsync_folder,
    read_bytes,
    remove_leftover,
    swap_in,
)
from newsbot.storage.db import Store
from newsbot.storage.front_matter_edit import PUBLISHED, SKIPPED, EditRefused, key_lines

MAX_ROUNDS = 3  # a file that keeps changing under us is retried this often, then a conflict
SWAPS_AT_ONCE = 256  # files swapped before one settle; each holds two descriptors till checked


def write_all(store: Store, plans: list[Plan], stamp: str) -> None:
    """Write every planned edit; a file that changed under us is planned again."""
    todo = [p for p in plans if p.after is not None]
    for _ in range(MAX_ROUNDS):
        if not todo:
            break
        raced = _write_round(store, todo, stamp)
        for plan in raced:
            _replan(store, plan)
        todo = [p for p in raced if p.after is not None]
    for plan in todo:  # still changing after every round
        plan.after = None
        plan.conflict = "the file kept changing while sync was writing it; try again"
    _forget_reverted(store, plans)


def _write_round(store: Store, todo: list[Plan], stamp: str) -> list[Plan]:
    """Record the writes as pending, replace the files, confirm. Returns those that raced."""
    with store.write(durable=True) as db:  # on disk before any file is replaced
        for plan in todo:
            _mark_pending(db, plan, stamp)
    done: list[Plan] = []
    raced: list[Plan] = []
    for start in range(0, len(todo), SWAPS_AT_ONCE):
        _swap_chunk(todo[start:start + SWAPS_AT_ONCE], done, raced)
    for folder in {plan.path.parent for plan in done if plan.path}:
        fsync_folder(folder)
    done_ids = {plan.id for plan in done}
    with store.write() as db:
        db.conn.executemany(_CONFIRM, [(plan.id,) for plan in done])
        db.conn.executemany(_ABANDON, [(p.id,) for p in todo if p.id not in done_ids])
    return raced


def _swap_chunk(chunk: list[Plan], done: list[Plan], raced: list[Plan]) -> None:
    """Swap each file in, wait one settle for writes already under way, then check each
    displaced file: a person's write that landed on it is given back and planned again."""
    swaps: list[tuple[Plan, Swap]] = []
    for plan in chunk:
        assert plan.path is not None and plan.after is not None
        try:
            swap = swap_in(plan.path, plan.before, plan.after, plan.mode, plan.owner)
        except OSError as error:
            plan.after = None
            plan.conflict = f"cannot write the file: {error.strerror or error}"
            continue
        if swap is None:
            raced.append(plan)
        else:
            swaps.append((plan, swap))
    if swaps:
        time.sleep(SETTLE_SECONDS)
    for plan, swap in swaps:
        try:
            (done if finish(swap) else raced).append(plan)
        except Displaced as displaced:
            plan.after = None
            plan.conflict = f"{displaced.strerror}; sync's edit was not made"
        except OSError as error:
            plan.after = None
            plan.conflict = f"cannot check the file after writing it: {error.strerror or error}"


_CONFIRM = (
    "UPDATE sync_state SET written_published = pending_published,"
    " written_skipped = pending_skipped, pending = 0, pending_published = NULL,"
    " pending_skipped = NULL WHERE article_id = ?"
)
_ABANDON = (
    "UPDATE sync_state SET pending = 0, pending_published = NULL, pending_skipped = NULL"
    " WHERE article_id = ?"
)


def _mark_pending(db: Any, plan: Plan, stamp: str) -> None:
    assert plan.wanted is not None and plan.current is not None
    wanted = plan.wanted
    if plan.state is None:
        decision = plan.decision
        assert decision is not None
        current = plan.current
        db.execute(
            "INSERT INTO sync_state (article_id, decision, decided_by, former_published,"
            " former_skipped, written_published, written_skipped, pending, pending_published,"
            " pending_skipped, written_at) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)",
            [plan.id, decision.decision, decision.user_id, current[PUBLISHED], current[SKIPPED],
             current[PUBLISHED], current[SKIPPED], wanted[PUBLISHED], wanted[SKIPPED], stamp],
        )
        return
    decision_sql, params = "", []
    if plan.decision is not None:
        decision_sql = "decision = ?, decided_by = ?, "
        params = [plan.decision.decision, plan.decision.user_id]
    db.execute(
        f"UPDATE sync_state SET {decision_sql}pending = 1, pending_published = ?,"
        " pending_skipped = ?, written_at = ? WHERE article_id = ?",
        [*params, wanted[PUBLISHED], wanted[SKIPPED], stamp, plan.id],
    )


def _replan(store: Store, plan: Plan) -> None:
    """Decide again from the file as it is now, and from the state row as it is now."""
    plan.after = plan.wanted = plan.current = None
    rows = store.query("SELECT * FROM sync_state WHERE article_id = ?", [plan.id])
    plan.state = State.from_row(rows[0]) if rows else None
    try:
        plan_edit(plan)
    except Refused as refused:
        plan.conflict = str(refused)


def _forget_reverted(store: Store, plans: list[Plan]) -> None:
    """A withdrawal that is done (written, or nothing of ours left) leaves no state behind."""
    finished = [(p.id,) for p in plans if p.action == REVERT and p.conflict is None]
    if finished:
        with store.write() as db:
            db.conn.executemany("DELETE FROM sync_state WHERE article_id = ?", finished)


def finish_interrupted(store: Store, real_root: Path) -> None:
    """Settle writes a killed sync left pending: the file tells whether the rename
    happened. Its leftover temporary file is removed; the original was never touched."""
    rows = store.query("SELECT * FROM sync_state WHERE pending = 1")
    if not rows:
        return
    promoted, dropped = [], []
    for row in rows:
        state = State.from_row(row)
        outcome = dropped
        try:
            path = resolve_article(real_root, row["article_id"])
            remove_leftover(path)
            data, _ = read_bytes(path)
            if key_lines(data) == state.pending:
                outcome = promoted
        except (Refused, OSError, BrokenArticle, EditRefused):
            pass
        outcome.append((row["article_id"],))
    with store.write() as db:
        db.conn.executemany(_CONFIRM, promoted)
        db.conn.executemany(_ABANDON, dropped)


def record_conflicts(store: Store, plans: list[Plan], stamp: str) -> None:
    """`sync_conflicts` holds the conflicts of the latest sync, each with when first seen."""
    conflicts = [(p.id, p.conflict, stamp, stamp) for p in plans if p.conflict]
    with store.write() as db:
        known = {row[0] for row in db.execute("SELECT article_id FROM sync_conflicts")}
        settled = [(i,) for i in known - {c[0] for c in conflicts}]
        db.conn.executemany("DELETE FROM sync_conflicts WHERE article_id = ?", settled)
        db.conn.executemany(
            "INSERT INTO sync_conflicts (article_id, reason, first_seen, last_seen)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (article_id) DO UPDATE SET"
            " reason = excluded.reason, last_seen = excluded.last_seen", conflicts)
