"""The schedule form (the Slack modal) in plain values: checked all at once, and filled in
from a stored schedule for editing.

A form says "09:30 on Monday to Friday" where the typed command says "30 9 * * 1-5"; the
advanced field takes a cron expression instead. Every wrong field is reported at once,
keyed by field, so the modal shows each message beside its own input. Slack-specific work
(block ids, whether newsbot is in the channel) stays with the caller.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from newsbot.bot.newsroom.checks import blank_is_none
from newsbot.bot.newsroom.cron import parse_cron
from newsbot.bot.newsroom.schedules import Schedule, ScheduleSpec
from newsbot.bot.newsroom.wording import sentence

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # the form's order, Monday first
UNIX_DAY = {name: (number + 1) % 7 for number, name in enumerate(WEEKDAYS)}  # sun = 0
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class ScheduleForm:
    """What the form holds, as text (number inputs arrive as text); None or "": empty."""

    channel: str | None = None
    time: str | None = None  # HH:MM
    days: tuple[str, ...] = ()  # names from WEEKDAYS
    tz: str | None = None
    kind: str | None = None
    top: str | None = None
    topics: tuple[str, ...] = ()
    min_quality: str | None = None
    cron: str | None = None  # advanced: replaces time and days when given


def form_spec(form: ScheduleForm) -> tuple[ScheduleSpec | None, dict[str, str]]:
    """(the spec to store, {}) or (None, {field: what is wrong}) naming every wrong field;
    fields are ScheduleForm's names."""
    problems: dict[str, str] = {}
    if not form.channel:
        problems["channel"] = "Pick the channel to post in."
    advanced = (form.cron or "").strip()
    cron = advanced
    if not advanced:
        cron, timing = timed_cron(form.time, form.days)
        problems.update(timing)
    spec = ScheduleSpec(
        channel=form.channel or "", cron=cron or "0 0 * * *", tz=form.tz or None,
        top=blank_is_none(form.top), topics=tuple(form.topics),
        min_quality=blank_is_none(form.min_quality), kind=form.kind or None)
    checked, found = spec.checked()
    for name, message in found.items():
        if name == "channel" and "channel" in problems:
            continue
        problems[name] = sentence(message)
    if checked is None or problems:
        return None, problems
    return checked, {}


def timed_cron(time: str | None, days: tuple[str, ...]) -> tuple[str, dict[str, str]]:
    """"09:30" on mon..fri -> "30 9 * * 1-5" (Unix numbering, ranges where they run)."""
    problems: dict[str, str] = {}
    match = _TIME.match(time or "")
    if not match:
        problems["time"] = ("Pick a time of day." if not time
                            else f"'{time}' is not a time of day (HH:MM).")
    unknown = [day for day in days if day not in UNIX_DAY]
    if unknown or not days:
        problems["days"] = ("Tick at least one day, or give a cron expression below."
                            if not days else f"Unknown day {unknown[0]!r}.")
    if problems:
        return "", problems
    assert match is not None
    hour, minute = int(match[1]), int(match[2])
    return f"{minute} {hour} * * {_day_field(sorted({UNIX_DAY[d] for d in days}))}", {}


def _day_field(numbers: list[int]) -> str:
    if len(numbers) == 7:
        return "*"
    runs: list[list[int]] = []
    for number in numbers:
        if runs and number == runs[-1][-1] + 1:
            runs[-1].append(number)
        else:
            runs.append([number])
    return ",".join(f"{r[0]}-{r[-1]}" if len(r) > 2 else ",".join(map(str, r)) for r in runs)


def schedule_form(schedule: Schedule) -> ScheduleForm:
    """A stored schedule as the form shows it for editing: a cron that is one time of day
    on some weekdays becomes the time and the day boxes, anything else the advanced field."""
    spec = parse_cron(schedule.cron)
    simple = (len(spec.minutes) == 1 and len(spec.hours) == 1 and not spec.days_restricted
              and len(spec.months) == 12)
    common = {"channel": schedule.channel, "tz": schedule.tz, "kind": schedule.kind,
              "top": None if schedule.top is None else str(schedule.top),
              "topics": schedule.topics,
              "min_quality": None if schedule.min_quality is None else
              f"{schedule.min_quality:g}"}
    if not simple:
        return ScheduleForm(cron=schedule.cron, **common)
    days = tuple(day for day in WEEKDAYS if UNIX_DAY[day] in spec.weekdays)
    time = f"{min(spec.hours):02d}:{min(spec.minutes):02d}"
    return ScheduleForm(time=time, days=days, **common)
