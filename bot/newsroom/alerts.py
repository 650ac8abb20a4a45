"""Alerts: articles told to a subscribed channel, or to a follower by DM, as they land.

Everything passes through the database, so a crash, a restart, an ambiguous Slack answer
or a second process on the same file loses and doubles nothing:

1. The index queues every article whose matching may have changed (`alert_candidates`,
   filled by triggers on `articles` in whichever process indexes), and an embargo that
   lifts makes its article a candidate at that time, not at the next walk.
2. `collect` judges the candidates against every subscription, in one write transaction:
   a match becomes an `alerts` row, 'held', or 'copy' when the subscription already has
   another copy of its story (one story, one alert). The row is the claim: its key
   (subscription, article) and the story check under the write lock make an alert at most
   once per (subscription, story), whichever process collects.
3. `plan_alerts` turns held rows into alert digests (bot/newsroom/digest.py): one message
   per story, or, for more than BURST in a minute to one channel, one message with the
   stories in its thread. Quiet hours keep rows held; when they end, what they held goes
   out as one batch.
4. handlers/posting/alert_post.py posts the planned digests exactly as digests are posted
   (read back after an ambiguous failure, resumed after a crash), so a decision on an
   alert is a decision like any other.

Only candidates the story clusters have caught up with are judged: a syndicated copy
indexed a moment before its cluster is known would otherwise look like a new story.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from newsbot.bot.newsroom.article import DIGEST_ORDER, stamp
from newsbot.bot.newsroom.digest import RESUME_WINDOW, plan_listed_digest
from newsbot.bot.newsroom.redraw_queue import queue_redraw
from newsbot.bot.newsroom.subscriptions import Subscription, alerting, matching_articles
from newsbot.storage.db import Store

BURST = 5  # more alerts than this to one channel within BURST_WINDOW become one message
BURST_WINDOW = dt.timedelta(minutes=1)
ALERT_KEY = "alert:"  # the prefix of every alert digest's key

# A candidate the clusters have seen in its current version (or one that is broken).
_CLUSTERED = ("(a.error IS NOT NULL OR EXISTS (SELECT 1 FROM cluster_items c"
              " WHERE c.article_id = a.id AND c.content_hash = a.content_hash))")
_IN_LIST = "a.id IN (SELECT value FROM json_each(?))"
# Other members of the story of article ? (none when it stands alone).
_STORY_MATES = ("SELECT o.article_id FROM cluster_members m JOIN cluster_members o"
                " ON o.cluster_id = m.cluster_id AND o.article_id != m.article_id"
                " WHERE m.article_id = ?")


def _now(now: dt.datetime | None) -> dt.datetime:
    return now or dt.datetime.now(dt.UTC)


def collect(store: Store, now: dt.datetime | None = None, *, clustered: bool = True) -> int:
    """Judge the queued candidates and the embargoes lifted since the last pass; returns
    how many alerts it added as held. `clustered`: the index keeps story clusters, so a
    candidate waits until they have caught up with it."""
    now = _now(now)
    with store.write() as db:
        checked = db.execute("SELECT embargo_checked_until FROM alert_state").fetchone()
        if checked is not None and db.execute("SELECT EXISTS (SELECT 1 FROM subscriptions)"
                                              ).fetchone()[0]:
            db.execute(
                "INSERT INTO alert_candidates (article_id) SELECT id FROM articles"
                " WHERE error IS NULL AND published = 0 AND published_at > ?"
                " AND published_at <= ? ON CONFLICT (article_id) DO NOTHING",
                [checked[0], stamp(now)])
        db.execute("INSERT INTO alert_state (id, embargo_checked_until) VALUES (1, ?)"
                   " ON CONFLICT (id) DO UPDATE SET"
                   " embargo_checked_until = excluded.embargo_checked_until", [stamp(now)])
        db.execute("DELETE FROM alert_candidates WHERE article_id NOT IN"
                   " (SELECT id FROM articles)")  # it left the index before it was judged
        ready = [row[0] for row in db.execute(  # CROSS JOIN: the queue outer, never the index
            "SELECT a.id FROM alert_candidates q CROSS JOIN articles a ON a.id = q.article_id"
            + (f" WHERE {_CLUSTERED}" if clustered else ""))]
        if not ready:
            return 0
        ready_json = json.dumps(ready)
        held = 0
        for subscription in alerting(store, now):
            for article_id in matching_articles(store, subscription, _IN_LIST, [ready_json],
                                                now=now):
                held += _record_match(store, subscription, article_id, now)
        for mate in _posted_story_mates(store, ready):
            queue_redraw(store, mate)  # a copy joined a posted story: its "Also:" line grows
        db.execute("DELETE FROM alert_candidates WHERE article_id IN"
                   " (SELECT value FROM json_each(?))", [ready_json])
    return held


def _record_match(store: Store, subscription: Subscription, article_id: str,
                  now: dt.datetime) -> int:
    """The alerts row for one match, unless there is one: 1 if it is a new held alert."""
    db = store.db
    if db.execute("SELECT 1 FROM alerts WHERE subscription_id = ? AND article_id = ?",
                  [subscription.id, article_id]).fetchone():
        return 0  # matched before (the backlog, an alert already, a fall and a rise)
    story_known = db.execute(
        f"SELECT EXISTS (SELECT 1 FROM alerts WHERE subscription_id = ? AND article_id IN"
        f" ({_STORY_MATES}))", [subscription.id, article_id]).fetchone()[0]
    state = "copy" if story_known else "held"
    db.execute("INSERT INTO alerts (subscription_id, article_id, state, quiet, matched_at)"
               " VALUES (?, ?, ?, ?, ?)",
               [subscription.id, article_id, state, subscription.in_quiet_hours(now),
                stamp(now)])
    return int(state == "held")


def _posted_story_mates(store: Store, article_ids: Sequence[str]) -> list[str]:
    """Members of these articles' stories that some posted message shows."""
    return [row[0] for row in store.db.execute(
        "SELECT DISTINCT o.article_id FROM cluster_members m JOIN cluster_members o"
        " ON o.cluster_id = m.cluster_id AND o.article_id != m.article_id"
        " WHERE m.article_id IN (SELECT value FROM json_each(?)) AND EXISTS"
        " (SELECT 1 FROM digest_messages d WHERE d.article_id = o.article_id"
        " AND d.ts IS NOT NULL)", [json.dumps(list(article_ids))])]


