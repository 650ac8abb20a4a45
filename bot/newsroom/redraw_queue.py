"""Which article messages need redrawing: the `redraw_queue` table (schema.redraw_queue).

A decision can be made in any process (`newsbot decide`, `newsbot sync`, a second bot), so
the serving process cannot rely on being told in memory. Database triggers queue an article
whenever what its message shows can have changed; the serving process polls the queue,
redraws every message of each queued article once, and deletes the rows it has drawn. A
burst of changes to one article is one row, so one redraw; the queue survives restarts, so
a decision made while the bot was down is drawn when it starts.

Two serving processes on one database (a rolling deploy, a second replica) draw each change
once: a process claims the rows it draws, and a change made meanwhile keeps the claim, so
one process at a time draws an article and the last content drawn is the newest. The
drawer reads the row's `seq` in the same snapshot as the content it draws (`as_drawn`),
so it forgets exactly the changes that content shows; a later change stays queued and is
drawn next, by whichever process claims it once the claim is let go.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from newsbot.storage.db import Store
from newsbot.storage.schema import QUEUE_REDRAW

_QUEUE = QUEUE_REDRAW.format(article="?")  # the triggers' statement, for one article
CLAIM_SECONDS = 60  # a claim this old is taken over: the process that made it is gone


@dataclass(frozen=True)
class QueuedRedraw:
    article_id: str
    seq: int  # the change drawn; a later change to the article has a higher seq
    owner: str | None = None  # the process that claimed it


def queue_redraw(store: Store, article_id: str) -> None:
    """Ask for a redraw when nothing in the database changed (a redelivered event repairs a
    redraw that failed: bot/newsroom/decisions.py); changes queue themselves through the triggers.
    Inside a write transaction it joins it."""
    with store.write() as db:
        db.execute(_QUEUE, [article_id])


def queued_redraws(store: Store, owner: str, limit: int = 100) -> list[QueuedRedraw]:
    """Claim the articles nobody draws now that have waited longest, for `owner` (one
    process): two processes on one database never both draw a change. Longest waiting
    first: an article changed again while queued keeps its place (`queued_at`)."""
    with store.write() as db:
        rows = db.execute(
            "UPDATE redraw_queue SET claimed_by = ?, claimed_at = strftime('%s', 'now')"
            " WHERE article_id IN (SELECT article_id FROM redraw_queue"
            "  WHERE claimed_by IS NULL OR claimed_by = ?"
            "   OR CAST(claimed_at AS INTEGER) < CAST(strftime('%s', 'now') AS INTEGER) - ?"
            "  ORDER BY queued_at, seq LIMIT ?)"
            " RETURNING article_id, seq, queued_at",
            [owner, owner, CLAIM_SECONDS, limit]).fetchall()
    return [QueuedRedraw(article_id, seq, owner)
            for article_id, seq, _ in sorted(rows, key=lambda row: (row[2], row[1]))]


def anything_queued(store: Store) -> bool:
    """Is any article waiting to be redrawn (by this process or another)?"""
    return store.db.execute("SELECT 1 FROM redraw_queue LIMIT 1").fetchone() is not None


def as_drawn(store: Store, queued: QueuedRedraw) -> QueuedRedraw:
    """The claimed row as it stands now. Called in the snapshot (Store.snapshot) that reads
    the content to draw: a change committed after the claim but before that read is shown
    by the drawing, so it is forgotten with it rather than drawn a second time."""
    row = store.db.execute("SELECT seq FROM redraw_queue WHERE article_id = ?",
                           [queued.article_id]).fetchone()
    return QueuedRedraw(queued.article_id, max(row[0], queued.seq) if row else queued.seq,
                        queued.owner)


def redraw_done(store: Store, *drawn: QueuedRedraw, left: Sequence[QueuedRedraw] = ()) -> None:
    """Forget the rows drawn, each unless its article changed again since it was read; let
    go of the claim on those that did, so that either process draws the newer change (it
    waits from now, behind what waited longer), and on those `left` undrawn (the redrawer's
    budget ran out first): they stay queued in their place for whichever process draws
    next. One write for a whole pass, so the redraws hold the write lock once, not once per
    article (the decision writer waits behind every such write)."""
    if not drawn and not left:
        return
    with store.write() as db:
        db.conn.executemany("DELETE FROM redraw_queue WHERE article_id = ? AND seq <= ?",
                            [(queued.article_id, queued.seq) for queued in drawn])
        db.conn.executemany(
            "UPDATE redraw_queue SET claimed_by = NULL, claimed_at = NULL,"
            " queued_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
            " WHERE article_id = ? AND claimed_by = ?",
            [(queued.article_id, queued.owner) for queued in drawn if queued.owner])
        db.conn.executemany(
            "UPDATE redraw_queue SET claimed_by = NULL, claimed_at = NULL"
            " WHERE article_id = ? AND claimed_by = ?",
            [(queued.article_id, queued.owner) for queued in left if queued.owner])


def article_messages(store: Store, article_id: str) -> list[tuple[str, str, bool]]:
    """(channel, ts, buttons) of every posted digest message that shows the article;
    `buttons` is False where its reader may not decide (a follower who is no editor)."""
    rows = store.db.execute(
        "SELECT m.channel, m.ts, d.buttons FROM digest_messages m JOIN digests d"
        " ON d.id = m.digest_id WHERE m.article_id = ? AND m.ts IS NOT NULL"
        " ORDER BY m.digest_id, m.position", [article_id]
    ).fetchall()
    return [(channel, ts, bool(buttons)) for channel, ts, buttons in rows]
