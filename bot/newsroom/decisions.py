"""Editors' publish/skip decisions: recorded exactly once, undoable, fully audited.

Each editor holds at most one vote per article. The article's standing decision is the
vote cast latest (in event time) still standing, so when an editor withdraws, an earlier
colleague's vote stands again. Every event goes into `decision_log`; an event that carries
a key (Slack's `event_id`) is recorded at most once, so Slack's retries and duplicates
change nothing.

Decisions follow event time, not processing order: Slack delivers a reaction_added and
its reaction_removed in either order, Bolt runs listeners concurrently, and a spooled
event is applied after later ones. So an editor's vote on an article is not updated in
place: it is the replay, in event-time order (Slack's event_ts or action_ts), of every
event that editor sent about that article. A removal recorded before its addition still
ends with no vote, and the undo rules (a removed reaction withdraws only a vote of its
kind, a second click on a button toggles) hold in event time.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
from dataclasses import dataclass
from typing import Literal

from newsbot.bot.newsroom.redraw_queue import queue_redraw
from newsbot.storage.db import Store

PUBLISH = "publish"
SKIP = "skip"
UNDO = "undo"
Kind = Literal["publish", "skip"]
Action = Literal["publish", "skip", "undo"]

# What an event did, as stored in decision_log.outcome
RECORDED = "recorded"  # a vote was cast or changed
RETRACTED = "retracted"  # a vote was withdrawn
NO_OP = "no-op"  # nothing to change (e.g. undo with no vote)
DUPLICATE = "duplicate"  # this event was seen before: nothing stored at all


class UnknownArticle(LookupError):
    """No indexed article has this id."""


class UnusableArticle(LookupError):
    """The article is indexed but its file is broken (articles.error): a decision on it
    could never be written back, so none is recorded."""


@dataclass(frozen=True)
class Decision:
    article_id: str
    decision: Kind
    user_id: str
    decided_at: str
    source: str
    channel: str | None
    message_ts: str | None

    def to_json(self) -> dict:
        return {
            "id": self.article_id, "decision": self.decision, "user": self.user_id,
            "decidedAt": self.decided_at, "source": self.source,
            "channel": self.channel, "messageTs": self.message_ts,
        }


@dataclass(frozen=True)
class Outcome:
    outcome: str  # RECORDED, RETRACTED, NO_OP or DUPLICATE
    standing: Decision | None  # the article's standing decision afterwards (if read)

    @property
    def changed(self) -> bool:
        return self.outcome in (RECORDED, RETRACTED)


def now_text() -> str:
    """Now as decision times are stored: ISO 8601 UTC, milliseconds, Z."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def now_us() -> int:
    """Now as an event time: microseconds since the epoch."""
    return time.time_ns() // 1000


def slack_ts_us(ts: str | None) -> int | None:
    """Slack's "1700000000.000100" as microseconds since the epoch (exactly: no float);
    None when it is missing or not a Slack timestamp."""
    seconds, _, fraction = (ts or "").partition(".")
    if not seconds.isdigit() or not (fraction == "" or fraction.isdigit()) or len(fraction) > 6:
        return None
    return int(seconds) * 1_000_000 + int(fraction.ljust(6, "0") or 0)


