"""How many calls of one Web API method the redrawer may make now: a token bucket.

Slack limits each Web API method per app and workspace. chat.update and chat.unfurl are
Tier 3: "50+ per minute", short bursts tolerated, then HTTP 429 with `Retry-After`.
`PER_MINUTE = 40` with `BURST = 10` keeps any 60-second window of one process's calls at
50 or fewer (the burst plus a minute's refill), so a decision on up to ten messages after a
quiet spell shows at once and a burst of votes on many messages is drawn at Slack's pace
instead of being refused. They are Slack's numbers, not a newsroom's choice: constants,
not settings. Each process has its own budget (two `serve` processes in a rolling deploy
could, briefly, spend twice as much); a 429 anyway holds the method for its Retry-After.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from slack_sdk.errors import SlackApiError

PER_MINUTE = 40
BURST = 10


class CallBudget:
    """Tokens that refill at `per_minute` up to `burst`; one call spends one. Not thread-safe:
    one thread at a time spends it (the redraw thread, or a test's redraw_now)."""

    def __init__(self, per_minute: float = PER_MINUTE, burst: int = BURST,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.clock = per_minute / 60, burst, clock
        self._tokens, self._at = float(burst), clock()  # full at the start

    def _refill(self) -> float:
        now = self.clock()
        if now > self._at:
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
            self._at = now
        return now

    def available(self) -> int:
        """Whole calls that may be made now."""
        self._refill()
        return max(0, int(self._tokens))

    def affords(self, calls: int) -> bool:
        """Whether `calls` may be made now; more than the burst, once the bucket is full
        (an article shown in more messages than the burst still gets drawn)."""
        self._refill()
        return calls <= 0 or self._tokens >= min(calls, self.burst)

    def spend(self, calls: int = 1) -> None:
        self._refill()
        self._tokens -= calls  # below zero only past a full bucket (affords)

    def ready_at(self, calls: int = 1) -> float:
        """The clock's time when `calls` will be affordable (now if they are)."""
        now = self._refill()
        missing = min(calls, self.burst) - self._tokens
        return max(now, self._at) + max(0.0, missing) / self.rate

    def hold(self, seconds: float) -> None:
        """Slack said 429 with this Retry-After: no call before then, and the bucket starts
        refilling from empty at that moment."""
        self._refill()
        self._tokens, self._at = min(self._tokens, 0.0), max(self._at, self.clock() + seconds)


class RateLimited(Exception):
    """Slack answered a call 429: the pass ends, what it had not drawn stays queued."""

    def __init__(self, method: str, seconds: float) -> None:
        super().__init__(f"{method} rate limited for {seconds} s")
        self.method, self.seconds = method, seconds


def raise_if_rate_limited(error: SlackApiError, method: str) -> None:
    """Turn a 429 into RateLimited with its Retry-After (1 s if Slack gave none)."""
    response = error.response
    if getattr(response, "status_code", None) != 429:
        return
    headers = {name.lower(): value for name, value in (response.headers or {}).items()}
    value = headers.get("retry-after")
    value = value[0] if isinstance(value, list) else value
    try:
        seconds = max(0.0, float(value))
    except (TypeError, ValueError):
        seconds = 1.0
    raise RateLimited(method, seconds) from error


def redraw_budgets() -> dict[str, CallBudget]:
    """One budget for each method the redrawer calls."""
    return {"chat.update": CallBudget(), "chat.unfurl": CallBudget()}