@dataclass(frozen=True)
class _Held:
    subscription: Subscription
    article_id: str
    story: str  # its cluster, or itself when it stands alone
    quiet: bool  # matched during the quiet hours


def plan_alerts(store: Store, now: dt.datetime | None = None, *,
                may_decide: Callable[[str], bool] = lambda member: True) -> list[int]:
    """Plan the held alerts that may go now as alert digests; returns their ids.

    Per channel: one message per story; more than BURST stories at once, or a quiet
    hours' batch of several, become one message with the stories in its thread; a
    channel that had BURST messages within the last minute waits until it may have
    another, unless the waiting stories make a burst. `may_decide(member)`: whether a
    follower's alerts carry the Publish/Skip buttons."""
    now = _now(now)
    planned = []
    with store.write() as db:
        subscriptions = {s.id: s for s in alerting(store, now)}
        by_channel: dict[str, list[_Held]] = {}
        for subscription_id, article_id, story, quiet in db.execute(
                "SELECT x.subscription_id, x.article_id,"
                " coalesce((SELECT cluster_id FROM cluster_members WHERE article_id = a.id),"
                " a.id), x.quiet FROM alerts x JOIN articles a ON a.id = x.article_id"
                f" WHERE x.state = 'held' ORDER BY {DIGEST_ORDER}").fetchall():
            subscription = subscriptions.get(subscription_id)
            if subscription is None or subscription.in_quiet_hours(now):
                continue
            by_channel.setdefault(subscription.channel, []).append(
                _Held(subscription, article_id, story, bool(quiet)))
        for channel, held in by_channel.items():
            planned += _plan_channel(store, channel, held, now, may_decide)
    return planned


def _plan_channel(store: Store, channel: str, held: list[_Held], now: dt.datetime,
                  may_decide: Callable[[str], bool]) -> list[int]:
    stories: dict[str, list[_Held]] = {}
    for alert in held:
        stories.setdefault(alert.story, []).append(alert)
    recent = store.db.execute(
        "SELECT count(*) FROM digests WHERE channel = ? AND key LIKE ? AND created_at >= ?",
        [channel, ALERT_KEY + "%", stamp(now - BURST_WINDOW)]).fetchone()[0]
    after_quiet = any(alert.quiet for alert in held) and len(stories) > 1
    members = {alert.subscription.member for alert in held}
    buttons = all(member is None or may_decide(member) for member in members)
    groups: list[tuple[str | None, list[list[_Held]]]]
    if after_quiet or len(stories) > BURST:
        groups = [(burst_title(len(stories), [a.subscription for a in held], after_quiet),
                   list(stories.values()))]
    elif len(stories) <= BURST - recent:
        groups = [(None, [story]) for story in stories.values()]
    else:
        return []  # the channel had its share this minute: these wait for a burst or a slot
    planned = []
    for title, group in groups:
        lead_ids = [story[0].article_id for story in group]
        digest_id = plan_listed_digest(
            store, f"{ALERT_KEY}{channel}:{stamp(now)}:{uuid.uuid4().hex[:8]}", channel,
            title or f"Alert: {lead_ids[0]}", lead_ids, header=title is not None,
            buttons=buttons, now=now)
        store.db.conn.executemany(
            "UPDATE alerts SET state = 'planned', digest_id = ? WHERE subscription_id = ?"
            " AND article_id = ?",
            [(digest_id, alert.subscription.id, alert.article_id)
             for story in group for alert in story])
        planned.append(digest_id)
    return planned


def burst_title(count: int, subscriptions: Sequence[Subscription], after_quiet: bool) -> str:
    """ "7 new articles on AI, Climate": the topics the subscriptions name, when each
    names some; a quiet hours' batch says so."""
    topics: dict[str, str] = {}
    for subscription in subscriptions:
        for topic in subscription.filters.topics:
            topics.setdefault(topic.casefold(), topic)
    named = all(subscription.filters.topics for subscription in subscriptions)
    title = f"{count} new articles" + (f" on {', '.join(topics.values())}" if named else "")
    if after_quiet:
        quiet = next(s for s in subscriptions if s.quiet is not None)
        title += f", held during the quiet hours ({quiet.quiet.text} {quiet.tz})"
    return title


def unposted_alerts(store: Store, now: dt.datetime | None = None) -> list[int]:
    """Alert digests still to post, oldest first (planned, interrupted or failed)."""
    return [row[0] for row in store.db.execute(
        "SELECT id FROM digests WHERE key LIKE ? AND status IN ('planned', 'posting', 'failed')"
        " AND created_at >= ? ORDER BY id",
        [ALERT_KEY + "%", stamp(_now(now) - RESUME_WINDOW)])]


def waiting_alerts(store: Store) -> int:
    """Alerts held now (quiet hours, a channel at its burst limit): for /metrics."""
    return store.db.execute("SELECT count(*) FROM alerts WHERE state = 'held'").fetchone()[0]
