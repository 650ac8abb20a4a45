"""The admins' buttons in App Home: Pause/Resume and Remove on each schedule, Sync now.

(Add schedule and Edit open the schedule modal: handlers/listeners/schedule_modal.py.)
Each click is acknowledged at once and carried out after, then the Home tab is published
again with what happened as its first line. The admin check is made again on every
click: a Home tab drawn for an admin may be clicked by nobody else, but a stale one may
outlive the rights. Remove is confirmed by Slack first (the button's `confirm`).
"""

from __future__ import annotations

import logging

from newsbot.bot.newsroom.schedule_command import (
    ScheduleCommand,
    execute_schedule_command,
    refusal,
)
from newsbot.bot.newsroom.schedules import ScheduleError
from newsbot.handlers.blocks import escape, linked, marked_channel, marked_user
from newsbot.handlers.listeners.home import (
    PAUSE_ACTION,
    REMOVE_ACTION,
    RESUME_ACTION,
    SYNC_ACTION,
    HomeTab,
)
from newsbot.handlers.listeners.news_command import sync_answer
from slack_bolt import Ack, App
from slack_sdk import WebClient

log = logging.getLogger(__name__)

SCHEDULE_ACTIONS = {PAUSE_ACTION: "pause", RESUME_ACTION: "resume", REMOVE_ACTION: "remove"}


def schedule_click(home: HomeTab, user: str, action_id: str, schedule_id: str) -> str:
    """Carry out Pause, Resume or Remove for `user`; the note for the Home tab."""
    action = SCHEDULE_ACTIONS[action_id]
    if not home.admins.is_admin(user):
        return refusal(action).text
    try:
        reply = execute_schedule_command(
            home.store, ScheduleCommand(action, schedule_id=schedule_id), user_id=user,
            channel_format=marked_channel, user_format=marked_user, origin="slack")
    except ScheduleError as error:
        return escape(str(error))
    log.info("schedule changed in App Home", extra={"user": user, "action": action,
                                                    "schedule": schedule_id})
    return linked(reply.text)


def sync_now(home: HomeTab, user: str) -> str:
    """What `/news sync` does and says, answered on the Home tab."""
    return sync_answer(home.store, home.config, home.admins, user).blocks[0]["text"]["text"]


def register(app: App, home: HomeTab) -> None:
    def acknowledge(ack: Ack) -> None:
        ack()

    def on_schedule_button(body: dict, client: WebClient) -> None:
        user = (body.get("user") or {}).get("id")
        action = (body.get("actions") or [{}])[0]
        if not user or action.get("action_id") not in SCHEDULE_ACTIONS:
            return
        note = schedule_click(home, user, action["action_id"], action.get("value") or "")
        home.publish(client, user, note)

    def on_sync_now(body: dict, client: WebClient) -> None:
        user = (body.get("user") or {}).get("id")
        if user:
            home.publish(client, user, sync_now(home, user))

    for action_id in SCHEDULE_ACTIONS:
        app.action(action_id)(ack=acknowledge, lazy=[on_schedule_button])
    app.action(SYNC_ACTION)(ack=acknowledge, lazy=[on_sync_now])
