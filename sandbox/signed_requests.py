"""Send a Bolt app the requests Slack sends, signed as Slack signs them, over real HTTP.

Faithful to Slack's documentation of what arrives at an app's Request URL:
- slash commands: `application/x-www-form-urlencoded` with token, team_id, team_domain,
  channel_id, channel_name, user_id, user_name, command, text, api_app_id,
  is_enterprise_install, response_url, trigger_id;
- Events API: JSON `event_callback` envelopes (token, team_id, api_app_id, event,
  event_id, event_time, authorizations, ...), and the `url_verification` handshake;
- interactivity: form field `payload` holding a JSON `block_actions` (from a message, a
  view, or an app's link preview), `view_submission`, `view_closed`, `block_suggestion`
  or `message_action` (message shortcut) payload;
- every request carries `X-Slack-Request-Timestamp` and `X-Slack-Signature`
  (`v0=` + HMAC-SHA256 of `v0:{timestamp}:{body}` with the signing secret); a redelivered
  event carries `X-Slack-Retry-Num` and `X-Slack-Retry-Reason` and the same body.

`Delivery` chooses how a request arrives: a stale timestamp, a wrong signature, retry
headers. Slack's 3-second acknowledgement deadline is not enforced here: the answer is
returned however long the app takes (up to `timeout`), and the test decides what it means.

Only the standard library is used for HTTP, through an opener without proxies, so
HTTP(S)_PROXY in the environment cannot divert loopback requests.
"""

from __future__ import annotations

import itertools
import json
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import urlencode

from newsbot.sandbox.workspace import dm_channel_id
from slack_sdk.signature import SignatureVerifier

PLACEHOLDER_RESPONSE_URL = "https://hooks.slack.com/commands/T0NEWSROOM/0/placeholder"

ResponseUrlFactory = Callable[[str, str, str | None], str]
TriggerIdFactory = Callable[[str], str]


class AppResponse(NamedTuple):
    """The app's answer: status, headers (lower-case names), body (JSON parsed, else text)."""

    status: int
    headers: dict[str, str]
    body: Any


@dataclass(frozen=True)
class Delivery:
    """How a request arrives: `age_seconds` back-dates the timestamp (Bolt refuses more
    than 5 minutes), `bad_signature` signs with the wrong secret, `retry_num` and
    `retry_reason` mark a redelivery as Slack does."""

    age_seconds: int = 0
    bad_signature: bool = False
    retry_num: int | None = None
    retry_reason: str | None = None


