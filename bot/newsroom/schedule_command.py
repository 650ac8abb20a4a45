"""The `schedule ...` command: one syntax and one set of answers for Slack and the CLI.

`/news schedule add <#C123|news> "0 9 * * 1-5" tz=Europe/London top=5` is parsed here,
every value checked with a message that says exactly what is wrong, and carried out
with a plain-text answer. Slack-specific work stays with the caller: it says whether
the user is an admin, which zone is theirs and whether the bot can see the channel.
"""

from __future__ import annotations

import datetime as dt
import difflib
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from newsbot.bot.newsroom.cron import next_fire_times
from newsbot.bot.newsroom.schedules import (
    Schedule,
    ScheduleError,
    ScheduleSpec,
    add_schedule,
    check_cron,
    check_zone_name,
    list_schedules,
    normalize_channel,
    pause_schedule,
    remove_schedule,
    resume_schedule,
)
from newsbot.storage.db import Store

OPTIONS = ("tz", "top", "topics", "min_quality", "kind")  # key=value options of `schedule add`
CHANGES = ("add", "remove", "pause", "resume")  # admins only
USAGE = (  # parse_schedule_command reads what follows `/news schedule` in Slack
    '/news schedule add #channel "<cron>" [tz=Zone] [top=N] [topics=A,B] [min_quality=Q] '
    '[kind=digest|report|gaps] | '
    '/news schedule list | /news schedule remove|pause|resume <id> | '
    '/news schedule preview "<cron>" [tz=Zone]'
)
# The same commands as each surface spells them: a hint must work where it is shown.
PREFIX = {"slack": "/news schedule", "cli": "newsbot schedule"}
ADD_EXAMPLE = {
    "slack": '/news schedule add #channel "0 9 * * 1-5" tz=Europe/London',
    "cli": 'newsbot schedule add C0123ABCD "0 9 * * 1-5" --tz Europe/London',
}
PREVIEW_COUNT = 5
_SMART_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u201e": '"',
                               "\u2018": "'", "\u2019": "'"})


@dataclass(frozen=True)
class ScheduleCommand:
    action: str  # add, list, remove, pause, resume, preview
    spec: ScheduleSpec | None = None  # add
    schedule_id: str | None = None  # remove, pause, resume
    cron: str | None = None  # preview
    tz: str | None = None  # preview; None: the caller's default zone


ACTIONS = ("add", "list", "remove", "pause", "resume", "preview")
SYNONYMS = {"delete": "remove", "rm": "remove", "del": "remove", "stop": "pause",
            "disable": "pause", "start": "resume", "enable": "resume", "ls": "list",
            "show": "list", "create": "add", "new": "add", "next": "preview"}


def as_typed(text: str) -> str:
    """Plain text, which nothing escaped: read as typed."""
    return text


def command_words(text: str) -> list[str]:
    """Words as a shell splits them (typographic quotes read as plain ones); ValueError
    on unbalanced quotes."""
    return shlex.split((text or "").translate(_SMART_QUOTES))


def _tokens(text: str) -> list[str]:
    try:
        tokens = command_words(text)
    except ValueError:
        raise ScheduleError(
            'unbalanced quotes: put the cron expression in double quotes, e.g. "0 9 * * 1-5"'
        ) from None
    if tokens and tokens[0].lower() == "schedule":
        tokens = tokens[1:]
    return tokens


def command_action(text: str) -> str | None:
    """The action word (add, list, ...) without checking the rest, or None."""
    words = (text or "").split()
    if words and words[0].lower() == "schedule":
        words = words[1:]
    return words[0].lower() if words else None


