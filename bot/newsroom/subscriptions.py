"""Subscriptions and follows: which newly indexed articles a channel, or one member by
direct message, wants to be told about (the alerts: bot/newsroom/alerts.py).

Slack (`/news subscribe`, `/news follow`) and the command line (`newsbot subscribe`) write
the same table. Every value is checked before it is stored, with one line that says what
is wrong. What the filters mean is bot/newsroom/subscription_filters.py; `matching_articles`
is the one rule deciding which indexed articles a subscription wants now.

A new subscription never replays the backlog: what it matches when it is made is marked
'backlog' in `alerts` at once, so only what is indexed, or first matches, later is alerted.
"""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from newsbot.bot.newsroom import checks
from newsbot.bot.newsroom.article import stamp
from newsbot.bot.newsroom.schedules import (
    ScheduleError,
    check_zone_name,
    normalize_channel,
    utc_text,
)
from newsbot.bot.newsroom.stories import story_decided
from newsbot.bot.newsroom.subscription_filters import (
    Filters,
    QuietHours,
    SubscriptionError,
    parse_quiet_hours,
)
from newsbot.storage.db import Store

MAX_FOLLOWS = 20  # a member's own follows; channel subscriptions have no such limit


class UnknownSubscription(SubscriptionError):
    """No subscription (or follow) has this id."""


def _check_channel(channel: str) -> str:
    try:
        return normalize_channel(channel)
    except ScheduleError as error:
        raise SubscriptionError(str(error)) from None


def _check_zone(name: str) -> str:
    try:
        return check_zone_name(name)
    except ScheduleError as error:
        raise SubscriptionError(str(error)) from None


