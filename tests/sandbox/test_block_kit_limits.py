"""The Block Kit limits the look-alike enforces, as Slack documents them."""

from __future__ import annotations

import pytest
from newsbot.sandbox.block_kit import InvalidBlocks, assign_block_ids, validate_blocks


def section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def button(action_id: str, label: str = "Publish", value: str = "x") -> dict:
    return {"type": "button", "action_id": action_id, "value": value,
            "text": {"type": "plain_text", "text": label}}


def errors_of(blocks: list, **kwargs) -> list[str]:
    with pytest.raises(InvalidBlocks) as raised:
        validate_blocks(blocks, **kwargs)
    return raised.value.errors


def test_blocks_at_the_limits_pass():
    validate_blocks([section("x" * 3000)] * 50)
    validate_blocks([{"type": "header", "text": {"type": "plain_text", "text": "h" * 150}}])
    validate_blocks([{"type": "actions", "elements": [button("a", "b" * 75, "v" * 2000)]}])
    validate_blocks([section("x")] * 100, max_blocks=100)


def test_each_limit_is_reported_with_a_pointer():
    assert errors_of([section("x")] * 51) == ["must be less than 51 items [json-pointer:/blocks]"]
    assert errors_of([section("x" * 3001)]) == [
        "must be less than 3001 characters [json-pointer:/blocks/0/text/text]"]
    assert errors_of([{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}]) == [
        "must be less than 151 characters [json-pointer:/blocks/0/text/text]"]
    long_label = {"type": "actions", "elements": [button("a", "b" * 76)]}
    assert "/blocks/0/elements/0/text/text" in errors_of([long_label])[0]
    twice = {"type": "actions", "elements": [button("a"), button("a")]}
    assert "duplicate id 'a'" in errors_of([twice])[0]
    same_block_id = dict(section("x"), block_id="b")
    assert "/blocks/1/block_id" in errors_of([same_block_id, same_block_id])[0]
    assert errors_of("not a list") == ["must be an array [json-pointer:/blocks]"]
    assert "missing required field: type" in errors_of([{"text": "no type"}])[0]


def test_the_same_action_id_in_different_blocks_is_allowed():
    validate_blocks([{"type": "actions", "elements": [button("publish")]},
                     {"type": "actions", "elements": [button("publish")]}])


def test_assigned_block_ids_are_stable_and_keep_given_ones():
    blocks = [section("a"), dict(section("b"), block_id="mine")]
    first = assign_block_ids(blocks, seed="1700000000.000100")
    assert first == assign_block_ids(blocks, seed="1700000000.000100")
    assert first[1]["block_id"] == "mine" and first[0]["block_id"]
    assert "block_id" not in blocks[0]  # the caller's blocks are not changed
