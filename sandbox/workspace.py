"""The state of one Slack workspace as the look-alike keeps it, with Slack's rules.

Faithful to Slack (as documented for the Web API):
- message timestamps (`ts`) are unique, increasing strings like "1700000000.000100";
- a message carries `user` (and `bot_id`/`app_id` when an app posted it), `text`, `blocks`
  (each given a `block_id` if it had none), `metadata`, `reactions`
  (`[{"name", "users", "count"}]`), `edited` after an update;
- threads: a reply has `thread_ts` and `parent_user_id`; its parent gets `thread_ts`,
  `reply_count`, `reply_users`, `reply_users_count` and `latest_reply`; history lists only
  top-level messages (and replies sent with `reply_broadcast`), replies list the parent first;
- only the author may update or delete a message; the same user cannot add the same
  reaction twice; Block Kit limits are checked (see block_kit.py);
- a direct message to a user lives in a channel `D...` that exists once used.

Simplified: every user is a member of every channel (the app's bot too, unless a channel
is added with `bot_is_member=False`), channels are never archived,
deleting a thread parent does not leave a "This message was deleted" tombstone, emoji
names are not checked against a list (surrounding colons are dropped), ephemeral
messages are kept per user (Slack's client forgets them on reload: the page shows only
those of its own session), and a reply to a missing
parent is refused with `thread_not_found` (Slack sometimes accepts it and hides it).

Every change bumps `version` and is announced to subscribers (outside the lock) as a
`Change`, so a browser view can long-poll `wait_for_change(since)`.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
import re
import threading
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from newsbot.sandbox.block_kit import (
    MAX_MESSAGE_BLOCKS,
    MAX_VIEW_BLOCKS,
    InvalidBlocks,
    assign_block_ids,
    validate_blocks,
    validate_modal,
)
from newsbot.sandbox.modals import Modals

log = logging.getLogger(__name__)

MAX_TEXT_LENGTH = 40_000  # longer text is refused with msg_too_long
# A link as Slack writes it in a message's text (`<https://...|label>`), or typed bare.
_LINK_IN_TEXT = re.compile(r"<(https?://[^>|\s]+)(?:\|[^>]*)?>|(https?://[^\s<>|]+)")


class SlackError(Exception):
    """A Slack API error: `{"ok": false, "error": error, **extra}` with HTTP `status`."""

    def __init__(self, error: str, *, status: int = 200, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.extra = extra

    def to_response(self) -> dict[str, Any]:
        return {"ok": False, "error": self.error, **self.extra}


@dataclass(frozen=True)
class SlackUser:
    """A member of the workspace. `token` is the user token (xoxp-...) that acts as them."""

    id: str
    name: str
    real_name: str = ""
    tz: str = "UTC"
    is_admin: bool = False
    is_owner: bool = False
    is_bot: bool = False
    token: str | None = None


@dataclass(frozen=True)
class Actor:
    """Who is calling: a user, or an app's bot user (then `bot_id` is set)."""

    user_id: str
    bot_id: str | None = None


@dataclass(frozen=True)
class Change:
    """One state change, numbered by the workspace's version counter."""

    version: int
    kind: str  # e.g. "message_posted", "reaction_added", "view_published"
    channel: str | None = None
    ts: str | None = None
    user: str | None = None


def dm_channel_id(user_id: str) -> str:
    """The id of the direct-message channel between the app and this user."""
    return "D" + user_id[1:]


def format_ts(microseconds: int) -> str:
    return f"{microseconds // 1_000_000}.{microseconds % 1_000_000:06d}"


