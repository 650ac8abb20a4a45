"""The editorial report: what the desk decided over the last days, and what still waits.

Everything comes from tables that exist already: `articles` and `article_topics` (what
came in), `votes` through the `decisions` view (standing decisions), `decision_log`
(every editor's actions, and replayed for the queue's history) and `digest_messages`
(when an article was first put in front of editors).

What the numbers mean (the issue's contract):
- `new`: usable articles whose publishedDateTime falls in the period;
- `published` / `skipped`: standing decisions made in the period;
- `pending`: usable, undecided, neither published nor skipped in the file, at the end;
- `medianHoursToDecision`: from the first digest post of an article (or its
  publishedDateTime when it was never posted) to its standing decision;
- `queue`: the pending count at the end of each day (in the configured time zone; the
  last day ends now). It replays the decision log, so a decision withdrawn later still
  counts as one while it stood. An article published or skipped in its file with no
  standing decision (done outside newsbot, at a time we cannot know) is never counted.
"""

from __future__ import annotations

import bisect
import datetime as dt
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from newsbot.bot.newsroom.article import stamp
from newsbot.bot.newsroom.decisions import PUBLISH, RECORDED, RETRACTED, SKIP
from newsbot.storage.db import Store

DEFAULT_DAYS = 7
MAX_DAYS = 3660  # ten years: enough for any look back, small enough to draw


@dataclass(frozen=True)
class TopicLine:
    topic: str
    new: int
    published: int
    skipped: int
    pending: int

    @property
    def decided(self) -> int:
        return self.published + self.skipped


@dataclass(frozen=True)
class EditorLine:
    user: str
    publish: int  # publish votes cast in the period
    skip: int  # skip votes cast in the period
    withdrawn: int  # votes withdrawn in the period


@dataclass(frozen=True)
class DayLine:
    date: dt.date
    published: int  # standing decisions made that day
    skipped: int
    pending: int  # the queue at the end of the day


@dataclass(frozen=True)
class Report:
    start: dt.datetime
    end: dt.datetime
    topics: tuple[TopicLine, ...]
    editors: tuple[EditorLine, ...]
    decided: int
    median_hours: float | None
    days: tuple[DayLine, ...]

    @property
    def period_days(self) -> float:
        return (self.end - self.start).total_seconds() / 86400

    @property
    def pending(self) -> int:
        return self.days[-1].pending if self.days else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "from": stamp(self.start), "to": stamp(self.end),
            "topics": [{"topic": t.topic, "new": t.new, "published": t.published,
                        "skipped": t.skipped, "pending": t.pending} for t in self.topics],
            "editors": [{"user": e.user, "publish": e.publish, "skip": e.skip,
                         "withdrawn": e.withdrawn} for e in self.editors],
            "decided": self.decided,
            "medianHoursToDecision": self.median_hours,
            "queue": [{"date": d.date.isoformat(), "pending": d.pending} for d in self.days],
        }

    def headline(self) -> str:
        """One line: the period and the totals."""
        published = sum(d.published for d in self.days)
        skipped = sum(d.skipped for d in self.days)
        median = "-" if self.median_hours is None else f"{self.median_hours:g} h"
        return (f"{self.start:%Y-%m-%d} to {self.end:%Y-%m-%d}: {self.decided} decided "
                f"({published} published, {skipped} skipped), median time to decision "
                f"{median}, {self.pending} waiting")

    def text(self, max_topics: int = 20) -> str:
        """The report for people, as plain text (the command line's answer)."""
        lines = [f"Editorial report, {self.headline()}"]
        if self.topics:
            width = max(5, *(len(t.topic) for t in self.topics[:max_topics]))
            lines.append(f"{'topic':<{width}}  {'new':>5}  {'published':>9}  {'skipped':>7}  "
                         f"{'pending':>7}")
            lines += [f"{t.topic:<{width}}  {t.new:>5}  {t.published:>9}  {t.skipped:>7}  "
                      f"{t.pending:>7}" for t in self.topics[:max_topics]]
            if len(self.topics) > max_topics:
                lines.append(f"... and {len(self.topics) - max_topics} more topics")
        if self.editors:
            lines.append("editor: publish / skip / withdrawn")
            lines += [f"  {e.user}: {e.publish} / {e.skip} / {e.withdrawn}"
                      for e in self.editors]
        lines.append("queue at the end of each day: " + ", ".join(
            f"{d.date:%m-%d} {d.pending}" for d in self.days))
        return "\n".join(lines)


def _ms(moment: dt.datetime) -> str:
    """As decision times are stored: milliseconds and Z (text order is time order)."""
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def day_ends(start: dt.datetime, end: dt.datetime, tz: str) -> list[tuple[dt.date, dt.datetime]]:
    """Each local day the period touches, with the moment it ends (the last: `end`)."""
    zone = ZoneInfo(tz)
    day, last = start.astimezone(zone).date(), end.astimezone(zone).date()
    ends = []
    while day <= last:
        midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), zone)
        ends.append((day, min(midnight.astimezone(dt.UTC), end)))
        day += dt.timedelta(days=1)
    return ends


