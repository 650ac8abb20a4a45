"""Digest selection: which articles editors should look at next.

Eligible: usable, unpublished, not marked `skipped: true` in the file, with no
standing publish/skip decision, not embargoed (a `publishedDateTime` still in the
future keeps an article out until that time), and the first eligible member of its
story cluster if it has one (bot/newsroom/stories.py). Ordered by
quality, then heat, then newest, then id, so the same index always gives the same digest.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from newsbot.bot.newsroom.article import COLUMNS, DIGEST_ORDER, Article, stamp
from newsbot.bot.newsroom.stories import ONE_PER_CLUSTER, story_decided
from newsbot.storage.db import Store

DEFAULT_TOP = 10


@dataclass(frozen=True)
class DigestOptions:
    top: int = DEFAULT_TOP
    topics: tuple[str, ...] = field(default_factory=tuple)  # any of these, case-insensitive
    min_quality: float | None = None
    max_age_days: float | None = None
    include_embargoed: bool = False  # also articles whose publishedDateTime is in the future


# An article is embargoed while its publishedDateTime lies after `now` (one parameter).
NOT_EMBARGOED = "(a.published_at IS NULL OR a.published_at <= ?)"


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
    now = now or dt.datetime.now(dt.UTC)
    where = [
        "a.error IS NULL",
        "a.published = 0",
        "a.skipped = 0",
        "NOT EXISTS (SELECT 1 FROM votes v WHERE v.article_id = a.id)",
    ]
    params: list = []
    if not options.include_embargoed:
        where.append(NOT_EMBARGOED)
        params.append(stamp(now))
    where.append(ONE_PER_CLUSTER)
    params += [options.include_embargoed, stamp(now)]
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
        oldest = _oldest(now, options.max_age_days)
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


def count_embargoed(store: Store, now: dt.datetime | None = None) -> int:
    """How many articles a digest holds back only because they are embargoed."""
    now = now or dt.datetime.now(dt.UTC)
    return store.db.execute(
        "SELECT count(*) FROM articles a WHERE a.error IS NULL AND a.published = 0"
        " AND a.skipped = 0 AND a.published_at > ?"
        " AND NOT EXISTS (SELECT 1 FROM votes v WHERE v.article_id = a.id)",
        [stamp(now)],
    ).fetchone()[0]


# --- digests as posted: planned, claimed, then each message recorded as Slack confirms it

RESUME_WINDOW = dt.timedelta(hours=6)  # an unfinished digest older than this is given up
CLAIM_LEASE = dt.timedelta(minutes=10)  # a poster that goes quiet this long has died


class DigestBusy(RuntimeError):
    """Another process is posting this digest right now."""


@dataclass(frozen=True)
class DigestMessage:
    position: int
    article: Article
    ts: str | None  # None until posted
    skipped: str | None = None  # why it was not posted after all

    @property
    def pending(self) -> bool:
        return self.ts is None and self.skipped is None


@dataclass(frozen=True)
class PlannedDigest:
    id: int
    key: str
    channel: str
    title: str
    header_ts: str | None
    in_thread: bool
    status: str
    created_at: str
    messages: tuple[DigestMessage, ...]
    header: bool = True  # False: an alert of one article, posted without a header
    buttons: bool = True  # False: a follower who is not an editor sees no buttons

    @property
    def pending(self) -> list[DigestMessage]:
        return [m for m in self.messages if m.pending]

    @property
    def posted(self) -> list[DigestMessage]:
        return [m for m in self.messages if m.ts is not None]


def digest_title(count: int, day: dt.date) -> str:
    when = f"{day:%A} {day.day} {day:%B %Y}"
    if count == 0:
        return f"Nothing new to review, {when}"
    return f"Top {count} unpublished article{'s' if count != 1 else ''}, {when}"


def _options_json(options: DigestOptions, in_thread: bool) -> str:
    return json.dumps({"top": options.top, "topics": sorted(t.casefold() for t in options.topics),
                       "min_quality": options.min_quality,
                       "max_age_days": options.max_age_days, "in_thread": in_thread})


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
    exists. Without one, the channel's unfinished manual digest is resumed when it is
    recent and was asked for with the same options; otherwise it is abandoned and a new
    one planned. Left out: articles posted to the channel within the repost window, and
    articles waiting in a digest for the channel that may still be resumed, or in an
    abandoned one that had begun posting (a post of theirs may have reached Slack).
    """
    now = now or dt.datetime.now(dt.UTC)
    recent = stamp(now - RESUME_WINDOW)
    wanted = _options_json(options, in_thread)
    with store.write() as db:
        if key is not None:
            existing = db.execute("SELECT id FROM digests WHERE key = ?", [key]).fetchone()
            if existing:
                return load_digest(store, existing[0])
        else:
            unfinished = db.execute(
                "SELECT id, options, created_at FROM digests WHERE channel = ?"
                " AND key LIKE 'manual:%' AND status IN ('planned', 'posting', 'failed')"
                " ORDER BY id DESC LIMIT 1",
                [channel],
            ).fetchone()
            if unfinished and unfinished[1] == wanted and unfinished[2] >= recent:
                return load_digest(store, unfinished[0])
            if unfinished:
                db.execute("UPDATE digests SET status = 'abandoned', finished_at = ?"
                           " WHERE id = ?", [stamp(now), unfinished[0]])
        # with no repost window every earlier post counts ('' sorts before any time)
        cutoff = "" if repost_after_days is None else stamp(
            now - dt.timedelta(days=repost_after_days)
        )
        posted_here = (
            "NOT EXISTS (SELECT 1 FROM digest_messages m JOIN digests d ON d.id = m.digest_id"
            " WHERE m.channel = ? AND m.article_id = a.id AND (m.posted_at >= ?"
            " OR (m.ts IS NULL AND m.skipped IS NULL AND d.created_at >= ?"
            " AND (d.status IN ('planned', 'posting', 'failed')"
            " OR (d.status = 'abandoned' AND d.header_ts IS NOT NULL)))))"
        )
        articles = select_digest(store, options, now, posted_here, (channel, cutoff, recent))
        title = digest_title(len(articles), day or now.date())
        cursor = db.execute(
            "INSERT INTO digests (key, channel, title, options, in_thread, status, created_at)"
            " VALUES (?, ?, ?, ?, ?, 'planned', ?)",
            [key or f"manual:{channel}:{stamp(now)}:{uuid.uuid4().hex[:8]}", channel, title,
             wanted, in_thread, stamp(now)],
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
        "SELECT id, key, channel, title, header_ts, in_thread, status, created_at, header,"
        " buttons FROM digests WHERE id = ?",
        [digest_id],
    ).fetchone()
    if row is None:
        raise LookupError(f"no digest {digest_id}")
    messages = tuple(
        DigestMessage(position, Article.from_row(rest), ts, skipped)
        for position, ts, skipped, *rest in store.db.execute(
            f"SELECT m.position, m.ts, m.skipped, {COLUMNS} FROM digest_messages m"
            " JOIN articles a ON a.id = m.article_id WHERE m.digest_id = ? ORDER BY m.position",
            [digest_id],
        )
    )
    return PlannedDigest(row[0], row[1], row[2], row[3], row[4], bool(row[5]), row[6], row[7],
                         messages, header=bool(row[8]), buttons=bool(row[9]))


