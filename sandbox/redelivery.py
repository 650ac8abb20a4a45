"""Slack's side of event delivery: what is not acknowledged is delivered again.

Slack redelivers an event it did not see acknowledged (a 2xx) within 3 seconds: up to
three more times, with `X-Slack-Retry-Num` and `X-Slack-Retry-Reason`, after growing
delays (about immediately, 1 minute, 5 minutes). `Redelivery` does the same with delays
compressed for tests, and keeps what happened to each event: how many deliveries, which
were acknowledged. An app that was down (connection refused or reset) is retried too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from newsbot.sandbox.signed_requests import AppResponse, Delivery

ACK_DEADLINE = 3.0  # seconds Slack waits for the answer


@dataclass
class Delivered:
    key: str
    statuses: list[int | str] = field(default_factory=list)  # per delivery: status or error
    acked: bool = False


class Redelivery:
    def __init__(self, delays: tuple[float, ...] = (0.1, 1.0, 3.0),
                 deadline: float = ACK_DEADLINE) -> None:
        self.delays, self.deadline = delays, deadline

    def deliver(self, key: str, send: Callable[[Delivery | None], AppResponse]) -> Delivered:
        """Send one event (`send(delivery)` posts it) until acknowledged or out of retries."""
        result = Delivered(key)
        for attempt in range(len(self.delays) + 1):
            if attempt:
                time.sleep(self.delays[attempt - 1])
            delivery = Delivery(retry_num=attempt, retry_reason="http_error") if attempt else None
            started = time.monotonic()
            try:
                answer = send(delivery)
            except OSError as error:  # refused, reset, timed out: the app is down
                result.statuses.append(type(error).__name__)
                continue
            result.statuses.append(answer.status)
            if 200 <= answer.status < 300 and time.monotonic() - started <= self.deadline:
                result.acked = True
                return result
        return result