class Workspace:
    """Channels, users, messages, ephemeral messages and views. Thread-safe."""

    def __init__(
        self,
        *,
        team_id: str,
        team_name: str,
        team_domain: str,
        bot_user: SlackUser,
        bot_id: str,
        app_id: str,
        clock: Callable[[], float],
    ) -> None:
        self.team_id = team_id
        self.team_name = team_name
        self.team_domain = team_domain
        self.bot_user = bot_user
        self.bot_id = bot_id
        self.app_id = app_id
        self._clock = clock
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._version = 0
        self._last_us = 0
        self._subscribers: list[Callable[[Change], None]] = []
        self._channels: dict[str, dict[str, Any]] = {}
        self._users: dict[str, SlackUser] = {bot_user.id: bot_user}
        self._messages: dict[str, dict[str, dict[str, Any]]] = {}
        self._ephemeral: dict[str, list[dict[str, Any]]] = {}
        self._home_views: dict[str, dict[str, Any]] = {}
        self._view_count = 0
        self.modals = Modals(clock, self._modal_view, self._modal_changed)  # sandbox/modals.py
        # the app's features.unfurl_domains: a user's link to one of them is link_shared
        self.unfurl_domains: tuple[str, ...] = ()

    # ---- clock, versions, subscribers

    def next_ts(self) -> str:
        """A new unique timestamp, never below the clock and always above the last one."""
        with self._lock:
            self._last_us = max(int(self._clock() * 1_000_000), self._last_us + 1)
            return format_ts(self._last_us)

    @property
    def version(self) -> int:
        with self._lock:
            return self._version

    def subscribe(self, callback: Callable[[Change], None]) -> Callable[[], None]:
        """Call `callback(change)` after every change; returns a function that unsubscribes."""
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def wait_for_change(self, since: int, timeout: float) -> int:
        """Block until `version` exceeds `since` or `timeout` passes; return the version."""
        with self._changed:
            self._changed.wait_for(lambda: self._version > since, timeout=timeout)
            return self._version

    def _bump(self, kind: str, channel: str | None = None, ts: str | None = None,
              user: str | None = None) -> Change:
        """Record a change; call with the lock held, then `_announce` without it."""
        self._version += 1
        self._changed.notify_all()
        return Change(self._version, kind, channel, ts, user)

    def _announce(self, change: Change) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback(change)
            except Exception:  # a broken browser feed must not break the Web API
                log.exception("subscriber failed on %s", change)

    # ---- channels and users

    def add_channel(self, name: str, channel_id: str | None = None, *,
                    is_private: bool = False, bot_is_member: bool = True) -> dict[str, Any]:
        """A channel; `bot_is_member=False`: the app's bot was never invited (its
        `is_member` is false and its posts there are refused with not_in_channel)."""
        with self._lock:
            if any(c["name"] == name for c in self._channels.values()):
                raise SlackError("name_taken")
            channel_id = channel_id or f"C{len(self._channels) + 1:08d}"
            channel = {
                "id": channel_id, "name": name, "is_channel": not is_private,
                "is_group": False, "is_im": False, "is_private": is_private,
                "is_archived": False, "is_general": False, "is_member": bot_is_member,
                "created": int(self._clock()), "creator": self.bot_user.id,
                "name_normalized": name,
                "topic": {"value": "", "creator": "", "last_set": 0},
                "purpose": {"value": "", "creator": "", "last_set": 0},
            }
            self._channels[channel_id] = channel
            self._messages[channel_id] = {}
            change = self._bump("channel_added", channel=channel_id)
        self._announce(change)
        return copy.deepcopy(channel)

    def add_user(self, user: SlackUser) -> None:
        with self._lock:
            self._users[user.id] = user
            change = self._bump("user_added", user=user.id)
        self._announce(change)

    def channels(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(list(self._channels.values()))

    def channel(self, ref: str) -> dict[str, Any]:
        """A channel by id, name or #name (a user id or D-id opens the DM channel)."""
        with self._lock:
            return copy.deepcopy(self._channels[self._channel_id(ref)])

    def _channel_id(self, ref: str | None) -> str:
        if not ref:
            raise SlackError("channel_not_found")
        if ref in self._channels:
            return ref
        name = ref.removeprefix("#")
        for channel in self._channels.values():
            if channel["name"] == name and not channel["is_im"]:
                return channel["id"]
        for user_id in self._users:
            if ref in (user_id, dm_channel_id(user_id)):
                return self._open_dm(user_id)
        raise SlackError("channel_not_found")

    def _open_dm(self, user_id: str) -> str:
        channel_id = dm_channel_id(user_id)
        if channel_id not in self._channels:
            self._channels[channel_id] = {
                "id": channel_id, "is_im": True, "is_channel": False, "is_group": False,
                "is_private": True, "is_archived": False, "user": user_id,
                "created": int(self._clock()), "name": channel_id,
            }
            self._messages[channel_id] = {}
        return channel_id

    def open_dm(self, user_id: str | None) -> dict[str, Any]:
        """conversations.open with one user: the app's DM channel with them."""
        with self._lock:
            if user_id not in self._users:
                raise SlackError("user_not_found")
            return dict(self._channels[self._open_dm(user_id)])

    def users(self) -> list[SlackUser]:
        with self._lock:
            return list(self._users.values())

    def user(self, user_id: str | None) -> SlackUser:
        with self._lock:
            if user_id not in self._users:
                raise SlackError("user_not_found")
            return self._users[user_id]

    def user_object(self, user_id: str | None) -> dict[str, Any]:
        """The user as users.info returns it."""
        user = self.user(user_id)
        zone = zoneinfo.ZoneInfo(user.tz)
        now = dt.datetime.fromtimestamp(self._clock(), zone)
        offset = now.utcoffset() or dt.timedelta(0)
        real_name = user.real_name or user.name
        profile: dict[str, Any] = {
            "real_name": real_name, "real_name_normalized": real_name,
            "display_name": user.name, "display_name_normalized": user.name,
            "team": self.team_id,
        }
        if user.is_bot:
            profile["bot_id"] = self.bot_id
        return {
            "id": user.id, "team_id": self.team_id, "name": user.name, "deleted": False,
            "real_name": real_name, "tz": user.tz, "tz_label": now.tzname(),
            "tz_offset": int(offset.total_seconds()), "is_admin": user.is_admin,
            "is_owner": user.is_owner, "is_primary_owner": user.is_owner,
            "is_restricted": False, "is_ultra_restricted": False, "is_bot": user.is_bot,
            "is_app_user": False, "updated": int(self._clock()), "profile": profile,
        }

    # ---- messages

    def post_message(
        self,
        actor: Actor,
        channel: str | None,
        *,
        text: str = "",
        blocks: list[dict[str, Any]] | None = None,
        attachments: list[dict[str, Any]] | None = None,
        thread_ts: str | None = None,
        reply_broadcast: bool = False,
        metadata: dict[str, Any] | None = None,
    ) -> tuple[str, dict[str, Any]]:
        """Post a message; returns (channel id, the message as stored)."""
        _check_content(text, blocks, attachments, MAX_MESSAGE_BLOCKS)
        _check_metadata(metadata)
        fields: dict[str, Any] = {}
        if attachments:
            fields["attachments"] = attachments
        if metadata:
            fields["metadata"] = metadata
        with self._lock:
            channel_id = self._channel_id(channel)
            if actor.bot_id and not self._channels[channel_id].get("is_member", True):
                raise SlackError("not_in_channel")
            stored, change = self._add_message(actor, channel_id, text, thread_ts, fields,
                                               blocks=blocks, reply_broadcast=reply_broadcast)
        self._announce(change)
        return channel_id, stored

    def share_files(self, actor: Actor, channel: str | None, files: list[dict[str, Any]], *,
                    text: str = "", thread_ts: str | None = None) -> tuple[str, dict[str, Any]]:
        """Share completed uploads as a message (files.completeUploadExternal with a
        channel); returns (channel id, the message as stored)."""
        if len(text) > MAX_TEXT_LENGTH:
            raise SlackError("msg_too_long")
        with self._lock:
            channel_id = self._channel_id(channel)
            stored, change = self._add_message(
                actor, channel_id, text, thread_ts, {"upload": True, "files": copy.deepcopy(files)})
        self._announce(change)
        return channel_id, stored

    def _add_message(self, actor: Actor, channel_id: str, text: str, thread_ts: str | None,
                     fields: dict[str, Any], *, blocks: list[dict[str, Any]] | None = None,
                     reply_broadcast: bool = False) -> tuple[dict[str, Any], Change]:
        """Store a new message in the channel or the thread of `thread_ts` (the caller
        holds the lock); returns it as stored and the change to announce."""
        messages = self._messages[channel_id]
        parent = self._thread_parent(messages, thread_ts) if thread_ts else None
        ts = self.next_ts()
        message: dict[str, Any] = {"type": "message", "ts": ts, "user": actor.user_id,
                                   "text": text, "team": self.team_id}
        if actor.bot_id:
            message.update(bot_id=actor.bot_id, app_id=self.app_id)
        if blocks is not None:
            message["blocks"] = assign_block_ids(blocks, seed=ts)
        message.update(fields)
        if parent is not None:
            message.update(thread_ts=parent["ts"], parent_user_id=parent["user"])
            if reply_broadcast:
                message["subtype"] = "thread_broadcast"
            _count_reply(parent, message)
        messages[ts] = message
        return copy.deepcopy(message), self._bump("message_posted", channel_id, ts,
                                                  actor.user_id)

    def update_message(
        self,
        actor: Actor,
        channel: str | None,
        ts: str | None,
        *,
        text: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
        attachments: list[dict[str, Any]] | None = None,
        metadata: dict[str, Any] | None = None,
        as_author: bool = True,
    ) -> tuple[str, dict[str, Any]]:
        """Edit a message (only its author may); returns (channel id, the edited message).

        `as_author=False` skips the author check: Slack's own edits through a response_url.
        """
        if blocks:
            _check_blocks(blocks, MAX_MESSAGE_BLOCKS, "invalid_blocks")
        if text is not None and len(text) > MAX_TEXT_LENGTH:
            raise SlackError("msg_too_long")
        _check_metadata(metadata)
        with self._lock:
            channel_id = self._channel_id(channel)
            message = self._message(channel_id, ts)
            if as_author and message["user"] != actor.user_id:
                raise SlackError("cant_update_message")
            if text is not None:
                message["text"] = text
            if blocks is not None:
                if blocks:
                    message["blocks"] = assign_block_ids(blocks, seed=f"{message['ts']}/edit")
                else:
                    message.pop("blocks", None)
            if attachments is not None:
                message["attachments"] = attachments
            if metadata is not None:
                message["metadata"] = metadata
            message["edited"] = {"user": actor.user_id, "ts": self.next_ts()}
            stored = copy.deepcopy(message)
            change = self._bump("message_updated", channel_id, message["ts"], actor.user_id)
        self._announce(change)
        return channel_id, stored

    def delete_message(self, actor: Actor, channel: str | None, ts: str | None, *,
                       as_author: bool = True) -> str:
        """Delete a message (only its author may); returns the channel id."""
        with self._lock:
            channel_id = self._channel_id(channel)
            message = self._message(channel_id, ts)
            if as_author and message["user"] != actor.user_id:
                raise SlackError("cant_delete_message")
            del self._messages[channel_id][message["ts"]]
            parent_ts = message.get("thread_ts")
            if parent_ts and parent_ts != message["ts"]:
                parent = self._messages[channel_id].get(parent_ts)
                if parent is not None:
                    _recount_replies(parent, self._messages[channel_id].values())
            change = self._bump("message_deleted", channel_id, message["ts"], actor.user_id)
        self._announce(change)
        return channel_id

    def message(self, channel: str, ts: str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._message(self._channel_id(channel), ts))

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """Every message in the channel, thread replies included, oldest first."""
        with self._lock:
            return copy.deepcopy(list(self._messages[self._channel_id(channel)].values()))

    def history(self, channel: str | None, *, latest: str | None = None,
                oldest: str | None = None, inclusive: bool = False) -> list[dict[str, Any]]:
        """Top-level messages (and broadcast replies), newest first, as history shows them."""
        with self._lock:
            messages = self._messages[self._channel_id(channel)].values()
            shown = [
                m for m in messages
                if m.get("thread_ts") in (None, m["ts"]) or m.get("subtype") == "thread_broadcast"
            ]
            shown = [m for m in shown if _in_range(m["ts"], oldest, latest, inclusive)]
            return copy.deepcopy(shown[::-1])

    def replies(self, channel: str | None, ts: str | None) -> list[dict[str, Any]]:
        """A thread: its parent first, then the replies, oldest first."""
        with self._lock:
            messages = self._messages[self._channel_id(channel)]
            if not ts or ts not in messages:
                raise SlackError("thread_not_found")
            parent_ts = messages[ts].get("thread_ts") or ts
            thread = [m for m in messages.values()
                      if m["ts"] == parent_ts or m.get("thread_ts") == parent_ts]
            return copy.deepcopy(thread)

    def permalink(self, channel: str | None, ts: str | None) -> tuple[str, str]:
        """(channel id, permalink) of a message."""
        with self._lock:
            channel_id = self._channel_id(channel)
            message = self._message(channel_id, ts)
        link = (f"https://{self.team_domain}.slack.com/archives/{channel_id}/"
                f"p{message['ts'].replace('.', '')}")
        if message.get("thread_ts") and message["thread_ts"] != message["ts"]:
            link += f"?thread_ts={message['thread_ts']}&cid={channel_id}"
        return channel_id, link

    def _message(self, channel_id: str, ts: str | None) -> dict[str, Any]:
        message = self._messages[channel_id].get(ts or "")
        if message is None:
            raise SlackError("message_not_found")
        return message

    def _thread_parent(self, messages: dict[str, dict[str, Any]], thread_ts: str) -> dict[str, Any]:
        if not _looks_like_ts(thread_ts):
            raise SlackError("invalid_thread_ts")
        parent = messages.get(thread_ts)
        if parent is None:
            raise SlackError("thread_not_found")
        root = parent.get("thread_ts")
        return messages[root] if root and root != parent["ts"] else parent

    # ---- reactions

    def add_reaction(self, user_id: str, channel: str | None, ts: str | None,
                     name: str | None) -> tuple[str, dict[str, Any]]:
        """`user_id` reacts with :name: ; returns (channel id, the message)."""
        name = _reaction_name(name)
        with self._lock:
            channel_id = self._channel_id(channel)
            message = self._message(channel_id, ts)
            reactions = message.setdefault("reactions", [])
            reaction = next((r for r in reactions if r["name"] == name), None)
            if reaction is None:
                reaction = {"name": name, "users": [], "count": 0}
                reactions.append(reaction)
            if user_id in reaction["users"]:
                raise SlackError("already_reacted")
            reaction["users"].append(user_id)
            reaction["count"] = len(reaction["users"])
            stored = copy.deepcopy(message)
            change = self._bump("reaction_added", channel_id, message["ts"], user_id)
        self._announce(change)
        return channel_id, stored

    def remove_reaction(self, user_id: str, channel: str | None, ts: str | None,
                        name: str | None) -> tuple[str, dict[str, Any]]:
        name = _reaction_name(name)
        with self._lock:
            channel_id = self._channel_id(channel)
            message = self._message(channel_id, ts)
            reactions = message.get("reactions", [])
            reaction = next((r for r in reactions if r["name"] == name), None)
            if reaction is None or user_id not in reaction["users"]:
                raise SlackError("no_reaction")
            reaction["users"].remove(user_id)
            reaction["count"] = len(reaction["users"])
            if not reaction["users"]:
                reactions.remove(reaction)
            if not reactions:
                message.pop("reactions", None)
            stored = copy.deepcopy(message)
            change = self._bump("reaction_removed", channel_id, message["ts"], user_id)
        self._announce(change)
        return channel_id, stored

    # ---- ephemeral messages

    def post_ephemeral(
        self,
        actor: Actor,
        channel: str | None,
        user_id: str | None,
        *,
        text: str = "",
        blocks: list[dict[str, Any]] | None = None,
        attachments: list[dict[str, Any]] | None = None,
        thread_ts: str | None = None,
        source: str = "chat.postEphemeral",
    ) -> dict[str, Any]:
        """A message only `user_id` sees; returns it (its `ts` is Slack's message_ts)."""
        _check_content(text, blocks, attachments, MAX_MESSAGE_BLOCKS)
        with self._lock:
            channel_id = self._channel_id(channel)
            if user_id not in self._users:
                raise SlackError("user_not_found")
            ts = self.next_ts()
            message: dict[str, Any] = {"type": "message", "ts": ts, "channel": channel_id,
                                       "user": actor.user_id, "text": text, "source": source}
            if actor.bot_id:
                message["bot_id"] = actor.bot_id
            if blocks is not None:
                message["blocks"] = assign_block_ids(blocks, seed=ts)
            if attachments:
                message["attachments"] = attachments
            if thread_ts:
                message["thread_ts"] = thread_ts
            self._ephemeral.setdefault(user_id, []).append(message)
            stored = copy.deepcopy(message)
            change = self._bump("ephemeral_posted", channel_id, ts, user_id)
        self._announce(change)
        return stored

    def ephemeral_messages(self, user_id: str) -> list[dict[str, Any]]:
        """What `user_id` has been shown ephemerally, oldest first."""
        with self._lock:
            return copy.deepcopy(self._ephemeral.get(user_id, []))

    def replace_ephemeral(self, user_id: str, ts: str, *, text: str | None,
                          blocks: list[dict[str, Any]] | None, delete: bool = False) -> bool:
        """Replace or delete an ephemeral message (a response_url may); False if unknown."""
        with self._lock:
            shown = self._ephemeral.get(user_id, [])
            message = next((m for m in shown if m["ts"] == ts), None)
            if message is None:
                return False
            if delete:
                shown.remove(message)
            else:
                if text is not None:
                    message["text"] = text
                if blocks is not None:
                    message["blocks"] = assign_block_ids(blocks, seed=f"{ts}/edit")
            change = self._bump("ephemeral_updated", message["channel"], ts, user_id)
        self._announce(change)
        return True

    # ---- link previews (chat.unfurl)

    def shared_links(self, text: str) -> list[dict[str, str]]:
        """The links of a message's text to the app's unfurl domains (or their
        subdomains), as link_shared lists them: `[{"domain", "url"}]`."""
        links = []
        for match in _LINK_IN_TEXT.finditer(text):
            url = match[1] or match[2]
            host = url.split("://", 1)[1].split("/", 1)[0].split("?", 1)[0].split(":")[0].lower()
            domain = next((d for d in self.unfurl_domains
                           if host == d or host.endswith("." + d)), None)
            if domain and all(link["url"] != url for link in links):
                links.append({"domain": domain, "url": url})
        return links

    def unfurl(self, actor: Actor, channel: str | None, ts: str | None,
               unfurls: Any) -> dict[str, Any]:
        """chat.unfurl: each preview kept on the message as an app unfurl attachment
        (`is_app_unfurl`, `app_unfurl_url`, `blocks`); a second one for the same URL
        replaces the first. Only a URL the message holds may be unfurled. Refusals are
        chat.unfurl's own: cannot_find_channel, cannot_find_message (deleted),
        cannot_unfurl_message (the URL is not in the message)."""
        if not isinstance(unfurls, dict) or not unfurls:
            raise SlackError("invalid_unfurls_format")
        for url, unfurl in unfurls.items():
            if not isinstance(unfurl, dict) or not isinstance(unfurl.get("blocks"), list):
                raise SlackError("invalid_unfurls_format")
            _check_blocks(unfurl["blocks"], MAX_MESSAGE_BLOCKS, "invalid_unfurls_format",
                          f"/unfurls/{url}/blocks")
        with self._lock:
            try:
                channel_id = self._channel_id(channel)
            except SlackError:
                raise SlackError("cannot_find_channel") from None
            message = self._messages[channel_id].get(ts or "")
            if message is None:
                raise SlackError("cannot_find_message")
            if any(url not in message.get("text", "") for url in unfurls):
                raise SlackError("cannot_unfurl_message")
            attachments = [a for a in message.get("attachments", [])
                           if not (a.get("is_app_unfurl") and a.get("app_unfurl_url") in unfurls)]
            for url, unfurl in unfurls.items():
                attachments.append({
                    "id": len(attachments) + 1, "app_unfurl_url": url, "is_app_unfurl": True,
                    "app_id": self.app_id, "bot_id": self.bot_id,
                    "fallback": unfurl.get("fallback", url), "from_url": url,
                    "blocks": assign_block_ids(unfurl["blocks"], seed=f"{ts}/{url}")})
            message["attachments"] = attachments
            stored = copy.deepcopy(message)
            change = self._bump("message_unfurled", channel_id, message["ts"], actor.user_id)
        self._announce(change)
        return stored

    # ---- views

    def publish_view(self, user_id: str | None, view: Any, *,
                     expected_hash: str | None = None) -> dict[str, Any]:
        """Publish `user_id`'s App Home; returns the view as Slack stores it."""
        _check_view(view, "home")
        with self._lock:
            if user_id not in self._users:
                raise SlackError("user_not_found")
            current = self._home_views.get(user_id)
            if expected_hash and current is not None and current["hash"] != expected_hash:
                raise SlackError("hash_conflict")
            view_id = current["id"] if current else None
            stored = self._view_object(view, view_id)
            self._home_views[user_id] = stored
            result = copy.deepcopy(stored)
            change = self._bump("view_published", user=user_id)
        self._announce(change)
        return result

    def home_view(self, user_id: str) -> dict[str, Any] | None:
        with self._lock:
            return copy.deepcopy(self._home_views.get(user_id))

    def _modal_view(self, view: Any, view_id: str | None) -> dict[str, Any]:
        """A modal as Slack stores it (for sandbox/modals.py); SlackError if invalid."""
        _check_view(view, "modal")
        with self._lock:
            return self._view_object(view, view_id)

    def _modal_changed(self, kind: str, user: str) -> None:
        with self._lock:
            change = self._bump(kind, user=user)
        self._announce(change)

    def _view_object(self, view: dict[str, Any], view_id: str | None) -> dict[str, Any]:
        self._view_count += 1
        view_id = view_id or f"V{self._view_count:010d}"
        return {
            "id": view_id, "team_id": self.team_id, "type": view["type"],
            "blocks": assign_block_ids(view.get("blocks", []),
                                       seed=f"{view_id}/{self._view_count}"),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""), "state": {"values": {}},
            "hash": f"{int(self._clock())}.{self._view_count:08d}",
            "title": view.get("title"), "close": view.get("close"), "submit": view.get("submit"),
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "external_id": view.get("external_id", ""), "previous_view_id": None,
            "root_view_id": view_id, "app_id": self.app_id,
            "app_installed_team_id": self.team_id, "bot_id": self.bot_id,
        }


