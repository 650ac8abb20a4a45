"""Which failed Web API calls may be sent again, and which leave their effect unknown.

slack_sdk's retry handlers resend a request after a 5xx or a dropped connection. For
chat.postMessage that posts twice whenever Slack stored the message and still answered
500, or the connection broke after the request went out: Slack has no idempotency key.
Such a post is not resent here; the digest poster reads the channel back instead and
posts again only what is not there. A 429 (with Retry-After) is always safe to retry:
Slack refused the call.
"""

from __future__ import annotations

import copy
import socket

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest

# An ephemeral has no history to read back either: sent at most once, like the rejection
# reports (handlers/posting/rejection_reports.py) promise
NOT_RESENT = ("chat.postMessage", "chat.postEphemeral")
# Slack's own words for these: "it's possible some aspect of the operation succeeded"
UNSURE_ERRORS = frozenset({"internal_error", "fatal_error", "request_timeout",
                           "service_unavailable"})


def resendable(request: HttpRequest) -> bool:
    """May this request be sent again after an answer that leaves its effect unknown?"""
    return not request.url.split("?")[0].endswith(NOT_RESENT)


def never_sent(error: BaseException | None) -> bool:
    """A connection error from before the request left: refused, or no such host."""
    reason = getattr(error, "reason", error)
    return isinstance(reason, (ConnectionRefusedError, socket.gaierror))


def effect_unknown(error: BaseException) -> bool:
    """Did this failure possibly happen after Slack acted on the call? (5xx, Slack's
    internal errors, a timeout or a connection broken after sending.)"""
    if isinstance(error, SlackApiError):
        response = error.response
        return response.status_code >= 500 or response.get("error") in UNSURE_ERRORS
    return isinstance(error, OSError) and not never_sent(error)


class SafeServerErrorRetryHandler(ServerErrorRetryHandler):
    """Retries 500/503, except for methods that must not be sent twice."""

    def _can_retry(self, *, state, request, response=None, error=None) -> bool:  # noqa: ANN001
        return resendable(request) and super()._can_retry(
            state=state, request=request, response=response, error=error)


class SafeConnectionErrorRetryHandler(ConnectionErrorRetryHandler):
    """Retries dropped connections, except, for methods that must not be sent twice, a
    connection that broke after the request may have arrived."""

    def _can_retry(self, *, state, request, response=None, error=None) -> bool:  # noqa: ANN001
        return super()._can_retry(state=state, request=request, response=response,
                                  error=error) and (resendable(request) or never_sent(error))


def slack_reason(error: Exception) -> str:
    """Slack's error code of a failed call (`not_in_channel`), else the exception named."""
    response = getattr(error, "response", None)
    if response is not None:
        return str(response.get("error", "unknown"))
    return f"{type(error).__name__}: {error}"


def without_rate_limit_retries(client: WebClient) -> WebClient:
    """The same client, except that a 429 comes back at once as SlackApiError instead of
    being slept out on the caller's thread and sent again: for a caller that paces its own
    calls and keeps the Retry-After for all of them (the redrawer). Its rate-limit handler
    stays, retrying nothing, so it still counts each 429 (bot/app/slack_client.py)."""
    paced = copy.copy(client)
    paced.retry_handlers = [_retrying_nothing(handler)
                            if isinstance(handler, RateLimitErrorRetryHandler) else handler
                            for handler in client.retry_handlers]
    return paced


def _retrying_nothing(handler: RateLimitErrorRetryHandler) -> RateLimitErrorRetryHandler:
    quiet = copy.copy(handler)
    quiet.max_retry_count = 0
    return quiet