def us_iso(event_us: int) -> str:
    """An event time as ISO 8601 UTC with milliseconds and Z."""
    moment = dt.datetime.fromtimestamp(event_us / 1_000_000, dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def decide(
    store: Store,
    article_id: str,
    action: Action,
    user_id: str,
    *,
    source: str,
    event_key: str | None = None,
    channel: str | None = None,
    message_ts: str | None = None,
    only_if: Kind | None = None,
    toggle: bool = False,
    event_us: int | None = None,
    after_recorded: bool = False,
    received_at: str | None = None,
    wait_ms: int | None = None,
    read_standing: bool = True,
) -> Outcome:
    """Apply one editor's action to an article, at its event time.

    - publish/skip casts (or changes) the user's vote; with `toggle`, repeating the
      user's vote standing just before (in event time) withdraws it instead (a second
      click on a button undoes);
    - undo withdraws the user's vote; with `only_if`, only a vote of that kind (removing
      the ✅ reaction must not withdraw a later ❌).

    `event_us` is the event time; without one (the command line: this machine's clock) it
    is now. Such an event, and one made `after_recorded` (a click: its action_ts comes
    from another clock than the reactions' event_ts), is ordered after every event from
    another source recorded for the article before it arrived (`received_at`, this
    machine's clock): an undo given after a reaction wins even when the clocks disagree
    by seconds, while events of one source (one clock) keep their own order, however
    Slack delivers them. `received_at` is when it arrived (default: now), `wait_ms` how long to wait
    for another writer (default: the store's timeout). Without `read_standing` the outcome's
    `standing` is not read (None): the decision path of a listener, which never shows it,
    saves a query per event.
    UnknownArticle if no article has this id, UnusableArticle if its file is broken.
    """
    if action not in (PUBLISH, SKIP, UNDO):
        raise ValueError(f"unknown action {action!r}: use publish, skip or undo")
    now = now_text()
    with store.write(wait_ms, durable=True) as db:  # acknowledged means on disk
        # sqlite3 itself: inside a transaction sqlite_utils' execute adds only its checks
        # for an implicit one, and this runs for every event Slack sends
        conn = db.conn
        # the article's state and the editor's vote before this event, in one statement
        row = conn.execute(
            "SELECT a.error, v.decision, v.seq FROM articles a LEFT JOIN votes v"
            " ON v.article_id = a.id AND v.user_id = ? WHERE a.id = ?",
            [user_id, article_id]).fetchone()
        if row is None:
            raise UnknownArticle(f"no article with id {article_id!r}")
        if row[0] is not None:
            raise UnusableArticle(f"article {article_id!r} cannot be used: {row[0]}")
        before = (row[1], row[2]) if row[1] is not None else None
        if event_us is None or after_recorded:
            latest = conn.execute(
                "SELECT max(event_us) FROM decision_log WHERE article_id = ?"
                " AND received_at <= ? AND source != ?",
                [article_id, received_at or now, source]).fetchone()[0]
            event_us = max(event_us or now_us(), (latest or 0) + 1)
        # The vote after this event, replayed before the event is logged so that its log
        # row is written once, with its outcome.
        vote = _replay(conn, article_id, user_id, (action, only_if, toggle, event_us))
        unchanged = ((vote[0], vote[1]) if vote else None) == before
        outcome = NO_OP if unchanged else RECORDED if vote else RETRACTED
        cursor = conn.execute(
            "INSERT INTO decision_log (event_key, article_id, user_id, action, source, channel,"
            " message_ts, outcome, created_at, event_us, received_at, only_if, toggle)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_key) DO NOTHING",
            [event_key, article_id, user_id, action, source, channel, message_ts, outcome, now,
             event_us, received_at or now, only_if, int(toggle)],
        )
        if cursor.rowcount == 0:  # a redelivery: redraw again, which repairs a failed redraw
            queue_redraw(store, article_id)
            outcome = DUPLICATE
        elif outcome == NO_OP:  # the vote as it was: nothing to write, nothing to redraw
            pass
        elif vote is None:
            conn.execute("DELETE FROM votes WHERE article_id = ? AND user_id = ?",
                       [article_id, user_id])
        else:
            conn.execute(
                "INSERT INTO votes (article_id, user_id, decision, decided_at, seq, source,"
                " channel, message_ts, event_us) SELECT article_id, user_id, ?, ?, id, source,"
                " channel, message_ts, event_us FROM decision_log WHERE id = ?"
                " ON CONFLICT (article_id, user_id) DO UPDATE SET decision = excluded.decision,"
                " decided_at = excluded.decided_at, seq = excluded.seq, source = excluded.source,"
                " channel = excluded.channel, message_ts = excluded.message_ts,"
                " event_us = excluded.event_us",
                [vote[0], us_iso(vote[2]), cursor.lastrowid if vote[1] is None else vote[1]],
            )
        return Outcome(outcome, standing_decision(store, article_id) if read_standing else None)


def _replay(conn: sqlite3.Connection, article_id: str, user_id: str,
            new: tuple[str, str | None, bool, int]) -> tuple[str, int | None, int] | None:
    """The user's vote on the article after all their logged events and the `new` one
    (action, only_if, toggle, event time), in event-time order: (decision, id of the log
    row that cast it, None for the new event, its event time), or None. Events of one
    time keep the order they were logged in; the new one, logged next, comes last."""
    vote: tuple[str, int | None, int] | None = None
    rows = conn.execute(
        "SELECT id, action, only_if, toggle, event_us FROM decision_log"
        " WHERE article_id = ? AND user_id = ? ORDER BY event_us, id",
        [article_id, user_id],
    ).fetchall()
    new_action, new_only_if, new_toggle, new_us = new
    at = next((n for n, row in enumerate(rows) if row[4] is not None and row[4] > new_us),
              len(rows))
    rows.insert(at, (None, new_action, new_only_if, new_toggle, new_us))
    for log_id, action, only_if, toggle, event_us in rows:
        current = vote[0] if vote else None
        if action == UNDO:
            if only_if is None or only_if == current:
                vote = None
        elif toggle and action == current:
            vote = None
        else:
            vote = (action, log_id, event_us)
    return vote


_DECISION_COLUMNS = "article_id, decision, user_id, decided_at, source, channel, message_ts"


def standing_decision(store: Store, article_id: str) -> Decision | None:
    """The article's standing decision: what the view `decisions` says for it, read the
    cheap way (every decide and redraw asks; the view ranks all the article's votes)."""
    row = store.db.execute(
        "SELECT article_id, decision, user_id, decided_at, source, channel, message_ts"
        " FROM votes WHERE article_id = ? ORDER BY event_us DESC, seq DESC LIMIT 1",
        [article_id]).fetchone()
    return Decision(*row) if row else None


def standing_decisions(store: Store) -> list[Decision]:
    """Every article's standing decision, most recent first."""
    rows = store.db.execute(
        f"SELECT {_DECISION_COLUMNS} FROM decisions ORDER BY decided_at DESC, article_id"
    )
    return [Decision(*row) for row in rows]


def user_vote(store: Store, article_id: str, user_id: str) -> Kind | None:
    """The vote this editor holds on the article, if any."""
    row = store.db.execute(
        "SELECT decision FROM votes WHERE article_id = ? AND user_id = ?", [article_id, user_id]
    ).fetchone()
    return row[0] if row else None


def written_at(store: Store, decision: Decision) -> str | None:
    """When `newsbot sync` wrote this standing decision into the article's file, or None
    while the file does not show it yet."""
    row = store.db.execute(
        "SELECT written_at FROM sync_state WHERE article_id = ? AND decision = ?"
        " AND pending = 0", [decision.article_id, decision.decision],
    ).fetchone()
    return row[0] if row else None


def standing_decisions_of(store: Store, article_ids: list[str]) -> dict[str, Decision]:
    """The standing decision of each of these articles that has one."""
    if not article_ids:
        return {}
    marks = ", ".join("?" * len(article_ids))
    rows = store.db.execute(
        f"SELECT {_DECISION_COLUMNS} FROM decisions WHERE article_id IN ({marks})", article_ids
    )
    return {row[0]: Decision(*row) for row in rows}


# What became of an event, for people (App Home, `newsbot decisions --log`)
STANDS = "recorded"  # the vote stands and is the article's decision (not in the file yet)
WRITTEN = "written to file"  # the standing decision, and `newsbot sync` wrote it
WITHDRAWN = "withdrawn"  # an undo, or a vote its editor withdrew later
SUPERSEDED = "superseded"  # replaced by a later vote (the editor's own or a colleague's)


def decision_history(store: Store, limit: int = 20) -> list[dict]:
    """The audit log, newest first, each event with `status`: what it amounts to now
    (recorded, written to file, withdrawn, superseded) rather than the raw action."""
    rows = store.query(
        "SELECT l.id, l.article_id, a.title, l.user_id, l.action, l.source, l.outcome,"
        " l.created_at, v.seq AS vote_seq, d.user_id AS standing_user,"
        " s.decision AS file_decision, s.pending AS file_pending"
        " FROM decision_log l LEFT JOIN articles a ON a.id = l.article_id"
        " LEFT JOIN votes v ON v.article_id = l.article_id AND v.user_id = l.user_id"
        " LEFT JOIN decisions d ON d.article_id = l.article_id"
        " LEFT JOIN sync_state s ON s.article_id = l.article_id"
        " WHERE l.outcome IN (?, ?) ORDER BY l.id DESC LIMIT ?",
        [RECORDED, RETRACTED, limit],
    )
    later = {  # per (article, user): is a later event of theirs an undo?
        (r["article_id"], r["user_id"]): r for r in store.query(
            "SELECT article_id, user_id, action FROM decision_log WHERE id IN ("
            " SELECT max(id) FROM decision_log WHERE outcome IN (?, ?)"
            " GROUP BY article_id, user_id)", [RECORDED, RETRACTED])
    }
    for row in rows:
        row["status"] = _status(row, later.get((row["article_id"], row["user_id"])))
        for key in ("vote_seq", "standing_user", "file_decision", "file_pending"):
            del row[key]
    return rows


def _status(row: dict, last_of_user: dict | None) -> str:
    if row["outcome"] == RETRACTED:
        return WITHDRAWN
    if row["vote_seq"] != row["id"]:  # the editor acted on this article again since
        return WITHDRAWN if last_of_user and last_of_user["action"] == UNDO else SUPERSEDED
    if row["standing_user"] != row["user_id"]:
        return SUPERSEDED
    if row["file_decision"] == row["action"] and row["file_pending"] == 0:
        return WRITTEN
    return STANDS
