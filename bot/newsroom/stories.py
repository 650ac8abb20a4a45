"""Story clusters as editors meet them: one entry per story, the other copies beside it.

The index keeps the clusters (storage/story_clusters.py); this module reads them. A cluster's
members are in digest order and the first is its lead. Rules the digest and look-ups
follow:

- a digest shows one member per cluster: the first in digest order that is not embargoed,
  so two members of one cluster are never posted;
- a story is decided once any member is: a standing decision, `published: true` or
  `skipped: true` on one copy keeps every other copy out of digests. The decision itself
  stays on the article it was made on (the lead, from a digest message), so sync edits
  only that file;
- look-ups (`lookup`, `search`, `/news`) keep the first member of each cluster they find.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from newsbot.bot.newsroom.article import COLUMNS, DIGEST_ORDER, Article, stamp
from newsbot.storage.db import Store


@dataclass(frozen=True)
class Cluster:
    lead: str
    members: tuple[str, ...]  # digest order, the lead first
    reason: str  # "url": the same canonical webUrl throughout; "text": near-duplicate text

    def to_json(self) -> dict:
        return {"lead": self.lead, "members": list(self.members), "reason": self.reason}


# For select_digest: true when `a` is the one member of its cluster a digest may show.
# Parameters: include_embargoed (0/1), now (as stored).
ONE_PER_CLUSTER = """NOT EXISTS (
    SELECT 1 FROM cluster_members m
    JOIN cluster_members o ON o.cluster_id = m.cluster_id AND o.article_id != m.article_id
    JOIN articles b ON b.id = o.article_id
    WHERE m.article_id = a.id AND (
        b.published = 1 OR b.skipped = 1
        OR EXISTS (SELECT 1 FROM votes v WHERE v.article_id = b.id)
        OR (o.rank < m.rank AND (? OR b.published_at IS NULL OR b.published_at <= ?))))"""


# For look-ups' "to review": true when no other member of the story of the article in
# `t.article_id` has a standing decision (a decided lead keeps its copies out with it).
NO_DECIDED_COPY = """NOT EXISTS (
    SELECT 1 FROM cluster_members m
    JOIN cluster_members o ON o.cluster_id = m.cluster_id AND o.article_id != m.article_id
    JOIN votes v ON v.article_id = o.article_id
    WHERE m.article_id = t.article_id)"""


def story_decided(store: Store, article_id: str) -> bool:
    """True when another member of this article's cluster has a standing decision, or is
    published or skipped in its file: the story is settled."""
    return store.db.execute(
        "SELECT EXISTS (SELECT 1 FROM cluster_members m JOIN cluster_members o"
        " ON o.cluster_id = m.cluster_id AND o.article_id != m.article_id"
        " JOIN articles b ON b.id = o.article_id WHERE m.article_id = ? AND (b.published = 1"
        " OR b.skipped = 1 OR EXISTS (SELECT 1 FROM votes v WHERE v.article_id = b.id)))",
        [article_id]).fetchone()[0] == 1


def list_clusters(store: Store) -> list[Cluster]:
    """Every cluster of two or more articles, leads in digest order."""
    rows = store.db.execute(
        "SELECT m.cluster_id, m.article_id, m.reason FROM cluster_members m"
        " JOIN articles a ON a.id = m.cluster_id"
        f" ORDER BY {DIGEST_ORDER}, m.rank"
    )
    clusters: dict[str, tuple[list[str], str]] = {}
    for cluster_id, article_id, reason in rows:
        clusters.setdefault(cluster_id, ([], reason))[0].append(article_id)
    return [Cluster(lead, tuple(members), reason)
            for lead, (members, reason) in clusters.items()]


def cluster_of(store: Store, article_id: str) -> Cluster | None:
    """The cluster this article belongs to, or None when it stands alone."""
    rows = store.db.execute(
        "SELECT o.cluster_id, o.article_id, o.reason FROM cluster_members m"
        " JOIN cluster_members o ON o.cluster_id = m.cluster_id"
        " WHERE m.article_id = ? ORDER BY o.rank", [article_id]
    ).fetchall()
    if not rows:
        return None
    return Cluster(rows[0][0], tuple(row[1] for row in rows), rows[0][2])


def also_covered(store: Store, articles: Sequence[Article], now: dt.datetime | None = None,
                 include_embargoed: bool = False) -> dict[str, list[Article]]:
    """For each article, the other members of its cluster in digest order (embargoed ones
    only with `include_embargoed`); articles that stand alone are left out."""
    if not articles:
        return {}
    ids = [a.id for a in articles]
    marks = ", ".join("?" * len(ids))
    rows = store.db.execute(
        f"SELECT m.article_id, {COLUMNS} FROM cluster_members m"
        " JOIN cluster_members o ON o.cluster_id = m.cluster_id AND o.article_id != m.article_id"
        " JOIN articles a ON a.id = o.article_id"
        f" WHERE m.article_id IN ({marks}) AND a.error IS NULL"
        " AND (? OR a.published_at IS NULL OR a.published_at <= ?)"
        " ORDER BY m.article_id, o.rank",
        [*ids, include_embargoed, stamp(now or dt.datetime.now(dt.UTC))],
    )
    found: dict[str, list[Article]] = {}
    for article_id, *rest in rows:
        found.setdefault(article_id, []).append(Article.from_row(rest))
    return found


def one_per_cluster(store: Store, articles: Sequence[Article]) -> list[Article]:
    """The articles with only the first member of each cluster kept (order unchanged)."""
    if not articles:
        return []
    ids = [a.id for a in articles]
    marks = ", ".join("?" * len(ids))
    cluster = dict(store.db.execute(
        f"SELECT article_id, cluster_id FROM cluster_members WHERE article_id IN ({marks})", ids))
    seen: set[str] = set()
    kept = []
    for article in articles:
        key = cluster.get(article.id)
        if key is None or key not in seen:
            kept.append(article)
            if key is not None:
                seen.add(key)
    return kept


def first_per_cluster(fetch: Callable[[int], list[Article]], store: Store,
                      limit: int) -> list[Article]:
    """`limit` articles, one per cluster, from a query `fetch(n)` that returns its first n
    results in order: asks for more until enough are left or the query runs dry."""
    wanted = limit
    while True:
        found = fetch(wanted)
        kept = one_per_cluster(store, found)
        if len(kept) >= limit or len(found) < wanted:
            return kept[:limit]
        wanted *= 4
