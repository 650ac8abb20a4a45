"""Digest selection: which articles editors should look at next.

Eligible: usable, unpublished, not marked `skipped: true` in the file, and with no
standing publish/skip decision. Ordered by
quality, then heat, then newest, then id, so the same index always gives the same digest.
"""

from __future__ import annotations

import datetime as dt
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
        keys = sorted({t.casefold() for t in options.topics})
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
        now = now or dt.datetime.now(dt.UTC)
        oldest = now - dt.timedelta(days=options.max_age_days)
        where.append("a.published_at >= ?")
        params.append(oldest.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    if exclude_sql:
        where.append(exclude_sql)
        params.extend(exclude_params)
    sql = (
        f"SELECT {COLUMNS} FROM articles a WHERE {' AND '.join(where)} "
        f"ORDER BY {DIGEST_ORDER} LIMIT ?"
    )
    params.append(options.top)
    return [Article.from_row(row) for row in store.db.execute(sql, params)]
