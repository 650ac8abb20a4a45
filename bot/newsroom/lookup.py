"""Look-ups for editors: articles by topic, the topic list, and full-text search."""

from __future__ import annotations

import datetime as dt
import difflib
import re
from dataclasses import dataclass

from newsbot.bot.newsroom.article import COLUMNS, DIGEST_ORDER, TOPIC_DIGEST_ORDER, Article, stamp
from newsbot.bot.newsroom.stories import NO_DECIDED_COPY, first_per_cluster
from newsbot.storage.canonical_urls import canonical_url
from newsbot.storage.db import Store


@dataclass(frozen=True)
class TopicCount:
    topic: str
    unpublished: int  # still to review: not published, not `skipped: true`, not decided
    total: int

    def to_json(self) -> dict:
        return {"topic": self.topic, "unpublished": self.unpublished, "total": self.total}


@dataclass(frozen=True)
class TopicResult:
    topic: str  # as the articles spell it, or as asked when unknown
    known: bool
    articles: list[Article]
    suggestions: list[str]
    waiting: int = 0  # left out: unpublished, with a decision waiting for the next sync


def list_topics(store: Store) -> list[TopicCount]:
    """Every topic of a usable article, busiest first (by articles still to review: not
    published or skipped in the file, and no decision waiting for the next sync).

    Reads the per-spelling counts the database keeps (schema.topic_order): joining
    every topic row to its article took a second at 100,000 articles. Only the few
    decided articles are joined, to take them out: CROSS JOIN keeps SQLite to that
    order (from the votes), which it otherwise chose against, scanning every topic row
    (0.2-0.3 s at 50,000 articles, against 0.5 ms).
    """
    rows = store.db.execute(LIST_TOPICS)
    return [TopicCount(name, unpublished, total) for name, unpublished, total in rows]


LIST_TOPICS = """
        WITH waiting AS (
            SELECT t.topic_key, count(DISTINCT t.article_id) AS n
            FROM votes v CROSS JOIN articles a ON a.id = v.article_id
            CROSS JOIN article_topics t ON t.article_id = v.article_id
            WHERE a.error IS NULL AND a.published = 0 AND a.skipped = 0
            GROUP BY t.topic_key
        ), counted AS (
            SELECT topic_key, min(topic) AS topic, sum(to_review) AS to_review,
                   sum(total) AS total
            FROM topic_counts
            WHERE total > 0
            GROUP BY topic_key
        )
        SELECT c.topic, c.to_review - coalesce(w.n, 0), c.total
        FROM counted c LEFT JOIN waiting w ON w.topic_key = c.topic_key
        ORDER BY 2 DESC, 3 DESC, c.topic_key
"""


def close_topics(store: Store, wanted: str, limit: int = 5) -> list[str]:
    """Known topics that look like `wanted`: containing it, or spelled alike."""
    names = [t.topic for t in list_topics(store)]
    key = wanted.casefold()
    by_key = {name.casefold(): name for name in names}
    containing = [name for k, name in by_key.items() if key and (key in k or k in key)]
    alike = [by_key[k] for k in difflib.get_close_matches(key, list(by_key), n=limit, cutoff=0.6)]
    return list(dict.fromkeys(alike + containing))[:limit]


def lookup_topic(
    store: Store, topic: str, include_published: bool = False, limit: int = 20,
    include_decided: bool = False, include_embargoed: bool = False,
    now: dt.datetime | None = None,
) -> TopicResult:
    """Articles with this topic (case-insensitive, exact name), in digest order, one per
    story cluster; embargoed ones (publishedDateTime in the future) only with
    `include_embargoed`.

    Articles still to review by default: unpublished and without a standing decision (a
    decided one waits for the next sync to reach its file; `waiting` counts them)."""
    key = topic.strip().casefold()
    spelled = store.db.execute(
        "SELECT topic FROM article_topics WHERE topic_key = ? LIMIT 1", [key]
    ).fetchone()
    if spelled is None:
        return TopicResult(topic.strip(), False, [], close_topics(store, topic.strip()))
    # Topic rows carry their article's digest-order keys, so the topic's index walks
    # them in digest order and stops after `limit` (no sort of the whole topic).
    published = "" if include_published else "AND t.published = 0"
    undecided = ("AND NOT EXISTS (SELECT 1 FROM votes v WHERE v.article_id = t.article_id)"
                 f" AND {NO_DECIDED_COPY}")
    decided = "" if include_published or include_decided else undecided
    embargo = "" if include_embargoed else "AND (t.published_at IS NULL OR t.published_at <= ?)"
    params: list = [key] if include_embargoed else [key, stamp(now or dt.datetime.now(dt.UTC))]
    sql = f"""
        SELECT {COLUMNS} FROM article_topics t JOIN articles a ON a.id = t.article_id
        WHERE t.topic_key = ? AND a.error IS NULL {published} {decided} {embargo}
        ORDER BY {TOPIC_DIGEST_ORDER} LIMIT ?
        """

    def fetch(count: int) -> list[Article]:
        return [Article.from_row(r) for r in store.db.execute(sql, [*params, count])]

    waiting = 0
    if decided:
        waiting = store.db.execute(
            "SELECT count(DISTINCT t.article_id) FROM article_topics t JOIN votes v"
            " ON v.article_id = t.article_id WHERE t.topic_key = ? AND t.published = 0", [key],
        ).fetchone()[0]
    return TopicResult(spelled[0], True, first_per_cluster(fetch, store, limit), [], waiting)


