"""The App Home tab: the queue, recent decisions, the digest schedules and, for admins,
the channel subscriptions (with their controls), then the reader's own follows (each with
Edit and Remove: handlers/listeners/home_subscriptions.py)."""

from __future__ import annotations

import logging

from newsbot.bot.config.settings import Config
from newsbot.bot.newsroom.decisions import SUPERSEDED, WITHDRAWN, WRITTEN, decision_history
from newsbot.bot.newsroom.digest import DigestOptions, select_digest
from newsbot.bot.newsroom.schedules import Schedule, list_schedules
from newsbot.bot.newsroom.stories import also_covered
from newsbot.bot.newsroom.subscription_filters import SubscriptionError
from newsbot.bot.newsroom.subscriptions import (
    list_follows,
    list_subscriptions,
    remove_subscription,
)
from newsbot.bot.newsroom.wording import plural
from newsbot.bot.services.admins import AdminCheck
from newsbot.handlers.blocks import (
    MAX_VIEW_BLOCKS,
    UNDO_ACTION,
    article_list_blocks,
    control,
    fit,
    header_blocks,
    linked,
    marked_channel,
    marked_user,
    mention,
    removal,
    shown,
    slack_date,
    slack_moment,
    text_blocks,
)
from newsbot.handlers.listeners.home_subscriptions import (
    UNFOLLOW_ACTION,
    follow_blocks,
    subscription_blocks,
)
from newsbot.storage.db import Store
from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)

DONE = {"publish": "published", "skip": "skipped"}


# Admins' controls (handlers/listeners/home_controls.py answers them)
PAUSE_ACTION, RESUME_ACTION = "newsbot_schedule_pause", "newsbot_schedule_resume"
EDIT_ACTION, REMOVE_ACTION = "newsbot_schedule_edit", "newsbot_schedule_remove"
ADD_ACTION, SYNC_ACTION = "newsbot_schedule_add", "newsbot_sync_now"
SCHEDULES_WITH_BUTTONS = 10  # two blocks each; the rest are listed in one
SCHEDULES_SHOWN = 25


class HomeTab:
    """Each user's Home tab: the queue (config `digest.top`), recent decisions, the
    schedules (with Pause/Resume, Edit, Remove, Add and Sync now for admins) and the
    reader's follows."""

    def __init__(self, store: Store, config: Config, admins: AdminCheck) -> None:
        self.store, self.config, self.admins = store, config, admins

    def view(self, user: str | None, note: str | None = None,
             undo: str | None = None) -> dict:
        """`user`'s Home tab as a view: at most 100 blocks, as Slack allows.

        `note` goes first: the Home tab has no channel for an ephemeral answer, so this is
        where a click made in it is answered; `undo`: the article of a decision just
        recorded, whose Undo button goes beside the note."""
        store = self.store
        queue = select_digest(store, DigestOptions(top=self.config.digest_top))
        blocks = _note_blocks(note, undo) if note else []
        blocks += header_blocks("Newsroom queue")
        blocks += article_list_blocks(
            f"The top {plural(len(queue), 'undecided article')}", queue,
            "Nothing waiting for a decision.",
            buttons=True, also=also_covered(store, queue),
        )
        blocks += header_blocks("Recent decisions")
        lines = [_history_line(event) for event in decision_history(store, limit=10)]
        blocks += text_blocks("\n".join(lines) or "No decisions yet.")
        admin = bool(user) and self.admins.is_admin(user or "")
        blocks += schedule_blocks(list_schedules(store), admin)
        if admin:
            blocks += subscription_blocks(list_subscriptions(store))
        if user:
            blocks += follow_blocks(list_follows(store, user), MAX_VIEW_BLOCKS - len(blocks))
        return {"type": "home", "blocks": blocks[:MAX_VIEW_BLOCKS]}

    def publish(self, client: WebClient, user: str, note: str | None = None,
                undo: str | None = None) -> None:
        """Publish `user`'s Home tab as it stands now; a refusal is logged, never raised."""
        try:
            client.views_publish(user_id=user, view=self.view(user, note, undo))
        except SlackApiError as error:
            log.warning("could not publish the Home tab",
                        extra={"user": user, "error": str(error)})


