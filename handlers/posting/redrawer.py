"""Keeping every article message in step with its article's standing decision.

Decisions are made everywhere: reactions, buttons in a message, in a `/news` answer or in
App Home, `newsbot decide` in another process, `newsbot sync` writing the file. Each one
queues its article in the database (bot/newsroom/redraw_queue.py); the `Redrawer` polls
that queue on one daemon thread, every `interval` seconds or at once when a listener of this process
wakes it, and redraws every message of each queued article. A burst of votes on one
article becomes one chat.update (Slack rate-limits chat.update, and only the latest state
matters); two redraws of a message never race, since one thread draws; each redraw reads
the standing decision right before calling chat.update.

The calls keep to Slack's rate for each method (chat.update, chat.unfurl: Tier 3), a
budget each (handlers/posting/call_budget.py): a pass claims only as many queued articles as
the budgets allow, and draws an article only if they afford all its calls; the rest stay
queued, oldest first, and are drawn as the budgets refill, each with its newest state, so a
burst of votes on one article still costs one call a message. A 429 anyway (another process,
Slack's own count) holds the method for its Retry-After and ends the pass, the article
still queued. Under a stream of votes the passes are also paced: a pass starts at most every
`BUSY_PACE_SECONDS` after one that drew something, so the redraws' CPU and write lock stay
out of the decision path's way. A vote after a quiet spell shows within `COALESCE_SECONDS`.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass

from newsbot.bot.newsroom.fires import process_name
from newsbot.bot.newsroom.lookup import article_by_id
from newsbot.bot.newsroom.redraw_queue import (
    QueuedRedraw,
    anything_queued,
    article_messages,
    as_drawn,
    queued_redraws,
    redraw_done,
)
from newsbot.bot.services.workers import name_os_thread
from newsbot.handlers.article_view import current_blocks
from newsbot.handlers.blocks import article_fallback
from newsbot.handlers.posting.call_budget import (
    CallBudget,
    RateLimited,
    raise_if_rate_limited,
    redraw_budgets,
)
from newsbot.handlers.posting.preview_redraw import (
    PreviewRedraws,
    preview_redraws,
    redraw_previews,
)
from newsbot.handlers.slack_retry import without_rate_limit_retries
from newsbot.storage.db import Store
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0  # a decision made in another process shows within about this long
# Listeners answer Slack only once a decision is recorded (process_before_response), so a
# burst of votes arrives one by one: a short pause after a wake lets it become one pass.
COALESCE_SECONDS = 0.1
BUSY_PACE_SECONDS = 1.0  # between the starts of two passes, the first of which drew
STOP_MARGIN_SECONDS = 1.0  # of a stop's timeout, kept for the last pass's calls


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

    The decision is already recorded: a failed update is logged, never raised (but a 429,
    as RateLimited, when the client does not retry it). A redelivered event queues the
    redraw again (bot/newsroom/decisions.py), which repairs it.
    """
    content = content or message_content(store, article_id)
    if content is None:
        return
    text, blocks = content
    try:
        client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)
    except SlackApiError as error:
        raise_if_rate_limited(error, "chat.update")  # for a client that does not retry 429s
        log.warning("could not update the article message",
                    extra={"channel": channel, "ts": ts, "error": str(error)})


@dataclass(frozen=True)
class Pass:
    drawn: int  # messages and previews redrawn
    next_at: float | None = None  # time.monotonic() when the budgets allow the articles left


@dataclass(frozen=True)
class Drawing:
    """What one queued article's redraw sends, read in one snapshot."""
    queued: QueuedRedraw  # as drawn: the changes this content shows
    messages: list[tuple[str, str, tuple[str, list[dict]]]]  # (channel, ts, content)
    previews: PreviewRedraws

    def calls(self) -> dict[str, int]:
        return {"chat.update": len(self.messages), "chat.unfurl": len(self.previews)}


def read_drawing(store: Store, queued: QueuedRedraw) -> Drawing:
    """The content is read once per article, however many messages show it."""
    with store.snapshot():  # the content and the changes it shows, read as one
        queued = as_drawn(store, queued)
        messages = article_messages(store, queued.article_id)
        contents = {buttons: message_content(store, queued.article_id, buttons)
                    for buttons in {buttons for _, _, buttons in messages}}
        previews = preview_redraws(store, queued.article_id)  # its link previews
    return Drawing(queued, [(channel, ts, contents[buttons]) for channel, ts, buttons in messages
                            if contents[buttons] is not None], previews)


def draw(client: WebClient, store: Store, drawing: Drawing) -> int:
    """Redraw the article's messages and link previews; how many. RateLimited on a 429:
    the messages drawn before it are drawn again, with the rest, once Slack allows."""
    for channel, ts, content in drawing.messages:
        show_decision(client, store, channel, ts, drawing.queued.article_id, content)
    return len(drawing.messages) + redraw_previews(client, store, drawing.previews)


