"""The schedule modal: opened by `/news schedule add` with nothing after it, by Add
schedule and Edit in App Home; submitted, checked and stored.

A trigger_id lives about 3 s and is single-use, so the modal opens first thing after the
acknowledgement (lazy listeners), before any other work. The submission is answered in
its acknowledgement: `response_action: errors` naming every wrong block at once, or
nothing (the modal closes) once the schedule is stored: the same add as the typed
command (execute_schedule_command), so the answers match. The confirmation follows
after the acknowledgement: in the Home tab, or privately in the command's channel.
Only admins may open or submit it; anyone else gets the typed command's refusal.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from newsbot.bot.newsroom.lookup import list_topics
from newsbot.bot.newsroom.schedule_command import (
    ScheduleCommand,
    execute_schedule_command,
    refusal,
)
from newsbot.bot.newsroom.schedule_form import form_spec, schedule_form
from newsbot.bot.newsroom.schedules import ScheduleError, get_schedule, update_schedule
from newsbot.handlers.after_ack import AfterAck
from newsbot.handlers.blocks import marked_channel, marked_user
from newsbot.handlers.channels import picked_channel_problem
from newsbot.handlers.listeners.home import ADD_ACTION, EDIT_ACTION, HomeTab
from newsbot.handlers.listeners.modal_flow import (
    channel_typed_in,
    confirm,
    notice_view,
    show_modal,
    starting_zone,
    view_metadata,
)
from newsbot.handlers.modal_elements import TOPICS_ACTION, topic_options
from newsbot.handlers.schedule_modal_view import (
    CALLBACK_ID,
    DEFAULT_FORM,
    schedule_modal,
    submitted_form,
)
from slack_bolt import Ack, App
from slack_sdk import WebClient

log = logging.getLogger(__name__)


def wants_modal(text: str) -> bool:
    """`/news schedule add` with nothing after it."""
    return (text or "").split() in (["schedule", "add"], ["schedule", "new"])


class ScheduleModal:
    def __init__(self, home: HomeTab, after_ack: AfterAck) -> None:
        self.home, self.after_ack = home, after_ack
        self.store, self.config, self.admins = home.store, home.config, home.admins

    def open(self, client: WebClient, trigger_id: str, user: str, *,
             schedule_id: str | None = None, channel: str | None = None,
             home: bool = False) -> str | None:
        """Open the modal (filled in from `schedule_id` when editing); returns what to tell
        the user instead (a refusal, an unknown schedule, Slack's refusal), else None."""
        if not self.admins.is_admin(user):
            return refusal("change" if schedule_id else "add").text
        if schedule_id:
            try:
                schedule = get_schedule(self.store, schedule_id)
            except ScheduleError as error:
                return str(error)
            if schedule.origin == "config":
                return f"{schedule.id} comes from the config file: change it there."
            form = schedule_form(schedule)
        else:
            form = replace(DEFAULT_FORM, tz=starting_zone(self.admins, self.config, user),
                           channel=channel_typed_in(channel))
        view = schedule_modal(form, topics=[t.topic for t in list_topics(self.store)],
                              default_top=self.config.digest_top, schedule_id=schedule_id,
                              metadata={"channel": channel, "home": home})
        return show_modal(client, trigger_id, view, "schedule")

    def submit(self, ack: Ack, body: dict, client: WebClient) -> None:
        """Check everything, store the schedule, then ack (closing the modal) or answer
        with every error beside its block."""
        user = (body.get("user") or {}).get("id") or ""
        view = body.get("view") or {}
        meta = view_metadata(view)
        if not self.admins.is_admin(user):
            ack(response_action="update", view=notice_view(refusal("add").text))
            return
        form = submitted_form((view.get("state") or {}).get("values") or {})
        spec, problems = form_spec(form)
        if "channel" not in problems and form.channel:
            problem = picked_channel_problem(client, form.channel)
            if problem:
                problems["channel"] = problem
        if spec is None or problems:
            log.info("schedule form refused", extra={"user": user, "fields": list(problems)})
            ack(response_action="errors", errors=problems)
            return
        try:
            if meta.get("schedule"):
                schedule = update_schedule(self.store, meta["schedule"], spec)
                text = f"Saved {schedule.describe(marked_channel, marked_user)}"
            else:
                reply = execute_schedule_command(
                    self.store, ScheduleCommand("add", spec=spec), user_id=user,
                    channel_format=marked_channel, user_format=marked_user, origin="slack")
                text = reply.text
        except ScheduleError as error:  # the same digest twice, or gone meanwhile
            ack(response_action="errors", errors={"channel": str(error)})
            return
        ack()
        log.info("schedule form stored", extra={"user": user, "schedule": meta.get("schedule")})
        self.after_ack(confirm, self.home, client, user, meta, text)


def register(app: App, modal: ScheduleModal) -> None:
    def acknowledge(ack: Ack) -> None:
        ack()

    def on_home_button(body: dict, client: WebClient) -> None:
        """Add schedule / Edit in App Home: the modal first, a refusal on the Home tab."""
        user = (body.get("user") or {}).get("id") or ""
        action = ((body.get("actions") or [{}])[0])
        editing = action.get("value") if action.get("action_id") == EDIT_ACTION else None
        problem = modal.open(client, body.get("trigger_id") or "", user,
                             schedule_id=editing, home=True)
        if problem:
            modal.home.publish(client, user, problem)

    app.action(ADD_ACTION)(ack=acknowledge, lazy=[on_home_button])
    app.action(EDIT_ACTION)(ack=acknowledge, lazy=[on_home_button])
    app.view_submission(CALLBACK_ID)(modal.submit)

    @app.view_closed(CALLBACK_ID)
    def on_closed(ack: Ack) -> None:
        ack()

    @app.options(TOPICS_ACTION)
    def on_topic_options(ack: Ack, body: dict) -> None:
        """The topics matching what the admin typed, past Slack's 100 static options."""
        topics = [t.topic for t in list_topics(modal.store)]
        ack(options=topic_options(topics, body.get("value") or ""))
