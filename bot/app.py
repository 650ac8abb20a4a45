"""Wiring: Slack credentials, the Web API client, the Bolt app and `newsbot serve`.

Everything Slack-specific that is not a listener lives here or in handlers/; the
domain modules never import slack_sdk.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
import sqlite3
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from slack_bolt import App
from slack_bolt.error import BoltError
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.admins import AdminCheck
from bot.config import Config, ConfigError
from bot.intake import Intake, apply_spool
from bot.scheduler import DigestScheduler
from bot.schedules import apply_config_schedules
from bot.sync import SyncBusy, sync_decisions
from handlers import buttons, home, news_command, reactions
from handlers.article_message import Redrawer
from handlers.digest_post import scheduled_poster
from handlers.http_server import EVENTS_PATH, SlackHTTPServer
from storage.db import Store
from storage.index import refresh
from storage.spool import Spool

if TYPE_CHECKING:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

log = logging.getLogger(__name__)

RETRIES = 3  # per call, on 429 (honouring Retry-After), 5xx and connection errors
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


def web_client(token: str, api_url: str | None = None) -> WebClient:
    """A Web API client that retries rate limits, server errors and dropped connections."""
    kwargs = {"base_url": api_url} if api_url else {}
    return WebClient(
        token=token,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=RETRIES),
            RateLimitErrorRetryHandler(max_retry_count=RETRIES),
            ServerErrorRetryHandler(max_retry_count=RETRIES),
        ],
        **kwargs,
    )


def build_app(
    config: Config, store: Store, client: WebClient, signing_secret: str | None,
    spool: Spool | None = None, redrawer: Redrawer | None = None,
) -> App:
    """The Bolt app with every listener registered. Calls auth.test once.

    `process_before_response=True`: Slack gets its answer only when the listener returns,
    so a decision is acknowledged once it is durable (bot.intake) and a listener that
    fails answers 500, which Slack redelivers. With Bolt's default the 200 goes out before
    the listener runs and a failed write loses the event for good. Read-only answers
    (/news, the Home tab) use lazy listeners so they are still acknowledged at once.
    """
    app = App(
        client=client,
        signing_secret=signing_secret,
        request_verification_enabled=signing_secret is not None,
        logger=logging.getLogger("slack_bolt"),
        process_before_response=True,
    )
    admins = AdminCheck(config.admins, lambda user: client.users_info(user=user)["user"])
    news_command.register(app, news_command.NewsCommand(store, config, client, admins))
    redrawer = redrawer or Redrawer(client, store)
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
              spool: Spool, redrawer: Redrawer) -> App:
    """build_app, with a refused bot token or an unreachable API as a StartupError."""
    try:
        return build_app(config, store, client, signing_secret, spool, redrawer)
    except (BoltError, SlackApiError, OSError) as error:
        message = explain_slack_failure(error, "SLACK_BOT_TOKEN", client.base_url)
        if message is None:
            raise
        raise StartupError(message) from None


def listen_http(app: App, host: str, port: int, store: Store) -> SlackHTTPServer:
    try:
        return SlackHTTPServer(app, host, port, health=lambda: health(store))
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


class Periodic:
    """Run a function every `seconds` on a daemon thread; errors are logged, not fatal."""

    def __init__(self, seconds: float, function: Callable[[], object], name: str) -> None:
        self.seconds, self.function, self.name = seconds, function, name
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> Periodic:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.seconds):
            try:
                self.function()
            except Exception:
                log.exception("periodic job failed", extra={"job": self.name})


def refresh_index(store: Store, config: Config) -> None:
    """The periodic refresh. A folder that went away (an unmounted share) is logged and
    the index kept as it was, rather than emptied."""
    try:
        report = refresh(store, config.articles, config.patterns)
    except NotADirectoryError as error:
        log.error("index not refreshed", extra={"error": str(error)})
        return
    if report.indexed or report.removed:
        log.info("index refreshed", extra=report.as_dict())


def serve(
    config: Config, credentials: SlackCredentials, http: bool, host: str = "0.0.0.0",
    port: int = 3000,
) -> None:
    """Run the bot until interrupted: Socket Mode, or HTTP on host:port.

    Beside the Slack listeners it runs the digest scheduler, a periodic index refresh
    and, when configured, a periodic sync.
    """
    store, spool = open_store(config.db)
    if not config.articles.is_dir():
        raise StartupError(f"the articles folder {config.articles} does not exist (set "
                           "--articles, NEWSBOT_ARTICLES or 'articles:' in newsbot.yaml)")
    refresh_index(store, config)
    applied = apply_config_schedules(store, config.schedules, default_tz=config.timezone)
    log.info("config schedules applied", extra=applied.to_json())
    client = web_client(credentials.bot_token, credentials.api_url)
    redrawer = Redrawer(client, store)

    def apply() -> None:  # decisions spooled while the database refused them
        apply_spool(store, spool, lambda event, article_id, outcome: redraw_applied(
            redrawer, event.channel, event.message_ts, article_id, outcome.changed))

    apply()  # a restart applies what the last run spooled, before new events arrive
    # Slack and the port are checked before the scheduler starts: a bot that cannot
    # listen must not post a missed digest on its way out.
    app = start_app(config, store, client, credentials.signing_secret if http else None,
                    spool, redrawer)
    if http:
        server = listen_http(app, host, port, store)
    else:
        log.info("connecting in Socket Mode")
        socket_mode = connect_socket_mode(app, credentials.app_token or "", client.base_url)
    background = [Periodic(config.refresh_seconds, lambda: refresh_index(store, config),
                           "index-refresh").start(),
                  Periodic(SPOOL_APPLY_SECONDS, apply, "spool-apply").start()]
    if config.sync_interval_minutes > 0:
        background.append(Periodic(config.sync_interval_minutes * 60,
                                   lambda: periodic_sync(store, config), "sync").start())
    scheduler = DigestScheduler(store, scheduled_poster(client, store, config),
                                grace=dt.timedelta(minutes=config.grace_minutes))
    scheduler.start()
    try:
        if http:
            log.info("serving HTTP", extra={"url": server.url, "path": EVENTS_PATH})
            server.serve_forever()
        else:
            log.info("connected in Socket Mode")
            threading.Event().wait()  # what SocketModeHandler.start() does after connecting
    finally:
        scheduler.shutdown(wait=False)
        for job in background:
            job.stop()
        redrawer.close()
        if http:
            server.server_close()
        else:
            socket_mode.close()  # disconnect; listeners already running may finish


SPOOL_APPLY_SECONDS = 1.0  # how soon a spooled decision is retried once the database is back


def open_store(path: Path) -> tuple[Store, Spool]:
    """The database and its spool; every way they cannot be used (a newer schema, a
    corrupt file, a folder we may not write) is a StartupError naming the file."""
    spool_path = Path(str(path) + ".spool")
    if not path.exists() and spool_path.exists() and Spool(spool_path).depth():
        raise StartupError(f"the database {path} is missing but {spool_path} holds decisions "
                           "waiting for it: restore the database file, then start again")
    try:
        store = Store(path)
        store.db.execute("SELECT count(*) FROM articles").fetchone()
    except (sqlite3.Error, OSError, RuntimeError) as error:
        raise StartupError(f"cannot open the database {path}: {error}") from None
    try:
        spool = Spool(spool_path)
    except OSError as error:
        raise StartupError(f"cannot write the decision spool {spool_path} beside the "
                           f"database ({error.strerror or error}): check the folder") from None
    return store, spool


def redraw_applied(redrawer: Redrawer, channel: str | None, ts: str | None, article_id: str,
                   changed: bool) -> None:
    """Redraw the digest message of a decision applied from the spool."""
    if changed and channel and ts:
        redrawer.request(channel, ts, article_id)


def periodic_sync(store: Store, config: Config) -> None:
    """The sync `sync.interval_minutes` asks for; a sync already running is left to finish."""
    try:
        report = sync_decisions(store, config, git_commit=config.sync_git_commit, lock_timeout=0)
    except SyncBusy:
        log.info("sync skipped: another sync is running")
        return
    if report.written or report.conflicts:
        log.info("sync", extra=report.to_json())


def health(store: Store) -> dict:
    """What /healthz reports: the database answers and how many articles it holds."""
    articles = store.db.execute("SELECT count(*) FROM articles").fetchone()[0]
    return {"articles": articles}
