"""Digest schedules: what to post, where and when, kept in one SQLite table.

Slack commands, the command line and the config file all write the same table, and a
running `newsbot serve` re-reads it every few seconds. Every value is validated before
it is stored, with a message that says exactly what is wrong.

The config file's `schedules:` list is applied by bot/newsroom/config_schedules.py.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import astuple, dataclass, field, replace
from typing import Any

from newsbot.bot.newsroom import checks
from newsbot.bot.newsroom.cron import build_trigger, parse_cron, zone
from newsbot.storage.db import Store

ORIGINS = ("config", "slack", "cli")
# What a schedule posts: the digest, the report (report.py) or gap alerts (gaps.py).
KINDS = ("digest", "report", "gaps")
_CHANNEL_LINK = re.compile(r"^<#([A-Za-z0-9]+)(?:\|[^>]*)?>$")  # <#C123|name>, <#C123|>, <#C123>
_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")


class ScheduleError(ValueError):
    """Bad input for a schedule; the message is meant for the person who typed it."""


class UnknownSchedule(ScheduleError):
    """No schedule has this id."""


def utc_text(moment: dt.datetime | None = None) -> str:
    """A timestamp as stored: UTC, ISO 8601, milliseconds, `Z`."""
    moment = moment or dt.datetime.now(dt.UTC)
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_utc_text(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- values


def normalize_channel(text: str, resolve_name: Callable[[str], str | None] | None = None) -> str:
    """A channel as Slack sends it (`<#C123|name>`, `<#C123|>`), or an id (`C123`,
    `#C123`) -> the id.

    `#news` is a channel name (names are lower case): `resolve_name` (given where a
    Slack token is at hand) looks it up; without one it is refused with a hint, while
    `#C0123ABCD` is taken as the id it is.
    """
    text = (text or "").strip()
    link = _CHANNEL_LINK.match(text)
    if link:
        channel = link.group(1).upper()
    elif text.startswith("#") and _CHANNEL_ID.match(text[1:]):
        channel = text[1:]
    else:
        channel = text.upper()
    if not _CHANNEL_ID.match(channel):
        if text.startswith("#") and resolve_name is not None:
            found = resolve_name(text[1:])
            if found:
                return found
            raise ScheduleError(
                f"no channel named '{text}' that newsbot can see: check the spelling, or "
                "invite newsbot to it first (/invite @newsbot) if it is private"
            )
        if text.startswith("#"):
            raise ScheduleError(
                f"channel '{text}' is a name, not an id: give its id (e.g. C0123ABCD, shown "
                "in the channel's details)"
            )
        raise ScheduleError(
            f"channel '{text}' is not a channel id: expected e.g. C0123ABCD or <#C0123ABCD|news>"
        )
    return channel


def check_top(value: Any) -> int | None:
    if value is None:
        return None
    try:
        return checks.whole_number(value, minimum=1)  # at most SQLite's largest integer
    except checks.Invalid as error:
        raise ScheduleError(f"top '{value}': {error}") from None


def check_min_quality(value: Any) -> float | None:
    if value is None:
        return None
    try:
        return checks.number(value)  # nan matches nothing, inf everything or nothing
    except checks.Invalid as error:
        raise ScheduleError(f"min_quality '{value}': {error}") from None


def check_topics(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, (list, tuple)) or not all(isinstance(t, str) for t in value):
        raise ScheduleError(f"topics {value!r}: must be a list of topic names")
    topics = tuple(t.strip() for t in value)
    if not all(topics):
        raise ScheduleError(f"topics '{','.join(topics)}': empty topic name")
    return tuple(dict.fromkeys(topics))


def check_kind(value: Any) -> str:
    if value is None:
        return "digest"
    if not isinstance(value, str) or value.strip().lower() not in KINDS:
        raise ScheduleError(f"kind {value!r}: must be one of {', '.join(KINDS)}")
    return value.strip().lower()


def check_zone_name(value: Any) -> str:
    try:
        return zone(value).key
    except ValueError as error:
        raise ScheduleError(str(error)) from None


def check_cron(value: Any) -> str:
    if not isinstance(value, str):
        raise ScheduleError(f"cron {value!r}: must be text, e.g. \"0 9 * * 1-5\"")
    try:
        return parse_cron(value).expression
    except ValueError as error:
        raise ScheduleError(f"invalid cron expression: {error}") from None


NEXT_WORDS = {"digest": "next digest", "report": "next report", "gaps": "next gap check"}


@dataclass(frozen=True)
class ScheduleSpec:
    """What a new schedule posts, where and when, before it is stored."""

    channel: str
    cron: str
    tz: str | None = None  # None: the caller's default zone
    top: int | None = None  # None: the configured digest.top
    topics: tuple[str, ...] = ()
    min_quality: float | None = None
    kind: str | None = None  # None: digest

    def validated(self, default_tz: str = "UTC") -> ScheduleSpec:
        """The same spec with every value checked and normalised; ScheduleError naming
        every wrong value at once (a bad cron and a bad zone are both reported)."""
        spec, problems = self.checked(default_tz)
        if spec is None:
            raise ScheduleError("; ".join(problems.values()))
        return spec

    def checked(self, default_tz: str = "UTC") -> tuple[ScheduleSpec | None, dict[str, str]]:
        """(the normalised spec, {}) or (None, {field: what is wrong}) for every wrong
        field, in field order: a form shows each message beside its own input."""
        field_checks: dict[str, Callable[[], Any]] = {
            "channel": lambda: normalize_channel(self.channel),
            "cron": lambda: check_cron(self.cron),
            "tz": lambda: check_zone_name(self.tz or default_tz),
            "top": lambda: check_top(self.top),
            "topics": lambda: check_topics(self.topics),
            "min_quality": lambda: check_min_quality(self.min_quality),
            "kind": lambda: check_kind(self.kind),
        }
        values, problems = checks.each(field_checks, ScheduleError)
        return (None, problems) if problems else (ScheduleSpec(**values), {})

    def same_digest(self, schedule: Schedule) -> bool:
        return (self.channel, self.cron, self.tz, self.top, self.topics, self.min_quality,
                self.kind or "digest") == (
            schedule.channel, schedule.cron, schedule.tz, schedule.top, schedule.topics,
            schedule.min_quality, schedule.kind,
        )


@dataclass(frozen=True)
class Schedule:
    id: str
    channel: str
    cron: str
    tz: str
    top: int | None
    topics: tuple[str, ...]
    min_quality: float | None
    enabled: bool
    created_by: str | None
    created_at: str
    origin: str
    active_since: str  # fire times before this are never due (added, resumed or retimed)
    config_key: str | None = field(default=None, compare=False)
    kind: str = "digest"

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Schedule:
        return cls(
            id=row["id"], channel=row["channel"], cron=row["cron"], tz=row["tz"],
            top=row["top"], topics=tuple(json.loads(row["topics"] or "[]")),
            min_quality=row["min_quality"], enabled=bool(row["enabled"]),
            created_by=row["created_by"], created_at=row["created_at"], origin=row["origin"],
            active_since=row["active_since"], config_key=row["config_key"],
            kind=row.get("kind") or "digest",
        )

    def trigger(self):
        return build_trigger(self.cron, self.tz)

    def next_fire(self, now: dt.datetime | None = None) -> dt.datetime | None:
        if not self.enabled:
            return None
        now = now or dt.datetime.now(dt.UTC)
        return self.trigger().get_next_fire_time(None, now)

    def to_json(self, now: dt.datetime | None = None) -> dict[str, Any]:
        next_fire = self.next_fire(now)
        return {
            "id": self.id, "channel": self.channel, "cron": self.cron, "tz": self.tz,
            "top": self.top, "topics": list(self.topics), "minQuality": self.min_quality,
            "enabled": self.enabled, "origin": self.origin, "createdBy": self.created_by,
            "createdAt": self.created_at,
            "nextFire": next_fire.isoformat() if next_fire else None, "kind": self.kind,
        }

    @property
    def next_words(self) -> str:
        """What its next run is called: "next digest", "next report", "next gap check"."""
        return NEXT_WORDS.get(self.kind, f"next {self.kind}")

    def describe(self, channel_format=lambda channel: channel,
                 user_format=lambda user: user) -> str:
        """One line for people: `s3  C123  "0 9 * * 1-5" Europe/London  top 5 ...`."""
        parts = [f'{self.id}: {channel_format(self.channel)} "{self.cron}" {self.tz}']
        if self.kind != "digest":
            parts.append(self.kind)
        else:
            parts.append(f"top {self.top}" if self.top else "top default")
        if self.topics:
            parts.append("topics " + ",".join(self.topics))
        if self.min_quality is not None:
            parts.append(f"min_quality {self.min_quality:g}")
        parts.append("enabled" if self.enabled else "paused")
        parts.append(f"from {self.origin}"
                     + (f" by {user_format(self.created_by)}" if self.created_by else ""))
        return ", ".join(parts)


# --- the table


def list_schedules(store: Store, enabled_only: bool = False) -> list[Schedule]:
    where = "WHERE enabled = 1" if enabled_only else ""
    rows = store.query(f"SELECT * FROM schedules {where} ORDER BY seq")
    return [Schedule.from_row(row) for row in rows]


def get_schedule(store: Store, schedule_id: str) -> Schedule:
    rows = store.query("SELECT * FROM schedules WHERE id = ?", [(schedule_id or "").strip()])
    if not rows:
        known = [row["id"] for row in store.query("SELECT id FROM schedules ORDER BY seq")]
        hint = f" (schedules: {', '.join(known)})" if known else " (there are no schedules)"
        raise UnknownSchedule(f"no schedule with id '{schedule_id}'{hint}")
    return Schedule.from_row(rows[0])


def insert_schedule(db, spec: ScheduleSpec, *, schedule_id: str | None, origin: str,
            created_by: str | None, now: str, enabled: bool = True,
            config_key: str | None = None) -> str:
    seq = db.execute(
        "SELECT coalesce(max(seq), 0) FROM (SELECT seq FROM sqlite_sequence"
        " WHERE name = 'schedules' UNION ALL SELECT max(seq) FROM schedules)"
    ).fetchone()[0] + 1
    schedule_id = schedule_id or f"s{seq}"
    db.execute(
        "INSERT INTO schedules (seq, id, channel, cron, tz, top, topics, min_quality, enabled,"
        " created_by, created_at, origin, config_key, config_enabled, active_since, updated_at,"
        " kind) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [seq, schedule_id, spec.channel, spec.cron, spec.tz, spec.top, json.dumps(spec.topics),
         spec.min_quality, int(enabled), created_by, now, origin, config_key,
         int(enabled) if config_key else None, now, now, spec.kind or "digest"],
    )
    return schedule_id


def add_schedule(
    store: Store,
    spec: ScheduleSpec,
    *,
    origin: str,
    created_by: str | None = None,
    default_tz: str = "UTC",
    now: dt.datetime | None = None,
) -> Schedule:
    """Validate and store a new schedule (from Slack or the command line); returns it.

    The same digest (channel, cron, zone and filters) scheduled twice would post twice,
    so that is refused.
    """
    if origin not in ORIGINS:
        raise ValueError(f"origin must be one of {ORIGINS}")
    spec = spec.validated(default_tz)
    with store.write() as db:
        for existing in list_schedules(store):
            if spec.same_digest(existing):
                raise ScheduleError(
                    f"the same {'digest' if existing.kind == 'digest' else existing.kind} is "
                f"already scheduled as {existing.id}"
                    + ("" if existing.enabled else f" (paused: resume {existing.id})")
                )
        schedule_id = insert_schedule(db, spec, schedule_id=None, origin=origin,
                              created_by=created_by, now=utc_text(now))
    return get_schedule(store, schedule_id)


def update_schedule(store: Store, schedule_id: str, spec: ScheduleSpec, *,
                    default_tz: str = "UTC", now: dt.datetime | None = None) -> Schedule:
    """Replace what a Slack or command-line schedule posts, where and when (the edit
    modal); a new timing starts now, as a resumed schedule does: nothing to catch up."""
    spec = spec.validated(default_tz)
    stamp = utc_text(now)
    with store.write() as db:
        current = get_schedule(store, schedule_id)
        if current.origin == "config":
            raise ScheduleError(f"{current.id} comes from the config file: change it there")
        for other in list_schedules(store):
            if other.id != current.id and spec.same_digest(other):
                raise ScheduleError(f"the same {other.kind} is already scheduled as {other.id}")
        retimed = (_fires(spec.cron), spec.tz) != (_fires(current.cron), current.tz)
        db.execute(
            "UPDATE schedules SET channel = ?, cron = ?, tz = ?, top = ?, topics = ?,"
            " min_quality = ?, kind = ?, updated_at = ?"
            + (", active_since = ?" if retimed else "") + " WHERE id = ?",
            [spec.channel, spec.cron, spec.tz, spec.top, json.dumps(spec.topics),
             spec.min_quality, spec.kind or "digest", stamp, *([stamp] if retimed else []),
             current.id])
    return get_schedule(store, current.id)


def _fires(cron: str) -> tuple:
    """What a cron expression fires on, whatever its spelling ("1-5" or "mon-fri")."""
    return astuple(replace(parse_cron(cron), expression=""))


def remove_schedule(store: Store, schedule_id: str) -> Schedule:
    """Delete a schedule made from Slack or the command line; its run history stays."""
    with store.write() as db:
        schedule = get_schedule(store, schedule_id)
        if schedule.origin == "config":
            raise ScheduleError(
                f"{schedule.id} comes from the config file: remove it there "
                f"(or pause it: schedule pause {schedule.id})"
            )
        db.execute("DELETE FROM schedules WHERE id = ?", [schedule.id])
    return schedule


def set_enabled(
    store: Store, schedule_id: str, enabled: bool, now: dt.datetime | None = None
) -> tuple[Schedule, bool]:
    """Pause or resume; returns the schedule and whether anything changed.

    Resuming starts afresh: fire times that passed while paused are not caught up.
    """
    stamp = utc_text(now)
    with store.write() as db:
        schedule = get_schedule(store, schedule_id)
        if schedule.enabled == enabled:
            return schedule, False
        db.execute(
            "UPDATE schedules SET enabled = ?, updated_at = ?"
            + (", active_since = ?" if enabled else "") + " WHERE id = ?",
            [int(enabled), stamp, *([stamp] if enabled else []), schedule.id],
        )
    return get_schedule(store, schedule.id), True


def pause_schedule(store: Store, schedule_id: str,
                   now: dt.datetime | None = None) -> tuple[Schedule, bool]:
    return set_enabled(store, schedule_id, False, now)


def resume_schedule(store: Store, schedule_id: str,
                    now: dt.datetime | None = None) -> tuple[Schedule, bool]:
    return set_enabled(store, schedule_id, True, now)
