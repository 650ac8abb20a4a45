"""The Web API methods the look-alike answers: parameters in, Slack-shaped answers out.

Parameters arrive as Slack accepts them: form-encoded strings (`blocks` and `metadata`
as JSON text, booleans as "1"/"true") or typed JSON. Answers follow the method pages of
the Slack API reference; errors are raised as `SlackError` with Slack's error strings.
Message metadata is returned by conversations.history/replies only when
`include_all_metadata` is set, as Slack does. Cursors are opaque strings, as Slack's are,
but encode a plain offset here.

When a *user* (user token, not the bot) changes something an app would hear about,
the method adds the Events API event to `call.events`: `reaction_added`,
`reaction_removed`, `message` for a posted message, and `link_shared` for a posted
message with links to the app's unfurl domains (`Workspace.unfurl_domains`).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from newsbot.sandbox.uploads import Uploads
from newsbot.sandbox.view_methods import VIEW_METHODS
from newsbot.sandbox.workspace import Actor, SlackError, Workspace, dm_channel_id, ts_key


@dataclass
class MethodCall:
    """One Web API call being answered."""

    workspace: Workspace
    actor: Actor
    params: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)
    uploads: Uploads = field(default_factory=Uploads)

    @property
    def by_user(self) -> bool:
        return self.actor.bot_id is None

    def text(self, name: str) -> str | None:
        value = self.params.get(name)
        if value is None or value == "":
            return None
        return value if isinstance(value, str) else str(value)

    def flag(self, name: str) -> bool:
        value = self.params.get(name)
        if isinstance(value, str):
            return value.lower() in ("1", "true")
        return bool(value)

    def json(self, name: str, error: str) -> Any:
        """A structured parameter, given as JSON text (form) or as a value (JSON body)."""
        value = self.params.get(name)
        if isinstance(value, str):
            if not value:
                return None
            try:
                return json.loads(value)
            except ValueError:
                raise SlackError(error) from None
        return value

    def number(self, name: str, default: int, maximum: int) -> int:
        value = self.params.get(name)
        if value in (None, ""):
            return default
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise SlackError("invalid_limit") from None
        return default if number <= 0 else min(number, maximum)

    def timestamp(self, name: str, error: str) -> str | None:
        value = self.text(name)
        if value is not None:
            try:
                ts_key(value)
            except ValueError:
                raise SlackError(error) from None
        return value


Method = Callable[[MethodCall], dict[str, Any]]


def auth_test(call: MethodCall) -> dict[str, Any]:
    ws = call.workspace
    user = ws.user(call.actor.user_id)
    answer = {
        "url": f"https://{ws.team_domain}.slack.com/", "team": ws.team_name, "user": user.name,
        "team_id": ws.team_id, "user_id": user.id, "is_enterprise_install": False,
    }
    if call.actor.bot_id:
        answer["bot_id"] = call.actor.bot_id
    return answer


def chat_post_message(call: MethodCall) -> dict[str, Any]:
    channel, message = call.workspace.post_message(
        call.actor, call.text("channel"),
        text=call.text("text") or "",
        blocks=call.json("blocks", "invalid_blocks_format"),
        attachments=call.json("attachments", "invalid_attachments"),
        thread_ts=call.text("thread_ts"),
        reply_broadcast=call.flag("reply_broadcast"),
        metadata=call.json("metadata", "invalid_metadata_format"),
    )
    if call.by_user:
        call.events.append(_message_event(call.workspace, channel, message))
        call.events += _link_shared_events(call.workspace, channel, message)
    return {"channel": channel, "ts": message["ts"], "message": message}


def _link_shared_events(ws: Workspace, channel: str, message: dict[str, Any]) -> list[dict]:
    """What Slack sends an app for a user's message with links to its unfurl domains."""
    links = ws.shared_links(message.get("text", ""))
    if not links:
        return []
    return [{"type": "link_shared", "channel": channel, "is_bot_user_member": True,
             "user": message["user"], "message_ts": message["ts"],
             "unfurl_id": f"{channel}.{message['ts']}", "source": "conversations_history",
             "links": links, "event_ts": ws.next_ts(),
             **({"thread_ts": message["thread_ts"]} if "thread_ts" in message else {})}]