def _check_day(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(str(value).strip()).isoformat()
    except ValueError:
        raise SubscriptionError(f"until '{value}': must be a date, YYYY-MM-DD") from None


@dataclass(frozen=True)
class SubscriptionSpec:
    """A new subscription before it is stored."""

    channel: str
    filters: Filters = field(default_factory=Filters)
    quiet: str | None = None
    tz: str | None = None  # None: the caller's default zone
    member: str | None = None  # a follow: the member it alerts, by DM in `channel`
    until: str | None = None  # a follow's last day (YYYY-MM-DD, in its zone)

    def validated(self, default_tz: str = "UTC") -> SubscriptionSpec:
        """The same spec with every value checked and normalised; SubscriptionError naming
        every wrong value at once."""
        spec, problems = self.checked(default_tz)
        if spec is None:
            raise SubscriptionError("; ".join(problems.values()))
        return spec

    def checked(self, default_tz: str = "UTC"
                ) -> tuple[SubscriptionSpec | None, dict[str, str]]:
        """(the normalised spec, {}) or (None, {field: what is wrong}) for every wrong
        field: channel, a filter kind, quiet, tz or until."""
        values, problems = checks.each({
            "channel": lambda: self.channel if self.member else _check_channel(self.channel),
        }, SubscriptionError)
        filters, wrong_filters = self.filters.checked()
        problems.update(wrong_filters)
        more, wrong = checks.each({"quiet": lambda: parse_quiet_hours(self.quiet),
                                   "tz": lambda: _check_zone(self.tz or default_tz),
                                   "until": lambda: _check_day(self.until)}, SubscriptionError)
        problems.update(wrong)
        if filters is None or problems:
            return None, problems
        quiet = more["quiet"]
        return SubscriptionSpec(channel=values["channel"], filters=filters,
                                quiet=quiet.text if quiet else None, tz=more["tz"],
                                member=self.member, until=more["until"]), {}


@dataclass(frozen=True)
class Subscription:
    id: str
    channel: str
    filters: Filters
    quiet: QuietHours | None
    tz: str
    created_by: str | None
    created_at: str
    active_since: str  # articles indexed, or first matching, before this are never alerted
    member: str | None = None  # a follow: alerts go to this member by DM (`channel`)
    until: str | None = None  # a follow's last day, in `tz`

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Subscription:
        return cls(id=row["id"], channel=row["channel"],
                   filters=Filters.from_json(json.loads(row["filters"] or "{}")),
                   quiet=parse_quiet_hours(row["quiet"]), tz=row["tz"],
                   created_by=row["created_by"], created_at=row["created_at"],
                   active_since=row["active_since"], member=row["member"], until=row["until"])

    def to_json(self) -> dict[str, Any]:
        document = {"id": self.id, "channel": self.channel, "filters": self.filters.to_json(),
                    "quiet": self.quiet.text if self.quiet else None, "tz": self.tz,
                    "created_by": self.created_by}
        if self.member:
            document.update(member=self.member, until=self.until)
        return document

    def expired(self, now: dt.datetime) -> bool:
        """A follow past its last day (in its own zone) alerts no more."""
        if self.until is None:
            return False
        today = now.astimezone(zoneinfo.ZoneInfo(self.tz)).date()
        return today > dt.date.fromisoformat(self.until)

    def in_quiet_hours(self, moment: dt.datetime) -> bool:
        """True when `moment` (aware) falls in the quiet hours, in the subscription's zone."""
        if self.quiet is None:
            return False
        return self.quiet.contains(moment.astimezone(zoneinfo.ZoneInfo(self.tz)).time())

    def describe(self, channel_format=lambda channel: channel,
                 user_format=lambda user: user) -> str:
        """One line for people: `sub2: C123 topics AI, min_quality 3, quiet 22:00-07:00 ...`."""
        quiet = f", quiet {self.quiet.text} {self.tz}" if self.quiet else ""
        if self.member:
            until = f", until {self.until}" if self.until else ""
            return f"{self.id}: {self.filters.describe()}{quiet}{until}"
        by = f", by {user_format(self.created_by)}" if self.created_by else ""
        return f"{self.id}: {channel_format(self.channel)} {self.filters.describe()}{quiet}{by}"


# --- the table


def list_subscriptions(store: Store) -> list[Subscription]:
    """The channel subscriptions (follows are `list_follows`)."""
    return [Subscription.from_row(row) for row in store.query(
        "SELECT * FROM subscriptions WHERE member IS NULL ORDER BY seq")]


def list_follows(store: Store, member: str) -> list[Subscription]:
    return [Subscription.from_row(row) for row in store.query(
        "SELECT * FROM subscriptions WHERE member = ? ORDER BY seq", [member])]


def alerting(store: Store, now: dt.datetime) -> list[Subscription]:
    """Every subscription and follow that alerts now (follows past their day do not)."""
    rows = store.query("SELECT * FROM subscriptions ORDER BY seq")
    return [s for s in map(Subscription.from_row, rows) if not s.expired(now)]


def get_subscription(store: Store, subscription_id: str, member: str | None = None
                     ) -> Subscription:
    """A channel subscription by id or, with `member`, one of that member's follows."""
    wanted = (subscription_id or "").strip().lower()
    rows = store.query("SELECT * FROM subscriptions WHERE id = ? AND member IS ?",
                       [wanted, member])
    if not rows:
        kind, known = (("follows", [s.id for s in list_follows(store, member)]) if member
                       else ("subscriptions", [s.id for s in list_subscriptions(store)]))
        hint = f" ({kind}: {', '.join(known)})" if known else f" (there are no {kind})"
        name = "follow" if member else "subscription"
        raise UnknownSubscription(f"no {name} with id '{subscription_id}'{hint}")
    return Subscription.from_row(rows[0])


def add_subscription(store: Store, spec: SubscriptionSpec, *, created_by: str | None = None,
                     default_tz: str = "UTC", now: dt.datetime | None = None) -> Subscription:
    """Validate and store a new subscription or follow; returns it. The same filters twice
    for one channel (or member) would alert twice, so that is refused; so is a member's
    21st follow. What it matches now is its backlog: marked, never alerted."""
    spec = spec.validated(default_tz)
    now = now or dt.datetime.now(dt.UTC)
    stamp_now = utc_text(now)
    with store.write() as db:
        existing = _refuse_same_filters(store, spec)
        if spec.member and len(existing) >= MAX_FOLLOWS:
            raise SubscriptionError(
                f"you already have {MAX_FOLLOWS} follows, the most a member may have;"
                " remove one with /news unfollow ID first")
        seq = db.execute("SELECT coalesce((SELECT seq FROM sqlite_sequence"
                         " WHERE name = 'subscriptions'), 0) + 1").fetchone()[0]
        subscription_id = f"{'follow' if spec.member else 'sub'}{seq}"
        db.execute(
            "INSERT INTO subscriptions (seq, id, channel, filters, quiet, tz, created_by,"
            " created_at, active_since, member, until) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [seq, subscription_id, spec.channel, json.dumps(spec.filters.to_json()), spec.quiet,
             spec.tz, created_by, stamp_now, stamp_now, spec.member, spec.until])
        added = get_subscription(store, subscription_id, spec.member)
        _mark_backlog(store, added, now)
    return added