def parse_schedule_command(
    text: str, resolve_channel: Callable[[str], str | None] | None = None,
    unescape: Callable[[str], str] = as_typed,
) -> ScheduleCommand:
    """Parse what follows `/news schedule` (a leading `schedule` word is allowed).

    Values are checked here, so the error names what is wrong: the channel, the cron
    field, the zone or the option. `resolve_channel` looks up a channel given by name;
    `unescape` undoes the surface's escaping of an option's value (see split_options).
    """
    tokens = _tokens(text)
    if not tokens:
        raise ScheduleError(f"what should I do with schedules? Usage: {USAGE}")
    action, arguments = tokens[0].lower(), tokens[1:]
    if action not in ACTIONS:
        close = [SYNONYMS[action]] if action in SYNONYMS else difflib.get_close_matches(
            action, ACTIONS, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ScheduleError(f"unknown schedule command '{tokens[0]}'{hint}. Usage: {USAGE}")
    if action == "list":
        if arguments:
            raise ScheduleError(
                f"'/news schedule list' takes no arguments (got '{' '.join(arguments)}')")
        return ScheduleCommand("list")
    if action in ("remove", "pause", "resume"):
        if len(arguments) != 1:
            raise ScheduleError(
                f"'/news schedule {action}' takes one schedule id, e.g. "
                f"/news schedule {action} s1"
            )
        return ScheduleCommand(action, schedule_id=arguments[0])
    positional, options = split_options(arguments, OPTIONS if action == "add" else ("tz",),
                                        unescape)
    if action == "preview":
        cron = check_cron(_cron_text(positional, '/news schedule preview "0 9 * * 1-5"'))
        tz = check_zone_name(options["tz"]) if "tz" in options else None
        return ScheduleCommand("preview", cron=cron, tz=tz)
    if not positional:
        raise ScheduleError(
            'missing the channel: /news schedule add #channel "0 9 * * 1-5" ...')
    # Every wrong value is reported at once: a bad cron and a bad zone are both named.
    problems: dict[str, str] = {}
    channel = positional[0]
    try:
        channel = normalize_channel(channel, resolve_channel)
    except ScheduleError as error:
        problems["channel"] = str(error)
    try:
        cron = _cron_text(positional[1:], f'/news schedule add {positional[0]} "0 9 * * 1-5"')
    except ScheduleError as error:
        cron, problems["cron"] = "", str(error)
    spec = ScheduleSpec(channel=channel, cron=cron, tz=options.get("tz"),
                        top=options.get("top"), topics=options.get("topics"),
                        min_quality=options.get("min_quality"), kind=options.get("kind"))
    tz_given = spec.tz is not None
    checked, found = spec.checked()
    problems = {**found, **problems}  # field order; the parse's own words first
    if checked is None or problems:
        raise ScheduleError("; ".join(problems.values()))
    return ScheduleCommand("add", spec=checked if tz_given else replace(checked, tz=None))


def split_options(arguments: list[str], allowed: tuple[str, ...],
                  unescape: Callable[[str], str] = as_typed
                  ) -> tuple[list[str], dict]:
    """The positional words, and the key=value options' values. `unescape` undoes the
    surface's escaping of a value (Slack's: handlers/slack_text.py), once the words are
    split and before any value is read; plain text is read as typed."""
    positional: list[str] = []
    options: dict[str, str] = {}
    for argument in arguments:
        key, equals, value = argument.partition("=")
        if not equals:
            positional.append(argument)
            continue
        key = key.strip().lower()
        if key not in allowed:
            names = ", ".join(f"{name}=" for name in allowed)
            raise ScheduleError(f"unknown option '{key}=': use {names}")
        if key in options:
            raise ScheduleError(f"option '{key}=' given twice")
        if not value.strip():
            raise ScheduleError(f"option '{key}=' has no value")
        options[key] = unescape(value.strip())
    return positional, options


def _cron_text(tokens: list[str], example: str) -> str:
    """The cron expression: one quoted argument, or (leniently) its five bare fields."""
    if not tokens:
        raise ScheduleError(f"missing the cron expression, in double quotes: {example}")
    return " ".join(tokens)


# --- carrying it out


@dataclass(frozen=True)
class Reply:
    """The answer to one command: text for the person, and what happened."""

    ok: bool
    text: str
    changed: bool = False  # the schedules table changed
    schedule: Schedule | None = None
    schedules: tuple[Schedule, ...] = ()
    fires: tuple[dt.datetime, ...] = field(default=())


def refusal(action: str) -> Reply:
    return Reply(
        False,
        f"Only newsbot admins can {action} schedules (the config's admins, and workspace "
        "admins and owners). Nothing was changed. Anyone can use /news schedule list and "
        "/news schedule preview.",
    )


def run_schedule_command(
    store: Store,
    text: str,
    *,
    user_id: str,
    is_admin: Callable[[str], bool],
    user_zone: Callable[[str], str | None] = lambda user_id: None,
    fallback_zone: str = "UTC",
    channel_known: Callable[[str], bool] | None = None,
    channel_format: Callable[[str], str] = lambda channel: channel,
    origin: str = "slack",
    now: dt.datetime | None = None,
    user_format: Callable[[str], str] = lambda user: user,
    resolve_channel: Callable[[str], str | None] | None = None,
    channel_problem: Callable[[str], str | None] | None = None,
    time_format: Callable[[dt.datetime], str] | None = None,
    unescape: Callable[[str], str] = as_typed,
) -> Reply:
    """Parse and carry out `text` (what follows `/news schedule`) for `user_id`.

    Admin rights are checked before anything else, so a refusal never depends on how
    the rest of the command was typed. Errors come back as a Reply with ok=False and
    a message that says what to fix; nothing is changed then.
    """
    action = command_action(text)
    if action in CHANGES and not is_admin(user_id):
        return refusal(action)
    try:
        command = parse_schedule_command(text, resolve_channel, unescape)
        return execute_schedule_command(
            store, command, user_id=user_id, default_zone=lambda: zone_for(
                user_zone, user_id, fallback_zone),
            channel_known=channel_known, channel_format=channel_format, origin=origin,
            now=now, channel_problem=channel_problem, user_format=user_format,
            time_format=time_format or iso_with_weekday,
        )
    except ScheduleError as error:
        return Reply(False, str(error))


def zone_for(user_zone: Callable[[str], str | None], user_id: str, fallback: str) -> str:
    """The user's own zone when it is a known one, else the fallback."""
    zone_name = user_zone(user_id)
    if zone_name:
        try:
            return check_zone_name(zone_name)
        except ScheduleError:
            pass
    return fallback


def execute_schedule_command(
    store: Store,
    command: ScheduleCommand,
    *,
    user_id: str | None,
    default_zone: Callable[[], str] = lambda: "UTC",
    channel_known: Callable[[str], bool] | None = None,
    channel_format: Callable[[str], str] = lambda channel: channel,
    origin: str = "slack",
    now: dt.datetime | None = None,
    channel_problem: Callable[[str], str | None] | None = None,
    user_format: Callable[[str], str] = lambda user: user,
    time_format: Callable[[dt.datetime], str] | None = None,
) -> Reply:
    """Carry out a parsed command (the caller has checked admin rights); ScheduleError
    when it cannot be done. `channel_problem` says why the bot could not post in a new
    schedule's channel (None: it can); hints are spelled for `origin`'s surface."""
    now = now or dt.datetime.now(dt.UTC)
    when = time_format or iso_with_weekday  # Slack: a <!date> token each reader sees locally
    def fmt(schedule: Schedule) -> str:  # channels and people as this surface shows them
        return schedule.describe(channel_format, user_format)
    if command.action == "list":
        schedules = tuple(list_schedules(store))
        if not schedules:
            return Reply(True, "No digest schedules yet. Add one with: "
                               + ADD_EXAMPLE.get(origin, ADD_EXAMPLE["slack"]))
        lines = ["Digest schedules:"] + [f"• {_with_next(s, now, fmt, when)}" for s in schedules]
        return Reply(True, "\n".join(lines), schedules=schedules)
    if command.action == "preview":
        zone_name = command.tz or default_zone()
        fires = tuple(next_fire_times(command.cron, zone_name, now, PREVIEW_COUNT))
        lines = [f'Next {len(fires)} fire times of "{command.cron}" in {zone_name}:']
        lines += [f"• {when(fire)}" for fire in fires]
        return Reply(True, "\n".join(lines), fires=fires)
    if command.action == "add":
        spec = command.spec
        if channel_known is not None and not channel_known(spec.channel):
            raise ScheduleError(
                f"unknown channel {spec.channel}: it does not exist or newsbot cannot see it "
                "(invite newsbot to the channel first)"
            )
        problem = channel_problem(spec.channel) if channel_problem is not None else None
        if problem:
            raise ScheduleError(problem)
        if spec.tz is None:
            spec = replace(spec, tz=default_zone())
        schedule = add_schedule(store, spec, origin=origin, created_by=user_id, now=now)
        return Reply(True, f"Scheduled {_with_next(schedule, now, fmt, when)}", changed=True,
                     schedule=schedule)
    if command.action == "remove":
        schedule = remove_schedule(store, command.schedule_id)
        return Reply(True, f"Removed {fmt(schedule)}", changed=True, schedule=schedule)
    if command.action == "pause":
        schedule, changed = pause_schedule(store, command.schedule_id, now)
        prefix = PREFIX.get(origin, PREFIX["slack"])
        text = (f"Paused {schedule.id}; resume it with: {prefix} resume {schedule.id}"
                if changed else f"{schedule.id} is already paused.")
        return Reply(True, text, changed=changed, schedule=schedule)
    schedule, changed = resume_schedule(store, command.schedule_id, now)
    text = f"Resumed {_with_next(schedule, now, fmt, when)}" if changed else (
        f"{schedule.id} is already running.")
    return Reply(True, text, changed=changed, schedule=schedule)


def iso_with_weekday(moment: dt.datetime) -> str:
    """A fire time for the command line: ISO 8601 with its offset, and the weekday."""
    return f"{moment.isoformat()} ({moment:%a})"


def _with_next(schedule: Schedule, now: dt.datetime, fmt: Callable[[Schedule], str],
               when: Callable[[dt.datetime], str]) -> str:
    """The schedule and its next run, named for its kind ("next gap check")."""
    next_fire = schedule.next_fire(now)
    after = f"; {schedule.next_words} {when(next_fire)}" if next_fire else ""
    return fmt(schedule) + after