# Standing decisions made in the period (two parameters: its start and end): each
# article's latest vote (the `decisions` view), found from the votes in the period
# instead of ranking every vote.
_STANDING = (
    "WITH standing AS MATERIALIZED (SELECT v.article_id, v.decision, v.decided_at FROM votes v"
    " WHERE v.decided_at >= ? AND v.decided_at <= ?"
    " AND v.seq = (SELECT max(w.seq) FROM votes w WHERE w.article_id = v.article_id))"
)
# An article that can wait in the queue: usable, and not closed in its file without a
# standing decision (published or skipped outside newsbot, at a time we cannot know).
_CAN_WAIT = ("a.error IS NULL AND (a.published = 0 AND a.skipped = 0"
             " OR EXISTS (SELECT 1 FROM votes v WHERE v.article_id = a.id))")


def build_report(store: Store, days: float = DEFAULT_DAYS, *, now: dt.datetime | None = None,
                 tz: str = "UTC") -> Report:
    """The report for the `days` before `now`."""
    end = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    start = end - dt.timedelta(days=days)
    db = store.db
    names = dict(db.execute("SELECT topic_key, min(topic) FROM topic_counts GROUP BY topic_key"))
    new = dict(db.execute(
        "SELECT topic_key, count(*) FROM article_topics WHERE published_at >= ?"
        " AND published_at <= ? GROUP BY topic_key", [stamp(start), stamp(end)]))
    pending = _pending_by_topic(store, end)
    # One pass over the period's standing decisions: their topics, their day, and the
    # hours from the article's first digest post (or its publishedDateTime) to the
    # decision. SQLite reads the ISO times (julianday); digest_messages is indexed by
    # (channel, article_id), so the channels are named.
    channels = [row[0] for row in db.execute("SELECT DISTINCT channel FROM digests")]
    first_post = ("(SELECT min(m.posted_at) FROM digest_messages m WHERE m.channel IN"
                  f" ({', '.join('?' * len(channels))}) AND m.article_id = s.article_id)"
                  if channels else "NULL")
    decided_by_topic: Counter[tuple[str, str]] = Counter()
    decided_at: dict[str, list[str]] = {PUBLISH: [], SKIP: []}
    hours = []
    for decision, decided, topic_keys, waited in db.execute(
        f"{_STANDING} SELECT s.decision, s.decided_at, (SELECT group_concat(t.topic_key, char(31))"
        " FROM article_topics t WHERE t.article_id = s.article_id),"
        f" 24 * (julianday(s.decided_at) - julianday(coalesce({first_post}, a.published_at)))"
        " FROM standing s LEFT JOIN articles a ON a.id = s.article_id",
        [_ms(start), _ms(end), *channels],
    ):
        decided_at[decision].append(decided)
        for key in topic_keys.split("\x1f") if topic_keys else ():
            decided_by_topic[(key, decision)] += 1
        if waited is not None:
            hours.append(waited)
    keys = set(new) | set(pending) | {key for key, _ in decided_by_topic}
    topics = sorted(
        (TopicLine(names.get(key, key), new.get(key, 0), decided_by_topic.get((key, PUBLISH), 0),
                   decided_by_topic.get((key, SKIP), 0), pending.get(key, 0)) for key in keys),
        key=lambda t: (-t.new, -t.decided, t.topic.casefold(), t.topic),
    )

    ends = day_ends(start, end, tz)
    per_day: dict[tuple[dt.date, str], int] = {}
    for decision, times in decided_at.items():
        times.sort()
        previous = 0
        for day, moment in ends:  # decisions made before each day's end, less the earlier
            made = bisect.bisect_right(times, _ms(moment))
            per_day[(day, decision)] = made - previous
            previous = made
    median = round(statistics.median(hours), 2) if hours else None

    editors = [EditorLine(user, publish, skip, withdrawn) for user, publish, skip, withdrawn in
               db.execute(
        "SELECT user_id, sum(action = 'publish' AND outcome = ?),"
        " sum(action = 'skip' AND outcome = ?), sum(outcome = ?) FROM decision_log"
        " WHERE created_at >= ? AND created_at <= ? AND outcome IN (?, ?) GROUP BY user_id",
        [RECORDED, RECORDED, RETRACTED, _ms(start), _ms(end), RECORDED, RETRACTED])]
    editors.sort(key=lambda e: (-(e.publish + e.skip + e.withdrawn), e.user))

    queue = _queue(store, start, [moment for _, moment in ends])
    day_lines = tuple(
        DayLine(day, per_day[(day, PUBLISH)], per_day[(day, SKIP)], waiting)
        for (day, _), waiting in zip(ends, queue, strict=True)
    )
    decided = len(decided_at[PUBLISH]) + len(decided_at[SKIP])
    return Report(start, end, tuple(topics), tuple(editors), decided, median, day_lines)


