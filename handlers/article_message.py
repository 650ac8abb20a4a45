"""Keeping an article's digest message in step with its standing decision.

Listener threads only record a decision and ask the `Redrawer` for a redraw. One
background thread draws: a burst of votes on one message becomes one chat.update (Slack
rate-limits chat.update, and only the latest state matters), and two redraws of a message
can never finish in the wrong order. Each redraw reads the standing decision right before
calling chat.update, so it shows the decision standing when it runs.
"""

from __future__ import annotations

import logging
import threading
import time

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.decisions import standing_decision
from bot.lookup import article_by_id
from handlers.blocks import article_blocks, article_fallback
from storage.db import Store

log = logging.getLogger(__name__)

COALESCE_SECONDS = 0.1  # votes on one message within this become one chat.update


def show_decision(client: WebClient, store: Store, channel: str, ts: str, article_id: str) -> None:
    """Redraw the message with the article's standing decision (or none after an undo).

    The decision is already recorded: a failed update is logged, never raised. A
    redelivered event redraws again (see handlers/reactions.py), which repairs it.
    """
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


class Redrawer:
    """Redraws article messages on one daemon thread, coalescing requests per message."""

    def __init__(self, client: WebClient, store: Store) -> None:
        self.client, self.store = client, store
        self._pending: dict[tuple[str, str], str] = {}  # (channel, ts) -> article id, in order
        self._changed = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="redraw", daemon=True)
        self._thread.start()

    def request(self, channel: str, ts: str, article_id: str) -> None:
        with self._changed:
            self._pending[(channel, ts)] = article_id
            self._changed.notify_all()

    def close(self) -> None:
        """Draw what is pending, then stop the thread (before the Web API goes away)."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._pending or self._closed)
                if self._closed and not self._pending:
                    return
            # Listeners answer Slack only once a decision is recorded, so a burst of votes
            # arrives one by one: a short pause lets it become one redraw per message.
            time.sleep(COALESCE_SECONDS)
            with self._changed:
                batch = list(self._pending.items())
                self._pending.clear()
            for (channel, ts), article_id in batch:
                try:
                    show_decision(self.client, self.store, channel, ts, article_id)
                except Exception:  # the database or Slack misbehaving must not stop redraws
                    log.exception("redraw failed", extra={"channel": channel, "ts": ts})
