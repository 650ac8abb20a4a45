"""A Slack Web API look-alike over real HTTP, for end-to-end tests and the local sandbox.

`SlackLookalike` serves http://127.0.0.1:PORT/api/<method>, the address slack_sdk's
`WebClient(base_url=lookalike.base_url)` takes, and keeps a workspace's state the way
Slack does (see workspace.py): channels, messages, threads, reactions, edits, ephemeral
messages, App Home views. It records every call for assertions.

Faithful to Slack:
- POST (or GET) /api/<method>, parameters form-encoded, as a query string, or as a JSON
  body; the token in `Authorization: Bearer ...` (or a `token` form/query parameter, never
  in a JSON body). No token: `not_authed`; an unknown one: `invalid_auth`; both HTTP 200
  with `{"ok": false, "error": ...}`, as Slack answers.
- the bot token acts as the app's bot user; each user's token (`xoxp-...`) acts as them,
  and what a user does that an app subscribes to is sent to `event_sink` as an Events API
  event (`reaction_added`, `reaction_removed`, `message`, and `link_shared` for links to
  the app's `unfurl_domains`), the way Slack would deliver it; `chat.unfurl` keeps each
  preview on its message as an app unfurl attachment.
- rate limiting is HTTP 429 with `Retry-After` seconds and `{"ok": false, "error":
  "ratelimited"}`; slack_sdk's `RateLimitErrorRetryHandler` honours the header.
- response URLs for slash commands and clicks: see response_urls.py.
- modals (views.open, views.push, views.update, trigger ids, submissions): modals.py.

Simplified: one workspace and one app; no scopes, so any valid token may call any method
(except views.publish, which needs the bot token); no real rate limits, only injected
ones (`fail_next`); unknown methods get HTTP 404 `unknown_method`. Files: only the external
upload (uploads.py), recorded as `files.getUploadURLExternal`, `upload` (the POST of the bytes)
and `files.completeUploadExternal`.

Fault injection (`fail_next(method, ...)`), consumed by the next calls of that method:
- `fail_next(m)`: HTTP 429, `Retry-After: 1`, error `ratelimited`;
- `fail_next(m, retry_after=0)`: `Retry-After: 0` (slack_sdk still adds up to 1 s of jitter);
- `fail_next(m, error="internal_error")`: HTTP 200 with that error;
- `fail_next(m, status=500)` or `status=503`: that status, error `internal_error`
  (or the `error` given);
- `fail_next(m, drop=True)`: the connection closes with no answer (slack_sdk's default
  ConnectionErrorRetryHandler retries that once, so drop twice to see it fail);
- `fail_next(m, status=500, stored=True)` (or `drop=True, stored=True`): the call takes
  effect (a message is stored) and only then is answered 500 (or dropped), as Slack
  sometimes does: the caller cannot tell whether it worked;
- `times=N` repeats the fault for N calls.

`flaky(m, stored=0.3, refused=0.1, dropped=0.0, seed=1)` makes a seeded random fraction
of all later calls of `m` stored-then-500, another stored-then-dropped, another plain 500
(nothing stored), until `flaky(m)` turns it off. `fail_next` faults come first.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from newsbot.sandbox.response_urls import ResponsePost, ResponseUrls
from newsbot.sandbox.uploads import Uploads
from newsbot.sandbox.web_api_methods import MethodCall, answer
from newsbot.sandbox.workspace import Actor, Change, SlackError, SlackUser, Workspace

log = logging.getLogger(__name__)

DEFAULT_BOT_TOKEN = "xoxb-newsbot-test-token"
DEFAULT_CHANNELS: Mapping[str, str] = {"C0NEWSDESK": "newsdesk"}
DEFAULT_USERS: tuple[SlackUser, ...] = (
    SlackUser("U0EDITOR", "erin", "Erin Editor", tz="Europe/Berlin"),
    SlackUser("U0CHIEF", "carl", "Carl Chief", tz="America/New_York", is_admin=True,
              is_owner=True),
)

EventSink = Callable[[dict[str, Any]], object]


@dataclass(frozen=True)
class ApiCall:
    """One Web API call as the look-alike saw and answered it."""

    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    status: int
    response: dict[str, Any]
    at: float = 0.0  # time.monotonic() when it was answered: tests of pacing read it

    @property
    def ok(self) -> bool:
        return bool(self.response.get("ok"))


@dataclass(frozen=True)
class EventDelivery:
    """One event handed to the event sink: what the sink returned, or the error it raised."""

    event: dict[str, Any]
    result: object = None
    error: Exception | None = None


@dataclass
class _Fault:
    status: int
    retry_after: int | None
    error: str
    drop: bool
    remaining: int
    stored: bool = False  # the call takes effect before the fault answers


@dataclass
class _Flaky:
    stored: float
    refused: float
    dropped: float
    rng: random.Random

    def draw(self) -> _Fault | None:
        roll = self.rng.random()
        if roll < self.stored:
            return _Fault(500, None, "internal_error", False, 1, stored=True)
        if roll < self.stored + self.dropped:
            return _Fault(500, None, "internal_error", True, 1, stored=True)
        if roll < self.stored + self.dropped + self.refused:
            return _Fault(500, None, "internal_error", False, 1)
        return None


@dataclass(frozen=True)
class _Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]
    drop: bool = False


class SlackLookalike:
    """A Slack workspace and its Web API on 127.0.0.1. Start it, or use it as a context manager."""

    def __init__(
        self,
        *,
        bot_token: str = DEFAULT_BOT_TOKEN,
        team_id: str = "T0NEWSROOM",
        team_name: str = "Newsroom",
        team_domain: str = "newsroom",
        bot_user_id: str = "U0NEWSBOT",
        bot_name: str = "newsbot",
        bot_id: str = "B0NEWSBOT",
        app_id: str = "A0NEWSBOT",
        channels: Mapping[str, str] = DEFAULT_CHANNELS,
        users: Iterable[SlackUser] = DEFAULT_USERS,
        host: str = "127.0.0.1",
        port: int = 0,
        event_sink: EventSink | None = None,
        clock: Callable[[], float] = time.time,
        unfurl_domains: Iterable[str] = (),
    ) -> None:
        self.bot_token = bot_token
        self.event_sink = event_sink  # may be set after start, once the app's URL is known
        self.workspace = Workspace(
            team_id=team_id, team_name=team_name, team_domain=team_domain,
            bot_user=SlackUser(bot_user_id, bot_name, is_bot=True, token=bot_token),
            bot_id=bot_id, app_id=app_id, clock=clock,
        )
        self.workspace.unfurl_domains = tuple(unfurl_domains)  # the manifest's, as Slack keeps them
        for channel_id, name in channels.items():
            self.workspace.add_channel(name, channel_id)
        for user in users:
            self.workspace.add_user(user)
        self.response_urls = ResponseUrls(self.workspace, clock)
        self.uploads = Uploads()  # files: see uploads.py
        self._address = (host, port)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._record_lock = threading.Condition()
        self._calls: list[ApiCall] = []
        self._deliveries: list[EventDelivery] = []
        self._faults: dict[str, list[_Fault]] = {}
        self._flaky: dict[str, _Flaky] = {}

    # ---- life cycle

    def start(self) -> SlackLookalike:
        if self._server is not None:
            return self
        self._server = ThreadingHTTPServer(self._address, _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={
            "poll_interval": 0.05}, name="slack-lookalike", daemon=True)
        self._thread.start()
        self.uploads.base_url = self.url
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> SlackLookalike:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """http://127.0.0.1:PORT (only while started)."""
        if self._server is None:
            raise RuntimeError("the Slack look-alike is not running: call start() first")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def base_url(self) -> str:
        """What `slack_sdk.WebClient(base_url=...)` takes: http://127.0.0.1:PORT/api/."""
        return f"{self.url}/api/"

    # ---- identities

    @property
    def bot_user_id(self) -> str:
        return self.workspace.bot_user.id

    def user_token(self, user_id: str) -> str:
        """The token that acts as this user (their own, or xoxp-<team>-<user>)."""
        user = self.workspace.user(user_id)
        return user.token or f"xoxp-{self.workspace.team_id}-{user.id}"

    def _actor(self, token: str) -> Actor | None:
        if token == self.bot_token:
            return Actor(self.workspace.bot_user.id, self.workspace.bot_id)
        for user in self.workspace.users():
            if not user.is_bot and token == self.user_token(user.id):
                return Actor(user.id)
        return None

    # ---- answering calls

    def call(self, method: str, token: str | None = None, **params: Any) -> dict[str, Any]:
        """Answer a Web API call in-process (no HTTP), with the same rules and recording."""
        result = self._answer(method, params, token, {})
        if result.drop:
            raise ConnectionResetError(f"{method}: connection dropped (injected fault)")
        return result.body

    def _answer(self, method: str, params: dict[str, Any], token: str | None,
                headers: dict[str, str]) -> _Answer:
        fault = self._take_fault(method)
        events: list[dict[str, Any]] = []
        if fault is None or fault.stored:
            result, events = self._run(method, params, token)
        if fault is not None:
            result = _fault_answer(fault)
        self._record(method, params, headers, result.status, result.body)
        for event in events:
            self._deliver(event)
        return result

    def _record(self, method: str, params: dict[str, Any], headers: dict[str, str],
                status: int, body: dict[str, Any]) -> None:
        with self._record_lock:
            self._calls.append(ApiCall(method, params, headers, status, body, time.monotonic()))
            self._record_lock.notify_all()

    def _run(self, method: str, params: dict[str, Any],
             token: str | None) -> tuple[_Answer, list[dict[str, Any]]]:
        try:
            if not token:
                raise SlackError("not_authed")
            actor = self._actor(token)
            if actor is None:
                raise SlackError("invalid_auth")
            call = MethodCall(self.workspace, actor, params, uploads=self.uploads)
            return _Answer(200, answer(method, call), {}), call.events
        except SlackError as error:
            return _Answer(error.status, error.to_response(), {}), []
        except Exception:  # a look-alike bug must surface as an error answer, not a hang
            log.exception("look-alike failed on %s", method)
            return _Answer(500, {"ok": False, "error": "internal_error"}, {}), []

    def _deliver(self, event: dict[str, Any]) -> None:
        sink = self.event_sink
        if sink is None:
            return
        try:
            delivery = EventDelivery(event, result=sink(event))
        except Exception as error:  # the app being down must not fail the user's call
            log.warning("event sink failed on %s: %s", event.get("type"), error)
            delivery = EventDelivery(event, error=error)
        with self._record_lock:
            self._deliveries.append(delivery)
            self._record_lock.notify_all()

    # ---- recorded calls, deliveries, response URLs

    def calls(self, method: str | None = None) -> list[ApiCall]:
        """Calls answered so far, oldest first (only `method`'s if given)."""
        with self._record_lock:
            return [c for c in self._calls if method is None or c.method == method]

    def wait_for_calls(self, method: str, count: int = 1, timeout: float = 5.0) -> list[ApiCall]:
        """Wait until `method` has been answered `count` times; raises TimeoutError."""
        with self._record_lock:
            done = self._record_lock.wait_for(
                lambda: sum(c.method == method for c in self._calls) >= count, timeout=timeout)
            if not done:
                raise TimeoutError(f"{method} was not called {count} time(s) in {timeout} s")
            return [c for c in self._calls if c.method == method]

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until `predicate()` holds, e.g. after a Bolt app acked and answers later.

        Checked on every state change and every 50 ms; raises TimeoutError.
        """
        deadline = time.monotonic() + timeout
        version = self.version
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout} s")
            version = self.wait_for_change(version, timeout=min(0.05, remaining))

    def deliveries(self) -> list[EventDelivery]:
        """Events handed to the event sink so far, oldest first."""
        with self._record_lock:
            return list(self._deliveries)

    def new_response_url(self, channel: str, user: str, message_ts: str | None = None) -> str:
        """A live response URL for `user` acting in `channel` (on message `message_ts`)."""
        return f"{self.url}/response/{self.response_urls.create(channel, user, message_ts)}"

    def new_trigger_id(self, user_id: str) -> str:
        """A trigger_id for `user_id`, as Slack sends with a command or a click: valid for
        3 s and one views.open or views.push (sandbox/modals.py)."""
        return self.workspace.modals.new_trigger_id(user_id)

    def response_posts(self) -> list[ResponsePost]:
        """What apps posted to response URLs, oldest first."""
        return self.response_urls.posts()

    # ---- state changes, for a browser view

    def subscribe(self, callback: Callable[[Change], None]) -> Callable[[], None]:
        """Call `callback(change)` on every state change; returns the unsubscribe function."""
        return self.workspace.subscribe(callback)

    @property
    def version(self) -> int:
        return self.workspace.version

    def wait_for_change(self, since: int, timeout: float = 30.0) -> int:
        return self.workspace.wait_for_change(since, timeout)

    # ---- faults

    def fail_next(self, method: str, *, status: int | None = None, retry_after: int | None = 1,
                  error: str | None = None, drop: bool = False, times: int = 1,
                  stored: bool = False) -> None:
        """Make the next `times` calls of `method` fail (see the module docstring)."""
        if status is None:
            status = 200 if error else 429
        if error is None:
            error = "ratelimited" if status == 429 else "internal_error"
        fault = _Fault(status, retry_after if status == 429 else None, error, drop, times,
                       stored)
        with self._record_lock:
            self._faults.setdefault(method, []).append(fault)

    def flaky(self, method: str, *, stored: float = 0.0, refused: float = 0.0,
              dropped: float = 0.0, seed: int = 0) -> None:
        """From now on answer a random fraction of `method`'s calls 500 after storing
        (`stored`), drop the connection after storing (`dropped`), or answer 500 without
        storing (`refused`); seeded, so a run repeats. All zero turns it off."""
        with self._record_lock:
            if stored or refused or dropped:
                self._flaky[method] = _Flaky(stored, refused, dropped, random.Random(seed))
            else:
                self._flaky.pop(method, None)

    def _take_fault(self, method: str) -> _Fault | None:
        with self._record_lock:
            queue = self._faults.get(method)
            if not queue:
                flaky = self._flaky.get(method)
                return flaky.draw() if flaky else None
            fault = queue[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                queue.pop(0)
            return fault


def _fault_answer(fault: _Fault) -> _Answer:
    headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
    return _Answer(fault.status, {"ok": False, "error": fault.error}, headers, drop=fault.drop)


def _handler_for(lookalike: SlackLookalike) -> type[BaseHTTPRequestHandler]:
    class Handler(_SlackRequestHandler):
        slack = lookalike

    return Handler


class _SlackRequestHandler(BaseHTTPRequestHandler):
    """Turns HTTP requests into look-alike calls; one thread per request."""

    slack: SlackLookalike
    server_version = "SlackLookalike/1"

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._route()

    def do_POST(self) -> None:  # noqa: N802
        self._route()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        log.debug("%s %s", self.address_string(), format % args)

    def _route(self) -> None:
        parts = urlsplit(self.path)
        if parts.path.startswith("/api/"):
            self._api(parts.path.removeprefix("/api/"), parts.query)
        elif parts.path.startswith("/response/") and self.command == "POST":
            self._response_url(parts.path.removeprefix("/response/"))
        elif parts.path.startswith("/upload/v1/") and self.command == "POST":
            self._upload(parts.path.removeprefix("/upload/v1/"))
        elif parts.path.startswith("/files/") and self.command == "GET":
            self._file(parts.path.removeprefix("/files/").split("/")[0])
        else:
            self._send(404, {"ok": False, "error": "not_found"}, {})

    def _api(self, method: str, query: str) -> None:
        headers = dict(self.headers.items())
        params: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
        token = params.pop("token", None)
        body, content_type = self._body(), self.headers.get_content_type()
        try:
            if content_type == "application/json":
                parsed = json.loads(body or b"{}")
                if not isinstance(parsed, dict):
                    raise ValueError("not an object")
                params.update(parsed)
            elif content_type.startswith("multipart/"):
                raise SlackError("invalid_form_data")
            elif body:
                form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
                token = form.pop("token", token)
                params.update(form)
        except ValueError:
            self._send(200, {"ok": False, "error": "invalid_json"}, {})
            return
        except SlackError as error:
            self._send(error.status, error.to_response(), {})
            return
        authorization = self.headers.get("Authorization", "")
        if authorization.startswith("Bearer "):
            token = authorization.removeprefix("Bearer ").strip()
        result = self.slack._answer(method, params, token, headers)
        if result.drop:
            self.close_connection = True
            return
        self._send(result.status, result.body, result.headers)

    def _response_url(self, url_id: str) -> None:
        try:
            payload = json.loads(self._body() or b"null")
        except ValueError:
            self._send(400, {"ok": False, "error": "invalid_payload"}, {})
            return
        try:
            self.slack.response_urls.post(url_id, payload)
        except SlackError as error:
            self._send(error.status, error.to_response(), {})
            return
        self._send(200, {"ok": True}, {})

    def _upload(self, file_id: str) -> None:
        """Step 2 of an external upload: the file's bytes, answered as Slack's upload host
        answers (text `OK - <length>`); recorded as the call `upload`."""
        data = self._body()
        try:
            self.slack.uploads.receive(file_id, data)
        except SlackError as error:
            self.slack._record("upload", {"file_id": file_id, "length": len(data)},
                               dict(self.headers.items()), error.status, error.to_response())
            self._send(error.status, error.to_response(), {})
            return
        self.slack._record("upload", {"file_id": file_id, "length": len(data)},
                           dict(self.headers.items()), 200, {"ok": True})
        self._send_bytes(200, f"OK - {len(data)}".encode(), "text/plain; charset=utf-8")

    def _file(self, file_id: str) -> None:
        stored = self.slack.uploads.get(file_id)
        if stored is None or stored.data is None:
            self._send(404, {"ok": False, "error": "file_not_found"}, {})
            return
        self._send_bytes(200, stored.data, stored.mimetype)

    def _send_bytes(self, status: int, data: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
