"""Keeping an article's digest message in step with its standing decision."""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.decisions import Decision
from bot.lookup import article_by_id
from handlers.blocks import article_blocks, article_fallback
from storage.db import Store

log = logging.getLogger(__name__)


def show_decision(
    client: WebClient, store: Store, channel: str, ts: str, article_id: str,
    standing: Decision | None,
) -> None:
    """Redraw the message with the decision (or without it after an undo).

    The decision is already recorded: a failed update is logged, never raised, so
    Slack does not retry an event whose real work succeeded.
    """
    article = article_by_id(store, article_id)
    if article is None:
        return
    try:
        client.chat_update(
            channel=channel, ts=ts, text=article_fallback(article, standing),
            blocks=article_blocks(article, standing),
        )
    except SlackApiError as error:
        log.warning("could not update the article message",
                    extra={"channel": channel, "ts": ts, "error": str(error)})
