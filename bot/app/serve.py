"""Wiring: Slack credentials, the Web API client, the Bolt app and `newsbot serve`.

Everything Slack-specific that is not a listener lives here or in handlers/; the
domain modules never import slack_sdk.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
import signal
import sqlite3
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from newsbot.bot.app.web_server import EVENTS_PATH, Routes, SlackEvents, WebServer
from newsbot.bot.config.settings import Config, ConfigError, articles_folder_problem
from newsbot.bot.newsroom.admins import AdminCheck
from newsbot.bot.newsroom.schedules import apply_config_schedules, list_schedules
from newsbot.bot.services import metrics
from newsbot.bot.services.health import Health
from newsbot.bot.services.intake import Intake, apply_spool
from newsbot.bot.services.refresh import IndexRefresher
from newsbot.bot.services.scheduler import DigestScheduler
from newsbot.bot.services.sync import SyncBusy, sync_decisions
from newsbot.handlers.channels import posting_problem
from newsbot.handlers.listeners import buttons, event_metrics, home, news_command, reactions
from newsbot.handlers.posting.gap_alerts import scheduled_poster_by_kind
from newsbot.handlers.posting.redrawer import Redrawer
from newsbot.handlers.slack_retry import (
    SafeConnectionErrorRetryHandler,
    SafeServerErrorRetryHandler,
)
from newsbot.storage.db import Store
from newsbot.storage.spool import Spool
from slack_bolt import App
from slack_bolt.error import BoltError
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.web import SlackResponse

if TYPE_CHECKING:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

log = logging.getLogger(__name__)

RETRIES = 3  # per call, on 429 (honouring Retry-After), 5xx and connection errors
SHUTDOWN_SECONDS = 30.0  # how long a stop waits for listeners, redraws and running jobs
# Slack's answers that mean the token itself is unusable
AUTH_ERRORS = frozenset({"invalid_auth", "not_authed", "token_revoked", "token_expired",
                         "account_inactive", "not_allowed_token_type"})


class StartupError(ConfigError):
    """Slack refused a credential, Slack cannot be reached, or the port is taken: one
    line that names what to check (never the token itself); `newsbot` exits 2."""


@dataclass(frozen=True)
class SlackCredentials:
    bot_token: str
    signing_secret: str | None = None
    app_token: str | None = None
    api_url: str | None = None  # slack_sdk's base_url, for look-alikes and tests

    @property
    def secrets(self) -> list[str]:
        return [s for s in (self.bot_token, self.signing_secret, self.app_token) if s]


def credentials_from_env(env: Mapping[str, str], mode: str) -> SlackCredentials:
    """Read and check Slack's credentials for a mode: "http", "socket" or "post" (the
    Web API only). ConfigError names everything that is missing or wrong."""
    bot_token = env.get("SLACK_BOT_TOKEN", "").strip()
    app_token = env.get("SLACK_APP_TOKEN", "").strip() or None
    secret = env.get("SLACK_SIGNING_SECRET", "").strip() or None
    problems = []
    if not bot_token:
        problems.append("SLACK_BOT_TOKEN is not set (the bot token, xoxb-...)")
    elif not bot_token.startswith("xoxb-"):
        problems.append("SLACK_BOT_TOKEN does not look like a bot token (it starts with xoxb-)")
    if mode == "http":
        if not secret:
            problems.append("SLACK_SIGNING_SECRET is not set (needed to verify requests in "
                            "HTTP mode: Basic Information > App Credentials)")
    elif mode == "socket" and not app_token:
        problems.append("SLACK_APP_TOKEN is not set (an app-level token, xapp-..., with "
                        "connections:write, for Socket Mode; or run with --http)")
    elif mode == "socket" and not app_token.startswith("xapp-"):
        problems.append("SLACK_APP_TOKEN does not look like an app-level token (xapp-...)")
    if problems:
        raise ConfigError("; ".join(problems))
    api_url = env.get("SLACK_API_URL", "").strip() or None
    if api_url and not api_url.endswith("/"):
        api_url += "/"
    return SlackCredentials(bot_token, secret, app_token, api_url)


SLACK_CREDENTIALS = ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET")


def no_slack_credentials(env: Mapping[str, str]) -> bool:
    """None of Slack's credentials is set: `newsbot serve` offers the local sandbox then.
    Some but not all set is a mistake that credentials_from_env names."""
    return not any(env.get(name, "").strip() for name in SLACK_CREDENTIALS)


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

    def _can_retry(self, *, state, request, response=None, error=None) -> bool:
        if response is not None and response.status_code == 429:
            metrics.web_api_rate_limited(request.url.rstrip("/").rsplit("/", 1)[-1])
        return super()._can_retry(state=state, request=request, response=response, error=error)


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


def build_app(
    config: Config, store: Store, client: WebClient, signing_secret: str | None,
    redrawer: Redrawer | None = None, spool: Spool | None = None,
) -> App:
    """The Bolt app with every listener registered. Calls auth.test once.

    `process_before_response=True`: Slack gets its answer only when the listener returns,
    so a decision is acknowledged once it is durable (bot.intake: recorded, or in the
    fsynced spool beside the database) and a listener that fails answers 500, which Slack
    redelivers. With Bolt's default the 200 goes out before the listener runs and a failed
    write loses the event for good. Read-only answers (/news, the Home tab) use lazy
    listeners so they are still acknowledged at once.

    Unless given one (tests drive their own), a started `Redrawer` polls the redraw queue:
    decisions made anywhere, in any process, redraw their article messages."""
    app = App(
        client=client,
        signing_secret=signing_secret,
        request_verification_enabled=signing_secret is not None,
        logger=logging.getLogger("slack_bolt"),
        process_before_response=True,
    )
    event_metrics.register(app)
    admins = AdminCheck(config.admins, lambda user: client.users_info(user=user)["user"])
    news_command.register(app, news_command.NewsCommand(store, config, client, admins))
    redrawer = redrawer or Redrawer(client, store).start()
    intake = Intake(store, spool or Spool.beside(store.path))
    reactions.register(app, intake, config, redrawer)
    buttons.register(app, intake, config, redrawer)
    home.register(app, store, config)
    app.event(re.compile(".*"))(unhandled_event)  # last: only events no listener above took
    return app


def unhandled_event(body: dict) -> None:
    """Events the app is subscribed to but does not use: answered 200 (Bolt would answer
    404, and Slack would retry them for nothing)."""
    event = body.get("event")
    log.debug("event without a listener", extra={
        "type": event.get("type") if isinstance(event, dict) else None,
        "event_id": body.get("event_id")})


def slack_error_code(error: BaseException) -> str | None:
    """Slack's error code (invalid_auth, ...) of a SlackApiError, or of the one a BoltError
    was raised from (Bolt turns auth.test's refusal into a BoltError)."""
    for candidate in (error, error.__cause__, error.__context__):
        if isinstance(candidate, SlackApiError) and candidate.response is not None:
            return candidate.response.get("error") or f"HTTP {candidate.response.status_code}"
    return None


def explain_slack_failure(error: BaseException, token_variable: str, api_url: str) -> str | None:
    """One line for an operator about a failed Web API call, or None if it is not one of
    ours to explain: a refused token names its variable, a refused connection names
    SLACK_API_URL."""
    code = slack_error_code(error)
    if code in AUTH_ERRORS:
        return f"Slack refused {token_variable} ({code}): check {token_variable}"
    if code is not None:
        return f"Slack answered {code} (API {api_url}): check SLACK_API_URL and Slack's status"
    if isinstance(error, OSError):  # urllib's URLError, refused or timed-out connections
        reason = getattr(error, "reason", None) or error.strerror or type(error).__name__
        return (f"cannot reach Slack's Web API at {api_url} ({reason}): "
                "check SLACK_API_URL and the network")
    return None


def start_app(config: Config, store: Store, client: WebClient, signing_secret: str | None,
              redrawer: Redrawer | None = None, spool: Spool | None = None) -> App:
    """build_app, with a refused bot token or an unreachable API as a StartupError."""
    try:
        return build_app(config, store, client, signing_secret, redrawer, spool)
    except (BoltError, SlackApiError, OSError) as error:
        message = explain_slack_failure(error, "SLACK_BOT_TOKEN", client.base_url)
        if message is None:
            raise
        raise StartupError(message) from None


def listen(routes: Routes, host: str, port: int) -> WebServer:
    """The production HTTP server on host:port; a taken port is a StartupError."""
    try:
        return WebServer(routes, host, port)
    except OSError as error:  # the port is taken, or the address is not this machine's
        raise StartupError(f"cannot listen on {host}:{port} ({error.strerror or error}): "
                           "choose another --port or --host, or stop what uses it") from None


def connect_socket_mode(app: App, app_token: str, api_url: str) -> SocketModeHandler:
    """A connected SocketModeHandler; a refused xapp- token is a StartupError."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    handler = SocketModeHandler(app, app_token)
    try:
        handler.connect()
    except (SlackApiError, OSError) as error:
        with contextlib.suppress(Exception):
            handler.close()
        message = explain_slack_failure(error, "SLACK_APP_TOKEN", api_url)
        if message is None:
            raise
        if slack_error_code(error) in AUTH_ERRORS:
            message += " (an app-level token, xapp-..., with connections:write)"
        raise StartupError(message) from None
    return handler


def serve(
    config: Config, credentials: SlackCredentials, http: bool, host: str = "127.0.0.1",
    port: int = 3000, metrics_port: int | None = None,
) -> None:
    """Run the bot until SIGTERM or Ctrl-C: Socket Mode, or HTTP on host:port.

    Beside the Slack listeners one scheduler runs the digest schedules, the periodic
    index refresh and, when configured, the periodic sync. `/healthz` and `/metrics` are
    served on the HTTP port, or in Socket Mode on `metrics_port` when given.

    Stopping is orderly, so that nothing Slack saw acknowledged is lost: stop accepting,
    answer the requests already received, let Bolt's listeners finish, draw the pending
    redraws, then stop the scheduler (waiting for running jobs, up to a bound).
    """
    store, spool = open_store(config.db, config.busy_timeout_ms)
    problem = articles_folder_problem(config.articles)
    if problem:
        raise StartupError(problem)
    refresher = IndexRefresher(store, config)
    refresher()
    metrics.watch_index_age(refresher.seconds_since_success)
    metrics.watch_spool_depth(spool.depth)
    health = Health(store, refresh_seconds=config.refresh_seconds,
                    index_age_seconds=refresher.seconds_since_success,
                    spool_age_seconds=spool.oldest_age_seconds)
    applied = apply_config_schedules(store, config.schedules, default_tz=config.timezone)
    log.info("config schedules applied", extra=applied.to_json())
    client = web_client(credentials.bot_token, credentials.api_url)
    redrawer = Redrawer(client, store).start()

    def apply() -> None:  # decisions spooled while the database refused them
        # applied votes queue their redraws themselves (bot.redraw_queue): draw them now
        apply_spool(store, spool, lambda event, article_id, outcome: redrawer.wake())

    apply()  # a restart applies what the last run spooled, before new events arrive
    # Slack and the port are checked before the scheduler starts: a bot that cannot
    # listen must not post a missed digest on its way out.
    secret = credentials.signing_secret if http else None
    app = start_app(config, store, client, secret, redrawer, spool)
    warn_unpostable_schedules(store, client)  # after start_app: the token and API work
    server, socket_mode = None, None
    if http:
        server = listen(Routes(health, SlackEvents(app, secret or "")), host, port)
    else:
        if metrics_port is not None:
            server = listen(Routes(health), host, metrics_port)
        log.info("connecting in Socket Mode")
        try:
            socket_mode = connect_socket_mode(app, credentials.app_token or "", client.base_url)
        except BaseException:
            if server is not None:
                server.close()
            raise
    scheduler = DigestScheduler(store, scheduled_poster_by_kind(client, store, config),
                                grace=dt.timedelta(minutes=config.grace_minutes))
    scheduler.add_interval_job(refresher, config.refresh_seconds, "index-refresh")
    scheduler.add_interval_job(apply, SPOOL_APPLY_SECONDS, "spool-apply")
    if config.sync_interval_minutes > 0:
        scheduler.add_interval_job(lambda: periodic_sync(store, config),
                                   config.sync_interval_minutes * 60, "sync")
    scheduler.start()
    stop = StopSignal(server)
    try:
        if http:
            assert server is not None
            log.info("serving HTTP", extra={"url": server.url, "path": EVENTS_PATH,
                                            "backlog": server.backlog})
            server.serve_forever()
        else:
            if server is not None:
                server.start_in_thread()
                log.info("serving /healthz and /metrics", extra={"url": server.url})
            log.info("connected in Socket Mode")
            stop.wait()
    finally:
        log.info("stopping")
        if socket_mode is not None:
            socket_mode.close()  # no new events; listeners already running finish below
        if server is not None:
            server.stop()
        drain_listeners(app)
        redrawer.stop(SHUTDOWN_SECONDS)
        scheduler.shutdown(wait=True, timeout=SHUTDOWN_SECONDS)
        stop.restore()  # only now: a second SIGTERM while stopping must not kill the drain
        log.info("stopped")


class StopSignal:
    """SIGTERM (systemd, docker) and SIGINT ask for an orderly stop instead of killing the
    process mid-request: the HTTP server drains, Socket Mode's wait ends."""

    def __init__(self, server: WebServer | None) -> None:
        self.server = server
        self.requested = False  # plain assignments only: this runs inside signal handlers
        self._previous: dict[int, object] = {}
        if threading.current_thread() is threading.main_thread():
            for number in (signal.SIGTERM, signal.SIGINT):
                self._previous[number] = signal.signal(number, self._handle)

    def _handle(self, number: int, frame: object) -> None:
        self.requested = True
        if self.server is not None:
            self.server.request_stop()

    def wait(self) -> None:
        while not self.requested:
            time.sleep(0.2)

    def restore(self) -> None:
        for number, previous in self._previous.items():
            signal.signal(number, previous)


def drain_listeners(app: App, timeout: float = SHUTDOWN_SECONDS) -> None:
    """Wait for Bolt's listeners still running: the lazy ones answer /news and the Home tab
    after the acknowledgement, and requests already received finish theirs."""
    executor = app.listener_runner.listener_executor
    waiter = threading.Thread(target=executor.shutdown, kwargs={"wait": True}, daemon=True)
    waiter.start()
    waiter.join(timeout)
    if waiter.is_alive():
        log.warning("listeners still running after %ss", timeout)


def warn_unpostable_schedules(store: Store, client: WebClient) -> None:
    """Say at start, not first at its fire time, when a schedule (from the config file,
    which is never checked as `/news schedule add` is) cannot post in its channel."""
    for schedule in list_schedules(store, enabled_only=True):
        try:
            problem = posting_problem(client, schedule.channel)
        except (SlackApiError, OSError) as error:  # Slack unreachable: start anyway
            problem = f"could not check the channel ({error})"
        if problem:
            log.warning("a schedule cannot post in its channel", extra={
                "schedule": schedule.id, "channel": schedule.channel, "problem": problem})


SPOOL_APPLY_SECONDS = 1.0  # how soon a spooled decision is retried once the database is back


def open_store(path: Path, busy_timeout_ms: int) -> tuple[Store, Spool]:
    """The database and its spool; every way they cannot be used (a newer schema, a
    corrupt file, a folder we may not write) is a StartupError naming the file."""
    spool_path = Spool.path_beside(path)
    if not path.exists() and spool_path.exists() and Spool(spool_path).depth():
        raise StartupError(f"the database {path} is missing but {spool_path} holds decisions "
                           "waiting for it: restore the database file, then start again")
    try:
        store = Store(path, busy_timeout_ms)
        store.db.execute("SELECT count(*) FROM articles").fetchone()
    except (sqlite3.Error, OSError, RuntimeError) as error:
        raise StartupError(f"cannot open the database {path}: {error}") from None
    try:
        spool = Spool(spool_path)
    except OSError as error:
        raise StartupError(f"cannot write the decision spool {spool_path} beside the "
                           f"database ({error.strerror or error}): check the folder") from None
    return store, spool


def periodic_sync(store: Store, config: Config) -> None:
    """The sync `sync.interval_minutes` asks for; a sync already running is left to finish."""
    try:
        report = sync_decisions(store, config, git_commit=config.sync_git_commit, lock_timeout=0)
    except SyncBusy:
        log.info("sync skipped: another sync is running")
        return
    if report.written or report.conflicts:
        log.info("sync", extra=report.to_json())
