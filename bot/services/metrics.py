"""What `GET /metrics` reports, in Prometheus' text format (prometheus-client).

Every metric lives here, named `newsbot_*` with its unit as the suffix. The code that
counts calls one of the small functions below in a single line, so instrumenting a
module never reshapes it. Values are per process (the default registry): `serve` is one
process, and metrics only make sense in it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import Counter, Gauge

EVENTS_RECEIVED = Counter("newsbot_events_received_total",
                          "Signed Slack requests that reached the app, by kind", ["kind"])
EVENTS_RECORDED = Counter("newsbot_events_recorded_total",
                          "Decision events that changed a vote, by kind", ["kind"])
EVENTS_DUPLICATE = Counter("newsbot_events_duplicate_total",
                           "Decision events seen before (Slack's retries), by kind", ["kind"])
EVENTS_FAILED = Counter("newsbot_events_failed_total",
                        "Requests whose listener raised, by kind", ["kind"])
WEB_API_CALLS = Counter("newsbot_slack_api_calls_total",
                        "Slack Web API calls by method and final outcome (ok, rate_limited, "
                        "slack_error, http_error, connection_error)", ["method", "outcome"])
WEB_API_RATE_LIMITED = Counter("newsbot_slack_api_rate_limited_total",
                               "HTTP 429 answers from the Web API, retried ones included",
                               ["method"])
DIGESTS_POSTED = Counter("newsbot_digests_posted_total",
                         "Digests posted to Slack (each alert message is one too)")
ALERTS_POSTED = Counter("newsbot_alerts_posted_total",
                        "Articles alerted to subscribed channels and followers")
ALERTS_WAITING = Gauge("newsbot_alerts_waiting",
                       "Alerts held for the quiet hours or a channel's burst limit")
SYNC_FILES_WRITTEN = Counter("newsbot_sync_files_written_total",
                             "Article files a sync rewrote")
SYNC_CONFLICTS = Counter("newsbot_sync_conflicts_total", "Articles a sync left alone (conflicts)")
INDEX_FAILED_FILES = Gauge("newsbot_index_failed_files",
                           "Article files the last index refresh could not parse")
INDEX_REFRESH_AGE = Gauge("newsbot_index_refresh_age_seconds",
                          "Seconds since the last successful index refresh (-1: none yet)")
SPOOL_DEPTH = Gauge("newsbot_spool_depth_events",
                    "Events waiting in the durable spool (-1: no spool in this process)")
INDEX_FILE_EVENTS = Gauge("newsbot_index_file_events",
                          "1 while file events drive the index, 0 while it polls "
                          "(-1: no watcher in this process)")
INDEX_EVENT_REFRESHES = Counter("newsbot_index_event_refreshes_total",
                                "Index refreshes of the paths that file events named")
REJECTED_DECISIONS = Counter("newsbot_rejected_decisions_total",
                             "Spooled decisions that could not be applied, kept in "
                             "rejected_decisions and reported to their author, by reason",
                             ["reason"])
REJECTION_REPORTS = Counter("newsbot_rejection_reports_total",
                            "Private reports of rejected decisions, by outcome (sent, unsure, "
                            "retry, failed)", ["outcome"])
HEALTH_FAILING = Gauge("newsbot_health_failing",
                       "1 while /healthz fails for this reason (as of its last answer; the "
                       "quick_check reason as of the last check), else 0", ["reason"])
SPOOL_DEPTH.set(-1)
INDEX_REFRESH_AGE.set(-1)
INDEX_FILE_EVENTS.set(-1)


# Each request counts once or twice: the labelled children are kept rather than looked up
# (`labels()` takes a lock and checks its arguments every time)
_CHILDREN: dict[tuple[Counter, str], Any] = {}


def _child(counter: Counter, kind: str) -> Any:
    child = _CHILDREN.get((counter, kind))
    if child is None:
        child = _CHILDREN.setdefault((counter, kind), counter.labels(kind))
    return child


def event_received(kind: str) -> None:
    _child(EVENTS_RECEIVED, kind).inc()


def decision_outcome(kind: str, outcome: object | None) -> None:
    """Count a decision listener's result: an Outcome (bot/newsroom/decisions.py) or None."""
    name = getattr(outcome, "outcome", None)
    if name == "duplicate":
        _child(EVENTS_DUPLICATE, kind).inc()
    elif getattr(outcome, "changed", False):
        _child(EVENTS_RECORDED, kind).inc()


def decision_rejected(reason: str) -> None:
    REJECTED_DECISIONS.labels(reason).inc()


def rejection_report(outcome: str) -> None:
    REJECTION_REPORTS.labels(outcome).inc()


def health_failing(reasons: dict[str, bool]) -> None:
    """Set each named health reason to failing (1) or not (0)."""
    for reason, failing in reasons.items():
        HEALTH_FAILING.labels(reason).set(1 if failing else 0)


def event_failed(kind: str) -> None:
    EVENTS_FAILED.labels(kind).inc()


def web_api_call(method: str, outcome: str) -> None:
    WEB_API_CALLS.labels(method, outcome).inc()


def web_api_rate_limited(method: str) -> None:
    WEB_API_RATE_LIMITED.labels(method).inc()


def digest_posted() -> None:
    DIGESTS_POSTED.inc()


def alerts_posted(articles: int) -> None:
    ALERTS_POSTED.inc(articles)


def watch_alerts_waiting(waiting: Callable[[], int]) -> None:
    """Read the number of held alerts at each scrape."""
    ALERTS_WAITING.set_function(lambda: float(waiting()))


def sync_done(written: int, conflicts: int) -> None:
    SYNC_FILES_WRITTEN.inc(written)
    SYNC_CONFLICTS.inc(conflicts)


def index_refreshed(failed_files: int) -> None:
    INDEX_FAILED_FILES.set(failed_files)


def index_follows_events(events: bool) -> None:
    INDEX_FILE_EVENTS.set(1 if events else 0)


def index_event_refresh() -> None:
    INDEX_EVENT_REFRESHES.inc()


def watch_index_age(seconds_since_refresh: Callable[[], float | None]) -> None:
    """Read the index's age at each scrape (None, never refreshed, reads as -1)."""
    INDEX_REFRESH_AGE.set_function(lambda: _or_minus_one(seconds_since_refresh()))


def watch_spool_depth(depth: Callable[[], int | None]) -> None:
    """Read the spool's depth at each scrape. The spool's owner wires it at start-up."""
    SPOOL_DEPTH.set_function(lambda: _or_minus_one(depth()))


def _or_minus_one(value: float | None) -> float:
    return -1.0 if value is None else float(value)
