"""Editors' publish/skip decisions: recorded exactly once, undoable, fully audited.

Each editor holds at most one vote per article. The article's standing decision is the
latest vote still standing, so when an editor withdraws, an earlier colleague's vote
stands again. Every event goes into `decision_log`; an event that carries a key (Slack's
`event_id`) is recorded at most once, so Slack's retries and duplicates change nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from storage.db import Store

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
    standing: Decision | None  # the article's standing decision afterwards

    @property
    def changed(self) -> bool:
        return self.outcome in (RECORDED, RETRACTED)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


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
) -> Outcome:
    """Apply one editor's action to an article.

    - publish/skip casts (or changes) the user's vote; with `toggle`, repeating the
      user's current vote withdraws it instead (a second click on a button undoes);
    - undo withdraws the user's vote; with `only_if`, only a vote of that kind (removing
      the ✅ reaction must not withdraw a later ❌).

    UnknownArticle if no article has this id, UnusableArticle if its file is broken.
    """
    if action not in (PUBLISH, SKIP, UNDO):
        raise ValueError(f"unknown action {action!r}: use publish, skip or undo")
    with store.write() as db:
        row = db.execute("SELECT error FROM articles WHERE id = ?", [article_id]).fetchone()
        if row is None:
            raise UnknownArticle(f"no article with id {article_id!r}")
        if row[0] is not None:
            raise UnusableArticle(f"article {article_id!r} cannot be used: {row[0]}")
        now = _now()
        cursor = db.execute(
            "INSERT INTO decision_log (event_key, article_id, user_id, action, source, channel,"
            " message_ts, outcome, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, '', ?)"
            " ON CONFLICT (event_key) DO NOTHING",
            [event_key, article_id, user_id, action, source, channel, message_ts, now],
        )
        if cursor.rowcount == 0:
            return Outcome(DUPLICATE, standing_decision(store, article_id))
        seq = cursor.lastrowid
        current = db.execute(
            "SELECT decision FROM votes WHERE article_id = ? AND user_id = ?",
            [article_id, user_id],
        ).fetchone()
        current_kind = current[0] if current else None
        if action == UNDO or (toggle and action == current_kind):
            withdraw = current_kind is not None and (only_if is None or only_if == current_kind)
            if withdraw:
                db.execute(
                    "DELETE FROM votes WHERE article_id = ? AND user_id = ?", [article_id, user_id]
                )
            outcome = RETRACTED if withdraw else NO_OP
        else:
            db.execute(
                "INSERT INTO votes (article_id, user_id, decision, decided_at, seq, source,"
                " channel, message_ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (article_id, user_id) DO UPDATE SET decision = excluded.decision,"
                " decided_at = excluded.decided_at, seq = excluded.seq, source = excluded.source,"
                " channel = excluded.channel, message_ts = excluded.message_ts",
                [article_id, user_id, action, now, seq, source, channel, message_ts],
            )
            outcome = RECORDED
        db.execute("UPDATE decision_log SET outcome = ? WHERE id = ?", [outcome, seq])
        return Outcome(outcome, standing_decision(store, article_id))


_DECISION_COLUMNS = "article_id, decision, user_id, decided_at, source, channel, message_ts"


def standing_decision(store: Store, article_id: str) -> Decision | None:
    row = store.db.execute(
        f"SELECT {_DECISION_COLUMNS} FROM decisions WHERE article_id = ?", [article_id]
    ).fetchone()
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
