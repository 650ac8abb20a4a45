"""Coverage gaps: watched topics with nothing fresh for editors to publish.

A topic has a gap when none of its articles is usable, unpublished, not skipped,
undecided, of at least the minimum quality and published in the last H hours: no digest
could offer anything new on it. For each gap:
- `lastArticle`: the publishedDateTime of the topic's newest usable article of at least
  the minimum quality, whatever became of it (None: there is none on record);
- `best`: the best article editors could still take up (digest order, any age or
  quality), or None;
- the gap opened H hours after `lastArticle`; when that article is younger than H hours
  (it and its fresh fellows were decided or published meanwhile) the moment is unknown.

Alerts are claimed in `gap_alerts` (channel, topic, day) before they are posted, so each
topic gets at most one alert per channel and day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from newsbot.bot.newsroom.article import TOPIC_DIGEST_ORDER, stamp
from newsbot.storage.db import Store

DEFAULT_HOURS = 24.0
SEEN_DAYS = 30  # with no topics configured: every topic seen in this many days


@dataclass(frozen=True)
class Gap:
    topic: str
    last_article: str | None
    best_id: str | None
    best_quality: float | None

    def opened_at(self, hours: float, now: dt.datetime) -> dt.datetime | None:
        """When the gap opened: H hours after the last article. None when there is no
        article on record, or when the last one is still fresh (it was decided or
        published: when is not known here)."""
        if self.last_article is None:
            return None
        last = dt.datetime.fromisoformat(self.last_article.replace("Z", "+00:00"))
        try:
            opened = last + dt.timedelta(hours=hours)
        except OverflowError:
            return None
        return opened if opened <= now else None

    def to_json(self) -> dict[str, Any]:
        best = None if self.best_id is None else {"id": self.best_id,
                                                  "quality": self.best_quality}
        return {"topic": self.topic, "lastArticle": self.last_article, "best": best}


def watched_topics(store: Store, configured: Sequence[str] = (),
                   now: dt.datetime | None = None) -> list[str]:
    """The configured topics, or else every topic of a usable article published in the
    last 30 days (spelled as the topic list spells it)."""
    if configured:
        return list(dict.fromkeys(configured))
    now = now or dt.datetime.now(dt.UTC)
    rows = store.db.execute(
        "SELECT min(c.topic) FROM (SELECT DISTINCT topic_key FROM article_topics"
        " WHERE published_at >= ?) s JOIN topic_counts c ON c.topic_key = s.topic_key"
        " GROUP BY s.topic_key ORDER BY lower(min(c.topic))",
        [stamp(now - dt.timedelta(days=SEEN_DAYS))])
    return [row[0] for row in rows]


def find_gaps(store: Store, topics: Iterable[str], *, hours: float = DEFAULT_HOURS,
              min_quality: float | None = None,
              now: dt.datetime | None = None) -> list[Gap]:
    """The watched topics that have a gap, in the order given."""
    now = now or dt.datetime.now(dt.UTC)
    try:
        cutoff = stamp(now - dt.timedelta(hours=hours))
    except OverflowError:
        cutoff = ""
    quality = "" if min_quality is None else " AND t.quality >= :q"
    open_to_review = (" AND t.published = 0 AND t.skipped = 0"
                      " AND NOT EXISTS (SELECT 1 FROM votes v WHERE v.article_id = t.article_id)")
    db = store.db
    gaps = []
    for topic in dict.fromkeys(t.strip() for t in topics if t.strip()):
        params = {"key": topic.casefold(), "cutoff": cutoff, "q": min_quality}
        fresh = db.execute(
            "SELECT 1 FROM article_topics t WHERE t.topic_key = :key"
            f" AND t.published_at >= :cutoff{quality}{open_to_review} LIMIT 1", params,
        ).fetchone()
        if fresh:
            continue
        last = db.execute(
            f"SELECT max(t.published_at) FROM article_topics t WHERE t.topic_key = :key{quality}",
            params,
        ).fetchone()[0]
        best = db.execute(
            f"SELECT t.article_id, t.quality FROM article_topics t WHERE t.topic_key = :key"
            f"{open_to_review} ORDER BY {TOPIC_DIGEST_ORDER} LIMIT 1", params,
        ).fetchone()
        gaps.append(Gap(topic, last, *(best or (None, None))))
    return gaps


def claim_alerts(store: Store, channel: str, gaps: Sequence[Gap], day: dt.date, *,
                 hours: float, schedule_id: str | None = None,
                 now: dt.datetime | None = None) -> list[Gap]:
    """Claim today's alert for each gap's topic in `channel`; returns the gaps claimed
    now (a topic alerted already today is left out)."""
    now = now or dt.datetime.now(dt.UTC)
    claimed = []
    with store.write() as db:
        for gap in gaps:
            opened = gap.opened_at(hours, now)
            inserted = db.execute(
                "INSERT INTO gap_alerts (channel, topic_key, day, topic, opened_at, schedule_id,"
                " claimed_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [channel, gap.topic.casefold(), day.isoformat(), gap.topic,
                 opened and stamp(opened), schedule_id, stamp(now)],
            ).rowcount
            if inserted:
                claimed.append(gap)
    return claimed


def release_alerts(store: Store, channel: str, gaps: Sequence[Gap], day: dt.date) -> None:
    """Give claims back when the alert could not be posted, so a retry may post it."""
    with store.write() as db:
        for gap in gaps:
            db.execute("DELETE FROM gap_alerts WHERE channel = ? AND topic_key = ? AND day = ?",
                       [channel, gap.topic.casefold(), day.isoformat()])
