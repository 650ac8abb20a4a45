"""The look-alike's modals: trigger ids, the view stack, and answers to submissions,
as Slack documents them (sandbox/modals.py)."""

from __future__ import annotations

import pytest
from newsbot.sandbox import SlackLookalike
from newsbot.sandbox.modals import InvalidSubmissionAnswer, state_values
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

EDITOR = "U0EDITOR"


def modal(title: str = "Form", *, external_id: str = "", options: int = 2) -> dict:
    return {"type": "modal", "title": {"type": "plain_text", "text": title},
            "submit": {"type": "plain_text", "text": "Save"}, "external_id": external_id,
            "blocks": [{"type": "input", "block_id": "pick",
                        "label": {"type": "plain_text", "text": "Pick"},
                        "element": {"type": "static_select", "action_id": "choice",
                                    "options": [{"text": {"type": "plain_text", "text": str(n)},
                                                 "value": f"v{n}"} for n in range(options)]}},
                       {"type": "section", "block_id": "note",
                        "text": {"type": "mrkdwn", "text": "A note"}}]}


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def slack(clock: Clock):
    with SlackLookalike(clock=clock) as started:
        yield started


@pytest.fixture
def bot(slack: SlackLookalike) -> WebClient:
    return WebClient(token=slack.bot_token, base_url=slack.base_url)


def error_of(call) -> str:
    with pytest.raises(SlackApiError) as raised:
        call()
    return raised.value.response["error"]


def test_a_trigger_opens_one_modal_within_three_seconds(slack, bot, clock):
    trigger = slack.new_trigger_id(EDITOR)
    opened = bot.views_open(trigger_id=trigger, view=modal())["view"]
    assert slack.workspace.modals.top(EDITOR)["id"] == opened["id"]
    assert error_of(lambda: bot.views_open(trigger_id=trigger, view=modal())) == (
        "exchanged_trigger_id")
    late = slack.new_trigger_id(EDITOR)
    clock.now += 3.5
    assert error_of(lambda: bot.views_open(trigger_id=late, view=modal())) == (
        "expired_trigger_id")
    assert error_of(lambda: bot.views_open(trigger_id="1.2.made-up", view=modal())) == (
        "invalid_trigger_id")


def test_push_stacks_three_views_at_most_and_update_replaces_in_place(slack, bot):
    root = bot.views_open(trigger_id=slack.new_trigger_id(EDITOR), view=modal("One"))["view"]
    bot.views_push(trigger_id=slack.new_trigger_id(EDITOR), view=modal("Two", external_id="x"))
    bot.views_push(trigger_id=slack.new_trigger_id(EDITOR), view=modal("Three"))
    assert error_of(lambda: bot.views_push(trigger_id=slack.new_trigger_id(EDITOR),
                                           view=modal("Four"))) == "push_limit_reached"
    updated = bot.views_update(external_id="x", view=modal("Two again"))["view"]
    stack = slack.workspace.modals.stack(EDITOR)
    assert [v["title"]["text"] for v in stack] == ["One", "Two again", "Three"]
    assert updated["id"] == stack[1]["id"] and updated["root_view_id"] == root["id"]
    assert error_of(lambda: bot.views_update(view_id=root["id"], hash="stale",
                                             view=modal())) == "hash_conflict"


def test_views_slack_would_refuse_are_refused(slack, bot):
    too_many = modal(options=101)
    assert error_of(lambda: bot.views_open(trigger_id=slack.new_trigger_id(EDITOR),
                                           view=too_many)) == "invalid_arguments"
    no_submit = {**modal(), "submit": None}
    assert error_of(lambda: bot.views_open(trigger_id=slack.new_trigger_id(EDITOR),
                                           view=no_submit)) == "invalid_arguments"


def test_answers_to_a_submission(slack, bot):
    modals = slack.workspace.modals
    bot.views_open(trigger_id=slack.new_trigger_id(EDITOR), view=modal())
    submitted = modals.submitting(EDITOR, state_values(modals.top(EDITOR), {"pick": "v1"}))
    assert submitted["state"]["values"] == {"pick": {"choice": {
        "type": "static_select",
        "selected_option": {"text": {"type": "plain_text", "text": "1"}, "value": "v1"}}}}
    with pytest.raises(InvalidSubmissionAnswer):  # a section is no input block
        modals.apply_answer(EDITOR, {"response_action": "errors", "errors": {"note": "no"}})
    assert modals.apply_answer(EDITOR, {"response_action": "errors",
                                        "errors": {"pick": "Pick another"}}) == "errors"
    assert modals.errors(modals.top(EDITOR)["id"]) == {"pick": "Pick another"}
    assert modals.apply_answer(EDITOR, {"response_action": "push", "view": modal("Next")})
    assert modals.apply_answer(EDITOR, None) == "close"  # back to the first view
    assert [v["title"]["text"] for v in modals.stack(EDITOR)] == ["Form"]
    assert modals.apply_answer(EDITOR, {"response_action": "clear"}) == "clear"
    assert modals.stack(EDITOR) == []