def plan_listed_digest(store: Store, key: str, channel: str, title: str,
                       article_ids: list[str], *, header: bool, buttons: bool = True,
                       now: dt.datetime | None = None) -> int:
    """A digest of exactly these articles, in this order (an alert), planned for posting
    as any digest is; returns its id. Joins the caller's write transaction. Without
    `header` its one message is posted on its own; with it, under it in its thread."""
    with store.write() as db:
        cursor = db.execute(
            "INSERT INTO digests (key, channel, title, options, in_thread, status, created_at,"
            " header, buttons) VALUES (?, ?, ?, '{\"alert\": true}', ?, 'planned', ?, ?, ?)",
            [key, channel, title, header, stamp(now or dt.datetime.now(dt.UTC)), header,
             buttons])
        digest_id = cursor.lastrowid
        db.conn.executemany(
            "INSERT INTO digest_messages (digest_id, position, article_id, channel)"
            " VALUES (?, ?, ?, ?)",
            [(digest_id, n, article_id, channel) for n, article_id in enumerate(article_ids)])
    return digest_id


def claim_digest(store: Store, digest_id: int, owner: str,
                 now: dt.datetime | None = None) -> bool:
    """Take the right to post this digest: True for one poster at a time. A claim lapses
    when its poster stops renewing it (it died), so the digest can be resumed."""
    now = now or dt.datetime.now(dt.UTC)
    with store.write() as db:
        return db.execute(
            "UPDATE digests SET claimed_by = ?, claimed_until = ? WHERE id = ?"
            " AND status IN ('planned', 'posting', 'failed')"
            " AND (claimed_until IS NULL OR claimed_until < ? OR claimed_by = ?)",
            [owner, stamp(now + CLAIM_LEASE), digest_id, stamp(now), owner],
        ).rowcount == 1


