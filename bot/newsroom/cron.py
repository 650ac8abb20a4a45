"""Unix cron expressions, turned into APScheduler triggers that mean what crontab(5) means.

Admins type crontab syntax, where Sunday is 0 or 7 and "1-5" is Monday to Friday.
APScheduler 3.x numbers Monday as 0 (`CronTrigger.from_crontab("0 9 * * 1-5")` fires
Tuesday to Saturday) and ANDs day-of-month with day-of-week, where cron fires when
either matches once both are restricted. So we parse the expression ourselves into
plain value sets and hand APScheduler explicit lists, with weekdays by name.

Daylight saving: every local wall-clock time fires at most once a day. APScheduler
3.11 fires a time that exists twice (the fall-back hour) twice, so the second
occurrence is skipped here; a time that does not exist (the spring-forward hour) fires
once, when APScheduler fires it: the wall time pushed forward by the gap (02:30 becomes
03:30 in Europe/Berlin and America/New_York).
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import zoneinfo
from dataclasses import dataclass
from functools import lru_cache

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger

UTC = dt.UTC

MONTH_NAMES = ["jan", "feb", "mar", "apr", "may", "jun",
               "jul", "aug", "sep", "oct", "nov", "dec"]
WEEKDAY_NAMES = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]  # Unix numbering: sun = 0
ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]  # February at its longest
MAX_SCAN = 10_000  # fire times examined at most by fire_times_between


class CronError(ValueError):
    """The cron expression is wrong; the message names the field and the value."""


class UnknownTimeZone(ValueError):
    """Not an IANA time zone name."""


@dataclass(frozen=True)
class Field:
    name: str
    low: int
    high: int  # the highest value accepted (7 for day-of-week: Sunday again)
    names: tuple[str, ...] = ()  # names for low, low + 1, ...
    name_base: int = 0  # the number of the first name

    def describe(self) -> str:
        allowed = f"{self.low}-{self.high}"
        if self.names:
            allowed += f" or {self.names[0]}-{self.names[-1]}"
        return f"must be {allowed}"


FIELDS = (
    Field("minute", 0, 59),
    Field("hour", 0, 23),
    Field("day-of-month", 1, 31),
    Field("month", 1, 12, tuple(MONTH_NAMES), 1),
    Field("day-of-week", 0, 7, tuple(WEEKDAY_NAMES), 0),
)
_ITEM = re.compile(r"^(?P<range>\*|[a-z0-9]+(?:-[a-z0-9]+)?)(?:/(?P<step>[^/]*))?$")


@dataclass(frozen=True)
class CronSpec:
    """A parsed expression: the values each field allows, Unix numbering (Sunday = 0)."""

    expression: str  # as typed, whitespace normalised
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday ... 6 = Saturday (7 folded into 0)
    days_restricted: bool  # day-of-month does not start with '*'
    weekdays_restricted: bool  # day-of-week does not start with '*'

    @property
    def either_day_matches(self) -> bool:
        """crontab(5): when both day fields are restricted, a day matching either fires."""
        return self.days_restricted and self.weekdays_restricted


def parse_cron(expression: str) -> CronSpec:
    """Parse a five-field Unix cron expression (or an @alias); CronError says what is wrong."""
    if not isinstance(expression, str) or not expression.strip():
        raise CronError("empty cron expression: expected five fields, e.g. \"0 9 * * 1-5\"")
    text = " ".join(expression.split())
    parts = ALIASES.get(text.lower(), text).split(" ")
    if text.startswith("@") and text.lower() not in ALIASES:
        raise CronError(
            f"'{text}' is not supported: use five fields or one of {', '.join(ALIASES)}"
        )
    if len(parts) != 5:
        raise CronError(
            f"a cron expression has 5 fields (minute hour day-of-month month day-of-week), "
            f"got {len(parts)} in '{text}'"
        )
    values = [_parse_field(field, part) for field, part in zip(FIELDS, parts, strict=True)]
    minutes, hours, days, months, weekdays = values
    spec = CronSpec(
        expression=text,
        minutes=minutes, hours=hours, days=days, months=months,
        weekdays=frozenset(d % 7 for d in weekdays),
        days_restricted=not parts[2].startswith("*"),
        weekdays_restricted=not parts[4].startswith("*"),
    )
    only_days_count = spec.days_restricted and not spec.weekdays_restricted
    if only_days_count and min(days) > max(DAYS_IN_MONTH[m - 1] for m in months):
        raise CronError(
            f"day-of-month field '{parts[2]}': no such day in month field '{parts[3]}' "
            "(the expression would never fire)"
        )
    return spec


def _parse_field(field: Field, text: str) -> frozenset[int]:
    values: set[int] = set()
    for item in text.lower().split(","):
        if not item:
            raise CronError(f"{field.name} field '{text}': empty item in the list")
        values.update(_parse_item(field, text, item))
    return frozenset(values)


def _parse_item(field: Field, text: str, item: str) -> range:
    match = _ITEM.match(item)
    if match is None:
        raise CronError(f"{field.name} field '{text}': {field.describe()}")
    step = 1
    if match["step"] is not None:
        if not match["step"].isdigit() or int(match["step"]) < 1:
            raise CronError(
                f"{field.name} field '{text}': step '/{match['step']}' must be a whole number "
                "of 1 or more"
            )
        step = int(match["step"])
    if match["range"] == "*":
        return range(field.low, field.high + 1, step)
    first_text, _, last_text = match["range"].partition("-")
    first = _value(field, text, first_text)
    if last_text:
        last = _value(field, text, last_text, range_end=True)
    else:
        last = field.high if match["step"] is not None else first  # "5/10" = 5 to the end
    if first > last:
        raise CronError(
            f"{field.name} field '{text}': range '{match['range']}' goes backwards "
            f"({first} is after {last})"
        )
    return range(first, last + 1, step)


def _value(field: Field, text: str, token: str, range_end: bool = False) -> int:
    if token.isdigit():
        number = int(token)
    elif token in field.names:
        number = field.names.index(token) + field.name_base
        if range_end and field.name == "day-of-week" and number == 0:
            number = 7  # "fri-sun" is Friday to Sunday
    else:
        raise CronError(f"{field.name} field '{text}': {field.describe()}")
    if not field.low <= number <= field.high:
        raise CronError(f"{field.name} field '{text}': {field.describe()}")
    return number


# --- time zones


@lru_cache(maxsize=64)
def zone(name: str) -> zoneinfo.ZoneInfo:
    """The IANA time zone with this name; UnknownTimeZone (with close names) otherwise."""
    if not isinstance(name, str) or not name.strip():
        raise UnknownTimeZone("empty time zone: use an IANA name such as Europe/London")
    name = name.strip()
    try:
        if name in zoneinfo.available_timezones():
            return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        pass
    close = difflib.get_close_matches(name, sorted(zoneinfo.available_timezones()), n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise UnknownTimeZone(
        f"unknown time zone '{name}': use an IANA name such as Europe/London{hint}"
    )


# --- triggers


def _listing(values: frozenset[int], full: range) -> str:
    return "*" if values == frozenset(full) else ",".join(str(v) for v in sorted(values))


def _weekday_listing(weekdays: frozenset[int]) -> str:
    if len(weekdays) == 7:
        return "*"
    # APScheduler's names are unambiguous, unlike its numbers (mon = 0)
    return ",".join(WEEKDAY_NAMES[d] for d in sorted(weekdays))


class CrontabTrigger(BaseTrigger):
    """An APScheduler trigger with crontab(5) meaning and once-per-wall-time DST handling."""

    __slots__ = ("spec", "timezone", "_inner")

    def __init__(self, spec: CronSpec, timezone: zoneinfo.ZoneInfo) -> None:
        self.spec = spec
        self.timezone = timezone
        common = dict(
            minute=_listing(spec.minutes, range(0, 60)),
            hour=_listing(spec.hours, range(0, 24)),
            month=_listing(spec.months, range(1, 13)),
            timezone=timezone,
        )
        days = _listing(spec.days, range(1, 32))
        weekdays = _weekday_listing(spec.weekdays)
        # A day of the month no chosen month has (30 February) can never fire on its own;
        # its CronTrigger would search to year 9999 on every call, so only the weekday
        # half is kept.
        days_possible = min(spec.days) <= max(DAYS_IN_MONTH[m - 1] for m in spec.months)
        if spec.either_day_matches and not days_possible:
            self._inner: BaseTrigger = CronTrigger(day="*", day_of_week=weekdays, **common)
        elif spec.either_day_matches:
            self._inner = OrTrigger([
                CronTrigger(day=days, day_of_week="*", **common),
                CronTrigger(day="*", day_of_week=weekdays, **common),
            ])
        else:
            self._inner = CronTrigger(day=days, day_of_week=weekdays, **common)

    def get_next_fire_time(
        self, previous_fire_time: dt.datetime | None, now: dt.datetime
    ) -> dt.datetime | None:
        fire = self._inner.get_next_fire_time(previous_fire_time, now)
        while fire is not None and _second_occurrence(fire):
            fire = self._inner.get_next_fire_time(fire, fire)
        if fire is None:
            return None
        # A wall time that does not exist comes back as e.g. 02:30+01:00 on the day
        # clocks go to +02:00: name the same instant as the zone really shows it.
        return fire.astimezone(UTC).astimezone(self.timezone)

    def __str__(self) -> str:
        return f"crontab[{self.spec.expression}, {self.timezone.key}]"

    def __repr__(self) -> str:
        return f"<CrontabTrigger ({self.spec.expression!r}, timezone={self.timezone.key!r})>"


def _second_occurrence(moment: dt.datetime) -> bool:
    """True for the second time a wall-clock time happens (the repeated hour at fall-back)."""
    return moment.fold == 1 and moment.utcoffset() != moment.replace(fold=0).utcoffset()


def build_trigger(cron: str | CronSpec, tz: str | zoneinfo.ZoneInfo) -> CrontabTrigger:
    """The APScheduler trigger for a cron expression in a time zone (both validated)."""
    spec = parse_cron(cron) if isinstance(cron, str) else cron
    timezone = tz if isinstance(tz, zoneinfo.ZoneInfo) else zone(tz)
    return CrontabTrigger(spec, timezone)


def _aware(moment: dt.datetime, timezone: zoneinfo.ZoneInfo) -> dt.datetime:
    """A naive datetime is local time in the schedule's zone."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone)
    return moment.astimezone(timezone)


def next_fire_times(
    cron: str, tz: str, start: dt.datetime, count: int = 5
) -> list[dt.datetime]:
    """The next `count` fire times at or after `start`, in the schedule's zone.

    A naive `start` is read as local time in `tz`.
    """
    trigger = build_trigger(cron, tz)
    fires: list[dt.datetime] = []
    previous: dt.datetime | None = None
    now = _aware(start, trigger.timezone)
    while len(fires) < count:
        fire = trigger.get_next_fire_time(previous, now)
        if fire is None:
            break
        fires.append(fire)
        previous = now = fire
    return fires


def fire_times_between(
    trigger: BaseTrigger, start: dt.datetime, end: dt.datetime, limit: int = MAX_SCAN
) -> list[dt.datetime]:
    """Fire times with start <= t <= end (both aware), oldest first, at most `limit`."""
    fires: list[dt.datetime] = []
    fire = trigger.get_next_fire_time(None, start)
    while fire is not None and fire <= end and len(fires) < limit:
        fires.append(fire)
        fire = trigger.get_next_fire_time(fire, fire)
    return fires
