"""Channels as Slack knows them: a name looked up, and whether newsbot can post there.

Schedules store channel ids. People type names (`#newsroom`) on the command line, and
in Slack a channel not picked from the menu arrives as a plain name too; a private
channel or one newsbot was never invited to makes every digest fail. These checks run
when a schedule is added, so the person adding it hears about it then.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)

INVITE = "/invite @newsbot"
CHANNEL_TYPES = "public_channel,private_channel"


def dm_channel_id(client: WebClient, user: str) -> str:
    """The direct message between newsbot and `user`, where a follow's alerts go
    (conversations.open gives the same one each time); SlackApiError if Slack refuses."""
    return client.conversations_open(users=user)["channel"]["id"]


def channel_id_by_name(client: WebClient, name: str) -> str | None:
    """The id of the channel called `name` (without `#`) among those newsbot can see."""
    wanted = name.removeprefix("#").strip().lower()
    cursor = None
    while True:
        page = client.conversations_list(types=CHANNEL_TYPES, exclude_archived=True,
                                         limit=1000, cursor=cursor)
        for channel in page.get("channels") or []:
            if channel.get("name", "").lower() == wanted:
                return channel["id"]
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            return None


def posting_problem(client: WebClient, channel: str,
                    shown: Callable[[str], str] = lambda channel: channel) -> str | None:
    """Why newsbot could not post a digest in `channel`, with what to do; None if it can."""
    state = channel_state(client, channel)
    if state == "not_found":
        return (f"unknown channel {channel}: it does not exist, or it is private and "
                f"newsbot is not in it (invite newsbot there with `{INVITE}`, or check "
                "the id)")
    if state == "archived":
        return f"{shown(channel)} is archived: unarchive it or pick another channel"
    if state == "not_member":
        return (f"newsbot is not a member of {shown(channel)}, so it cannot post digests "
                f"there: type `{INVITE}` in that channel, then add the schedule again")
    if state != "ok":
        return f"could not check channel {channel} with Slack ({state}); nothing was changed"
    return None


def picked_channel_problem(client: WebClient, channel: str) -> str | None:
    """The same check for a channel picked in a form, said beside the channel input."""
    state = channel_state(client, channel)
    if state in ("not_member", "not_found"):  # a private channel newsbot is not in: unseen
        return f"newsbot is not in this channel: invite @newsbot there first ({INVITE})."
    if state == "archived":
        return "This channel is archived: unarchive it or pick another one."
    if state != "ok":
        return f"Slack could not check this channel ({state}); nothing was changed."
    return None


def channel_state(client: WebClient, channel: str) -> str:
    """"ok", "not_member", "archived", "not_found", or Slack's error code."""
    try:
        info = client.conversations_info(channel=channel).get("channel") or {}
    except SlackApiError as error:
        code = error.response.get("error") if error.response is not None else "unknown"
        if code == "channel_not_found":
            return "not_found"
        log.warning("could not check a channel", extra={"channel": channel, "error": code})
        return str(code)
    if info.get("is_archived"):
        return "archived"
    return "ok" if info.get("is_member", False) else "not_member"