def _note_blocks(note: str, undo: str | None) -> list[dict]:
    blocks = text_blocks(note)
    if undo:
        blocks[0]["accessory"] = {
            "type": "button", "action_id": UNDO_ACTION, "value": undo,
            "text": {"type": "plain_text", "text": "Undo"},
            "accessibility_label": "Undo the decision just recorded"}
    return blocks


def schedule_blocks(schedules: list[Schedule], admin: bool) -> list[dict]:
    """The schedules; for admins each with its buttons (a config file's schedule can only
    be paused or resumed: the file owns the rest), then Add schedule and Sync now."""
    blocks = header_blocks("Digest schedules")
    lines = [f"• {schedule_line(s)}{_next(s)}" for s in schedules[:SCHEDULES_SHOWN]]
    if not admin:
        return blocks + text_blocks("\n".join(lines) or
                                    "No schedules yet: an admin can add one with "
                                    "`/news schedule add`.")
    for schedule, line in zip(schedules[:SCHEDULES_WITH_BUTTONS], lines, strict=False):
        blocks += text_blocks(line)
        blocks.append({"type": "actions", "elements": _schedule_buttons(schedule)})
    rest = lines[SCHEDULES_WITH_BUTTONS:]
    if rest:
        blocks += text_blocks("\n".join(rest) + "\n(change these with `/news schedule ...`)")
    if not schedules:
        blocks += text_blocks("No schedules yet.")
    blocks.append({"type": "actions", "elements": [
        control("Add schedule", ADD_ACTION, "new", "Add schedule (opens a form)", "primary"),
        control("Sync now", SYNC_ACTION, "sync",
                "Sync now: write the decisions into the article files"),
    ]})
    return blocks


def _schedule_buttons(schedule: Schedule) -> list[dict]:
    sid = schedule.id
    buttons = [control("Pause", PAUSE_ACTION, sid, f"Pause schedule {sid}")
               if schedule.enabled else
               control("Resume", RESUME_ACTION, sid, f"Resume schedule {sid}")]
    if schedule.origin != "config":
        buttons.append(control("Edit", EDIT_ACTION, sid, f"Edit schedule {sid}"))
        buttons.append(removal(REMOVE_ACTION, sid, f"Remove schedule {sid}",
                               f"{schedule_line(schedule)}\n\nIt will post nothing more. "
                               "Its run history stays."))
    return buttons


def _next(schedule: Schedule) -> str:
    next_fire = schedule.next_fire()
    return f", {schedule.next_words} {slack_moment(next_fire)}" if next_fire else ""


def _history_line(event: dict) -> str:
    """What an event amounts to now: `• @ana published *Title* — written to file (button, …)`."""
    who, title = mention(event["user_id"]), shown(event["title"] or event["article_id"], 150)
    status = event["status"]
    if event["action"] == "undo":
        text = f"{who}'s vote on *{title}* withdrawn"  # "withdrawn", as everywhere
    else:
        text = f"{who} {DONE[event['action']]} *{title}*"
        if status in (WRITTEN, WITHDRAWN, SUPERSEDED):
            text += f" — {status}"
    return f"• {text} ({event['source']}, {slack_date(event['created_at'])})"


def schedule_line(schedule: Schedule) -> str:
    """A schedule with its channel and creator as Slack mentions, the rest escaped."""
    return fit(linked(schedule.describe(marked_channel, marked_user)), 300)


def register(app: App, home: HomeTab) -> None:
    store = home.store

    def acknowledge(ack: Ack) -> None:
        ack()

    def on_home_opened(event: dict, client: WebClient) -> None:
        """Lazy: Slack is answered first (the app answers after listeners return)."""
        if event.get("tab", "home") != "home" or not event.get("user"):
            return
        home.publish(client, event["user"])

    app.event("app_home_opened")(ack=acknowledge, lazy=[on_home_opened])

    def on_unfollow(body: dict, client: WebClient) -> None:
        """Remove one of the clicker's own follows (never someone else's), then redraw."""
        user = (body.get("user") or {}).get("id")
        follow_id = ((body.get("actions") or [{}])[0]).get("value") or ""
        if not user:
            return
        try:
            note = f"Removed {remove_subscription(store, follow_id, member=user).describe()}"
        except SubscriptionError as error:
            note = str(error)
        home.publish(client, user, note)

    app.action(UNFOLLOW_ACTION)(ack=acknowledge, lazy=[on_unfollow])
