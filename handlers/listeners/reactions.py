"""Publish/skip reactions on digest messages.

The app answers Slack only after the listener returns (`process_before_response`), and
the listener returns once the decision is durable (bot/services/intake.py: recorded, or spooled);
when it cannot be kept the listener raises and Slack, answered 500, redelivers. Bolt does
not drop Slack's retries, so each decision carries Slack's `event_id` and is recorded at
most once, at its `event_ts`. Private notes go out after the answer (handlers/after_ack.py).
Reactions on other messages, other emoji and the bot's own reactions are ignored quietly.
"""

from __future__ import annotations

import logging
import re

from newsbot.bot.config.settings import Config
from newsbot.bot.newsroom.decisions import (
    PUBLISH,
    SKIP,
    UNDO,
    Outcome,
    UnknownArticle,
    UnusableArticle,
    now_text,
    now_us,
    slack_ts_us,
)
from newsbot.bot.newsroom.message_lookup import article_for_message, is_digest_header
from newsbot.bot.services import metrics
from newsbot.bot.services.intake import DecisionEvent, Intake, new_key
from newsbot.handlers.after_ack import AfterAck
from newsbot.handlers.blocks import escape
from newsbot.handlers.posting.redrawer import Redrawer
from slack_bolt import App, BoltRequest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)


def mapping(value: object) -> dict:
    """A payload field that should be an object: anything else counts as missing."""
    return value if isinstance(value, dict) else {}


def text(value: object) -> str | None:
    """A payload field that should be a string: anything else counts as missing."""
    return value if isinstance(value, str) and value else None


def emoji_kind(reaction: str, config: Config) -> str | None:
    """publish, skip or None for a reaction name (skin tones count as the base emoji)."""
    name = reaction.split("::", 1)[0]
    if name in config.publish_emoji:
        return PUBLISH
    if name in config.skip_emoji:
        return SKIP
    return None


def handle_reaction(
    intake: Intake, config: Config, client: WebClient, redrawer: Redrawer,
    after_ack: AfterAck, body: dict, bot_user_id: str | None, added: bool,
    retry_num: str | None = None,
) -> Outcome | None:
    """Record (or retract) the decision a reaction event carries; None when it is not one.
    Returns once the decision is durable; OSError when it could not be kept."""
    event = mapping(body.get("event"))
    item = mapping(event.get("item"))
    user, reaction = text(event.get("user")), text(event.get("reaction"))
    channel, ts = text(item.get("channel")), text(item.get("ts"))
    event_id = text(body.get("event_id"))
    if item.get("type") != "message" or not (user and reaction and channel and ts):
        log.info("reaction ignored: not a message reaction", extra={"event_id": event_id})
        return None
    if user == bot_user_id:
        log.debug("reaction ignored: the bot's own", extra={"event_id": event_id})
        return None
    kind = emoji_kind(reaction, config)
    if kind is None:
        log.debug("reaction ignored: not a decision emoji", extra={"event_id": event_id})
        return None
    if config.editors and user not in config.editors:
        if added:
            after_ack(refuse_non_editor, intake, client, channel, ts, user)
        log.info("decision refused: not an editor", extra={"user": user, "channel": channel})
        return None
    decision = DecisionEvent(
        key=event_id or new_key(), action=kind if added else UNDO, user_id=user,
        source="reaction", event_us=slack_ts_us(text(event.get("event_ts"))) or now_us(),
        received_at=now_text(), channel=channel, message_ts=ts,
        only_if=None if added else kind,
    )
    try:
        taken = intake.take(decision)
    except UnknownArticle:  # renamed or deleted since the digest was posted
        log.info("reaction ignored: the article is no longer indexed",
                 extra={"event_id": event_id, "channel": channel, "user": user})
        if added:
            after_ack(tell_privately, client, channel, user,
                      "That article is no longer in the index (renamed or deleted); "
                      "your reaction was not recorded.")
        return None
    except UnusableArticle as error:  # its file was broken since the digest was posted
        log.info("reaction ignored: the article's file is broken",
                 extra={"event_id": event_id, "channel": channel, "user": user})
        if added:
            after_ack(tell_privately, client, channel, user,
                      f"{escape(str(error))}; your reaction was not recorded "
                      "(fix the file, then react again).")
        return None
    if taken is None:  # not a digest article message
        log.debug("reaction ignored: not an article message", extra={"event_id": event_id})
        if added:
            after_ack(hint_on_header, intake, client, channel, ts, user)
        return None
    article_id, outcome = taken
    redrawer.wake()  # a change or a redelivery queued its redraw (newsroom/decisions.py)
    log.info("reaction decision", extra={
        "event_id": event_id, "article": article_id, "user": user,
        "action": kind if added else "undo", "outcome": outcome.outcome,
        "retry_num": retry_num,
    })
    return outcome


def refuse_non_editor(intake: Intake, client: WebClient, channel: str, ts: str,
                      user: str) -> None:
    """Tell a non-editor who reacted on a digest message that nothing was recorded."""
    if article_for_message(intake.store, channel, ts) is not None:
        tell_privately(client, channel, user,
                       "Only the newsroom's editors can publish or skip articles; "
                       "your reaction was not recorded.")


HEADER_HINT = "That is the digest's header: react on an article's message to decide it."


def hint_on_header(intake: Intake, client: WebClient, channel: str, ts: str,
                   user: str) -> None:
    """A ✅ or ❌ on a digest's header decides nothing: say where it would."""
    if is_digest_header(intake.store, channel, ts):
        tell_privately(client, channel, user, HEADER_HINT)


def tell_privately(client: WebClient, channel: str, user: str, text: str) -> None:
    """An ephemeral note; Slack refusing it (user not in the channel...) is only logged."""
    try:
        client.chat_postEphemeral(channel=channel, user=user, text=text)
    except SlackApiError as error:
        log.warning("could not answer privately",
                    extra={"channel": channel, "user": user, "error": str(error)})


REACTIONS = re.compile("^reaction_(added|removed)$")


def register(app: App, intake: Intake, config: Config, redrawer: Redrawer,
             after_ack: AfterAck) -> None:
    """One listener for both events: Bolt asks each listener registered before the one
    that takes a request whether it matches, building every injectable argument for each
    ask, and reactions are most of what Slack sends (bot/app/bolt_app.py registers this
    first)."""
    @app.event(REACTIONS)
    def on_reaction(body: dict, client: WebClient, context: dict, request: BoltRequest) -> None:
        kind = body["event"]["type"]
        retry = (request.headers.get("x-slack-retry-num") or [None])[0]
        outcome = handle_reaction(intake, config, client, redrawer, after_ack, body,
                                  context.get("bot_user_id"), kind == "reaction_added", retry)
        metrics.decision_outcome(kind, outcome)
