"""Block Kit limits that Slack enforces when a message or view is posted.

Slack validates blocks far more thoroughly than this; these are the documented limits a
news digest is likely to run into (too many blocks, a long excerpt in a section, a long
button label, a block_id used twice in a message, an action_id used twice in a block).
Breaking one makes Slack answer `invalid_blocks` with the reason in `errors` and
`response_metadata.messages`, as here, so a test fails the way production would instead
of passing against a lenient fake.

Slack also gives each block without a `block_id` one of its own, which an app sees again
in `block_actions` payloads; `assign_block_ids` does the same, deterministically.
"""

from __future__ import annotations

import hashlib
from typing import Any

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_SECTION_TEXT = 3000
MAX_SECTION_FIELD_TEXT = 2000
MAX_SECTION_FIELDS = 10
MAX_HEADER_TEXT = 150
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_ID_LENGTH = 255  # block_id and action_id
MAX_ACTIONS_ELEMENTS = 25
MAX_CONTEXT_ELEMENTS = 10
MAX_INPUT_LABEL = 2000
MAX_OPTIONS = 100  # a select's options, its option groups, and each group's options
MAX_OPTION_TEXT = 75
MAX_OPTION_VALUE = 150
MAX_MODAL_TITLE = 24  # title, submit and close of a modal
MAX_PRIVATE_METADATA = 3000


