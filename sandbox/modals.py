"""Modal views as Slack keeps them, per user: opened, pushed, updated, submitted, closed.

Faithful to Slack's documentation of modals:
- `views.open` and `views.push` take a `trigger_id`, which Slack issues with a slash
  command or a click for one user; it is single-use (`exchanged_trigger_id`) and expires
  after 3 seconds (`expired_trigger_id`); one Slack never issued is `invalid_trigger_id`.
  Triggers come from `new_trigger_id(user)`: pass `SlackLookalike.new_trigger_id` to
  SignedSlackClient as its `trigger_id_factory`.
- a user has one stack of at most 3 views (`push_limit_reached`); `views.update` replaces a
  view in place by `view_id` or `external_id` (keeping its id, with a new `hash`; a stale
  `hash` is `hash_conflict`);
- the app answers a `view_submission` in its acknowledgement (`apply_answer`): nothing
  closes the view on top (uncovering the one below), `clear` closes them all, `update`
  replaces it, `push` stacks a new one, `errors` keeps it open with each message beside
  its input block. An `errors` answer naming a block that is not an input block of the
  view, or an answer Slack could not read, is refused (`InvalidSubmissionAnswer`): Slack
  shows the user a generic failure then.
- `state_values(view, entered)` gives `view.state.values` as Slack sends them, from the
  value of each input block (a list for checkboxes and multi selects).

Simplified: no size limit on a view beyond Block Kit's block count, `views.update` takes
no trigger, and a view's `state` holds only what was submitted last.
"""

from __future__ import annotations

import copy
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

TRIGGER_SECONDS = 3.0
MAX_STACK = 3
MULTI = ("checkboxes", "multi_static_select", "multi_external_select",
         "multi_conversations_select", "multi_channels_select", "multi_users_select")
VALUE = ("number_input", "plain_text_input", "email_text_input", "url_text_input")


