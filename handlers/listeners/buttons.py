"""The Publish / Skip / Undo buttons: the same decisions as reactions.

A button shows the standing decision ("Published ✓"); clicking the chosen one again
changes nothing, and Undo withdraws the clicking editor's own vote. Every change queues
the redraw of the article's messages (bot/newsroom/redraw_queue.py), wherever the click
came from.
The buttons appear in five places, and each answers the clicking editor its own way:
- a digest message: the message itself is redrawn with the decision;
- an ephemeral /news answer: a private reply through the click's response_url;
- the App Home tab: no response_url and no channel there, so the Home tab is published
  again, with a note at the top, for the user who clicked;
- a link preview (handlers/listeners/unfurls.py): a private reply through the
  response_url; the preview is redrawn with the decision by the redrawer, as are the
  article's other previews (handlers/posting/preview_redraw.py);
- the "Decide on this article" modal (handlers/listeners/shortcut.py): the modal is
  redrawn with the decision and a note.
Bolt always passes a `Respond`, usable only when the payload has a response_url.

The click is acknowledged once it is durable (bot/services/intake.py), at its
`action_ts` but never before an event already recorded for the article when it arrived
(a reaction's event_ts may come from a clock seconds ahead); the answer to the editor
goes out after the acknowledgement (handlers/after_ack.py).
"""

from __future__ import annotations

import logging
import re
import sqlite3

from newsbot.bot.config.settings import Config
from newsbot.bot.newsroom.decisions import (
    PUBLISH,
    RECORDED,
    RETRACTED,
    SKIP,
    UNDO,
    Outcome,
    UnknownArticle,
    UnusableArticle,
    now_text,
    now_us,
    slack_ts_us,
    standing_decision,
    user_vote,
)
from newsbot.bot.newsroom.lookup import article_by_id
from newsbot.bot.newsroom.message_lookup import article_for_message
from newsbot.bot.services import metrics
from newsbot.bot.services.intake import SPOOLED, DecisionEvent, Intake, new_key
from newsbot.handlers.after_ack import AfterAck
from newsbot.handlers.blocks import PUBLISH_ACTION, SKIP_ACTION, UNDO_ACTION, escape, mention
from newsbot.handlers.listeners.home import HomeTab
from newsbot.handlers.listeners.reactions import mapping, text
from newsbot.handlers.listeners.shortcut import in_modal, redraw_modal
from newsbot.handlers.listeners.unfurls import remember
from newsbot.handlers.posting.redrawer import Redrawer
from newsbot.storage.db import Store
from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

log = logging.getLogger(__name__)

ACTION_KIND = {PUBLISH_ACTION: PUBLISH, SKIP_ACTION: SKIP, UNDO_ACTION: UNDO}
NOT_AN_EDITOR = "Only the newsroom's editors can publish or skip articles; nothing was recorded."
GONE = "That article is no longer in the index; nothing was recorded."
SPOOLED_NOTE = "Noted: your click is saved and will show as soon as the database is back."


def in_home_tab(body: dict) -> bool:
    return mapping(body.get("view")).get("type") == "home"


def unfurled_url(body: dict) -> str | None:
    """The link whose preview (an app unfurl) holds the clicked button, if it is one."""
    container = mapping(body.get("container"))
    return text(container.get("app_unfurl_url")) if container.get("is_app_unfurl") else None


def handle_click(
    intake: Intake, config: Config, client: WebClient, redrawer: Redrawer,
    after_ack: AfterAck, body: dict, respond: Respond | None, home: HomeTab,
) -> Outcome | None:
    """Apply the clicking editor's choice to the button's article; returns once durable."""
    store = intake.store
    actions = body.get("actions")
    action = mapping(actions[0] if isinstance(actions, list) and actions else None)
    kind = ACTION_KIND.get(text(action.get("action_id")) or "")
    article_id = text(action.get("value"))
    user = text(mapping(body.get("user")).get("id"))
    container = mapping(body.get("container"))
    channel = text(mapping(body.get("channel")).get("id")) or text(container.get("channel_id"))
    ts = text(mapping(body.get("message")).get("ts")) or text(container.get("message_ts"))
    if not (kind and article_id and user):
        log.info("button ignored: incomplete payload")
        return None

    def tell(text: str | None) -> None:
        if text:
            after_ack(_tell, home, client, body, respond, user, text)

    if config.editors and user not in config.editors:
        log.info("decision refused: not an editor", extra={"user": user, "article": article_id})
        tell(NOT_AN_EDITOR)
        return None
    # Said to the editor, but the click is recorded all the same: clicks are replayed in
    # action time, and an Undo that arrives before its Publish must still win.
    unchanged = _nothing_to_do(store, article_id, kind, user)
    # A click has no event_id; the same click delivered twice has the same action_ts.
    action_ts = text(action.get("action_ts"))
    event = DecisionEvent(
        key=f"button:{user}:{ts}:{action_ts}" if action_ts else new_key(), action=kind,
        user_id=user, source="button", event_us=slack_ts_us(action_ts) or now_us(),
        received_at=now_text(), article_id=article_id, channel=channel, message_ts=ts,
        after_recorded=True,  # after the reaction it follows, whatever the two clocks say
    )
    try:
        _, outcome = intake.take(event)
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
    if unchanged:  # kept in the log for the replay, but nothing for the editor to see
        tell(unchanged)
        return outcome
    if outcome.outcome == SPOOLED:
        if respond is not None and body.get("response_url"):
            tell(SPOOLED_NOTE)  # the Home tab and the message need the database
        return outcome
    if outcome.changed and channel and ts and (url := unfurled_url(body)):
        remember(store, channel, ts, {url: article_id}, redraw=True)  # by the redrawer
    redrawer.wake()  # a change or a redelivery queued its redraw (newsroom/decisions.py)
    if in_home_tab(body):
        after_ack(_publish_home_confirming, home, client, user, article_id, kind, outcome)
    elif outcome.changed:
        after_ack(_confirm_unless_digest_message, home, client, body, respond, user,
                  channel, ts, article_id, kind, outcome)
    return outcome


