"""The App Home tab: the queue, recent decisions, the digest schedules and the reader's
own follows (each with a Remove button)."""

from __future__ import annotations

import logging

from newsbot.bot.config.settings import Config
from newsbot.bot.newsroom.decisions import SUPERSEDED, WITHDRAWN, WRITTEN, decision_history
from newsbot.bot.newsroom.digest import DigestOptions, select_digest
from newsbot.bot.newsroom.schedules import Schedule, list_schedules
from newsbot.bot.newsroom.stories import also_covered
from newsbot.bot.newsroom.subscription_filters import SubscriptionError
from newsbot.bot.newsroom.subscriptions import list_follows, remove_subscription
from newsbot.bot.newsroom.wording import plural
from newsbot.handlers.blocks import (
    MAX_VIEW_BLOCKS,
    article_list_blocks,
    fit,
    header_blocks,
    linked,
    marked_channel,
    marked_user,
    mention,
    shown,
    slack_date,
    slack_moment,
    text_blocks,
)
from newsbot.storage.db import Store
from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)

DONE = {"publish": "published", "skip": "skipped"}


UNFOLLOW_ACTION = "newsbot_unfollow"


def home_view(store: Store, config: Config, note: str | None = None,
              user: str | None = None) -> dict:
    """`user`'s Home tab as a view: at most 100 blocks, as Slack allows.

    `note` goes first: the Home tab has no channel for an ephemeral answer, so this is
    where a click made in it is answered."""
    queue = select_digest(store, DigestOptions(top=8))
    blocks = text_blocks(note) if note else []
    blocks += header_blocks("Newsroom queue")
    blocks += article_list_blocks(
        f"The top {plural(len(queue), 'undecided article')}", queue,
        "Nothing waiting for a decision.",
        buttons=True, also=also_covered(store, queue),
    )
    blocks += header_blocks("Recent decisions")
    lines = [_history_line(event) for event in decision_history(store, limit=10)]
    blocks += text_blocks("\n".join(lines) or "No decisions yet.")
    blocks += header_blocks("Digest schedules")
    schedule_lines = []
    for schedule in list_schedules(store)[:15]:
        next_fire = schedule.next_fire()
        when = f", {schedule.next_words} {slack_moment(next_fire)}" if next_fire else ""
        schedule_lines.append(f"• {schedule_line(schedule)}{when}")
    blocks += text_blocks("\n".join(schedule_lines)
                          or "No schedules yet: an admin can add one with `/news schedule add`.")
    if user:
        blocks += follow_blocks(store, user)
    return {"type": "home", "blocks": blocks[:MAX_VIEW_BLOCKS]}


def follow_blocks(store: Store, user: str) -> list[dict]:
    """The reader's follows, each with its Remove button (the last blocks: the first to go
    past Slack's 100)."""
    follows = list_follows(store, user)
    blocks = header_blocks("Your follows")
    if not follows:
        return blocks + text_blocks("You follow nothing yet. New articles can come to you by "
                                    "direct message: `/news follow topics=AI min_quality=70`.")
    for follow in follows:
        blocks.append({
            "type": "section", "text": {"type": "mrkdwn", "text": fit(shown(follow.describe(),
                                                                             1000), 3000)},
            "accessory": {"type": "button", "action_id": UNFOLLOW_ACTION, "value": follow.id,
                          "text": {"type": "plain_text", "text": "Remove"},
                          "accessibility_label": f"Stop following {follow.id}"}})
    return blocks


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


def publish_home(
    client: WebClient, store: Store, config: Config, user: str, note: str | None = None
) -> None:
    """Publish `user`'s Home tab as it stands now; a refusal is logged, never raised."""
    try:
        client.views_publish(user_id=user, view=home_view(store, config, note, user))
    except SlackApiError as error:
        log.warning("could not publish the Home tab", extra={"user": user, "error": str(error)})


def register(app: App, store: Store, config: Config) -> None:
    def acknowledge(ack: Ack) -> None:
        ack()

    def on_home_opened(event: dict, client: WebClient) -> None:
        """Lazy: Slack is answered first (the app answers after listeners return)."""
        if event.get("tab", "home") != "home" or not event.get("user"):
            return
        publish_home(client, store, config, event["user"])

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
        publish_home(client, store, config, user, note)

    app.action(UNFOLLOW_ACTION)(ack=acknowledge, lazy=[on_unfollow])
