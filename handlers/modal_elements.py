"""Block Kit pieces the modals share (schedule, subscription, follow): input blocks, the
grouped IANA zone select, the index's topics as a select, number and text inputs, and the
reading of a submitted view's state.

Each input's block_id is its form field's name, so `response_action: errors` can name
the block of every wrong field.
"""

from __future__ import annotations

import functools
import json
import zoneinfo
from collections.abc import Mapping, Sequence
from typing import Any

TOPICS_ACTION = "topics"  # the options listener answers block_suggestion for it
NO_TOPICS = "(no topics yet)"  # the one option of a topic select on an empty index
MAX_STATIC_OPTIONS = 100  # Slack's limit for a static select (and for each option group)
OPTION_TEXT_LIMIT = 75
OPTION_VALUE_LIMIT = 150
TITLE_LIMIT = 24
REGIONS = ("Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic", "Australia",
           "Europe", "Indian", "Pacific")


def plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def option(value: str, label: str | None = None) -> dict[str, Any]:
    text = label or value
    if len(text) > OPTION_TEXT_LIMIT:
        text = text[: OPTION_TEXT_LIMIT - 1] + "…"
    return {"text": plain(text), "value": value}


def modal(callback_id: str, title: str, submit: str, metadata: Mapping[str, Any],
          blocks: list[dict[str, Any]]) -> dict[str, Any]:
    """A modal view; `metadata` rides along as private_metadata (what is being edited,
    where the answer goes)."""
    return {"type": "modal", "callback_id": callback_id, "title": plain(title[:TITLE_LIMIT]),
            "submit": plain(submit), "close": plain("Cancel"),
            "private_metadata": json.dumps(dict(metadata)), "blocks": blocks}


def input_block(block_id: str, label: str, element: dict[str, Any], *,
                optional: bool = False, hint: str | None = None) -> dict[str, Any]:
    block = {"type": "input", "block_id": block_id, "label": plain(label), "element": element,
             "optional": optional}
    if hint:
        block["hint"] = plain(hint)
    return block


def channel_select(channel: str | None) -> dict[str, Any]:
    """A channel picker offering public and private channels."""
    return {"type": "conversations_select", "action_id": "channel",
            "filter": {"include": ["public", "private"], "exclude_bot_users": True},
            "placeholder": plain("Pick a channel"),
            **({"initial_conversation": channel} if channel else {})}


def time_picker(action_id: str, initial: str | None) -> dict[str, Any]:
    return {"type": "timepicker", "action_id": action_id,
            **({"initial_time": initial} if initial else {})}


def number_input(action_id: str, initial: str | None, *, decimal: bool,
                 minimum: str | None = None) -> dict[str, Any]:
    return {"type": "number_input", "action_id": action_id, "is_decimal_allowed": decimal,
            **({"min_value": minimum} if minimum is not None else {}),
            **({"initial_value": initial} if initial else {})}


def text_input(action_id: str, initial: str | None, placeholder: str) -> dict[str, Any]:
    return {"type": "plain_text_input", "action_id": action_id,
            "placeholder": plain(placeholder),
            **({"initial_value": initial} if initial else {})}


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
    return option(name, name.replace("_", " "))


def known_zone(name: str | None) -> str | None:
    """`name` if the zone list offers it (an alias such as US/Eastern is not offered)."""
    return name if any(name in zones for _, zones in zone_groups()) else None


def zone_select(zone_name: str | None) -> dict[str, Any]:
    """The IANA zones grouped by region, `zone_name` chosen when the list offers it."""
    element: dict[str, Any] = {
        "type": "static_select", "action_id": "tz",
        "option_groups": [{"label": plain(label), "options": [_zone_option(z) for z in zones]}
                          for label, zones in zone_groups()]}
    if known_zone(zone_name):
        element["initial_option"] = _zone_option(zone_name or "UTC")
    return element


def topic_options(topics: Sequence[str], typed: str = "") -> list[dict[str, Any]]:
    """Topics as options (the first 100 containing `typed`, case-insensitively)."""
    wanted = typed.strip().casefold()
    return [option(t) for t in topics
            if len(t) <= OPTION_VALUE_LIMIT and wanted in t.casefold()][:MAX_STATIC_OPTIONS]


def topic_select(chosen: Sequence[str], topics: Sequence[str]) -> dict[str, Any]:
    """The index's topics to pick from: a static select, or past Slack's 100 options an
    external one answered by the options listener."""
    initial = [option(t) for t in chosen if len(t) <= OPTION_VALUE_LIMIT]
    if len(topics) <= MAX_STATIC_OPTIONS:
        element: dict[str, Any] = {"type": "multi_static_select", "action_id": TOPICS_ACTION,
                                   "options": topic_options([*topics, *(
                                       t for t in chosen if t not in topics)])}
        if not element["options"]:  # Slack refuses a select without options
            element["options"] = [option(NO_TOPICS, "(no topics in the index yet)")]
    else:
        element = {"type": "multi_external_select", "action_id": TOPICS_ACTION,
                   "min_query_length": 1}
    if initial:
        element["initial_options"] = initial
    element["placeholder"] = plain("Every topic")
    return element


class SubmittedState:
    """view.state.values (block_id -> action_id -> value), read by block id."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.values = values

    def field(self, block_id: str) -> Mapping[str, Any]:
        block = self.values.get(block_id) or {}
        return next(iter(block.values()), {}) if isinstance(block, Mapping) else {}

    def chosen(self, block_id: str) -> tuple[str, ...]:
        """The values of a multi select or checkboxes."""
        return tuple(o.get("value", "") for o in self.field(block_id).get("selected_options")
                     or [])

    def one(self, block_id: str) -> str | None:
        """The value of a single select."""
        return (self.field(block_id).get("selected_option") or {}).get("value")

    def text(self, block_id: str) -> str | None:
        """A text or number input's value."""
        return self.field(block_id).get("value")

    def topics(self, block_id: str = "topics") -> tuple[str, ...]:
        return tuple(t for t in self.chosen(block_id) if t != NO_TOPICS)
