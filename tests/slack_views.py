"""Helpers for the modal and App Home tests: views as slack_sdk's own models read them,
a modal opened and submitted as Slack does it, and the Home tab as a user sees it."""

from __future__ import annotations

import json

from conftest import CHIEF, Newsroom, parsed
from newsbot.sandbox.modals import state_values
from slack_sdk.models.views import View

OUTSIDE = "C0SPORTS"  # a channel newsbot was never invited to


def sdk_view(view: dict) -> View:
    """The view as slack_sdk's models read it: valid, and every element of a known type
    (slack_sdk drops an element whose type it does not know)."""
    sent = {k: view[k] for k in ("type", "title", "submit", "close", "blocks",
                                 "private_metadata", "callback_id") if view.get(k) is not None}
    model = View(**sent)
    model.validate_json()
    for block in model.blocks:
        if block.type == "input":
            assert block.element is not None, f"slack_sdk could not read {block.block_id}"
    return model


def field(value: object, name: str) -> object:
    """An attribute slack_sdk's model keeps as an object or (some) as the dict it got."""
    return value[name] if isinstance(value, dict) else getattr(value, name)


def opened_modal(newsroom: Newsroom, before: int = 0, user: str = CHIEF) -> dict:
    """The view of the `before`-th views.open (checked by slack_sdk) as `user` sees it."""
    newsroom.slack.wait_until(lambda: len(newsroom.slack.calls("views.open")) > before)
    call = newsroom.slack.calls("views.open")[before]
    assert call.ok, call.response
    sdk_view(parsed(call.params["view"]))
    [top] = newsroom.slack.workspace.modals.stack(user)[-1:]
    return top


def submit(newsroom: Newsroom, user: str, entered: dict):
    modals = newsroom.slack.workspace.modals
    view = modals.submitting(user, state_values(modals.top(user), entered))
    answer = newsroom.client.view_submission(user_id=user, view=view)
    assert answer.status == 200
    action = modals.apply_answer(user, answer.body or None)  # refused if Slack would
    return action, answer.body


def home_of(newsroom: Newsroom, user: str, before: int | None = None) -> dict:
    if before is None:
        before = len(newsroom.slack.calls("views.publish"))
        newsroom.client.app_home_opened(user_id=user)
    newsroom.slack.wait_until(lambda: len(newsroom.slack.calls("views.publish")) > before)
    call = newsroom.slack.calls("views.publish")[before]
    assert call.ok, call.response
    sdk_view_home(parsed(call.params["view"]))
    return newsroom.slack.workspace.home_view(user)


def sdk_view_home(view: dict) -> None:
    View(type="home", blocks=view["blocks"]).validate_json()


def buttons(view: dict) -> dict[tuple[str, str], dict]:
    found = {}
    for block in view["blocks"]:
        for element in [*block.get("elements", []), block.get("accessory") or {}]:
            if element.get("type") == "button":
                found[(element["action_id"], element.get("value", ""))] = element
    return found


def click(newsroom: Newsroom, user: str, view: dict, action_id: str, value: str) -> dict:
    before = len(newsroom.slack.calls("views.publish"))
    answer = newsroom.client.block_action(user_id=user, action_id=action_id, value=value,
                                          view=view)
    assert answer.status == 200
    return home_of(newsroom, user, before)


def refused_submission(newsroom: Newsroom, user: str, view: dict, entered: dict) -> str:
    """`view` submitted by `user` with `entered` (a forged submission: the modal was opened
    for someone else): Slack is told to show a notice instead; its text."""
    forged = {**view, "state": {"values": state_values(view, entered)}}
    answer = newsroom.client.view_submission(user_id=user, view=forged)
    assert answer.body["response_action"] == "update"
    sdk_view(answer.body["view"])
    return json.dumps(answer.body["view"]["blocks"])