def _confirm_unless_digest_message(home: HomeTab, client: WebClient,
                                   body: dict, respond: Respond | None, user: str,
                                   channel: str | None, ts: str | None, article_id: str,
                                   kind: str, outcome: Outcome) -> None:
    """A button in an ephemeral /news answer is confirmed privately; one on a digest message
    needs no answer (the message shows the decision once redrawn). After the ack: only the
    reply depends on it."""
    store = home.store
    if channel and ts and article_for_message(store, channel, ts) == article_id:
        return
    text = _confirmation(store, article_id, kind, outcome)
    if text:
        _tell(home, client, body, respond, user, text)


def _nothing_to_do(store: Store, article_id: str, kind: str, user: str) -> str | None:
    """Why this click would change nothing (a stale button, or someone else's decision to
    undo), said to the clicking editor; None when it is a change. With the database
    unreadable the click is taken as a change: the intake keeps it in the spool."""
    try:
        mine = user_vote(store, article_id, user)
        if kind != UNDO:
            if mine == kind:
                return f"You already chose {kind} for this article; click Undo to withdraw it."
            return None
        if mine is not None:
            return None
        standing = standing_decision(store, article_id)
    except sqlite3.Error:
        return None
    if standing is None:
        return "There is no decision on this article to undo."
    return (f"The {standing.decision} decision is {mention(standing.user_id)}'s: only they "
            f"can undo it. Click {'Skip' if standing.decision == PUBLISH else 'Publish'} "
            "to decide otherwise.")


def _publish_home_confirming(home: HomeTab, client: WebClient, user: str, article_id: str,
                             kind: str, outcome: Outcome) -> None:
    """The Home tab again, the note first, with Undo beside a decision just recorded."""
    undo = article_id if outcome.outcome == RECORDED and kind != UNDO else None
    home.publish(client, user, _confirmation(home.store, article_id, kind, outcome), undo)


def _confirmation(store: Store, article_id: str, kind: str, outcome: Outcome) -> str | None:
    """What the click did, in the clicking editor's words; None when it did nothing new."""
    article = article_by_id(store, article_id)
    title = f"*{escape(article.title)}*" if article and article.title else "that article"
    if outcome.outcome == RECORDED:
        return f"Recorded: {kind} {title}."
    if outcome.outcome == RETRACTED:
        return f"Withdrawn: your vote on {title}."
    return None


def _tell(home: HomeTab, client: WebClient, body: dict, respond: Respond | None,
          user: str, text: str) -> None:
    """Answer the clicking user privately wherever the click came from."""
    if respond is not None and body.get("response_url"):
        respond(text=text, response_type="ephemeral", replace_original=False)
    elif in_home_tab(body):
        home.publish(client, user, text)
    elif in_modal(body):
        redraw_modal(client, home.store, home.config, body, user, text)
    else:
        log.info("button answer dropped: no response_url", extra={"user": user, "text": text})


def register(app: App, intake: Intake, config: Config, redrawer: Redrawer,
             after_ack: AfterAck, home: HomeTab) -> None:
    @app.action(re.compile(f"^({PUBLISH_ACTION}|{SKIP_ACTION}|{UNDO_ACTION})$"))
    def on_decision_button(ack: Ack, body: dict, client: WebClient, respond: Respond) -> None:
        outcome = handle_click(intake, config, client, redrawer, after_ack, body,
                               respond, home)  # raises: no ack
        ack()
        metrics.decision_outcome("block_actions", outcome)
