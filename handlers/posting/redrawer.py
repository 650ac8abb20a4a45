"""Keeping every article message in step with its article's standing decision.

Decisions are made everywhere: reactions, buttons in a message, in a `/news` answer or in
App Home, `newsbot decide` in another process, `newsbot sync` writing the file. Each one
queues its article in the database (bot/newsroom/redraw_queue.py); the `Redrawer` polls
that queue on one daemon thread, every `interval` seconds or at once when a listener of this process
wakes it, and redraws every message of each queued article. A burst of votes on one
article becomes one chat.update (Slack rate-limits chat.update, and only the latest state
matters); two redraws of a message never race, since one thread draws; each redraw reads
the standing decision right before calling chat.update.

Under a stream of votes the passes are paced: a pass starts at most every
`BUSY_PACE_SECONDS` after one that drew something, so each busy message is updated about
once a second however many votes it gets, and the redraws' CPU and write lock stay out of
the decision path's way. A vote after a quiet spell shows within `COALESCE_SECONDS`.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid

from newsbot.bot.newsroom.fires import process_name
from newsbot.bot.newsroom.lookup import article_by_id
from newsbot.bot.newsroom.redraw_queue import (
    article_messages,
    as_drawn,
    queued_redraws,
    redraw_done,
)
from newsbot.bot.services.workers import name_os_thread
from newsbot.handlers.article_view import current_blocks
from newsbot.handlers.blocks import article_fallback
from newsbot.handlers.posting.preview_redraw import preview_redraws, redraw_previews
from newsbot.storage.db import Store
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0  # a decision made in another process shows within about this long
# Listeners answer Slack only once a decision is recorded (process_before_response), so a
# burst of votes arrives one by one: a short pause after a wake lets it become one pass.
COALESCE_SECONDS = 0.1
BUSY_PACE_SECONDS = 1.0  # between the starts of two passes, the first of which drew


def message_content(store: Store, article_id: str, buttons: bool = True
                    ) -> tuple[str, list[dict]] | None:
    """An article message's text and blocks with the standing decision (who, when, in the
    file yet) and the other members of its story; None if the article is gone. Without
    `buttons` for a reader who may not decide (a follower who is no editor)."""
    article = article_by_id(store, article_id)
    if article is None:
        return None
    standing, blocks = current_blocks(store, article, buttons)
    return article_fallback(article, standing), blocks


def show_decision(client: WebClient, store: Store, channel: str, ts: str, article_id: str,
                  content: tuple[str, list[dict]] | None = None) -> None:
    """Redraw the message with the article's standing decision (or none after an undo);
    `content` when the caller has it already (message_content).

    The decision is already recorded: a failed update is logged, never raised. A
    redelivered event queues the redraw again (bot/newsroom/decisions.py), which repairs it.
    """
    content = content or message_content(store, article_id)
    if content is None:
        return
    text, blocks = content
    try:
        client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)
    except SlackApiError as error:
        log.warning("could not update the article message",
                    extra={"channel": channel, "ts": ts, "error": str(error)})


def redraw_queued(client: WebClient, store: Store, owner: str) -> int:
    """One pass over the queue: claim what nobody else draws (as `owner`), redraw each
    claimed article's messages once, then forget what was drawn. Returns how many messages
    were redrawn. The content is read once per article, however many messages show it;
    the article's link previews are redrawn with its messages (posting/preview_redraw.py)."""
    drawn, done = 0, []
    try:
        for queued in queued_redraws(store, owner):
            with store.snapshot():  # the content and the changes it shows, read as one
                queued = as_drawn(store, queued)
                messages = article_messages(store, queued.article_id)
                contents = {buttons: message_content(store, queued.article_id, buttons)
                            for buttons in {buttons for _, _, buttons in messages}}
                previews = preview_redraws(store, queued.article_id)  # its link previews
            for channel, ts, buttons in messages:
                if contents[buttons] is not None:
                    show_decision(client, store, channel, ts, queued.article_id,
                                  contents[buttons])
                    drawn += 1
            drawn += redraw_previews(client, store, previews)
            done.append(queued)
    finally:  # what was drawn stays drawn, even when Slack or the database failed later on
        redraw_done(store, *done)
    return drawn


class Redrawer:
    """Polls the redraw queue on one daemon thread (started by `start`).

    `stop()` draws what is still queued before the thread ends, so a redraw asked for by
    an event Slack saw acknowledged is not left for the next start when it can be drawn now.
    """

    def __init__(self, client: WebClient, store: Store, interval: float = POLL_SECONDS) -> None:
        self.client, self.store, self.interval = client, store, interval
        self.owner = f"{process_name()}:redraw-{uuid.uuid4().hex[:8]}"  # its queue claims
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Redrawer:
        self._thread = threading.Thread(target=self._run, name="redraw", daemon=True)
        self._thread.start()
        return self

    def wake(self) -> None:
        """A listener of this process recorded something: redraw now, not at the next poll."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> bool:
        """Draw everything queued, then end the thread; False if `timeout` ran out first."""
        self._stop.set()
        self._wake.set()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("redraws still pending at shutdown (they are drawn at the next start)")
            return False
        return True

    def redraw_now(self) -> int:
        """One pass, on the caller's thread (tests drive the queue this way)."""
        return redraw_queued(self.client, self.store, self.owner)

    def _run(self) -> None:
        name_os_thread()
        earliest = 0.0  # time.monotonic() before which no pass starts (after one that drew)
        while True:
            if self._wake.wait(self.interval):  # a stop cuts the pause short
                self._stop.wait(max(COALESCE_SECONDS, earliest - time.monotonic()))
            self._wake.clear()
            stopping = self._stop.is_set()
            started, drawn = time.monotonic(), 0
            try:
                drawn = redraw_queued(self.client, self.store, self.owner)
            except Exception:  # the database or Slack misbehaving must not stop redraws
                log.exception("redraw failed")
            if stopping:  # the last pass ran after stop was asked: nothing queued is left
                return
            earliest = started + BUSY_PACE_SECONDS if drawn else 0.0