def release_dead_claims(store: Store, died: Callable[[str], bool]) -> int:
    """Let go of the claims of posters `died` says are dead (a process killed on this host
    before a restart), so their digests resume now rather than when the lease lapses:
    alerts are due within seconds, not in CLAIM_LEASE. Returns how many were released."""
    with store.write() as db:
        owners = [row[0] for row in db.execute(
            "SELECT DISTINCT claimed_by FROM digests WHERE claimed_by IS NOT NULL"
            " AND status IN ('planned', 'posting', 'failed')")]
        dead = [owner for owner in owners if died(owner)]
        return sum(db.execute("UPDATE digests SET claimed_by = NULL, claimed_until = NULL"
                              " WHERE claimed_by = ?", [owner]).rowcount for owner in dead)


def start_posting(store: Store, digest_id: int) -> None:
    """Mark the digest as started, before its first post: a resume then reads the channel
    back, since a post may have reached Slack without reaching us."""
    with store.write() as db:
        db.execute("UPDATE digests SET status = 'posting' WHERE id = ?", [digest_id])


def record_header(store: Store, digest_id: int, ts: str) -> None:
    with store.write() as db:
        db.execute(
            "UPDATE digests SET header_ts = ?, status = 'posting', claimed_until = ?"
            " WHERE id = ? AND header_ts IS NULL",
            [ts, stamp(dt.datetime.now(dt.UTC) + CLAIM_LEASE), digest_id],
        )


def record_message(store: Store, digest_id: int, position: int, ts: str) -> None:
    now = dt.datetime.now(dt.UTC)
    with store.write() as db:
        db.execute(
            "UPDATE digest_messages SET ts = ?, posted_at = ?"
            " WHERE digest_id = ? AND position = ? AND ts IS NULL",
            [ts, stamp(now), digest_id, position],
        )
        db.execute("UPDATE digests SET claimed_until = ? WHERE id = ?",
                   [stamp(now + CLAIM_LEASE), digest_id])


def skip_message(store: Store, digest_id: int, position: int, reason: str) -> None:
    with store.write() as db:
        db.execute(
            "UPDATE digest_messages SET skipped = ? WHERE digest_id = ? AND position = ?"
            " AND ts IS NULL",
            [reason, digest_id, position],
        )


def why_not_post(store: Store, plan: PlannedDigest, message: DigestMessage) -> str | None:
    """Re-check an article just before posting it: what changed since the plan, if anything."""
    row = store.db.execute(
        "SELECT error, published, skipped, EXISTS (SELECT 1 FROM votes v"
        " WHERE v.article_id = a.id),"
        " EXISTS (SELECT 1 FROM digest_messages m WHERE m.channel = ? AND m.article_id = a.id"
        " AND m.digest_id != ? AND m.ts IS NOT NULL AND m.posted_at >= ?)"
        " FROM articles a WHERE a.id = ?",
        [plan.channel, plan.id, plan.created_at, message.article.id],
    ).fetchone()
    if row is None:
        return "the article left the index"
    error, published, skipped, decided, posted_elsewhere = row
    if error:
        return "the article's file is broken"
    if published or skipped:
        return "the article was published or skipped meanwhile"
    if decided:
        return "an editor decided meanwhile"
    if posted_elsewhere:
        return "another digest posted it to this channel meanwhile"
    if story_decided(store, message.article.id):
        return "another article of its story was decided meanwhile"
    return None


def finish_digest(store: Store, digest_id: int, error: str | None = None) -> None:
    """Done, or failed with the reason; either way the claim is released."""
    with store.write() as db:
        db.execute(
            "UPDATE digests SET status = ?, error = ?, finished_at = ?, claimed_by = NULL,"
            " claimed_until = NULL WHERE id = ?",
            ["failed" if error else "done", error, stamp(dt.datetime.now(dt.UTC)), digest_id],
        )
