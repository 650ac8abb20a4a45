"""The schedule modal as Block Kit: one input block per field of bot/newsroom/schedule_form.py,
and the submitted view state read back into a ScheduleForm.

Each input's block_id is the form field's name, so `response_action: errors` can name the
block of every wrong field. Element types are those Slack offers for each value: a
channel picker (public and private), a time picker, weekday boxes, IANA zones grouped by
region, number inputs, and the index's topics (an external select past Slack's 100
options, answered by the options listener).
"""

from __future__ import annotations

import functools
import json
import zoneinfo
from collections.abc import Mapping, Sequence
from typing import Any

from newsbot.bot.newsroom.schedule_form import WEEKDAYS, ScheduleForm
from newsbot.bot.newsroom.schedules import KINDS

CALLBACK_ID = "newsbot_schedule_modal"
TOPICS_ACTION = "topics"  # the options listener answers block_suggestion for it
MAX_STATIC_OPTIONS = 100  # Slack's limit for a static select (and for each option group)
OPTION_TEXT_LIMIT = 75
OPTION_VALUE_LIMIT = 150
DAY_LABELS = dict(zip(WEEKDAYS, ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
                                 "Saturday", "Sunday"), strict=True))
KIND_LABELS = {"digest": "Digest of the best articles", "report": "Editorial report",
               "gaps": "Coverage-gap alerts"}
REGIONS = ("Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic", "Australia",
           "Europe", "Indian", "Pacific")
DEFAULT_FORM = ScheduleForm(time="09:00", days=WEEKDAYS[:5], kind="digest")


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def _option(value: str, label: str | None = None) -> dict[str, Any]:
    text = label or value
    if len(text) > OPTION_TEXT_LIMIT:
        text = text[: OPTION_TEXT_LIMIT - 1] + "…"
    return {"text": _plain(text), "value": value}


@functools.cache
def zone_groups() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """IANA zones by region, each group within Slack's 100 options (America is split)."""
    names = sorted(z for z in zoneinfo.available_timezones()
                   if z.split("/")[0] in REGIONS and "/" in z)
    groups: list[tuple[str, tuple[str, ...]]] = [("UTC", ("UTC",))]
    for region in REGIONS:
        zones = [z for z in names if z.split("/")[0] == region]
        chunks = [zones[i:i + MAX_STATIC_OPTIONS] for i in range(0, len(zones),
                                                                 MAX_STATIC_OPTIONS)]
        for chunk in chunks:
            label = region if len(chunks) == 1 else (
                f"{region} ({chunk[0].split('/')[1][0]}–{chunk[-1].split('/')[1][0]})")
            groups.append((label, tuple(chunk)))
    return tuple(groups)


def _zone_option(name: str) -> dict[str, Any]:
    return _option(name, name.replace("_", " "))


def known_zone(name: str | None) -> str | None:
    """`name` if the zone list offers it (an alias such as US/Eastern is not offered)."""
    return name if any(name in zones for _, zones in zone_groups()) else None


