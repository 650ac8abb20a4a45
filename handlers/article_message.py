"""Keeping an article's digest message in step with its standing decision.

Votes are recorded in decide()'s transaction, but the message is redrawn later, on one
of Bolt's listener threads: two near-simultaneous votes could finish their chat.update
calls in the wrong order and leave the message showing the older decision. So the redraw
reads the standing decision itself, right before chat.update, while holding a lock for
that message: whichever redraw runs last draws the latest decision. (The lock is per
process; `newsbot serve` is one process.)
"""

from __future__ import annotations

import logging
import threading

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.decisions import standing_decision
from bot.lookup import article_by_id
from handlers.blocks import article_blocks, article_fallback
from storage.db import Store

log = logging.getLogger(__name__)

# A fixed table of locks, picked by the message's hash: bounded memory, and two messages
# rarely share a lock (sharing only means waiting a little).
_MESSAGE_LOCKS = tuple(threading.Lock() for _ in range(64))


def message_lock(channel: str, ts: str) -> threading.Lock:
    return _MESSAGE_LOCKS[hash((channel, ts)) % len(_MESSAGE_LOCKS)]


def show_decision(client: WebClient, store: Store, channel: str, ts: str, article_id: str) -> None:
    """Redraw the message with the article's standing decision (or none after an undo).

    The decision is already recorded: a failed update is logged, never raised. A
    redelivered event redraws again (see handlers/reactions.py), which repairs it.
    """
    with message_lock(channel, ts):
        article = article_by_id(store, article_id)
        if article is None:
            return
        standing = standing_decision(store, article_id)
        try:
            client.chat_update(
                channel=channel, ts=ts, text=article_fallback(article, standing),
                blocks=article_blocks(article, standing),
            )
        except SlackApiError as error:
            log.warning("could not update the article message",
                        extra={"channel": channel, "ts": ts, "error": str(error)})
