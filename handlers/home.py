"""The App Home tab: the queue, recent decisions and the digest schedules."""

from __future__ import annotations

import logging

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.config import Config
from bot.decisions import recent_events
from bot.digest import DigestOptions, select_digest
from bot.schedules import list_schedules
from handlers.blocks import article_list_blocks, escape, header_blocks, mention, text_blocks
from storage.db import Store

log = logging.getLogger(__name__)

ACTION_LABEL = {"publish": "publish", "skip": "skip", "undo": "withdrew"}


def home_view(store: Store, config: Config, note: str | None = None) -> dict:
    """The Home tab as a view: at most 100 blocks, as Slack allows.

    `note` goes first: the Home tab has no channel for an ephemeral answer, so this is
    where a click made in it is answered."""
    queue = select_digest(store, DigestOptions(top=8))
    blocks = text_blocks(note) if note else []
    blocks += header_blocks("Newsroom queue")
    blocks += article_list_blocks(
        f"The top {len(queue)} undecided articles", queue, "Nothing waiting for a decision.",
        buttons=True,
    )
    blocks += header_blocks("Recent decisions")
    events = recent_events(store, limit=10)
    lines = [
        f"• {mention(e['user_id'])} {ACTION_LABEL[e['action']]}"
        f" *{escape(e['title'] or e['article_id'])}* ({e['source']}, {e['created_at'][:16]})"
        for e in events
    ]
    blocks += text_blocks("\n".join(lines) or "No decisions yet.")
    blocks += header_blocks("Digest schedules")
    schedule_lines = []
    for schedule in list_schedules(store)[:15]:
        next_fire = schedule.next_fire()
        when = f", next {next_fire:%a %d %b %H:%M %Z}" if next_fire else ""
        schedule_lines.append(f"• {escape(schedule.describe())}{when}")
    blocks += text_blocks("\n".join(schedule_lines)
                          or "No schedules yet: an admin can add one with `/news schedule add`.")
    return {"type": "home", "blocks": blocks[:100]}


def publish_home(
    client: WebClient, store: Store, config: Config, user: str, note: str | None = None
) -> None:
    """Publish `user`'s Home tab as it stands now; a refusal is logged, never raised."""
    try:
        client.views_publish(user_id=user, view=home_view(store, config, note))
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
