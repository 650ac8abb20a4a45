"""Spooled decisions that could not be applied: kept with the reason, reported once.

A decision Slack saw acknowledged while the database was down waits in the spool; when it
is applied its article may be gone (renamed, deleted) or broken, or its author may no
longer be an editor. Dropping it would break the promise the acknowledgement made, so it
is kept in `rejected_decisions` and its author is told privately (handlers/posting/
rejection_reports.py). The report is at most once: a row is claimed ('sending') before
Slack is called; a call Slack surely did not act on puts it back ('pending', later), one
whose effect is unknown leaves it 'unsure', and never sends it again.
"""

from __future__ import annotations

import datetime as dt
import json

from newsbot.bot.newsroom.decisions import now_text
from newsbot.storage.db import Store

ARTICLE_GONE = "article gone"
ARTICLE_UNUSABLE = "article unusable"
NOT_AN_EDITOR = "not an editor"
REFUSED = "refused by the database"
REASONS = (ARTICLE_GONE, ARTICLE_UNUSABLE, NOT_AN_EDITOR, REFUSED)

MAX_REPORT_ATTEMPTS = 10  # then 'failed': shown by `newsbot decisions --rejected`
MAX_REPORT_DELAY_SECONDS = 300


def reject(store: Store, event: dict, reason: str, detail: str,
           article_id: str | None = None) -> bool:
    """Keep a spooled event (its JSON record) that cannot be applied; False when it was
    kept already (the spool is applied again after a crash before its removal)."""
    assert reason in REASONS, reason
    now = now_text()
    with store.write(durable=True) as db:
        cursor = db.execute(
            "INSERT INTO rejected_decisions (event_key, event, user_id, action, source,"
            " article_id, channel, message_ts, reason, detail, rejected_at, report_after)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_key) DO NOTHING",
            [event["key"], json.dumps(event, ensure_ascii=False), event["user_id"],
             event["action"], event["source"], article_id or event.get("article_id"),
             event.get("channel"), event.get("message_ts"), reason, detail, now, now])
        return cursor.rowcount == 1


def claim_reports(store: Store, limit: int = 20) -> list[dict]:
    """Claim the reports due now ('pending' -> 'sending'), oldest first: only the caller
    sends them, whichever process it is. Nothing due: one indexed read, no write."""
    now = now_text()
    if store.db.execute("SELECT 1 FROM rejected_decisions WHERE report_state = 'pending'"
                        " AND report_after <= ? LIMIT 1", [now]).fetchone() is None:
        return []
    with store.write() as db:
        cursor = db.execute(
            "UPDATE rejected_decisions SET report_state = 'sending',"
            " report_attempts = report_attempts + 1 WHERE event_key IN ("
            " SELECT event_key FROM rejected_decisions WHERE report_state = 'pending'"
            " AND report_after <= ? ORDER BY report_after LIMIT ?) RETURNING *",
            [now, limit])
        names = [column[0] for column in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    return sorted(rows, key=lambda r: r["rejected_at"])


def report_sent(store: Store, key: str) -> None:
    _settle(store, key, "sent", None, reported=True)


def report_unsure(store: Store, key: str, error: str) -> None:
    """Slack may have shown it (a 5xx, a connection broken after sending): not again."""
    _settle(store, key, "unsure", error, reported=True)


def report_later(store: Store, key: str, attempts: int, error: str) -> bool:
    """Slack surely did not show it (refused before acting, rate limited, unreachable):
    try again after a delay that doubles; True when MAX_REPORT_ATTEMPTS ran out."""
    if attempts >= MAX_REPORT_ATTEMPTS:
        _settle(store, key, "failed", error, reported=False)
        return True
    delay = min(MAX_REPORT_DELAY_SECONDS, 2 ** attempts)
    after = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=delay)).isoformat(
        timespec="milliseconds").replace("+00:00", "Z")
    with store.write() as db:
        db.execute("UPDATE rejected_decisions SET report_state = 'pending', report_after = ?,"
                   " report_error = ? WHERE event_key = ?", [after, error, key])
    return False


def _settle(store: Store, key: str, state: str, error: str | None, reported: bool) -> None:
    with store.write() as db:
        db.execute("UPDATE rejected_decisions SET report_state = ?, report_error = ?,"
                   " reported_at = CASE WHEN ? THEN ? END WHERE event_key = ?",
                   [state, error, int(reported), now_text(), key])


def rejected_decisions(store: Store, limit: int = 50) -> list[dict]:
    """The rejected decisions, newest first, with their article's title when indexed."""
    return store.query(
        "SELECT r.*, a.title FROM rejected_decisions r LEFT JOIN articles a"
        " ON a.id = r.article_id ORDER BY r.rejected_at DESC, r.event_key LIMIT ?", [limit])
