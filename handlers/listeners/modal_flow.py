"""What every newsbot modal does around its form: open it (or say why not), read its
private_metadata, pick the zone it starts with, refuse a submission in a modal, and
confirm a stored change where the person is: the Home tab, or privately in the channel
the command was typed in.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any

from newsbot.bot.config.settings import Config
from newsbot.bot.services.admins import AdminCheck
from newsbot.handlers.blocks import linked, unmarked
from newsbot.handlers.listeners.home import HomeTab
from newsbot.handlers.modal_elements import known_zone
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)

_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")


def channel_typed_in(channel: str | None) -> str | None:
    """The channel a command was typed in, to start a form's channel picker with; None
    for a direct message (or anything else a picker cannot show)."""
    return channel if channel and _CHANNEL_ID.match(channel) else None


def show_modal(client: WebClient, trigger_id: str, view: dict, what: str) -> str | None:
    """views.open; None once open, else what to tell the user instead (Slack refused)."""
    try:
        client.views_open(trigger_id=trigger_id, view=view)
    except SlackApiError as error:
        code = error.response.get("error") if error.response is not None else "unknown"
        log.warning(f"could not open the {what} modal", extra={"error": code})
        return f"Slack did not open the form ({code}): try again, or type the command."
    return None


def view_metadata(view: Mapping[str, Any]) -> dict:
    """A submitted view's private_metadata (what is edited, where to answer); {} if garbled."""
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    return meta if isinstance(meta, dict) else {}


def starting_zone(admins: AdminCheck, config: Config, user: str) -> str:
    """The zone a new form starts with: the user's own Slack zone (users.info), else the
    configured one, else UTC (whichever the zone list offers)."""
    return known_zone(admins.time_zone(user)) or known_zone(config.timezone) or "UTC"


def notice_view(text: str) -> dict:
    """A modal that only says something (a refusal)."""
    return {"type": "modal", "title": {"type": "plain_text", "text": "newsbot"},
            "close": {"type": "plain_text", "text": "Close"},
            "blocks": [{"type": "section", "text": {"type": "plain_text", "text": text}}]}


def confirmed_in(meta: Mapping[str, Any]) -> str | None:
    """The conversation `confirm` answers in: the one the form's command was typed in;
    None for the Home tab (a form opened there, or from nowhere else)."""
    channel = meta.get("channel")
    return None if meta.get("home") or not channel else str(channel)


def confirm(home: HomeTab, client: WebClient, user: str, meta: Mapping[str, Any],
            text: str) -> None:
    """Say what a submitted form did: on the Home tab if it was opened there (or from
    nowhere else), else privately in the channel of the command that opened it."""
    channel = confirmed_in(meta)
    if channel is None:
        home.publish(client, user, linked(text))
        return
    client.chat_postEphemeral(channel=channel, user=user, text=unmarked(text),
                              blocks=[{"type": "section", "text": {
                                  "type": "mrkdwn", "text": linked(text)}}])