def _check_content(text: str, blocks: Any, attachments: Any, max_blocks: int) -> None:
    if not text and not blocks and not attachments:
        raise SlackError("no_text")
    if len(text) > MAX_TEXT_LENGTH:
        raise SlackError("msg_too_long")
    if blocks is not None:
        _check_blocks(blocks, max_blocks, "invalid_blocks")


def _check_blocks(blocks: Any, max_blocks: int, error: str, pointer: str = "/blocks") -> None:
    try:
        validate_blocks(blocks, max_blocks=max_blocks, pointer=pointer)
    except InvalidBlocks as invalid:
        raise SlackError(error, errors=invalid.errors, response_metadata={
            "messages": [f"[ERROR] {e}" for e in invalid.errors]}) from invalid


def _check_metadata(metadata: Any) -> None:
    if metadata is None:
        return
    if (not isinstance(metadata, dict) or not isinstance(metadata.get("event_type"), str)
            or not isinstance(metadata.get("event_payload"), dict)):
        raise SlackError("invalid_metadata_format")


def _check_view(view: Any, kind: str) -> None:
    if not isinstance(view, dict) or view.get("type") != kind:
        raise SlackError("invalid_arguments", response_metadata={
            "messages": [f"[ERROR] view.type must be {kind!r} [json-pointer:/view/type]"]})
    if kind == "modal" and not view.get("title"):
        raise SlackError("invalid_arguments", response_metadata={
            "messages": ["[ERROR] missing required field: title [json-pointer:/view]"]})
    _check_blocks(view.get("blocks", []), MAX_VIEW_BLOCKS, "invalid_arguments", "/view/blocks")
    problems = validate_modal(view) if kind == "modal" else []
    if problems:
        raise SlackError("invalid_arguments", response_metadata={
            "messages": [f"[ERROR] {e}" for e in problems]})