def redraw_queued(client: WebClient, store: Store, owner: str,
                  budgets: dict[str, CallBudget]) -> Pass:
    """One pass over the queue: claim what nobody else draws (as `owner`), as many articles
    as the budgets have calls for, redraw each one while the budgets afford all its calls,
    then forget what was drawn and let go of the rest, still queued in its order."""
    limit = max(budget.available() for budget in budgets.values())
    if not limit:  # none can be drawn now: when, if anything waits
        return Pass(0, min(budget.ready_at() for budget in budgets.values())
                    if anything_queued(store) else None)
    claimed = queued_redraws(store, owner, limit)
    drawn, done, next_at = 0, [], None
    try:
        for queued in claimed:
            drawing = read_drawing(store, queued)
            calls = drawing.calls()
            short = [budgets[method].ready_at(n) for method, n in calls.items()
                     if not budgets[method].affords(n)]
            if short:  # this one waits, and so do the newer ones: oldest first
                next_at = max(short)
                break
            for method, n in calls.items():
                budgets[method].spend(n)
            try:
                drawn += draw(client, store, drawing)
            except RateLimited as limited:
                log.warning("redraws rate limited", extra={"method": limited.method,
                                                           "retry_after": limited.seconds})
                budgets[limited.method].hold(limited.seconds)
                next_at = budgets[limited.method].ready_at()
                break
            done.append(drawing.queued)
        else:
            if len(claimed) == limit:  # more may be queued
                next_at = min(budget.ready_at() for budget in budgets.values())
    finally:  # what was drawn stays drawn, even when Slack or the database failed later on
        drawn_ids = {queued.article_id for queued in done}
        redraw_done(store, *done, left=[q for q in claimed if q.article_id not in drawn_ids])
    return Pass(drawn, next_at)


class Redrawer:
    """Polls the redraw queue on one daemon thread (started by `start`).

    `stop()` draws what is still queued before the thread ends, so a redraw asked for by
    an event Slack saw acknowledged is not left for the next start when it can be drawn now:
    it goes on while the budgets refill within its timeout. What they cannot afford by then
    stays queued, unclaimed: the other server (a rolling deploy) or the next start draws it.
    """

    def __init__(self, client: WebClient, store: Store, interval: float = POLL_SECONDS,
                 budgets: dict[str, CallBudget] | None = None) -> None:
        # a 429 holds the budget for every later call, not only the one slack_sdk would retry
        self.client, self.store = without_rate_limit_retries(client), store
        self.interval, self.budgets = interval, budgets or redraw_budgets()
        self.owner = f"{process_name()}:redraw-{uuid.uuid4().hex[:8]}"  # its queue claims
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._stop_by = 0.0  # time.monotonic() by which stop() wants the thread ended
        self._thread: threading.Thread | None = None

    def start(self) -> Redrawer:
        self._thread = threading.Thread(target=self._run, name="redraw", daemon=True)
        self._thread.start()
        return self

    def wake(self) -> None:
        """A listener of this process recorded something: redraw now, not at the next poll."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> bool:
        """Draw what is queued while the budgets allow within `timeout`, then end the thread;
        False if `timeout` ran out first."""
        self._stop_by = time.monotonic() + timeout
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
        return self._pass().drawn

    def _pass(self) -> Pass:
        try:
            return redraw_queued(self.client, self.store, self.owner, self.budgets)
        except Exception:  # the database or Slack misbehaving must not stop redraws
            log.exception("redraw failed")
            return Pass(0)

    def _run(self) -> None:
        name_os_thread()
        earliest, behind = 0.0, False  # no pass before `earliest`; `behind`: articles left
        while True:
            pause = max(0.0, earliest - time.monotonic()) if behind else self.interval
            if self._wake.wait(pause):  # a stop cuts the pause short
                self._stop.wait(max(COALESCE_SECONDS, earliest - time.monotonic()))
            self._wake.clear()
            if self._stop.is_set():
                return self._drain()
            started = time.monotonic()
            done = self._pass()
            behind = done.next_at is not None
            earliest = max(started + BUSY_PACE_SECONDS if done.drawn else 0.0,
                           done.next_at or 0.0)

    def _drain(self) -> None:
        """The passes after stop was asked: until nothing is left, or the budgets would
        refill only after the stop's deadline (a pass's own time kept in hand)."""
        while (next_at := self._pass().next_at) is not None:
            if next_at > self._stop_by - STOP_MARGIN_SECONDS:
                log.warning("redraws left queued at shutdown: Slack's rate allows no more now"
                            " (the other server or the next start draws them)")
                return
            time.sleep(max(0.0, next_at - time.monotonic()))
