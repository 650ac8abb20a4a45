"""Digest selection: which articles editors should look at next.

Eligible: usable, unpublished, not marked `skipped: true` in the file, and with no
standing publish/skip decision. Ordered by
quality, then heat, then newest, then id, so the same index always gives the same digest.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

from bot.article import COLUMNS, DIGEST_ORDER, Article
from storage.db import Store

DEFAULT_TOP = 10


@dataclass(frozen=True)
class DigestOptions:
    top: int = DEFAULT_TOP
    topics: tuple[str, ...] = field(default_factory=tuple)  # any of these, case-insensitive
    min_quality: float | None = None
    max_age_days: float | None = None


def _oldest(now: dt.datetime, max_age_days: float) -> str:
    """The earliest publishedDateTime still young enough, as stored (ISO 8601 UTC, Z).

    An age reaching back before year 1 keeps every dated article instead of overflowing;
    isoformat keeps four-digit years, so the text comparison stays a time comparison.
    """
    try:
        oldest = now.astimezone(dt.UTC) - dt.timedelta(days=max_age_days)
    except OverflowError:
        oldest = dt.datetime.min
    return oldest.replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def select_digest(
    store: Store,
    options: DigestOptions = DigestOptions(),
    now: dt.datetime | None = None,
    exclude_sql: str = "",
    exclude_params: tuple = (),
) -> list[Article]:
    """The top articles for a digest. `exclude_sql` is an extra `AND ...` condition
    (e.g. "already posted to this channel") with its parameters."""
    where = [
        "a.error IS NULL",
        "a.published = 0",
        "a.skipped = 0",
        "NOT EXISTS (SELECT 1 FROM votes v WHERE v.article_id = a.id)",
    ]
    params: list = []
    if options.topics:
        keys = sorted({t.strip().casefold() for t in options.topics})
        marks = ", ".join("?" * len(keys))
        where.append(
            "EXISTS (SELECT 1 FROM article_topics t "
            f"WHERE t.article_id = a.id AND t.topic_key IN ({marks}))"
        )
        params.extend(keys)
    if options.min_quality is not None:
        where.append("a.quality >= ?")
        params.append(options.min_quality)
    if options.max_age_days is not None:
        oldest = _oldest(now or dt.datetime.now(dt.UTC), options.max_age_days)
        where.append("a.published_at >= ?")
        params.append(oldest)
    if exclude_sql:
        where.append(exclude_sql)
        params.extend(exclude_params)
    sql = (
        f"SELECT {COLUMNS} FROM articles a WHERE {' AND '.join(where)} "
        f"ORDER BY {DIGEST_ORDER} LIMIT ?"
    )
    params.append(options.top)
    return [Article.from_row(row) for row in store.db.execute(sql, params)]


# --- digests as posted: planned first, then each message recorded as Slack confirms it


@dataclass(frozen=True)
class DigestMessage:
    position: int
    article: Article
    ts: str | None  # None until posted


@dataclass(frozen=True)
class PlannedDigest:
    id: int
    key: str
    channel: str
    title: str
    header_ts: str | None
    in_thread: bool
    status: str
    messages: tuple[DigestMessage, ...]

    @property
    def pending(self) -> list[DigestMessage]:
        return [m for m in self.messages if m.ts is None]


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def digest_title(count: int, day: dt.date) -> str:
    when = f"{day:%A} {day.day} {day:%B %Y}"
    if count == 0:
        return f"Nothing new to review, {when}"
    return f"Top {count} unpublished article{'s' if count != 1 else ''}, {when}"


def plan_digest(
    store: Store,
    channel: str,
    options: DigestOptions = DigestOptions(),
    *,
    key: str | None = None,
    in_thread: bool = True,
    repost_after_days: float | None = None,
    now: dt.datetime | None = None,
    day: dt.date | None = None,
) -> PlannedDigest:
    """Fix the articles of a digest for a channel before anything is posted.

    With a `key` (a schedule's fire time), the digest with that key is returned if it
    exists. Without one, an unfinished manual digest for the channel is resumed rather
    than a new one started. Articles already posted to the channel (and still undecided,
    since decided ones are not eligible) are left out, unless their last post is older
    than `repost_after_days`.
    """
    now = now or dt.datetime.now(dt.UTC)
    with store.write() as db:
        if key is not None:
            existing = db.execute("SELECT id FROM digests WHERE key = ?", [key]).fetchone()
        else:
            existing = db.execute(
                "SELECT id FROM digests WHERE channel = ? AND key LIKE 'manual:%'"
                " AND status != 'done' ORDER BY id DESC LIMIT 1",
                [channel],
            ).fetchone()
        if existing:
            return load_digest(store, existing[0])
        # posted here within the repost window, or waiting in a digest still being posted
        posted_here = (
            "NOT EXISTS (SELECT 1 FROM digest_messages m JOIN digests d ON d.id = m.digest_id"
            " WHERE m.channel = ? AND m.article_id = a.id AND (m.posted_at >= ?"
            " OR (m.ts IS NULL AND d.status IN ('planned', 'posting'))))"
        )
        # with no repost window every earlier post counts ('' sorts before any time)
        cutoff = "" if repost_after_days is None else _iso(
            now - dt.timedelta(days=repost_after_days)
        )
        articles = select_digest(store, options, now, posted_here, (channel, cutoff))
        title = digest_title(len(articles), day or now.date())
        cursor = db.execute(
            "INSERT INTO digests (key, channel, title, in_thread, status, created_at)"
            " VALUES (?, ?, ?, ?, 'planned', ?)",
            [key or f"manual:{channel}:{_iso(now)}:{uuid.uuid4().hex[:8]}", channel, title,
             in_thread, _iso(now)],
        )
        digest_id = cursor.lastrowid
        db.conn.executemany(
            "INSERT INTO digest_messages (digest_id, position, article_id, channel)"
            " VALUES (?, ?, ?, ?)",
            [(digest_id, n, a.id, channel) for n, a in enumerate(articles)],
        )
        return load_digest(store, digest_id)


def load_digest(store: Store, digest_id: int) -> PlannedDigest:
    row = store.db.execute(
        "SELECT id, key, channel, title, header_ts, in_thread, status FROM digests WHERE id = ?",
        [digest_id],
    ).fetchone()
    if row is None:
        raise LookupError(f"no digest {digest_id}")
    messages = tuple(
        DigestMessage(position, Article.from_row(rest), ts)
        for position, ts, *rest in store.db.execute(
            f"SELECT m.position, m.ts, {COLUMNS} FROM digest_messages m"
            " JOIN articles a ON a.id = m.article_id WHERE m.digest_id = ? ORDER BY m.position",
            [digest_id],
        )
    )
    return PlannedDigest(row[0], row[1], row[2], row[3], row[4], bool(row[5]), row[6], messages)


def record_header(store: Store, digest_id: int, ts: str) -> None:
    with store.write() as db:
        db.execute(
            "UPDATE digests SET header_ts = ?, status = 'posting' WHERE id = ?", [ts, digest_id]
        )


def record_message(store: Store, digest_id: int, position: int, ts: str) -> None:
    with store.write() as db:
        db.execute(
            "UPDATE digest_messages SET ts = ?, posted_at = ? WHERE digest_id = ? AND position = ?",
            [ts, _iso(dt.datetime.now(dt.UTC)), digest_id, position],
        )


def finish_digest(store: Store, digest_id: int, error: str | None = None) -> None:
    with store.write() as db:
        db.execute(
            "UPDATE digests SET status = ?, error = ?, finished_at = ? WHERE id = ?",
            ["failed" if error else "done", error, _iso(dt.datetime.now(dt.UTC)), digest_id],
        )


def article_for_message(store: Store, channel: str, ts: str) -> str | None:
    """The article a digest message shows, or None for any other message."""
    row = store.db.execute(
        "SELECT article_id FROM digest_messages WHERE channel = ? AND ts = ?", [channel, ts]
    ).fetchone()
    return row[0] if row else None
