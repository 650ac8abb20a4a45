"""The checks at start-up that turn what an operator can fix into one line (exit 2):
a refused token, an unreachable Slack, a taken port, an unusable database or spool, a
schedule that cannot post in its channel. Never the token itself."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from newsbot.bot.app.web_server import Routes, WebServer
from newsbot.bot.config.settings import Config, ConfigError
from newsbot.bot.newsroom.schedules import list_schedules
from newsbot.handlers.channels import posting_problem
from newsbot.storage.db import Store
from newsbot.storage.spool import Spool
from slack_bolt import App
from slack_bolt.error import BoltError
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

if TYPE_CHECKING:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

log = logging.getLogger(__name__)

# Slack's answers that mean the token itself is unusable
AUTH_ERRORS = frozenset({"invalid_auth", "not_authed", "token_revoked", "token_expired",
                         "account_inactive", "not_allowed_token_type"})

T = TypeVar("T")


class StartupError(ConfigError):
    """Slack refused a credential, Slack cannot be reached, or the port is taken: one
    line that names what to check (never the token itself); `newsbot` exits 2."""


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


def checked_app(build: Callable[[], T], client: WebClient) -> T:
    """Build the Bolt app (it calls auth.test), a refused bot token or an unreachable API
    being a StartupError."""
    try:
        return build()
    except (BoltError, SlackApiError, OSError) as error:
        message = explain_slack_failure(error, "SLACK_BOT_TOKEN", client.base_url)
        if message is None:
            raise
        raise StartupError(message) from None


def listen(routes: Routes, host: str, port: int, config: Config) -> WebServer:
    """The production HTTP server on host:port; a taken port is a StartupError."""
    try:
        return WebServer(routes, host, port, request_seconds=config.request_seconds,
                         per_address=config.connections_per_address)
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