def chat_unfurl(call: MethodCall) -> dict[str, Any]:
    """By channel + ts, or by the unfurl_id link_shared gave (here `<channel>.<ts>`)."""
    channel, ts = call.text("channel"), call.text("ts")
    if not (channel and ts):
        channel, _, ts = (call.text("unfurl_id") or "").partition(".")
    call.workspace.unfurl(call.actor, channel or None, ts or None,
                          call.json("unfurls", "invalid_unfurls_format"))
    return {}


def chat_update(call: MethodCall) -> dict[str, Any]:
    text = call.params.get("text")
    blocks = call.json("blocks", "invalid_blocks_format")
    attachments = call.json("attachments", "invalid_attachments")
    if text is None and blocks is None and attachments is None:
        raise SlackError("no_text")
    channel, message = call.workspace.update_message(
        call.actor, call.text("channel"), call.text("ts"),
        text=None if text is None else str(text), blocks=blocks, attachments=attachments,
        metadata=call.json("metadata", "invalid_metadata_format"),
    )
    return {"channel": channel, "ts": message["ts"], "text": message["text"], "message": message}


def chat_post_ephemeral(call: MethodCall) -> dict[str, Any]:
    message = call.workspace.post_ephemeral(
        call.actor, call.text("channel"), call.text("user"),
        text=call.text("text") or "",
        blocks=call.json("blocks", "invalid_blocks_format"),
        attachments=call.json("attachments", "invalid_attachments"),
        thread_ts=call.text("thread_ts"),
    )
    return {"message_ts": message["ts"]}


def chat_delete(call: MethodCall) -> dict[str, Any]:
    ts = call.text("ts")
    channel = call.workspace.delete_message(call.actor, call.text("channel"), ts)
    return {"channel": channel, "ts": ts}


def chat_get_permalink(call: MethodCall) -> dict[str, Any]:
    channel, link = call.workspace.permalink(call.text("channel"), call.text("message_ts"))
    return {"channel": channel, "permalink": link}


def reactions_add(call: MethodCall) -> dict[str, Any]:
    return _react(call, "reaction_added", call.workspace.add_reaction)


def reactions_remove(call: MethodCall) -> dict[str, Any]:
    return _react(call, "reaction_removed", call.workspace.remove_reaction)


def _react(call: MethodCall, event_type: str, change: Callable[..., Any]) -> dict[str, Any]:
    name = (call.text("name") or "").strip(":")
    channel, message = change(call.actor.user_id, call.text("channel"),
                              call.text("timestamp"), name)
    if call.by_user:
        call.events.append({
            "type": event_type, "user": call.actor.user_id, "reaction": name,
            "item": {"type": "message", "channel": channel, "ts": message["ts"]},
            "item_user": message["user"], "event_ts": call.workspace.next_ts(),
        })
    return {}


def conversations_info(call: MethodCall) -> dict[str, Any]:
    return {"channel": call.workspace.channel(call.text("channel") or "")}


def conversations_open(call: MethodCall) -> dict[str, Any]:
    users = [u for u in (call.text("users") or "").split(",") if u]
    if len(users) != 1:
        raise SlackError("not_implemented" if users else "users_list_not_supplied")
    return {"channel": {"id": call.workspace.open_dm(users[0])["id"]}}


def conversations_list(call: MethodCall) -> dict[str, Any]:
    wanted = set((call.text("types") or "public_channel").split(","))
    channels = [c for c in call.workspace.channels() if _channel_type(c) in wanted]
    page, cursor = _page(channels, call, default=100, maximum=1000)
    return {"channels": page, "response_metadata": {"next_cursor": cursor}}


def conversations_history(call: MethodCall) -> dict[str, Any]:
    messages = call.workspace.history(
        call.text("channel"),
        latest=call.timestamp("latest", "invalid_ts_latest"),
        oldest=call.timestamp("oldest", "invalid_ts_oldest"),
        inclusive=call.flag("inclusive"),
    )
    page, cursor = _page(messages, call, default=100, maximum=999)
    answer = {"messages": _shown_metadata(page, call), "has_more": bool(cursor),
              "pin_count": 0, "channel_actions_ts": None, "channel_actions_count": 0}
    if cursor:
        answer["response_metadata"] = {"next_cursor": cursor}
    return answer


def conversations_replies(call: MethodCall) -> dict[str, Any]:
    thread = call.workspace.replies(call.text("channel"), call.text("ts"))
    page, cursor = _page(thread, call, default=1000, maximum=1000)
    answer = {"messages": _shown_metadata(page, call), "has_more": bool(cursor)}
    if cursor:
        answer["response_metadata"] = {"next_cursor": cursor}
    return answer


