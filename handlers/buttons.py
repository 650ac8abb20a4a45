"""The Publish / Skip / Undo buttons: the same decisions as reactions.

A button shows the standing decision ("Published ✓"); clicking the chosen one again
changes nothing, and Undo withdraws the clicking editor's own vote. Every change queues
the redraw of the article's messages (bot.redraw_queue), wherever the click came from.
The buttons appear in three places, and each answers the clicking editor its own way:
- a digest message: the message itself is redrawn with the decision;
- an ephemeral /news answer: a private reply through the click's response_url;
- the App Home tab: no response_url and no channel there, so the Home tab is published
  again, with a note at the top, for the user who clicked.
Bolt always passes a `Respond`, usable only when the payload has a response_url.
"""

from __future__ import annotations

import logging
import re

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot import metrics
from bot.config import Config
from bot.decisions import (
    DUPLICATE,
    PUBLISH,
    RECORDED,
    RETRACTED,
    SKIP,
    UNDO,
    Outcome,
    UnknownArticle,
    UnusableArticle,
    decide,
    standing_decision,
    user_vote,
)
from bot.digest import article_for_message
from bot.lookup import article_by_id
from bot.redraw_queue import queue_redraw
from handlers.article_message import Redrawer
from handlers.blocks import PUBLISH_ACTION, SKIP_ACTION, UNDO_ACTION, escape, mention
from handlers.home import publish_home
from storage.db import Store

log = logging.getLogger(__name__)

ACTION_KIND = {PUBLISH_ACTION: PUBLISH, SKIP_ACTION: SKIP, UNDO_ACTION: UNDO}
NOT_AN_EDITOR = "Only the newsroom's editors can publish or skip articles; nothing was recorded."
GONE = "That article is no longer in the index; nothing was recorded."


def in_home_tab(body: dict) -> bool:
    return (body.get("view") or {}).get("type") == "home"


def handle_click(
    store: Store, config: Config, client: WebClient, redrawer: Redrawer, body: dict,
    respond: Respond | None,
) -> Outcome | None:
    """Toggle the clicking editor's vote on the button's article."""
    actions = body.get("actions") or [{}]
    action = actions[0]
    kind = ACTION_KIND.get(action.get("action_id", ""))
    article_id = action.get("value")
    user = (body.get("user") or {}).get("id")
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id")
    ts = (body.get("message") or {}).get("ts") or (body.get("container") or {}).get("message_ts")
    if not (kind and article_id and user):
        log.info("button ignored: incomplete payload")
        return None

    def tell(text: str) -> None:
        _tell(store, config, client, body, respond, user, text)

    if config.editors and user not in config.editors:
        log.info("decision refused: not an editor", extra={"user": user, "article": article_id})
        tell(NOT_AN_EDITOR)
        return None
    unchanged = _nothing_to_do(store, article_id, kind, user)
    if unchanged:
        tell(unchanged)
        return None
    # A click has no event_id; the same click delivered twice has the same action_ts.
    event_key = f"button:{user}:{ts}:{action.get('action_ts')}" if action.get("action_ts") else None
    try:
        outcome = decide(store, article_id, kind, user, source="button", event_key=event_key,
                         channel=channel, message_ts=ts)
    except UnknownArticle:
        log.info("button ignored: unknown article", extra={"user": user, "article": article_id})
        tell(GONE)
        return None
    except UnusableArticle as error:
        log.info("button ignored: broken article file",
                 extra={"user": user, "article": article_id})
        tell(f"{escape(str(error))}; nothing was recorded (fix the file, then click again).")
        return None
    log.info("button decision", extra={"article": article_id, "user": user, "action": kind,
                                       "outcome": outcome.outcome})
    if outcome.outcome == DUPLICATE:  # a redelivery repairs a redraw that failed
        queue_redraw(store, article_id)
    redrawer.wake()  # the change queued the redraw of the article's messages itself
    if in_home_tab(body):
        publish_home(client, store, config, user, _confirmation(store, article_id, kind, outcome))
    elif outcome.changed and not (channel and ts and article_for_message(store, channel, ts)
                                  == article_id):
        # a button in an ephemeral /news answer: confirm privately (a digest message
        # needs no answer: it shows the decision once redrawn)
        tell(_confirmation(store, article_id, kind, outcome))
    return outcome


def _nothing_to_do(store: Store, article_id: str, kind: str, user: str) -> str | None:
    """Why this click would change nothing (a stale button, or someone else's decision to
    undo), said to the clicking editor; None when it is a change."""
    mine = user_vote(store, article_id, user)
    if kind != UNDO:
        if mine == kind:
            return f"You already chose {kind} for this article; click Undo to withdraw it."
        return None
    if mine is not None:
        return None
    standing = standing_decision(store, article_id)
    if standing is None:
        return "There is no decision on this article to undo."
    return (f"The {standing.decision} decision is {mention(standing.user_id)}'s: only they "
            f"can undo it. Click {'Skip' if standing.decision == PUBLISH else 'Publish'} "
            "to decide otherwise.")


def _confirmation(store: Store, article_id: str, kind: str, outcome: Outcome) -> str | None:
    """What the click did, in the clicking editor's words; None when it did nothing new."""
    article = article_by_id(store, article_id)
    title = f"*{escape(article.title)}*" if article and article.title else "that article"
    if outcome.outcome == RECORDED:
        return f"Recorded: {kind} {title}."
    if outcome.outcome == RETRACTED:
        return f"Withdrawn: your vote on {title}."
    return None


def _tell(store: Store, config: Config, client: WebClient, body: dict, respond: Respond | None,
          user: str, text: str) -> None:
    """Answer the clicking user privately wherever the click came from."""
    if respond is not None and body.get("response_url"):
        respond(text=text, response_type="ephemeral", replace_original=False)
    elif in_home_tab(body):
        publish_home(client, store, config, user, text)
    else:
        log.info("button answer dropped: no response_url", extra={"user": user, "text": text})


def register(app: App, store: Store, config: Config, redrawer: Redrawer) -> None:
    @app.action(re.compile(f"^({PUBLISH_ACTION}|{SKIP_ACTION}|{UNDO_ACTION})$"))
    def on_decision_button(ack: Ack, body: dict, client: WebClient, respond: Respond) -> None:
        ack()
        outcome = handle_click(store, config, client, redrawer, body, respond)
        metrics.decision_outcome("block_actions", outcome)