class InvalidBlocks(ValueError):
    """The blocks break Slack's limits; `errors` are Slack-style messages with JSON pointers."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


def validate_blocks(blocks: Any, *, max_blocks: int = MAX_MESSAGE_BLOCKS,
                    pointer: str = "/blocks") -> None:
    """Raise InvalidBlocks if `blocks` is not a list of blocks within Slack's limits.

    `pointer` is where the blocks sit in the request, for the error messages.
    """
    if not isinstance(blocks, list):
        raise InvalidBlocks([f"must be an array [json-pointer:{pointer}]"])
    errors: list[str] = []
    if len(blocks) > max_blocks:
        errors.append(f"must be less than {max_blocks + 1} items [json-pointer:{pointer}]")
    block_ids: set[str] = set()
    for index, block in enumerate(blocks):
        where = f"{pointer}/{index}"
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            errors.append(f"missing required field: type [json-pointer:{where}]")
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            errors += _check_id(block_id, f"{where}/block_id", block_ids)
        errors += _check_block(block, where)
    if errors:
        raise InvalidBlocks(errors)


def assign_block_ids(blocks: list[dict[str, Any]], seed: str) -> list[dict[str, Any]]:
    """Copies of `blocks` where each block lacking a block_id gets one, as Slack does."""
    assigned = []
    for index, block in enumerate(blocks):
        block = dict(block)
        if "block_id" not in block:
            digest = hashlib.sha1(f"{seed}/{index}".encode()).hexdigest()
            block["block_id"] = digest[:5]
        assigned.append(block)
    return assigned


def _check_block(block: dict[str, Any], where: str) -> list[str]:
    kind = block["type"]
    errors: list[str] = []
    action_ids: set[str] = set()  # Slack wants action_ids unique within their block
    if kind == "section":
        errors += _text_limit(block.get("text"), MAX_SECTION_TEXT, f"{where}/text")
        fields = block.get("fields") or []
        if len(fields) > MAX_SECTION_FIELDS:
            errors.append(
                f"must be less than {MAX_SECTION_FIELDS + 1} items [json-pointer:{where}/fields]")
        for i, field in enumerate(fields):
            errors += _text_limit(field, MAX_SECTION_FIELD_TEXT, f"{where}/fields/{i}")
        if isinstance(block.get("accessory"), dict):
            errors += _check_element(block["accessory"], f"{where}/accessory", action_ids)
    elif kind == "header":
        errors += _text_limit(block.get("text"), MAX_HEADER_TEXT, f"{where}/text")
    elif kind == "input":
        if not isinstance(block.get("label"), dict):
            errors.append(f"missing required field: label [json-pointer:{where}]")
        errors += _text_limit(block.get("label"), MAX_INPUT_LABEL, f"{where}/label")
        if not isinstance(block.get("element"), dict):
            errors.append(f"missing required field: element [json-pointer:{where}]")
        else:
            errors += _check_element(block["element"], f"{where}/element", action_ids)
    elif kind in ("actions", "context"):
        limit = MAX_ACTIONS_ELEMENTS if kind == "actions" else MAX_CONTEXT_ELEMENTS
        elements = block.get("elements") or []
        if len(elements) > limit:
            errors.append(f"must be less than {limit + 1} items [json-pointer:{where}/elements]")
        if kind == "actions":
            for i, element in enumerate(elements):
                if isinstance(element, dict):
                    errors += _check_element(element, f"{where}/elements/{i}", action_ids)
    return errors


def _check_element(element: dict[str, Any], where: str, action_ids: set[str]) -> list[str]:
    errors: list[str] = []
    if "action_id" in element:
        errors += _check_id(element["action_id"], f"{where}/action_id", action_ids)
    errors += _check_options(element, where)
    if element.get("type") == "button":
        errors += _text_limit(element.get("text"), MAX_BUTTON_TEXT, f"{where}/text")
        value = element.get("value")
        if isinstance(value, str) and len(value) > MAX_BUTTON_VALUE:
            errors.append(_too_long(MAX_BUTTON_VALUE, f"{where}/value"))
    return errors


def _check_options(element: dict[str, Any], where: str) -> list[str]:
    """Select and checkbox options: at most 100 (or 100 groups of 100), short texts."""
    errors: list[str] = []
    lists = [("options", element.get("options"))]
    groups = element.get("option_groups")
    if isinstance(groups, list):
        if len(groups) > MAX_OPTIONS:
            errors.append(f"must be less than {MAX_OPTIONS + 1} items "
                          f"[json-pointer:{where}/option_groups]")
        lists += [(f"option_groups/{i}/options", g.get("options"))
                  for i, g in enumerate(groups) if isinstance(g, dict)]
    for path, options in lists:
        if not isinstance(options, list):
            continue
        if len(options) > MAX_OPTIONS:
            errors.append(
                f"must be less than {MAX_OPTIONS + 1} items [json-pointer:{where}/{path}]")
        for i, option in enumerate(options):
            if not isinstance(option, dict):
                continue
            errors += _text_limit(option.get("text"), MAX_OPTION_TEXT, f"{where}/{path}/{i}/text")
            value = option.get("value")
            if isinstance(value, str) and len(value) > MAX_OPTION_VALUE:
                errors.append(_too_long(MAX_OPTION_VALUE, f"{where}/{path}/{i}/value"))
    return errors


def validate_modal(view: dict[str, Any]) -> list[str]:
    """A modal's own limits: title, submit and close texts; submit wherever it has inputs."""
    errors = []
    for key in ("title", "submit", "close"):
        errors += _text_limit(view.get(key), MAX_MODAL_TITLE, f"/view/{key}")
    has_inputs = any(isinstance(b, dict) and b.get("type") == "input"
                     for b in view.get("blocks") or [])
    if has_inputs and not isinstance(view.get("submit"), dict):
        errors.append("submit is required when an input block is within the blocks array "
                      "[json-pointer:/view/submit]")
    metadata = view.get("private_metadata")
    if isinstance(metadata, str) and len(metadata) > MAX_PRIVATE_METADATA:
        errors.append(_too_long(MAX_PRIVATE_METADATA, "/view/private_metadata"))
    return errors


def _check_id(value: Any, where: str, seen: set[str]) -> list[str]:
    if not isinstance(value, str) or not value:
        return [f"must be a non-empty string [json-pointer:{where}]"]
    if len(value) > MAX_ID_LENGTH:
        return [_too_long(MAX_ID_LENGTH, where)]
    if value in seen:
        return [f"duplicate id {value!r} [json-pointer:{where}]"]
    seen.add(value)
    return []


def _text_limit(text_object: Any, limit: int, where: str) -> list[str]:
    text = text_object.get("text") if isinstance(text_object, dict) else None
    if isinstance(text, str) and len(text) > limit:
        return [_too_long(limit, f"{where}/text")]
    return []


def _too_long(limit: int, where: str) -> str:
    return f"must be less than {limit + 1} characters [json-pointer:{where}]"
