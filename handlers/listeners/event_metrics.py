"""Counting what Slack sends: every verified request by kind, and listeners that raised.

A Bolt middleware runs after Bolt's signature check, so only requests that really come
from Slack are counted as received.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from newsbot.bot.services import metrics
from slack_bolt import App, BoltResponse


def request_kind(body: dict) -> str:
    """reaction_added, app_home_opened, ... for events; slash_command; block_actions, ..."""
    if body.get("type") == "event_callback":
        return str((body.get("event") or {}).get("type") or "event_callback")
    if "command" in body:
        return "slash_command"
    return str(body.get("type") or "unknown")


def register(app: App) -> None:
    @app.middleware
    def count_received(body: dict, next: Callable[[], BoltResponse]) -> BoltResponse:  # noqa: A002
        metrics.event_received(request_kind(body))
        return next()

    @app.error
    def count_failure(error: Exception, body: dict, logger: logging.Logger) -> None:
        metrics.event_failed(request_kind(body))
        logger.error("listener failed", exc_info=error, extra={"kind": request_kind(body)})
