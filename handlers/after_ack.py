"""Work that answers the user after Slack got its acknowledgement.

The app answers Slack only when a listener returns (`process_before_response`, so that a
decision is durable before the ack): a private note, a Home tab or a response_url reply
sent from inside the listener would delay that answer by a Web API round trip (and its
retries). They run here instead, on a few background threads; failures are logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger(__name__)

_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="after-ack")


def after_ack(function: Callable[..., object], *args: object) -> None:
    """Run `function(*args)` soon, on a background thread."""
    _pool.submit(_run, function, args)


def _run(function: Callable[..., object], args: tuple) -> None:
    try:
        function(*args)
    except Exception:  # Slack or the database misbehaving: the reply is lost, not the bot
        log.exception("reply after the acknowledgement failed",
                      extra={"function": getattr(function, "__name__", repr(function))})