class SignedSlackClient:
    """Plays Slack's side of the HTTP conversation with one app at `app_url`."""

    def __init__(
        self,
        app_url: str,
        signing_secret: str,
        *,
        team_id: str = "T0NEWSROOM",
        team_domain: str = "newsroom",
        api_app_id: str = "A0NEWSBOT",
        bot_user_id: str = "U0NEWSBOT",
        verification_token: str = "legacy-verification-token",
        response_url_factory: ResponseUrlFactory | None = None,
        trigger_id_factory: TriggerIdFactory | None = None,
        clock: Callable[[], float] = time.time,
        timeout: float = 10.0,
    ) -> None:
        """`app_url` is the full Request URL, e.g. http://127.0.0.1:PORT/slack/events.

        `response_url_factory(channel_id, user_id, message_ts)` makes the response_url of
        each command or click; pass `SlackLookalike.new_response_url` to get live ones.
        `trigger_id_factory(user_id)` makes their trigger_id; pass
        `SlackLookalike.new_trigger_id` so that views.open accepts it.
        """
        self.app_url = app_url
        self.team_id = team_id
        self.team_domain = team_domain
        self.api_app_id = api_app_id
        self.bot_user_id = bot_user_id
        self.verification_token = verification_token
        self._verifier = SignatureVerifier(signing_secret)
        self._wrong_verifier = SignatureVerifier(signing_secret + "-but-wrong")
        self._response_url_factory = response_url_factory
        self._trigger_id_factory = trigger_id_factory
        self._clock = clock
        self._timeout = timeout
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        self._counter = itertools.count(1)

    # ---- slash commands

    def slash_command(
        self,
        command: str,
        text: str = "",
        *,
        user_id: str,
        channel_id: str,
        user_name: str | None = None,
        channel_name: str = "newsdesk",
        response_url: str | None = None,
        trigger_id: str | None = None,
        delivery: Delivery | None = None,
    ) -> AppResponse:
        """A user typed `command text` in `channel_id`."""
        form = {
            "token": self.verification_token,
            "team_id": self.team_id,
            "team_domain": self.team_domain,
            "channel_id": channel_id,
            "channel_name": channel_name,
            "user_id": user_id,
            "user_name": user_name or user_id.lower(),
            "command": command,
            "text": text,
            "api_app_id": self.api_app_id,
            "is_enterprise_install": "false",
            "response_url": response_url or self._response_url(channel_id, user_id, None),
            "trigger_id": trigger_id or self.new_trigger_id(user_id),
        }
        return self.post(urlencode(form), "application/x-www-form-urlencoded", delivery)

    # ---- Events API

    def send_event(
        self,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        event_time: int | None = None,
        delivery: Delivery | None = None,
    ) -> AppResponse:
        """Deliver `event` in an event_callback envelope.

        To redeliver as Slack does, send the same event with the same `event_id` and
        `event_time` and `Delivery(retry_num=1, retry_reason="http_timeout")`.
        Usable as `SlackLookalike(event_sink=client.send_event)`.
        """
        envelope = {
            "token": self.verification_token,
            "team_id": self.team_id,
            "context_team_id": self.team_id,
            "context_enterprise_id": None,
            "api_app_id": self.api_app_id,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or self.new_event_id(),
            "event_time": event_time if event_time is not None else int(self._clock()),
            "authorizations": [{
                "enterprise_id": None, "team_id": self.team_id, "user_id": self.bot_user_id,
                "is_bot": True, "is_enterprise_install": False,
            }],
            "is_ext_shared_channel": False,
            "event_context": f"4-{secrets.token_hex(12)}",
        }
        return self.post(json.dumps(envelope), "application/json", delivery)

    def reaction_added(self, *, user_id: str, reaction: str, channel_id: str, ts: str,
                       item_user: str | None = None, event_id: str | None = None,
                       delivery: Delivery | None = None) -> AppResponse:
        """`user_id` reacted with :reaction: to the message `ts` in `channel_id`."""
        return self.send_event(
            self._reaction_event("reaction_added", user_id, reaction, channel_id, ts, item_user),
            event_id=event_id, delivery=delivery)

    def reaction_removed(self, *, user_id: str, reaction: str, channel_id: str, ts: str,
                         item_user: str | None = None, event_id: str | None = None,
                         delivery: Delivery | None = None) -> AppResponse:
        return self.send_event(
            self._reaction_event("reaction_removed", user_id, reaction, channel_id, ts,
                                 item_user),
            event_id=event_id, delivery=delivery)

    def app_home_opened(self, *, user_id: str, tab: str = "home",
                        view: dict[str, Any] | None = None,
                        delivery: Delivery | None = None) -> AppResponse:
        """`user_id` opened the app's Home tab (`view` is the one last published, if any)."""
        event: dict[str, Any] = {"type": "app_home_opened", "user": user_id,
                                 "channel": dm_channel_id(user_id), "tab": tab,
                                 "event_ts": self._event_ts()}
        if view is not None:
            event["view"] = view
        return self.send_event(event, delivery=delivery)

    def url_verification(self, challenge: str = "challenge-from-slack",
                         delivery: Delivery | None = None) -> AppResponse:
        """The handshake Slack makes when the Request URL is saved."""
        body = {"token": self.verification_token, "challenge": challenge,
                "type": "url_verification"}
        return self.post(json.dumps(body), "application/json", delivery)

    # ---- interactivity

    def block_action(
        self,
        *,
        user_id: str,
        action_id: str,
        value: str | None = None,
        block_id: str | None = None,
        channel_id: str | None = None,
        message: dict[str, Any] | None = None,
        view: dict[str, Any] | None = None,
        ephemeral: bool = False,
        button_text: str = "",
        user_name: str | None = None,
        response_url: str | None = None,
        trigger_id: str | None = None,
        delivery: Delivery | None = None,
    ) -> AppResponse:
        """`user_id` clicked the button `action_id` in `message` (in `channel_id`) or in `view`.

        `block_id` defaults to the id of the block in `message`/`view` holding `action_id`.
        For a click in an `ephemeral` message the payload says so in `container` and, as
        from Slack, does not carry the message itself.
        """
        container_blocks = (message or view or {}).get("blocks", [])
        action = {
            "action_id": action_id,
            "block_id": block_id or _block_id_of(container_blocks, action_id) or "",
            "text": {"type": "plain_text", "text": button_text or action_id, "emoji": True},
            "type": "button",
            "action_ts": self._event_ts(),
        }
        if value is not None:
            action["value"] = value
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": {"id": user_id, "username": user_name or user_id.lower(),
                     "name": user_name or user_id.lower(), "team_id": self.team_id},
            "api_app_id": self.api_app_id,
            "token": self.verification_token,
            "container": _container(channel_id, message, view, ephemeral),
            "trigger_id": trigger_id or self.new_trigger_id(user_id),
            "team": {"id": self.team_id, "domain": self.team_domain},
            "enterprise": None,
            "is_enterprise_install": False,
            "state": {"values": {}},
            "actions": [action],
        }
        if message is not None:
            payload["channel"] = {"id": channel_id, "name": channel_id}
            if not ephemeral:
                payload["message"] = message
            payload["response_url"] = response_url or self._response_url(
                channel_id or "", user_id, message.get("ts"))
        if view is not None:
            payload["view"] = view
        body = urlencode({"payload": json.dumps(payload)})
        return self.post(body, "application/x-www-form-urlencoded", delivery)

    # ---- modals

    def view_submission(self, *, user_id: str, view: dict[str, Any],
                        user_name: str | None = None,
                        delivery: Delivery | None = None) -> AppResponse:
        """`user_id` pressed the submit button of `view` (as stored, with `state.values`:
        sandbox/modals.py `Modals.submitting`). The app answers in the HTTP response:
        empty, or `{"response_action": ...}`."""
        payload = {**self._view_payload("view_submission", user_id, user_name, view),
                   "trigger_id": self.new_trigger_id(user_id), "response_urls": []}
        return self._interactive(payload, delivery)

    def view_closed(self, *, user_id: str, view: dict[str, Any], user_name: str | None = None,
                    is_cleared: bool = False, delivery: Delivery | None = None) -> AppResponse:
        """`user_id` closed `view` (sent only for views with `notify_on_close`)."""
        payload = {**self._view_payload("view_closed", user_id, user_name, view),
                   "is_cleared": is_cleared}
        return self._interactive(payload, delivery)

    def block_suggestion(self, *, user_id: str, view: dict[str, Any], action_id: str,
                         block_id: str, value: str, delivery: Delivery | None = None
                         ) -> AppResponse:
        """`user_id` typed `value` into the external select `action_id` of `view`; the
        app answers `{"options": [...]}` (or `option_groups`)."""
        payload = {**self._view_payload("block_suggestion", user_id, None, view),
                   "container": {"type": "view", "view_id": view.get("id", "")},
                   "action_id": action_id, "block_id": block_id, "value": value}
        return self._interactive(payload, delivery)

    def _view_payload(self, kind: str, user_id: str, user_name: str | None,
                      view: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": kind, "team": {"id": self.team_id, "domain": self.team_domain},
            "user": {"id": user_id, "username": user_name or user_id.lower(),
                     "name": user_name or user_id.lower(), "team_id": self.team_id},
            "api_app_id": self.api_app_id, "token": self.verification_token, "view": view,
            "enterprise": None, "is_enterprise_install": False,
        }

    def _interactive(self, payload: dict[str, Any], delivery: Delivery | None) -> AppResponse:
        body = urlencode({"payload": json.dumps(payload)})
        return self.post(body, "application/x-www-form-urlencoded", delivery)

    def unfurl_action(
        self,
        *,
        user_id: str,
        action_id: str,
        value: str,
        channel_id: str,
        message: dict[str, Any],
        url: str,
        response_url: str | None = None,
        delivery: Delivery | None = None,
    ) -> AppResponse:
        """`user_id` clicked `action_id` in the app's preview of `url` on `message` (a
        user's message): the container is the unfurl attachment, as Slack sends it."""
        attachment = next((a for a in message.get("attachments", [])
                           if a.get("is_app_unfurl") and a.get("app_unfurl_url") == url), {})
        action = {"action_id": action_id, "value": value, "type": "button",
                  "block_id": _block_id_of(attachment.get("blocks", []), action_id) or "",
                  "text": {"type": "plain_text", "text": action_id, "emoji": True},
                  "action_ts": self._event_ts()}
        payload = {
            "type": "block_actions", "user": self._user(user_id), "api_app_id": self.api_app_id,
            "token": self.verification_token,
            "container": {"type": "message_attachment", "message_ts": message.get("ts", ""),
                          "attachment_id": attachment.get("id", 1), "channel_id": channel_id,
                          "is_ephemeral": False, "is_app_unfurl": True, "app_unfurl_url": url},
            "trigger_id": self.new_trigger_id(user_id),
            "team": {"id": self.team_id, "domain": self.team_domain}, "enterprise": None,
            "is_enterprise_install": False, "channel": {"id": channel_id, "name": channel_id},
            "message": message, "state": {"values": {}},
            "response_url": response_url or self._response_url(channel_id, user_id,
                                                               message.get("ts")),
            "actions": [action],
        }
        return self.post(urlencode({"payload": json.dumps(payload)}),
                         "application/x-www-form-urlencoded", delivery)

    def message_shortcut(
        self,
        *,
        user_id: str,
        callback_id: str,
        channel_id: str,
        message: dict[str, Any],
        trigger_id: str | None = None,
        delivery: Delivery | None = None,
    ) -> AppResponse:
        """`user_id` chose the app's message shortcut `callback_id` on `message`: a
        `message_action` payload, as Slack sends it."""
        payload = {
            "type": "message_action", "callback_id": callback_id,
            "trigger_id": trigger_id or self.new_trigger_id(user_id),
            "action_ts": self._event_ts(),
            "token": self.verification_token,
            "team": {"id": self.team_id, "domain": self.team_domain},
            "user": self._user(user_id), "channel": {"id": channel_id, "name": channel_id},
            "is_enterprise_install": False, "enterprise": None,
            "message_ts": message.get("ts", ""), "message": message,
            "response_url": self._response_url(channel_id, user_id, None),
        }
        return self.post(urlencode({"payload": json.dumps(payload)}),
                         "application/x-www-form-urlencoded", delivery)

    def _user(self, user_id: str) -> dict[str, str]:
        return {"id": user_id, "username": user_id.lower(), "name": user_id.lower(),
                "team_id": self.team_id}

    # ---- the wire

    def post(self, body: str, content_type: str, delivery: Delivery | None = None) -> AppResponse:
        """POST `body` to the app, signed as `delivery` says; any HTTP status is returned."""
        delivery = delivery or Delivery()
        timestamp = str(int(self._clock()) - delivery.age_seconds)
        verifier = self._wrong_verifier if delivery.bad_signature else self._verifier
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": verifier.generate_signature(timestamp=timestamp, body=body) or "",
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        }
        if delivery.retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(delivery.retry_num)
            headers["X-Slack-Retry-Reason"] = delivery.retry_reason or "http_timeout"
        request = urllib.request.Request(self.app_url, data=body.encode("utf-8"),
                                         headers=headers, method="POST")
        try:
            with self._opener.open(request, timeout=self._timeout) as response:
                return _app_response(response.status, response.headers, response.read())
        except urllib.error.HTTPError as error:
            return _app_response(error.code, error.headers, error.read())

    def new_trigger_id(self, user_id: str = "") -> str:
        if self._trigger_id_factory is not None and user_id:
            return self._trigger_id_factory(user_id)
        return f"{next(self._counter)}.{self.team_id}.{secrets.token_hex(8)}"

    def new_event_id(self) -> str:
        return f"Ev{secrets.token_hex(5).upper()}"

    def _event_ts(self) -> str:
        return f"{self._clock():.6f}"

    def _response_url(self, channel_id: str, user_id: str, message_ts: str | None) -> str:
        if self._response_url_factory is None:
            return PLACEHOLDER_RESPONSE_URL
        return self._response_url_factory(channel_id, user_id, message_ts)

    def _reaction_event(self, kind: str, user_id: str, reaction: str, channel_id: str, ts: str,
                        item_user: str | None) -> dict[str, Any]:
        event: dict[str, Any] = {
            "type": kind, "user": user_id, "reaction": reaction,
            "item": {"type": "message", "channel": channel_id, "ts": ts},
            "event_ts": self._event_ts(),
        }
        if item_user is not None:
            event["item_user"] = item_user
        return event


def _container(channel_id: str | None, message: dict[str, Any] | None,
               view: dict[str, Any] | None, ephemeral: bool) -> dict[str, Any]:
    if view is not None:
        return {"type": "view", "view_id": view.get("id", "")}
    message = message or {}
    return {"type": "message", "message_ts": message.get("ts", ""), "channel_id": channel_id,
            "is_ephemeral": ephemeral}


def _block_id_of(blocks: list[dict[str, Any]], action_id: str) -> str | None:
    for block in blocks:
        elements = list(block.get("elements") or [])
        if isinstance(block.get("accessory"), dict):
            elements.append(block["accessory"])
        if any(isinstance(e, dict) and e.get("action_id") == action_id for e in elements):
            return block.get("block_id")
    return None


def _app_response(status: int, headers: Any, raw: bytes) -> AppResponse:
    names = {name.lower(): value for name, value in headers.items()}
    text = raw.decode("utf-8", errors="replace")
    body: Any = text
    if names.get("content-type", "").startswith("application/json") and text:
        try:
            body = json.loads(text)
        except ValueError:
            body = text
    return AppResponse(status, names, body)