class ModalError(Exception):
    """A views.* call Slack would refuse; `error` is Slack's error string."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


class InvalidSubmissionAnswer(ValueError):
    """The app answered a view_submission in a way Slack would not accept."""


@dataclass
class _Trigger:
    user: str
    issued: float
    used: bool = False


class Modals:
    """The modal stacks of a workspace's users. Thread-safe; `on_change(kind, user)` is
    called (outside the lock) after every change, for the page's live updates."""

    def __init__(self, clock: Callable[[], float],
                 make_view: Callable[[dict[str, Any], str | None], dict[str, Any]],
                 on_change: Callable[[str, str], None]) -> None:
        self._clock, self._make_view, self._on_change = clock, make_view, on_change
        self._lock = threading.RLock()
        self._triggers: dict[str, _Trigger] = {}
        self._stacks: dict[str, list[dict[str, Any]]] = {}
        self._errors: dict[str, dict[str, str]] = {}  # view id -> block id -> message

    def new_trigger_id(self, user_id: str) -> str:
        trigger_id = f"{int(self._clock())}.{secrets.randbelow(10**10)}.{secrets.token_hex(16)}"
        with self._lock:
            self._triggers[trigger_id] = _Trigger(user_id, self._clock())
        return trigger_id

    def _take_trigger(self, trigger_id: str | None) -> str:
        trigger = self._triggers.get(trigger_id or "")
        if trigger is None:
            raise ModalError("invalid_trigger_id")
        if trigger.used:
            raise ModalError("exchanged_trigger_id")
        if self._clock() - trigger.issued > TRIGGER_SECONDS:
            raise ModalError("expired_trigger_id")
        trigger.used = True
        return trigger.user

    # ---- views.open, views.push, views.update

    def open(self, trigger_id: str | None, view: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            user = self._take_trigger(trigger_id)
            stored = self._make_view(view, None)
            self._stacks[user] = [stored]
            result = copy.deepcopy(stored)
        self._on_change("view_opened", user)
        return result

    def push(self, trigger_id: str | None, view: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            user = self._take_trigger(trigger_id)
            stack = self._stacks.get(user) or []
            if not stack:
                raise ModalError("not_found")
            if len(stack) >= MAX_STACK:
                raise ModalError("push_limit_reached")
            stored = self._make_view(view, None)
            stored.update(previous_view_id=stack[-1]["id"], root_view_id=stack[0]["id"])
            stack.append(stored)
            result = copy.deepcopy(stored)
        self._on_change("view_pushed", user)
        return result

    def update(self, view: dict[str, Any], *, view_id: str | None = None,
               external_id: str | None = None, expected_hash: str | None = None
               ) -> dict[str, Any]:
        with self._lock:
            user, index = self._find(view_id, external_id)
            result = self._replace(user, index, view, expected_hash)
        self._on_change("view_updated", user)
        return result

    def _find(self, view_id: str | None, external_id: str | None) -> tuple[str, int]:
        if not view_id and not external_id:
            raise ModalError("invalid_arguments")
        for user, stack in self._stacks.items():
            for index, shown in enumerate(stack):
                if (view_id and shown["id"] == view_id) or (
                        external_id and shown.get("external_id") == external_id):
                    return user, index
        raise ModalError("not_found")

    def _replace(self, user: str, index: int, view: dict[str, Any],
                 expected_hash: str | None) -> dict[str, Any]:
        current = self._stacks[user][index]
        if expected_hash and expected_hash != current["hash"]:
            raise ModalError("hash_conflict")
        stored = self._make_view(view, current["id"])
        stored.update(previous_view_id=current["previous_view_id"],
                      root_view_id=current["root_view_id"])
        self._stacks[user][index] = stored
        self._errors.pop(current["id"], None)
        return copy.deepcopy(stored)

    # ---- what the user sees and does

    def stack(self, user_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._stacks.get(user_id, []))

    def top(self, user_id: str) -> dict[str, Any] | None:
        with self._lock:
            stack = self._stacks.get(user_id)
            return copy.deepcopy(stack[-1]) if stack else None

    def errors(self, view_id: str) -> dict[str, str]:
        with self._lock:
            return dict(self._errors.get(view_id, {}))

    def submitting(self, user_id: str, values: Mapping[str, Any]) -> dict[str, Any]:
        """The top view as its view_submission carries it: with `state.values`."""
        with self._lock:
            stack = self._stacks.get(user_id)
            if not stack:
                raise ModalError("not_found")
            stack[-1]["state"] = {"values": copy.deepcopy(dict(values))}
            return copy.deepcopy(stack[-1])

    def apply_answer(self, user_id: str, answer: Any) -> str:
        """Do what the app's acknowledgement of a view_submission says; returns the
        response_action ("close" for none). InvalidSubmissionAnswer if Slack would not."""
        if answer in (None, "", {}):
            answer = {}
        if not isinstance(answer, dict):
            raise InvalidSubmissionAnswer(f"not a JSON object: {answer!r}")
        action = answer.get("response_action") or "close"
        with self._lock:
            stack = self._stacks.get(user_id) or []
            if not stack:
                raise ModalError("not_found")
            if action == "errors":
                errors = answer.get("errors")
                inputs = {b.get("block_id") for b in stack[-1]["blocks"]
                          if b.get("type") == "input"}
                if not isinstance(errors, dict) or not errors or not all(
                        key in inputs and isinstance(text, str) and text
                        for key, text in errors.items()):
                    raise InvalidSubmissionAnswer(
                        f"errors must name input blocks of the view ({sorted(inputs)}): "
                        f"{errors!r}")
                self._errors[stack[-1]["id"]] = dict(errors)
            elif action == "close":
                self._errors.pop(stack.pop()["id"], None)
            elif action == "clear":
                stack.clear()
            elif action == "update" and isinstance(answer.get("view"), dict):
                self._replace(user_id, len(stack) - 1, answer["view"], None)
            elif action == "push" and isinstance(answer.get("view"), dict):
                if len(stack) >= MAX_STACK:
                    raise InvalidSubmissionAnswer("push_limit_reached")
                pushed = self._make_view(answer["view"], None)
                pushed.update(previous_view_id=stack[-1]["id"], root_view_id=stack[0]["id"])
                stack.append(pushed)
            else:
                raise InvalidSubmissionAnswer(f"unknown response_action: {answer!r}")
        self._on_change(f"view_{action}", user_id)
        return action

    def close(self, user_id: str) -> dict[str, Any] | None:
        """The user closed the top view (Cancel, or ×); returns it (view_closed carries it)."""
        with self._lock:
            stack = self._stacks.get(user_id) or []
            if not stack:
                return None
            closed = stack.pop()
            self._errors.pop(closed["id"], None)
        self._on_change("view_closed", user_id)
        return closed


def state_values(view: Mapping[str, Any], entered: Mapping[str, Any]) -> dict[str, Any]:
    """`view.state.values` as Slack sends them: for each input block of `view`, what was
    entered (`entered[block_id]`: text, or a list of option values; absent: empty)."""
    values: dict[str, Any] = {}
    for block in view.get("blocks", []):
        if block.get("type") != "input" or not isinstance(block.get("element"), dict):
            continue
        element = block["element"]
        kind = element.get("type")
        given = entered.get(block.get("block_id"))
        state: dict[str, Any] = {"type": kind}
        if kind in MULTI:
            state["selected_options"] = [_option_of(element, v) for v in (given or [])]
        elif kind in ("static_select", "external_select"):
            state["selected_option"] = _option_of(element, given) if given else None
        elif kind == "conversations_select":
            state["selected_conversation"] = given or None
        elif kind == "channels_select":
            state["selected_channel"] = given or None
        elif kind == "users_select":
            state["selected_user"] = given or None
        elif kind == "timepicker":
            state["selected_time"] = given or None
        elif kind == "datepicker":
            state["selected_date"] = given or None
        else:  # number_input, plain_text_input and the other text inputs
            state["value"] = given if given not in ("", None) else None
        values[block["block_id"]] = {element.get("action_id", ""): state}
    return values


def _option_of(element: Mapping[str, Any], value: str) -> dict[str, Any]:
    """The option object with `value` (an external select's: made from the value)."""
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options += group.get("options") or []
    for option in options:
        if option.get("value") == value:
            return copy.deepcopy(option)
    if element.get("type", "").endswith("external_select"):
        return {"text": {"type": "plain_text", "text": value}, "value": value}
    raise ValueError(f"no option {value!r} in {element.get('action_id')!r}")
