"""Response URLs: where an app answers a slash command or a button click later.

Faithful to Slack's documentation: the app POSTs a JSON message; `response_type`
"ephemeral" (the default) shows it only to the user who acted, "in_channel" posts it in
the channel as the app; `replace_original` / `delete_original` change the message the
click came from (a channel message or an ephemeral one); `thread_ts` puts it in a thread.
A URL may be used five times within thirty minutes.

A message Slack would refuse (e.g. `invalid_blocks`) gets HTTP 400 and is recorded as
"refused" with the error, since Bolt's `respond()` does not raise on it.

Simplified: the URL is http://127.0.0.1:PORT/response/<id> rather than
https://hooks.slack.com/..., the answer is JSON (`{"ok": true}` or `{"ok": false,
"error": ...}`), and the error strings for a used-up or expired URL (`used_url`,
`expired_url`, HTTP 404) are this look-alike's own.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from newsbot.sandbox.workspace import Actor, SlackError, Workspace

MAX_USES = 5
LIFETIME_SECONDS = 30 * 60


@dataclass(frozen=True)
class ResponseTarget:
    """What a response URL answers: a user's action in a channel, maybe on a message."""

    url_id: str
    channel: str
    user: str
    message_ts: str | None
    created: float


@dataclass(frozen=True)
class ResponsePost:
    """One message an app sent to a response URL, and what it did."""

    target: ResponseTarget
    payload: dict[str, Any]
    response_type: str  # "ephemeral" or "in_channel"
    outcome: str  # "posted", "replaced", "deleted", or "refused" (then `error` says why)
    ts: str | None  # the message posted, replaced or deleted
    error: str | None = None


class ResponseUrls:
    """Issues response URLs and applies what apps post to them to the workspace."""

    def __init__(self, workspace: Workspace, clock: Callable[[], float]) -> None:
        self._workspace = workspace
        self._clock = clock
        self._lock = threading.Lock()
        self._targets: dict[str, ResponseTarget] = {}
        self._uses: dict[str, int] = {}
        self._posts: list[ResponsePost] = []

    def create(self, channel: str, user: str, message_ts: str | None = None) -> str:
        """A new URL id for `user` acting in `channel` (on the message `message_ts`, if any)."""
        channel_id = self._workspace.channel(channel)["id"]
        url_id = secrets.token_hex(8)
        with self._lock:
            self._targets[url_id] = ResponseTarget(url_id, channel_id, user, message_ts,
                                                   self._clock())
            self._uses[url_id] = 0
        return url_id

    def posts(self) -> list[ResponsePost]:
        with self._lock:
            return list(self._posts)

    def post(self, url_id: str, payload: Any) -> ResponsePost:
        """Apply one POST to a response URL; raises SlackError for a bad URL or message."""
        if not isinstance(payload, dict):
            raise SlackError("invalid_payload", status=400)
        target = self._use(url_id)
        response_type = payload.get("response_type") or "ephemeral"
        if response_type not in ("ephemeral", "in_channel"):
            raise SlackError("invalid_response_type", status=400)
        try:
            outcome, ts = self._apply(target, payload, response_type)
        except SlackError as error:
            self._record(ResponsePost(target, payload, response_type, "refused", None,
                                      error.error))
            error.status = 400  # Slack answers a bad message here with HTTP 400
            raise
        return self._record(ResponsePost(target, payload, response_type, outcome, ts))

    def _record(self, post: ResponsePost) -> ResponsePost:
        with self._lock:
            self._posts.append(post)
        return post

    def _use(self, url_id: str) -> ResponseTarget:
        with self._lock:
            target = self._targets.get(url_id)
            if target is None or self._clock() - target.created > LIFETIME_SECONDS:
                raise SlackError("expired_url", status=404)
            if self._uses[url_id] >= MAX_USES:
                raise SlackError("used_url", status=404)
            self._uses[url_id] += 1
            return target

    def _apply(self, target: ResponseTarget, payload: dict[str, Any],
               response_type: str) -> tuple[str, str | None]:
        ws = self._workspace
        app = Actor(ws.bot_user.id, ws.bot_id)
        text, blocks = payload.get("text"), payload.get("blocks")
        original = target.message_ts
        if original and _truthy(payload.get("delete_original")):
            if not ws.replace_ephemeral(target.user, original, text=None, blocks=None, delete=True):
                ws.delete_message(app, target.channel, original, as_author=False)
            return "deleted", original
        if original and _truthy(payload.get("replace_original")):
            if not ws.replace_ephemeral(target.user, original, text=text, blocks=blocks):
                ws.update_message(app, target.channel, original, text=text, blocks=blocks,
                                  as_author=False)
            return "replaced", original
        if response_type == "in_channel":
            _, message = ws.post_message(app, target.channel, text=text or "", blocks=blocks,
                                         attachments=payload.get("attachments"),
                                         thread_ts=payload.get("thread_ts"),
                                         metadata=payload.get("metadata"))
            return "posted", message["ts"]
        message = ws.post_ephemeral(app, target.channel, target.user, text=text or "",
                                    blocks=blocks, attachments=payload.get("attachments"),
                                    thread_ts=payload.get("thread_ts"), source="response_url")
        return "posted", message["ts"]


def _truthy(value: Any) -> bool:
    return value in (True, "true", "1", 1)