def _pending_by_topic(store: Store, end: dt.datetime) -> dict[str, int]:
    """Per topic: usable, neither published nor skipped, undecided, published by `end`.

    `topic_counts.to_review` counts the first two; decided ones and future-dated ones
    are taken off (both are few next to the topic rows, which are not scanned)."""
    db = store.db
    pending = Counter(dict(db.execute(
        "SELECT topic_key, sum(to_review) FROM topic_counts GROUP BY topic_key")))
    pending.subtract(dict(db.execute(
        "SELECT t.topic_key, count(*) FROM article_topics t WHERE t.article_id IN"
        " (SELECT article_id FROM votes) AND t.published = 0 AND t.skipped = 0"
        " GROUP BY t.topic_key")))
    pending.subtract(dict(db.execute(
        "SELECT t.topic_key, count(*) FROM article_topics t WHERE t.article_id IN"
        " (SELECT a.id FROM articles a WHERE a.published_at > ? AND a.error IS NULL"
        " AND a.published = 0 AND a.skipped = 0"
        " AND NOT EXISTS (SELECT 1 FROM votes v WHERE v.article_id = a.id))"
        " GROUP BY t.topic_key", [stamp(end)])))
    return {key: count for key, count in pending.items() if count}


def _queue(store: Store, start: dt.datetime, moments: list[dt.datetime]) -> list[int]:
    """The pending count at each moment (all after `start`).

    Pending at T: an article that can wait (_CAN_WAIT), published by T (or undated), on
    which no vote stood at T. Articles with no decision event after `start` stood then
    as they stand now, so only the others (the period's activity) have their decision
    log replayed; the rest are counted in SQL.
    """
    db = store.db
    recent = ("SELECT article_id FROM decision_log WHERE created_at > :start"
              f" AND outcome IN ('{RECORDED}', '{RETRACTED}')")
    bounds = {"start": _ms(start), "start_s": stamp(start), "end_s": stamp(max(moments))}
    # Quiet articles: waiting now, and all along unless they arrived during the period.
    # One scan of the table (its queue index would cost a look-up per row).
    waiting_before, arrived = 0, []
    for arrival, count in db.execute(
        "SELECT CASE WHEN coalesce(a.published_at, '') < :start_s THEN '' ELSE a.published_at"
        " END AS arrival, count(*) FROM articles a NOT INDEXED WHERE a.error IS NULL"
        " AND a.published = 0 AND a.skipped = 0 AND coalesce(a.published_at, '') <= :end_s"
        f" AND a.id NOT IN (SELECT article_id FROM votes) AND a.id NOT IN ({recent})"
        " GROUP BY arrival ORDER BY arrival", bounds,
    ):
        if arrival:
            arrived += [arrival] * count
        else:
            waiting_before = count

    # active articles: replay their whole log into intervals when a vote stood
    published_at = dict(db.execute(
        f"SELECT a.id, coalesce(a.published_at, '') FROM articles a WHERE a.id IN ({recent})"
        f" AND {_CAN_WAIT}", bounds))
    starts: list[str] = []
    stops: list[str] = []
    standing: dict[str, set[str]] = defaultdict(set)
    opened: dict[str, str] = {}

    def close(article_id: str, at: str | None) -> None:
        begun = opened.pop(article_id)
        arrival = published_at[article_id]
        effective = max(begun, arrival[:-1] + ".000Z" if arrival else "")
        if at is None or effective < at:
            starts.append(effective)
            if at is not None:
                stops.append(at)

    for article_id, user_id, outcome, created_at in db.execute(
        "SELECT article_id, user_id, outcome, created_at FROM decision_log"
        f" WHERE article_id IN ({recent}) AND outcome IN ('{RECORDED}', '{RETRACTED}')"
        " ORDER BY id", bounds,
    ):
        if article_id not in published_at:
            continue
        votes = standing[article_id]
        before = bool(votes)
        if outcome == RECORDED:
            votes.add(user_id)
        else:
            votes.discard(user_id)
        if votes and not before:
            opened[article_id] = created_at
        elif before and not votes:
            close(article_id, created_at)
    for article_id in list(opened):
        close(article_id, None)
    active = sorted(published_at.values())
    starts.sort()
    stops.sort()
    counts = []
    for moment in moments:
        at, at_s = _ms(moment), stamp(moment)
        decided = bisect.bisect_right(starts, at) - bisect.bisect_right(stops, at)
        counts.append(waiting_before + bisect.bisect_right(arrived, at_s)
                      + bisect.bisect_right(active, at_s) - decided)
    return counts
