"""Counting what Slack sends: every verified request by kind, and listeners that raised.

A Bolt middleware runs after the signature check (web_server.SlackEvents in HTTP mode),
so only requests that really come from Slack are counted as received. It is a
`Middleware` object, not a function: Bolt builds every injectable argument (about twenty)
for each function middleware on each request, a cost every event would pay.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from newsbot.bot.services import metrics
from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware


def request_kind(body: dict) -> str:
    """reaction_added, app_home_opened, ... for events; slash_command; block_actions, ..."""
    if body.get("type") == "event_callback":
        return str((body.get("event") or {}).get("type") or "event_callback")
    if "command" in body:
        return "slash_command"
    return str(body.get("type") or "unknown")


class CountReceived(Middleware):
    """Counts each request by kind (newsbot_events_received_total)."""

    def process(self, *, req: BoltRequest, resp: BoltResponse,
                next: Callable[[], BoltResponse]) -> BoltResponse:  # noqa: A002 - Bolt's name
        metrics.event_received(request_kind(req.body))
        return next()


def register(app: App) -> None:
    app.middleware(CountReceived())

    @app.error
    def count_failure(error: Exception, body: dict, logger: logging.Logger) -> None:
        metrics.event_failed(request_kind(body))
        logger.error("listener failed", exc_info=error, extra={"kind": request_kind(body)})