def schedule_modal(form: ScheduleForm, *, topics: Sequence[str], default_top: int,
                   schedule_id: str | None = None,
                   metadata: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The modal, filled in from `form` (DEFAULT_FORM for a new schedule, with the admin's
    zone; schedule_form(...) when editing `schedule_id`)."""
    blocks = [
        _input("channel", "Channel", {
            "type": "conversations_select", "action_id": "channel",
            "filter": {"include": ["public", "private"], "exclude_bot_users": True},
            "placeholder": _plain("Pick a channel"),
            **({"initial_conversation": form.channel} if form.channel else {})}),
        _input("time", "Time of day", {
            "type": "timepicker", "action_id": "time",
            **({"initial_time": form.time} if form.time else {})}, optional=True),
        _input("days", "Days", {
            "type": "checkboxes", "action_id": "days",
            "options": [_option(day, DAY_LABELS[day]) for day in WEEKDAYS],
            **({"initial_options": [_option(d, DAY_LABELS[d]) for d in WEEKDAYS
                                    if d in form.days]} if form.days else {})},
            optional=True),
        _input("tz", "Time zone", _zone_select(form.tz)),
        _input("kind", "What to post", {
            "type": "static_select", "action_id": "kind",
            "options": [_option(kind, KIND_LABELS[kind]) for kind in KINDS],
            "initial_option": _option(form.kind or "digest",
                                      KIND_LABELS[form.kind or "digest"])}),
        _input("top", "Number of articles", {
            "type": "number_input", "action_id": "top", "is_decimal_allowed": False,
            "min_value": "1", **({"initial_value": form.top} if form.top else {})},
            optional=True, hint=f"Empty: the configured digest.top ({default_top})."),
        _input("topics", "Topics", _topic_select(form.topics, topics), optional=True,
               hint="Empty: every topic. For gap alerts: the topics to watch."),
        _input("min_quality", "Minimum quality", {
            "type": "number_input", "action_id": "min_quality", "is_decimal_allowed": True,
            **({"initial_value": form.min_quality} if form.min_quality else {})},
            optional=True),
        _input("cron", "Advanced: cron expression", {
            "type": "plain_text_input", "action_id": "cron",
            "placeholder": _plain("0 9 * * 1-5"),
            **({"initial_value": form.cron} if form.cron else {})}, optional=True,
            hint="Replaces time and days. Unix meaning: 0 or 7 is Sunday, 1-5 Monday to "
                 "Friday."),
    ]
    title = f"Edit schedule {schedule_id}" if schedule_id else "New schedule"
    return {
        "type": "modal", "callback_id": CALLBACK_ID, "title": _plain(title[:24]),
        "submit": _plain("Save" if schedule_id else "Add schedule"), "close": _plain("Cancel"),
        "private_metadata": json.dumps({**(metadata or {}), "schedule": schedule_id}),
        "blocks": blocks,
    }


def _input(block_id: str, label: str, element: dict[str, Any], *, optional: bool = False,
           hint: str | None = None) -> dict[str, Any]:
    block = {"type": "input", "block_id": block_id, "label": _plain(label), "element": element,
             "optional": optional}
    if hint:
        block["hint"] = _plain(hint)
    return block


def _zone_select(zone_name: str | None) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "static_select", "action_id": "tz",
        "option_groups": [{"label": _plain(label), "options": [_zone_option(z) for z in zones]}
                          for label, zones in zone_groups()]}
    if known_zone(zone_name):
        element["initial_option"] = _zone_option(zone_name or "UTC")
    return element


def topic_options(topics: Sequence[str], typed: str = "") -> list[dict[str, Any]]:
    """Topics as options (the first 100 containing `typed`, case-insensitively)."""
    wanted = typed.strip().casefold()
    return [_option(t) for t in topics
            if len(t) <= OPTION_VALUE_LIMIT and wanted in t.casefold()][:MAX_STATIC_OPTIONS]


def _topic_select(chosen: Sequence[str], topics: Sequence[str]) -> dict[str, Any]:
    initial = [_option(t) for t in chosen if len(t) <= OPTION_VALUE_LIMIT]
    if len(topics) <= MAX_STATIC_OPTIONS:
        element: dict[str, Any] = {"type": "multi_static_select", "action_id": TOPICS_ACTION,
                                   "options": topic_options([*topics, *(
                                       t for t in chosen if t not in topics)])}
        if not element["options"]:  # Slack refuses a select without options
            element["options"] = [_option("(no topics yet)", "(no topics in the index yet)")]
    else:
        element = {"type": "multi_external_select", "action_id": TOPICS_ACTION,
                   "min_query_length": 1}
    if initial:
        element["initial_options"] = initial
    element["placeholder"] = _plain("Every topic")
    return element


def submitted_form(values: Mapping[str, Any]) -> ScheduleForm:
    """view.state.values (block_id -> action_id -> value) as a ScheduleForm."""
    def field(block_id: str) -> Mapping[str, Any]:
        block = values.get(block_id) or {}
        return next(iter(block.values()), {}) if isinstance(block, Mapping) else {}

    def chosen(block_id: str) -> tuple[str, ...]:
        return tuple(o.get("value", "") for o in field(block_id).get("selected_options") or [])

    def one(block_id: str) -> str | None:
        return (field(block_id).get("selected_option") or {}).get("value")

    return ScheduleForm(
        channel=field("channel").get("selected_conversation"),
        time=field("time").get("selected_time"), days=chosen("days"), tz=one("tz"),
        kind=one("kind"), top=field("top").get("value"),
        topics=tuple(t for t in chosen("topics") if t != "(no topics yet)"),
        min_quality=field("min_quality").get("value"), cron=field("cron").get("value"))
