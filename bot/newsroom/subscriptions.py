"""Channel subscriptions: which newly indexed articles a channel wants to be told about.

Slack (`/news subscribe`) and the command line (`newsbot subscribe`) write the same table.
Every value is checked before it is stored, with one line that says what is wrong.
`matches` is the one rule deciding whether an article is for a subscription; the
alerts that post them build on it.

Filters AND across kinds and OR within one kind: `topics=AI,Climate providers=Reuters`
wants (AI or Climate) and Reuters. Topics match case-insensitively as `lookup` does;
a provider is its name or its domain, case-insensitively; `words` match as `search`
does (every word, as a prefix, in the title or excerpt); `exclude_words` leaves out an
article matching any one of its words. No filter at all is allowed: every article.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from newsbot.bot.newsroom import checks
from newsbot.bot.newsroom.article import stamp
from newsbot.bot.newsroom.lookup import fts_query
from newsbot.bot.newsroom.schedules import (
    ScheduleError,
    check_zone_name,
    normalize_channel,
    utc_text,
)
from newsbot.bot.newsroom.stories import story_decided
from newsbot.storage.db import Store

FILTER_KINDS = ("topics", "providers", "words", "exclude_topics", "exclude_words",
                "min_quality", "min_heat")
_QUIET = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


class SubscriptionError(ValueError):
    """Bad input for a subscription; the message is meant for the person who typed it."""


class UnknownSubscription(SubscriptionError):
    """No subscription has this id."""


# --- values


def _names(kind: str, value: Any) -> tuple[str, ...]:
    """Names as given (a list, or one comma-separated text), each once whatever its case."""
    if value is None:
        return ()
    try:
        given = checks.names(list(value) if isinstance(value, tuple) else value)
    except checks.Invalid as error:
        raise SubscriptionError(f"{kind} {value!r}: {error}") from None
    first_spelling: dict[str, str] = {}
    for name in given:
        first_spelling.setdefault(name.casefold(), name)
    return tuple(first_spelling.values())


def _words(kind: str, value: Any) -> str | None:
    if value is None:
        return None
    try:
        words = checks.text(value)
    except checks.Invalid as error:
        raise SubscriptionError(f"{kind} {value!r}: {error}") from None
    if not fts_query(words):
        raise SubscriptionError(f"{kind} '{words}': no word to search for (letters or digits)")
    return words


def _threshold(kind: str, value: Any) -> float | None:
    if value is None:
        return None
    try:
        return checks.number(value)
    except checks.Invalid as error:
        raise SubscriptionError(f"{kind} '{value}': {error}") from None


@dataclass(frozen=True)
class Filters:
    """What a subscription wants; empty kinds do not filter."""

    topics: tuple[str, ...] = ()
    providers: tuple[str, ...] = ()
    words: str | None = None
    exclude_topics: tuple[str, ...] = ()
    exclude_words: str | None = None
    min_quality: float | None = None
    min_heat: float | None = None

    def validated(self) -> Filters:
        return Filters(
            topics=_names("topics", self.topics), providers=_names("providers", self.providers),
            words=_words("words", self.words),
            exclude_topics=_names("exclude_topics", self.exclude_topics),
            exclude_words=_words("exclude_words", self.exclude_words),
            min_quality=_threshold("min_quality", self.min_quality),
            min_heat=_threshold("min_heat", self.min_heat),
        )

    def match_key(self) -> tuple:
        """Equal for two filter sets that match the same articles whatever their spelling
        (case, order, the words' punctuation)."""
        def names(values: tuple[str, ...]) -> frozenset[str]:
            return frozenset(value.casefold() for value in values)

        def words(text: str | None) -> str:
            return fts_query(text or "").casefold()

        return (names(self.topics), names(self.providers), words(self.words),
                names(self.exclude_topics), frozenset(words(self.exclude_words).split()),
                self.min_quality, self.min_heat)

    def to_json(self) -> dict[str, Any]:
        return {"topics": list(self.topics), "providers": list(self.providers),
                "words": self.words, "exclude_topics": list(self.exclude_topics),
                "exclude_words": self.exclude_words, "min_quality": self.min_quality,
                "min_heat": self.min_heat}

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> Filters:
        return cls(topics=tuple(document.get("topics") or ()),
                   providers=tuple(document.get("providers") or ()),
                   words=document.get("words"),
                   exclude_topics=tuple(document.get("exclude_topics") or ()),
                   exclude_words=document.get("exclude_words"),
                   min_quality=document.get("min_quality"), min_heat=document.get("min_heat"))

    def describe(self) -> str:
        parts = [f"topics {','.join(self.topics)}" if self.topics else "",
                 f"providers {','.join(self.providers)}" if self.providers else "",
                 f'words "{self.words}"' if self.words else "",
                 f"not topics {','.join(self.exclude_topics)}" if self.exclude_topics else "",
                 f'not words "{self.exclude_words}"' if self.exclude_words else "",
                 f"min_quality {self.min_quality:g}" if self.min_quality is not None else "",
                 f"min_heat {self.min_heat:g}" if self.min_heat is not None else ""]
        return ", ".join(part for part in parts if part) or "every article"


@dataclass(frozen=True)
class QuietHours:
    """A daily span of local time without alerts; `start` after `end` wraps midnight."""

    start: dt.time
    end: dt.time

    @property
    def text(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def contains(self, local: dt.time) -> bool:
        local = local.replace(second=0, microsecond=0, tzinfo=None)
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


def parse_quiet_hours(value: Any) -> QuietHours | None:
    """`"22:00-07:00"` -> QuietHours; None stays None."""
    if value is None:
        return None
    text = value.strip() if isinstance(value, str) else value
    found = _QUIET.match(text) if isinstance(text, str) else None
    hint = "must be HH:MM-HH:MM in 24-hour time, e.g. 22:00-07:00"
    if not found:
        raise SubscriptionError(f"quiet hours {text!r}: {hint}")
    hour1, minute1, hour2, minute2 = (int(part) for part in found.groups())
    if max(hour1, hour2) > 23 or max(minute1, minute2) > 59:
        raise SubscriptionError(f"quiet hours '{text}': {hint} (hours 00-23, minutes 00-59)")
    quiet = QuietHours(dt.time(hour1, minute1), dt.time(hour2, minute2))
    if quiet.start == quiet.end:
        raise SubscriptionError(f"quiet hours '{text}': start and end are the same time")
    return quiet


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


@dataclass(frozen=True)
class SubscriptionSpec:
    """A new subscription before it is stored."""

    channel: str
    filters: Filters = field(default_factory=Filters)
    quiet: str | None = None
    tz: str | None = None  # None: the caller's default zone

    def validated(self, default_tz: str = "UTC") -> SubscriptionSpec:
        """The same spec with every value checked and normalised (SubscriptionError if wrong)."""
        quiet = parse_quiet_hours(self.quiet)
        return SubscriptionSpec(channel=_check_channel(self.channel),
                                filters=self.filters.validated(),
                                quiet=quiet.text if quiet else None,
                                tz=_check_zone(self.tz or default_tz))


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

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Subscription:
        return cls(id=row["id"], channel=row["channel"],
                   filters=Filters.from_json(json.loads(row["filters"] or "{}")),
                   quiet=parse_quiet_hours(row["quiet"]), tz=row["tz"],
                   created_by=row["created_by"], created_at=row["created_at"],
                   active_since=row["active_since"])

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "channel": self.channel, "filters": self.filters.to_json(),
                "quiet": self.quiet.text if self.quiet else None, "tz": self.tz,
                "created_by": self.created_by}

    def describe(self, channel_format=lambda channel: channel,
                 user_format=lambda user: user) -> str:
        """One line for people: `sub2: C123 topics AI, min_quality 3, quiet 22:00-07:00 ...`."""
        quiet = f", quiet {self.quiet.text} {self.tz}" if self.quiet else ""
        by = f", by {user_format(self.created_by)}" if self.created_by else ""
        return f"{self.id}: {channel_format(self.channel)} {self.filters.describe()}{quiet}{by}"


# --- the table


def list_subscriptions(store: Store) -> list[Subscription]:
    return [Subscription.from_row(row)
            for row in store.query("SELECT * FROM subscriptions ORDER BY seq")]


def get_subscription(store: Store, subscription_id: str) -> Subscription:
    wanted = (subscription_id or "").strip().lower()
    rows = store.query("SELECT * FROM subscriptions WHERE id = ?", [wanted])
    if not rows:
        known = [row["id"] for row in store.query("SELECT id FROM subscriptions ORDER BY seq")]
        hint = (f" (subscriptions: {', '.join(known)})" if known
                else " (there are no subscriptions)")
        raise UnknownSubscription(f"no subscription with id '{subscription_id}'{hint}")
    return Subscription.from_row(rows[0])


def add_subscription(store: Store, spec: SubscriptionSpec, *, created_by: str | None = None,
                     default_tz: str = "UTC", now: dt.datetime | None = None) -> Subscription:
    """Validate and store a new subscription; returns it. The same filters twice for one
    channel would alert twice, so that is refused."""
    spec = spec.validated(default_tz)
    stamp_now = utc_text(now)
    with store.write() as db:
        for existing in list_subscriptions(store):
            if (existing.channel, existing.filters.match_key()) == (
                    spec.channel, spec.filters.match_key()):
                raise SubscriptionError(
                    f"{spec.channel} is already subscribed to the same articles as {existing.id}"
                    f" (change it with: unsubscribe {existing.id}, then subscribe again)")
        seq = db.execute("SELECT coalesce((SELECT seq FROM sqlite_sequence"
                         " WHERE name = 'subscriptions'), 0) + 1").fetchone()[0]
        subscription_id = f"sub{seq}"
        db.execute(
            "INSERT INTO subscriptions (seq, id, channel, filters, quiet, tz, created_by,"
            " created_at, active_since) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [seq, subscription_id, spec.channel, json.dumps(spec.filters.to_json()), spec.quiet,
             spec.tz, created_by, stamp_now, stamp_now])
    return get_subscription(store, subscription_id)


