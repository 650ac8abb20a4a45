"""HTTP mode on a production server: waitress in front of Bolt's WSGI adapter.

Routes: `POST /slack/events` (Bolt, through slack_bolt.adapter.wsgi), `GET /healthz`
and `GET /metrics` (Prometheus). In Socket Mode the same server runs without the Slack
route, on `--metrics-port`.

waitress does the HTTP framing (keep-alive, chunked bodies, request smuggling
defences), limits bodies to MAX_BODY (413), closes connections silent for
REQUEST_TIMEOUT seconds and listens with a backlog of BACKLOG. `BoundedChannel` adds
what waitress lacks against slow clients: a whole request within `request_seconds`
(else 408), and at most `per_address` connections from one address. Before Bolt sees a
request, `SlackEvents` checks the signature (401) and that the body is a JSON object or
a form Bolt can read: Bolt parses bodies as it builds its request and raises on `[1,2]`,
`"x"` or `payload=1`, which would otherwise end as a traceback and a 500. A signed body
that means nothing gets 200 with nothing done and a debug log line, so that Slack does
not redeliver it.

`WebServer.stop()` stops accepting, lets the requests already received finish and
their answers go out (up to a bound), then closes every connection: a SIGTERM loses
nothing that was answered.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import resource
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any

import waitress
from newsbot.bot.services.workers import name_os_thread
from prometheus_client import make_wsgi_app
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.request.internals import parse_body
from waitress import wasyncore
from waitress.channel import HTTPChannel

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
MAX_BODY = 1_000_000  # Slack's payloads are a few KB; refuse anything absurd
REQUEST_TIMEOUT = 30  # seconds a connection may stay silent mid-request or between requests
REQUEST_SECONDS = 10.0  # a request arrives whole (headers and body) within this, however sent
PER_ADDRESS = 256  # connections open at once from one client address (behind a proxy: raise it)
BACKLOG = 1024  # Slack delivers bursts at once; the standard library's 5 reset connections
CONNECTIONS = 2000  # open at once; beyond that new ones wait in the backlog (waitress: 100)
THREADS = 8  # Bolt answers in milliseconds (listeners run after the ack)
SIGNATURE_SECONDS = 300  # Slack's bound on a request timestamp's age, either way
DRAIN_SECONDS = 10.0  # how long stop() waits for requests already received
LOOP_SECONDS = 0.2  # how often the serving loop looks for a stop request

Health = Callable[[], tuple[bool, dict]]
StartResponse = Callable[..., Any]
JSON = [("Content-Type", "application/json")]


def _answer(start_response: StartResponse, status: str, document: dict) -> list[bytes]:
    payload = json.dumps(document).encode()
    start_response(status, [*JSON, ("Content-Length", str(len(payload)))])
    return [payload]


class SlackEvents:
    """`POST /slack/events`: refuse what is unsigned or unreadable, give the rest to Bolt."""

    def __init__(self, app: App, signing_secret: str) -> None:
        self.bolt = SlackRequestHandler(app, EVENTS_PATH)
        self.secret = signing_secret.encode()

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        raw = environ["wsgi.input"].read()  # waitress has read (and bounded) the whole body
        timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", "")
        signature = environ.get("HTTP_X_SLACK_SIGNATURE")
        if not self._signed(raw, timestamp, signature):
            log.info("request refused", extra={"error": "invalid_signature", "bytes": len(raw)})
            return _answer(start_response, "401 Unauthorized",
                           {"ok": False, "error": "invalid_signature"})
        problem = _meaningless(raw, environ.get("CONTENT_TYPE"))
        if problem:
            return self._ignore(start_response, problem, raw)
        environ["wsgi.input"] = BytesIO(raw)
        environ["CONTENT_LENGTH"] = str(len(raw))
        return self.bolt(environ, start_response)

    def _signed(self, raw: bytes, timestamp: str, signature: str | None) -> bool:
        """Slack's scheme (slack_sdk's SignatureVerifier) over the bytes as they came:
        its verifier decodes them first, so a signed body that is not UTF-8 would raise."""
        if not (timestamp.isascii() and timestamp.isdigit() and signature):
            return False
        if abs(time.time() - int(timestamp)) > SIGNATURE_SECONDS:
            return False
        digest = hmac.new(self.secret, b"v0:%s:%s" % (timestamp.encode(), raw), hashlib.sha256)
        return hmac.compare_digest(f"v0={digest.hexdigest()}", signature)

    @staticmethod
    def _ignore(start_response: StartResponse, problem: str, raw: bytes) -> list[bytes]:
        """Slack signed it, so answering non-2xx would only make Slack send it three more
        times (and count against the app): 200, nothing done, a debug line."""
        log.debug("signed request ignored", extra={"reason": problem, "bytes": len(raw)})
        start_response("200 OK", [("Content-Length", "0")])
        return [b""]


def _meaningless(raw: bytes, content_type: str | None) -> str | None:
    """Why Bolt could not build a request from this body, or None when it can: it must be
    UTF-8 that parses to a JSON object (a dict), and an event callback must carry an event
    with a type. Bolt would raise on `[1,2]`, `"x"` or `payload=1` (a traceback and a 500)
    and answer `event: {}` with 404."""
    try:
        parsed = parse_body(raw.decode("utf-8"), content_type)
    except UnicodeDecodeError:
        return "not UTF-8"
    except (ValueError, RecursionError):  # json.JSONDecodeError; nesting past Python's limit
        return "not JSON or a form Bolt reads"
    if not isinstance(parsed, dict):
        return "not a JSON object"
    if parsed.get("type") == "event_callback":
        event = parsed.get("event")
        if not (isinstance(event, dict) and isinstance(event.get("type"), str)
                and event["type"]):
            return "an event callback without an event type"
    return None


def _open_files_for(connections: int) -> int:
    """Raise this process's open-file limit as far as allowed for `connections` sockets
    (600 slow clients must not lock Slack out); the connection limit that fits."""
    spare = 64  # the database, the spool, log files, the listening socket, threads
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = connections + spare
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new_soft = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (new_soft, hard))
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft == resource.RLIM_INFINITY:
        return connections
    return max(1, min(connections, soft - spare))


class Routes:
    """The WSGI application: the Slack route (HTTP mode only), /healthz and /metrics."""

    def __init__(self, health: Health, slack: SlackEvents | None = None) -> None:
        self.health = health
        self.slack = slack
        self.metrics = make_wsgi_app()

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        method, path = environ.get("REQUEST_METHOD"), environ.get("PATH_INFO", "")
        if path == EVENTS_PATH and self.slack is not None:
            if method != "POST":
                return _answer(start_response, "405 Method Not Allowed",
                               {"ok": False, "error": "method_not_allowed"})
            return self.slack(environ, start_response)
        if path == "/healthz" and method in ("GET", "HEAD"):
            return self._healthz(start_response)
        if path == "/metrics" and method in ("GET", "HEAD"):
            return self.metrics(environ, start_response)
        return _answer(start_response, "404 Not Found", {"ok": False, "error": "not_found"})

    def _healthz(self, start_response: StartResponse) -> list[bytes]:
        try:
            healthy, document = self.health()
        except Exception:  # a bug in a check must read as unhealthy, not as a 500
            log.exception("health check failed")
            healthy, document = False, {"ok": False, "reason": "health check failed"}
        return _answer(start_response, "200 OK" if healthy else "503 Service Unavailable",
                       document)


class BoundedChannel(HTTPChannel):
    """waitress's connection with the two limits it lacks: its `channel_timeout` counts
    only silence, so a client trickling one header line every few seconds held a slot for
    ever, and every slot could be held from one address.

    A request (from its first byte to its last) must arrive within `request_seconds`, or
    the connection is answered 408 and closed; the serving loop looks at every connection
    each LOOP_SECONDS (readable() is asked on each pass), so the cut comes that soon after
    the bound. Beyond `per_address` open connections from one address, a new one is closed
    at once."""

    _counted = False  # whether this connection is in its address's count

    def __init__(self, server: Any, sock: Any, addr: Any, adj: Any, map: Any = None) -> None:
        super().__init__(server, sock, addr, adj, map)
        self.request_started: float | None = None
        self.client = addr[0] if isinstance(addr, tuple) else str(addr)
        limits: Limits = server.newsbot_limits
        limits.open_by_address[self.client] += 1
        self._counted = True
        if limits.open_by_address[self.client] > limits.per_address:
            log.info("connection refused: too many from one address",
                     extra={"client": self.client, "limit": limits.per_address})
            self.close()

    def received(self, data: bytes) -> bool:
        if self.request is None and data:
            self.request_started = time.monotonic()  # a new request begins with these bytes
        try:
            return super().received(data)
        finally:
            if self.request is None:  # all received so far were whole requests
                self.request_started = None

    def readable(self) -> bool:
        started, bound = self.request_started, self.server.newsbot_limits.request_seconds
        if started is not None and not self.requests and not self.will_close \
                and time.monotonic() - started > bound:
            log.info("slow request cut", extra={"client": self.client, "seconds": bound})
            with contextlib.suppress(OSError):
                self.send(b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n"
                          b"Content-Length: 0\r\n\r\n")
            self.will_close = True  # closed on the loop's next pass (handle_write)
        if self.will_close:
            return False
        return super().readable()

    def del_channel(self, map: Any = None) -> None:
        if self._counted:
            self._counted = False
            self.server.newsbot_limits.open_by_address[self.client] -= 1
            if not self.server.newsbot_limits.open_by_address[self.client]:
                del self.server.newsbot_limits.open_by_address[self.client]
        super().del_channel(map)


@dataclass
class Limits:
    request_seconds: float
    per_address: int
    open_by_address: Counter[str] = field(default_factory=Counter)


class WebServer:
    """waitress serving `Routes` on host:port, with a stop that drains."""

    def __init__(self, routes: Routes, host: str, port: int, *,
                 request_timeout: int = REQUEST_TIMEOUT, threads: int = THREADS,
                 request_seconds: float = REQUEST_SECONDS,
                 per_address: int = PER_ADDRESS) -> None:
        self.routes = routes
        self._server = waitress.create_server(
            routes, host=host, port=port, backlog=BACKLOG, threads=threads,
            connection_limit=_open_files_for(CONNECTIONS),
            channel_timeout=request_timeout, cleanup_interval=max(1, request_timeout // 2),
            max_request_body_size=MAX_BODY, asyncore_use_poll=True,
            asyncore_loop_timeout=LOOP_SECONDS, ident="newsbot",
            clear_untrusted_proxy_headers=True,
        )
        self._server.newsbot_limits = Limits(request_seconds, per_address)
        for thread in threading.enumerate():  # waitress started its workers just now
            if thread.name.startswith("waitress-"):
                name_os_thread(thread)
        self._server.channel_class = BoundedChannel  # waitress's own hook for its connections
        self._stop_requested = False  # a plain flag: set from signal handlers too
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def server_address(self) -> tuple[str, int]:
        return self._server.effective_host, int(self._server.effective_port)

    @property
    def url(self) -> str:
        host, port = self.server_address
        return f"http://{host}:{port}"

    @property
    def backlog(self) -> int:
        return self._server.adj.backlog

    def serve_forever(self, drain_seconds: float = DRAIN_SECONDS) -> None:
        """Serve until stop(); then drain what was received and close."""
        try:
            while not self._stop_requested:
                self._loop_once()
            self._drain(drain_seconds)
        finally:
            self._close_everything()
            self._stopped.set()

    def start_in_thread(self) -> threading.Thread:
        self._thread = threading.Thread(target=self.serve_forever, name="http", daemon=True)
        self._thread.start()
        return self._thread

    def request_stop(self) -> None:
        """Ask the serving loop to stop (safe in a signal handler): it notices within
        LOOP_SECONDS, stops accepting, drains, closes."""
        self._stop_requested = True

    def stop(self, timeout: float = DRAIN_SECONDS + 5) -> None:
        """request_stop() and wait until the server has drained and closed."""
        self.request_stop()
        if not self._stopped.is_set():
            # wake the loop now (not from a signal handler); EBADF: the loop has just closed
            # its trigger on its way out, so there is nothing left to wake
            with contextlib.suppress(OSError):
                self._server.pull_trigger()
        if self._thread is not None:
            self._thread.join(timeout)
        else:
            self._stopped.wait(timeout)

    def close(self) -> None:
        """Close a server that never served (its listening socket is open from start)."""
        if not self._stopped.is_set():
            self._close_everything()

    def _loop_once(self, timeout: float = LOOP_SECONDS) -> None:
        wasyncore.loop(timeout=timeout, map=self._server._map, use_poll=True, count=1)

    def _drain(self, seconds: float) -> None:
        """Stop accepting; keep the loop running until every request received is answered
        and written out, or `seconds` have passed."""
        server = self._server
        server.accepting = False
        wasyncore.dispatcher.close(server)  # the listening socket: new connections refused
        deadline = time.monotonic() + seconds
        while self._busy() and time.monotonic() < deadline:
            self._loop_once(0.05)
        if self._busy():
            log.warning("http stop: requests still running after the drain bound",
                        extra={"seconds": seconds})

    def _busy(self) -> bool:
        return any(channel.requests or channel.total_outbufs_len
                   for channel in list(self._server.active_channels.values()))

    def _close_everything(self) -> None:
        server = self._server
        for channel in list(server.active_channels.values()):
            channel.handle_close()
        if server.socket is not None:
            wasyncore.dispatcher.close(server)
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=5)
        server.trigger.close()
        self._stopped.set()
