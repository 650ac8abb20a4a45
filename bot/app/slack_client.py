"""The Web API client every part of newsbot uses: retrying, never double-posting, metered."""

from __future__ import annotations

from newsbot.bot.services import metrics
from newsbot.handlers.slack_retry import (
    SafeConnectionErrorRetryHandler,
    SafeServerErrorRetryHandler,
)
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.web import SlackResponse

RETRIES = 3  # per call, on 429 (honouring Retry-After), 5xx and connection errors


class MeteredWebClient(WebClient):
    """A WebClient that counts each call's final outcome in newsbot_slack_api_calls_total."""

    def api_call(self, api_method: str, *args, **kwargs) -> SlackResponse:
        try:
            response = super().api_call(api_method, *args, **kwargs)
        except SlackApiError as error:
            status = getattr(error.response, "status_code", None)
            metrics.web_api_call(api_method, "rate_limited" if status == 429 else "slack_error")
            raise
        except Exception:
            metrics.web_api_call(api_method, "connection_error")
            raise
        ok = response.status_code < 400 and response.data.get("ok", True) is not False
        metrics.web_api_call(api_method, "ok" if ok else "http_error")
        return response


class CountingRateLimitHandler(RateLimitErrorRetryHandler):
    """Slack's retry for 429 (honouring Retry-After) that also counts every 429 answer."""

    def can_retry(self, *, state, request, response=None, error=None) -> bool:
        if response is not None and response.status_code == 429:  # retried or not
            metrics.web_api_rate_limited(request.url.rstrip("/").rsplit("/", 1)[-1])
        return super().can_retry(state=state, request=request, response=response, error=error)


def web_client(token: str, api_url: str | None = None) -> WebClient:
    """A Web API client that retries rate limits, server errors and dropped connections,
    but never resends a chat.postMessage that may have arrived (handlers/slack_retry.py),
    and counts its calls for /metrics."""
    kwargs = {"base_url": api_url} if api_url else {}
    return MeteredWebClient(
        token=token,
        retry_handlers=[
            SafeConnectionErrorRetryHandler(max_retry_count=RETRIES),
            CountingRateLimitHandler(max_retry_count=RETRIES),
            SafeServerErrorRetryHandler(max_retry_count=RETRIES),
        ],
        **kwargs,
    )
