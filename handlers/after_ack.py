"""Work that answers the user after Slack got its acknowledgement.

The app answers Slack only when a listener returns (`process_before_response`, so that a
decision is durable before the ack): a private note, a Home tab or a response_url reply
sent from inside the listener would delay that answer by a Web API round trip (and its
retries). They run on a few background threads instead; failures are logged. The
runtime owns those threads and drains them when it stops, after the listeners that
hand them work.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from newsbot.bot.services.workers import Workers

log = logging.getLogger(__name__)

THREADS = 4


class AfterAck:
    """`after_ack(function, *args)` runs `function(*args)` soon, on a background thread."""

    def __init__(self) -> None:
        self.workers = Workers(THREADS, "after-ack")

    def __call__(self, function: Callable[..., object], *args: object) -> None:
        self.workers.submit(_run, function, args)

    def drain(self, timeout: float) -> bool:
        """Let the replies already handed over go out (up to `timeout`), then end the threads."""
        return self.workers.drain(timeout)


def _run(function: Callable[..., object], args: tuple) -> None:
    try:
        function(*args)
    except Exception:  # Slack or the database misbehaving: the reply is lost, not the bot
        log.exception("reply after the acknowledgement failed",
                      extra={"function": getattr(function, "__name__", repr(function))})