def update_subscription(store: Store, subscription_id: str, spec: SubscriptionSpec, *,
                        member: str | None = None, default_tz: str = "UTC",
                        now: dt.datetime | None = None) -> Subscription:
    """Replace what a subscription (or one of `member`'s follows) wants, keeping its id,
    creator and what it was already told (the edit form). A follow keeps its DM channel.

    Nothing replays: what the new filters match now and never matched before is marked
    backlog, as for a new subscription, and an alert still held that they no longer want
    is dropped."""
    spec = spec.validated(default_tz)
    now = now or dt.datetime.now(dt.UTC)
    with store.write() as db:
        current = get_subscription(store, subscription_id, member)
        spec = replace(spec, member=current.member,
                       channel=current.channel if current.member else spec.channel)
        _refuse_same_filters(store, spec, current.id)
        db.execute("UPDATE subscriptions SET channel = ?, filters = ?, quiet = ?, tz = ?,"
                   " until = ? WHERE id = ?",
                   [spec.channel, json.dumps(spec.filters.to_json()), spec.quiet, spec.tz,
                    spec.until, current.id])
        updated = get_subscription(store, current.id, member)
        wanted = _mark_backlog(store, updated, now)
        db.execute("DELETE FROM alerts WHERE subscription_id = ? AND state = 'held'"
                   " AND article_id NOT IN (SELECT value FROM json_each(?))",
                   [current.id, json.dumps(wanted)])
    return updated


def _refuse_same_filters(store: Store, spec: SubscriptionSpec, editing: str | None = None
                         ) -> list[Subscription]:
    """The channel's subscriptions (or the member's follows); SubscriptionError if one
    other than `editing` has the same filters: it would alert twice."""
    existing = (list_follows(store, spec.member) if spec.member
                else list_subscriptions(store))
    for other in existing:
        if other.id != editing and (other.channel, other.filters.match_key()) == (
                spec.channel, spec.filters.match_key()):
            change = "unfollow" if spec.member else "unsubscribe"
            whom = ("You already follow" if spec.member
                    else f"{spec.channel} is already subscribed to")
            raise SubscriptionError(
                f"{whom} the same articles as {other.id}"
                f" (change it with: {change} {other.id}, then {change[2:]} again)")
    return existing


def _mark_backlog(store: Store, subscription: Subscription, now: dt.datetime) -> list[str]:
    """Mark what `subscription` matches now as backlog (never alerted), unless already
    matched; returns every article it matches now."""
    backlog = matching_articles(store, subscription, now=now, settled_stories=True)
    store.db.conn.executemany(
        "INSERT INTO alerts (subscription_id, article_id, state, matched_at)"
        " VALUES (?, ?, 'backlog', ?) ON CONFLICT (subscription_id, article_id) DO NOTHING",
        [(subscription.id, article, utc_text(now)) for article in backlog])
    return backlog


def remove_subscription(store: Store, subscription_id: str, member: str | None = None
                        ) -> Subscription:
    """Remove a subscription (or one of `member`'s follows) and what it had waiting."""
    with store.write() as db:
        subscription = get_subscription(store, subscription_id, member)
        db.execute("DELETE FROM subscriptions WHERE id = ?", [subscription.id])
        db.execute("DELETE FROM alerts WHERE subscription_id = ?", [subscription.id])
    return subscription


# --- the rule

# What only articles still to review pass: usable, neither published nor skipped in the
# file, no standing decision, out of embargo at `now` (the one parameter).
TO_REVIEW = ("a.error IS NULL AND a.published = 0 AND a.skipped = 0"
             " AND (a.published_at IS NULL OR a.published_at <= ?)"
             " AND NOT EXISTS (SELECT 1 FROM votes v WHERE v.article_id = a.id)")


def matching_articles(store: Store, subscription: Subscription, within: str = "",
                      within_params: Sequence[Any] = (), *, now: dt.datetime | None = None,
                      settled_stories: bool = False) -> list[str]:
    """Ids of the indexed articles `subscription` wants now, in index order; `within` is an
    extra SQL condition on `a` (with `within_params`) limiting which are looked at.

    Only articles still to review can match, and none of a story already decided, unless
    `settled_stories` (a new subscription's backlog counts them too)."""
    where, params = subscription.filters.where()
    rows = store.db.execute(
        f"SELECT a.id, a.provider_name, a.provider_domain FROM articles a WHERE {TO_REVIEW}"
        f" AND {where}" + (f" AND ({within})" if within else "") + " ORDER BY a.rowid",
        [stamp(now or dt.datetime.now(dt.UTC)), *params, *within_params])
    return [article_id for article_id, name, domain in rows
            if subscription.filters.wants_provider(name, domain)
            and (settled_stories or not story_decided(store, article_id))]


def matches(store: Store, subscription: Subscription, article_id: str,
            now: dt.datetime | None = None) -> bool:
    """True when the indexed article `article_id` is one `subscription` wants now."""
    return bool(matching_articles(store, subscription, "a.id = ?", [article_id], now=now))