def _count_reply(parent: dict[str, Any], reply: dict[str, Any]) -> None:
    parent["thread_ts"] = parent["ts"]
    parent["reply_count"] = parent.get("reply_count", 0) + 1
    users = parent.setdefault("reply_users", [])
    if reply["user"] not in users:
        users.append(reply["user"])
    parent["reply_users_count"] = len(users)
    parent["latest_reply"] = reply["ts"]


def _recount_replies(parent: dict[str, Any], messages: Any) -> None:
    for key in ("reply_count", "reply_users", "reply_users_count", "latest_reply"):
        parent.pop(key, None)
    for message in messages:
        if message.get("thread_ts") == parent["ts"] and message["ts"] != parent["ts"]:
            _count_reply(parent, message)
    if "reply_count" not in parent:
        parent.pop("thread_ts", None)


def _reaction_name(name: str | None) -> str:
    name = (name or "").strip(":")
    if not name or any(c.isspace() for c in name):
        raise SlackError("invalid_name")
    return name


def _looks_like_ts(value: str) -> bool:
    seconds, dot, micros = value.partition(".")
    return bool(dot) and seconds.isdigit() and micros.isdigit() and int(seconds) > 0


def ts_key(ts: str) -> tuple[int, int]:
    """A timestamp as (seconds, microseconds): floats lose the last digits of a ts."""
    seconds, _, fraction = ts.partition(".")
    return int(seconds or 0), int((fraction + "000000")[:6])


def _in_range(ts: str, oldest: str | None, latest: str | None, inclusive: bool) -> bool:
    value = ts_key(ts)
    if oldest is not None:
        bound = ts_key(oldest)
        if value < bound or (value == bound and not inclusive):
            return False
    if latest is not None:
        bound = ts_key(latest)
        if value > bound or (value == bound and not inclusive):
            return False
    return True
