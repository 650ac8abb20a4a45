"""The Publish / Skip buttons: the same decisions as reactions; a second click undoes."""

from __future__ import annotations

import logging
import re

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.config import Config
from bot.decisions import PUBLISH, SKIP, Outcome, UnknownArticle, decide
from bot.digest import article_for_message
from handlers.article_message import show_decision
from handlers.blocks import PUBLISH_ACTION, SKIP_ACTION
from storage.db import Store

log = logging.getLogger(__name__)

ACTION_KIND = {PUBLISH_ACTION: PUBLISH, SKIP_ACTION: SKIP}


def handle_click(
    store: Store, config: Config, client: WebClient, body: dict, respond: Respond | None
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
    if config.editors and user not in config.editors:
        if respond:
            respond(text="Only the newsroom's editors can publish or skip articles.",
                    response_type="ephemeral", replace_original=False)
        return None
    # A click has no event_id; the same click delivered twice has the same action_ts.
    event_key = f"button:{user}:{ts}:{action.get('action_ts')}" if action.get("action_ts") else None
    try:
        outcome = decide(store, article_id, kind, user, source="button", event_key=event_key,
                         channel=channel, message_ts=ts, toggle=True)
    except UnknownArticle:
        if respond:
            respond(text="That article is no longer in the index.", response_type="ephemeral",
                    replace_original=False)
        return None
    log.info("button decision", extra={"article": article_id, "user": user, "action": kind,
                                       "outcome": outcome.outcome})
    if outcome.changed and channel and ts:
        if article_for_message(store, channel, ts) == article_id:
            show_decision(client, store, channel, ts, article_id, outcome.standing)
        elif respond:  # a button in an ephemeral /news answer: confirm privately
            standing = outcome.standing
            text = (f"Recorded: {standing.decision} for that article." if standing
                    else "Your decision was withdrawn.")
            respond(text=text, response_type="ephemeral", replace_original=False)
    return outcome


def register(app: App, store: Store, config: Config) -> None:
    @app.action(re.compile(f"^({PUBLISH_ACTION}|{SKIP_ACTION})$"))
    def on_decision_button(ack: Ack, body: dict, client: WebClient, respond: Respond) -> None:
        ack()
        handle_click(store, config, client, body, respond)