def users_info(call: MethodCall) -> dict[str, Any]:
    return {"user": call.workspace.user_object(call.text("user"))}


def views_publish(call: MethodCall) -> dict[str, Any]:
    if call.by_user:
        raise SlackError("not_allowed_token_type")
    view = call.workspace.publish_view(call.text("user_id"), call.json("view", "invalid_arguments"),
                                       expected_hash=call.text("hash"))
    return {"view": view}


def files_get_upload_url_external(call: MethodCall) -> dict[str, Any]:
    stored = call.uploads.start(
        filename=call.text("filename"), length=call.params.get("length"),
        user=call.actor.user_id, created=int(float(call.workspace.next_ts())),
        alt_txt=call.text("alt_txt") or call.text("alt_text"))
    return {"upload_url": f"{call.uploads.base_url}/upload/v1/{stored.id}",
            "file_id": stored.id}


def files_complete_upload_external(call: MethodCall) -> dict[str, Any]:
    channel = call.text("channel_id") or call.text("channels")
    if channel and "," in channel:
        channel = channel.split(",")[0]
    # channel_not_found before anything changes
    channel_id = call.workspace.channel(channel)["id"] if channel else None
    stored = call.uploads.complete(call.params.get("files"), call.actor.user_id)
    if channel_id:
        call.uploads.shared(stored, channel_id)
        call.workspace.share_files(
            call.actor, channel_id, [f.to_json(call.uploads.base_url) for f in stored],
            text=call.text("initial_comment") or "", thread_ts=call.text("thread_ts"))
    return {"files": [{"id": f.id, "title": f.title or f.name} for f in stored]}


METHODS: dict[str, Method] = {
    "auth.test": auth_test,
    "chat.postMessage": chat_post_message,
    "chat.update": chat_update,
    "chat.postEphemeral": chat_post_ephemeral,
    "chat.delete": chat_delete,
    "chat.getPermalink": chat_get_permalink,
    "reactions.add": reactions_add,
    "reactions.remove": reactions_remove,
    "conversations.info": conversations_info,
    "conversations.list": conversations_list,
    "conversations.open": conversations_open,
    "conversations.history": conversations_history,
    "conversations.replies": conversations_replies,
    "users.info": users_info,
    "views.publish": views_publish,
    "chat.unfurl": chat_unfurl,
    "files.getUploadURLExternal": files_get_upload_url_external,
    "files.completeUploadExternal": files_complete_upload_external,
    **VIEW_METHODS,  # views.open, views.push, views.update: sandbox/view_methods.py
}


def answer(method: str, call: MethodCall) -> dict[str, Any]:
    """Run `method` and return Slack's answer (`ok` first); raises SlackError."""
    handler = METHODS.get(method)
    if handler is None:
        raise SlackError("unknown_method", status=404)
    return {"ok": True, **handler(call)}


def _message_event(ws: Workspace, channel: str, message: dict[str, Any]) -> dict[str, Any]:
    event = {key: message[key] for key in ("type", "user", "text", "ts", "team", "blocks",
                                           "thread_ts", "parent_user_id", "subtype")
             if key in message}
    channel_type = "im" if channel == dm_channel_id(message["user"]) else "channel"
    return {**event, "channel": channel, "event_ts": message["ts"], "channel_type": channel_type}


def _channel_type(channel: dict[str, Any]) -> str:
    if channel.get("is_im"):
        return "im"
    return "private_channel" if channel.get("is_private") else "public_channel"


def _shown_metadata(messages: list[dict[str, Any]], call: MethodCall) -> list[dict[str, Any]]:
    if call.flag("include_all_metadata"):
        return messages
    for message in messages:
        message.pop("metadata", None)
    return messages


def _page(items: list[Any], call: MethodCall, *, default: int,
          maximum: int) -> tuple[list[Any], str]:
    """One page of `items` and the cursor of the next ("" when this is the last)."""
    limit = call.number("limit", default, maximum)
    start = _decode_cursor(call.text("cursor"))
    end = start + limit
    cursor = _encode_cursor(end) if end < len(items) else ""
    return items[start:end], cursor


def _encode_cursor(offset: int) -> str:
    return base64.b64encode(f"offset:{offset}".encode()).decode()


def _decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        kind, _, offset = base64.b64decode(cursor).decode().partition(":")
        if kind == "offset" and offset.isdigit():
            return int(offset)
    except ValueError:
        pass
    raise SlackError("invalid_cursor")
