"""Publish/skip reactions on digest messages.

Bolt acks every event before the listener runs and does not drop Slack's retries, so
each decision carries Slack's `event_id` and bot.decisions records it at most once.
Reactions on other messages, other emoji and the bot's own reactions are ignored quietly.
"""

from __future__ import annotations

import logging

from slack_bolt import App, BoltRequest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import metrics
from bot.config import Config
from bot.decisions import (
    DUPLICATE,
    PUBLISH,
    SKIP,
    UNDO,
    Outcome,
    UnknownArticle,
    UnusableArticle,
    decide,
)
from bot.digest import article_for_message
from bot.redraw_queue import queue_redraw
from handlers.article_message import Redrawer
from handlers.blocks import escape
from storage.db import Store

log = logging.getLogger(__name__)


def emoji_kind(reaction: str, config: Config) -> str | None:
    """publish, skip or None for a reaction name (skin tones count as the base emoji)."""
    name = reaction.split("::", 1)[0]
    if name in config.publish_emoji:
        return PUBLISH
    if name in config.skip_emoji:
        return SKIP
    return None


def handle_reaction(
    store: Store, config: Config, client: WebClient, redrawer: Redrawer, body: dict,
    bot_user_id: str | None, added: bool, retry_num: str | None = None,
) -> Outcome | None:
    """Record (or retract) the decision a reaction event carries; None when it is not one."""
    event = body.get("event") or {}
    item = event.get("item") or {}
    user, reaction = event.get("user"), event.get("reaction")
    channel, ts = item.get("channel"), item.get("ts")
    if item.get("type") != "message" or not (user and reaction and channel and ts):
        log.info("reaction ignored: not a message reaction",
                 extra={"event_id": body.get("event_id")})
        return None
    if user == bot_user_id:
        log.debug("reaction ignored: the bot's own", extra={"event_id": body.get("event_id")})
        return None
    kind = emoji_kind(reaction, config)
    if kind is None:
        log.debug("reaction ignored: not a decision emoji",
                  extra={"event_id": body.get("event_id")})
        return None
    article_id = article_for_message(store, channel, ts)
    if article_id is None:
        log.debug("reaction ignored: not an article message",
                  extra={"event_id": body.get("event_id")})
        return None
    if config.editors and user not in config.editors:
        if added:
            tell_privately(client, channel, user,
                           "Only the newsroom's editors can publish or skip articles; "
                           "your reaction was not recorded.")
        log.info("decision refused: not an editor", extra={"user": user, "article": article_id})
        return None
    try:
        outcome = decide(
            store, article_id, kind if added else UNDO, user,
            source="reaction", event_key=body.get("event_id"), channel=channel, message_ts=ts,
            only_if=None if added else kind,
        )
    except UnknownArticle:  # renamed or deleted since the digest was posted
        log.info("reaction ignored: the article is no longer indexed",
                 extra={"event_id": body.get("event_id"), "article": article_id, "user": user})
        if added:
            tell_privately(client, channel, user,
                           "That article is no longer in the index (renamed or deleted); "
                           "your reaction was not recorded.")
        return None
    except UnusableArticle as error:  # its file was broken since the digest was posted
        log.info("reaction ignored: the article's file is broken",
                 extra={"event_id": body.get("event_id"), "article": article_id, "user": user})
        if added:
            tell_privately(client, channel, user,
                           f"{escape(str(error))}; your reaction was not recorded "
                           "(fix the file, then react again).")
        return None
    if outcome.outcome == DUPLICATE:  # a redelivery repairs a redraw that failed
        queue_redraw(store, article_id)
    redrawer.wake()  # a change queued its redraw itself (bot.redraw_queue)
    log.info("reaction decision", extra={
        "event_id": body.get("event_id"), "article": article_id, "user": user,
        "action": kind if added else "undo", "outcome": outcome.outcome,
        "retry_num": retry_num,
    })
    return outcome


def tell_privately(client: WebClient, channel: str, user: str, text: str) -> None:
    """An ephemeral note; Slack refusing it (user not in the channel...) is only logged."""
    try:
        client.chat_postEphemeral(channel=channel, user=user, text=text)
    except SlackApiError as error:
        log.warning("could not answer privately",
                    extra={"channel": channel, "user": user, "error": str(error)})


def register(app: App, store: Store, config: Config, redrawer: Redrawer) -> None:
    def listener(added: bool):
        def on_reaction(body: dict, client: WebClient, context: dict, request: BoltRequest) -> None:
            retry = (request.headers.get("x-slack-retry-num") or [None])[0]
            outcome = handle_reaction(store, config, client, redrawer, body,
                                      context.get("bot_user_id"), added, retry)
            metrics.decision_outcome("reaction_added" if added else "reaction_removed", outcome)

        return on_reaction

    app.event("reaction_added")(listener(added=True))
    app.event("reaction_removed")(listener(added=False))