def fts_query(words: str) -> str:
    """Editors' words as an FTS5 query: every word must match, as a prefix.

    Each word is quoted, so FTS5 syntax (AND, NEAR, '*', quotes, ':') in what people
    type is searched for rather than interpreted or rejected.
    """
    tokens = re.findall(r"\w+", words)
    return " ".join(f'"{token}"*' for token in tokens)


# The best-scoring matches, then their articles. Fetching every match's article row to
# break score ties took longer than scoring (30 ms for 5,000 matches at 100,000
# articles), so only the `fetch` best scores are joined, and the caller checks that no
# match left out could belong in the answer.
_SEARCH = f"""
WITH top AS MATERIALIZED (
    SELECT rowid AS rid, bm25(articles_fts, 5.0, 1.0) AS score FROM articles_fts
    WHERE articles_fts MATCH ? ORDER BY score LIMIT ?
)
SELECT {COLUMNS}, top.score,
    a.error IS NULL AND (? OR a.published_at IS NULL OR a.published_at <= ?),
    (SELECT count(*) FROM top)
FROM top JOIN articles a ON a.rowid = top.rid
ORDER BY top.score, {DIGEST_ORDER}
"""


def search(store: Store, words: str, limit: int = 20, include_embargoed: bool = False,
           now: dt.datetime | None = None) -> list[Article]:
    """Full-text search over title and excerpt, best match first (ties in digest order),
    one per story cluster; embargoed articles only with `include_embargoed`."""
    return first_per_cluster(
        lambda count: _search(store, words, count, include_embargoed, now), store, limit)


def _search(store: Store, words: str, limit: int, include_embargoed: bool,
            now: dt.datetime | None) -> list[Article]:
    query = fts_query(words)
    if not query:
        return []
    moment = stamp(now or dt.datetime.now(dt.UTC))
    fetch = max(4 * limit, 100)
    while True:
        rows = store.db.execute(_SEARCH, [query, fetch, include_embargoed, moment]).fetchall()
        usable = [row for row in rows if row[-2]][:limit]
        scored_all = not rows or rows[0][-1] < fetch
        # A match left out scores no better than the worst fetched: the answer is exact
        # when it is full and its last score is strictly better than that.
        if scored_all or (len(usable) == limit and usable[-1][-3] < rows[-1][-3]):
            return [Article.from_row(row[:-3]) for row in usable]
        fetch *= 4


def article_by_id(store: Store, article_id: str) -> Article | None:
    sql = f"SELECT {COLUMNS} FROM articles a WHERE a.id = ?"
    row = store.db.execute(sql, [article_id]).fetchone()
    return Article.from_row(row) if row else None


def article_by_url(store: Store, url: str) -> Article | None:
    """The usable article a link points at, matched as the story clusters match copies
    (storage/story_clusters.canonical_url: tracking parameters, `www.`, case of scheme and
    host), and http:// or https:// alike (a link pasted without TLS is the same page);
    among copies at one address, the first in digest order. None: not an indexed article."""
    key = canonical_url(url)
    if key is None:
        return None
    _, _, rest = key.partition("://")
    row = store.db.execute(
        f"SELECT {COLUMNS} FROM articles a WHERE a.canonical_url IN (?, ?, ?)"
        f" AND a.error IS NULL ORDER BY {DIGEST_ORDER} LIMIT 1",
        [key, f"https://{rest}", f"http://{rest}"]).fetchone()
    return Article.from_row(row) if row else None