def remove_subscription(store: Store, subscription_id: str) -> Subscription:
    with store.write() as db:
        subscription = get_subscription(store, subscription_id)
        db.execute("DELETE FROM subscriptions WHERE id = ?", [subscription.id])
    return subscription


# --- the rules


def matches(store: Store, subscription: Subscription, article_id: str,
            now: dt.datetime | None = None) -> bool:
    """True when the indexed article `article_id` is one `subscription` wants now.

    Only articles still to review can match: usable, neither published nor skipped, no
    decision on it or on another copy of its story, and out of embargo at `now`.
    """
    row = store.db.execute(
        "SELECT a.rowid, a.provider_name, a.provider_domain, a.quality, a.heat FROM articles a"
        " WHERE a.id = ? AND a.error IS NULL AND a.published = 0 AND a.skipped = 0"
        " AND (a.published_at IS NULL OR a.published_at <= ?)"
        " AND NOT EXISTS (SELECT 1 FROM votes v WHERE v.article_id = a.id)",
        [article_id, stamp(now or dt.datetime.now(dt.UTC))]).fetchone()
    if row is None or story_decided(store, article_id):
        return False
    rowid, provider_name, provider_domain, quality, heat = row
    wanted = subscription.filters
    if wanted.min_quality is not None and (quality is None or quality < wanted.min_quality):
        return False
    if wanted.min_heat is not None and (heat is None or heat < wanted.min_heat):
        return False
    if wanted.providers:
        keys = {name.casefold() for name in wanted.providers}
        if not keys & {(name or "").casefold() for name in (provider_name, provider_domain)}:
            return False
    if wanted.topics or wanted.exclude_topics:
        topics = {key for (key,) in store.db.execute(
            "SELECT topic_key FROM article_topics WHERE article_id = ?", [article_id])}
        if wanted.topics and not topics & {t.casefold() for t in wanted.topics}:
            return False
        if topics & {t.casefold() for t in wanted.exclude_topics}:
            return False
    if wanted.words and not _text_matches(store, rowid, fts_query(wanted.words)):
        return False
    return not (wanted.exclude_words and _text_matches(
        store, rowid, " OR ".join(fts_query(wanted.exclude_words).split(" "))))


def _text_matches(store: Store, rowid: int, query: str) -> bool:
    """The full-text query `search` would run, restricted to one article's row."""
    return store.db.execute("SELECT 1 FROM articles_fts WHERE articles_fts MATCH ? AND rowid = ?",
                            [query, rowid]).fetchone() is not None


def in_quiet_hours(subscription: Subscription, moment: dt.datetime) -> bool:
    """True when `moment` (aware) falls in the subscription's quiet hours, in its zone."""
    if subscription.quiet is None:
        return False
    local = moment.astimezone(zoneinfo.ZoneInfo(subscription.tz))
    return subscription.quiet.contains(local.time())
