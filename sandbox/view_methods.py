"""The Web API's views.open, views.push and views.update (modals: sandbox/modals.py).

Apart from web_api_methods.py so that each surface adding a modal (a slash command, a
message shortcut, App Home) finds the methods in one place.
"""

from __future__ import annotations

from typing import Any

from newsbot.sandbox.modals import ModalError
from newsbot.sandbox.workspace import SlackError

# MethodCall (web_api_methods.py) is passed in; typed loosely to keep the import one-way.


def views_open(call: Any) -> dict[str, Any]:
    view = call.json("view", "invalid_arguments")
    return {"view": _modal(lambda: call.workspace.modals.open(call.text("trigger_id"), view))}


def views_push(call: Any) -> dict[str, Any]:
    view = call.json("view", "invalid_arguments")
    return {"view": _modal(lambda: call.workspace.modals.push(call.text("trigger_id"), view))}


def views_update(call: Any) -> dict[str, Any]:
    view = call.json("view", "invalid_arguments")
    return {"view": _modal(lambda: call.workspace.modals.update(
        view, view_id=call.text("view_id"), external_id=call.text("external_id"),
        expected_hash=call.text("hash")))}


def _modal(change: Any) -> dict[str, Any]:
    try:
        return change()
    except ModalError as error:
        raise SlackError(error.error) from None


VIEW_METHODS = {"views.open": views_open, "views.push": views_push,
                "views.update": views_update}
