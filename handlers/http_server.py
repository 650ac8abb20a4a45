"""Serving the Bolt app over HTTP: `POST /slack/events` and `GET /healthz`.

A threading server from the standard library: Bolt answers each request quickly (it acks
events before running listeners), so one thread per connection is plenty for a newsroom.

Connections are kept alive between requests, so a request whose body is not read to the
end must close its connection: otherwise the unread bytes would be parsed as the next
request (request smuggling). Bodies need a plain Content-Length; chunked bodies are
refused. A socket timeout stops half-sent requests from holding threads forever.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from slack_bolt import App, BoltRequest, BoltResponse

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
MAX_BODY = 1_000_000  # Slack's payloads are a few KB; refuse anything absurd
REQUEST_TIMEOUT = 30.0  # seconds a connection may stay silent mid-request or between requests
_DIGITS = re.compile(r"[0-9]{1,16}")  # ASCII digits only: int() would take "+5", " 5", "٥"


class SlackHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, app: App, host: str, port: int, health: Callable[[], dict],
                 request_timeout: float = REQUEST_TIMEOUT) -> None:
        self.app = app
        self.health = health
        self.request_timeout = request_timeout
        super().__init__((host, port), _Handler)

    def handle_error(self, request: object, client_address: tuple) -> None:
        """One log line instead of the standard library's traceback on stderr."""
        error = sys.exc_info()[1]
        client = client_address[0] if client_address else None
        if isinstance(error, (ConnectionError, TimeoutError)):  # the client went away
            log.info("http connection dropped", extra={"client": client, "error": repr(error)})
        else:
            log.error("http request failed", exc_info=True, extra={"client": client})

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def start_in_thread(self, poll_interval: float = 0.5) -> threading.Thread:
        """Serve on a daemon thread; `shutdown()` returns within `poll_interval`."""
        thread = threading.Thread(target=self.serve_forever, name="slack-http", daemon=True,
                                  kwargs={"poll_interval": poll_interval})
        thread.start()
        return thread


class _Handler(BaseHTTPRequestHandler):
    server: SlackHTTPServer
    protocol_version = "HTTP/1.1"
    timeout = REQUEST_TIMEOUT  # the server's request_timeout replaces it in setup()

    def setup(self) -> None:
        self.timeout = self.server.request_timeout
        super().setup()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        log.debug("http " + format, *args)

    def log_error(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        log.info("http " + format, *args)

    def do_GET(self) -> None:
        if self.headers.get("Transfer-Encoding") or (
                self.headers.get("Content-Length") or "0").strip() != "0":
            self.close_connection = True  # a GET body is never read: do not parse it next
        if self.path.partition("?")[0] != "/healthz":
            self._send(404, b'{"ok": false, "error": "not_found"}')
            return
        try:
            status = self.server.health()
            self._send(200, json.dumps({"ok": True, **status}).encode())
        except Exception as error:  # the database is unreachable: tell the probe
            self._send(503, json.dumps({"ok": False, "error": str(error)}).encode())

    def do_POST(self) -> None:
        path, _, query = self.path.partition("?")
        length = self._body_length()
        if length is None:
            return
        if path != EVENTS_PATH:
            self._send(404, b'{"ok": false, "error": "not_found"}', close=True)
            return
        raw = self.rfile.read(length)
        if len(raw) < length:  # the client closed before sending the whole body
            self._send(400, b'{"ok": false, "error": "incomplete_body"}', close=True)
            return
        body = raw.decode("utf-8", errors="replace")
        try:
            request = BoltRequest(body=body, query=query, headers=dict(self.headers.items()))
        except ValueError:  # Bolt parses the body up front: JSON or a form that is not
            log.info("request refused: unreadable body", extra={"bytes": length})
            self._send(400, b'{"ok": false, "error": "invalid_body"}')
            return
        try:
            response: BoltResponse = self.server.app.dispatch(request)
        except Exception:  # Bolt handles listener errors itself; this is a last resort
            log.exception("request failed")
            self._send(500, b'{"ok": false}')
            return
        payload = (response.body or "").encode("utf-8")
        headers = {k: v for k, vs in response.headers.items() for v in vs
                   if k.lower() not in ("content-length", "connection")}
        self._send(response.status, payload, headers)

    def _body_length(self) -> int | None:
        """The body's length from a single, plain Content-Length within MAX_BODY; otherwise
        the error is answered, the connection closed (the body stays unread) and None."""
        if self.headers.get_all("Transfer-Encoding"):
            self._send(411, b'{"ok": false, "error": "content_length_required"}', close=True)
            return None
        values = {v.strip() for v in self.headers.get_all("Content-Length") or []}
        if not values:
            self._send(411, b'{"ok": false, "error": "content_length_required"}', close=True)
            return None
        value = values.pop()
        if values or not _DIGITS.fullmatch(value):
            self._send(400, b'{"ok": false, "error": "invalid_content_length"}', close=True)
            return None
        if int(value) > MAX_BODY:
            self._send(413, b'{"ok": false, "error": "too_large"}', close=True)
            return None
        return int(value)

    def _send(self, status: int, payload: bytes, headers: dict | None = None,
              close: bool = False) -> None:
        """Answer; with `close`, say so and end the connection after this response."""
        self.send_response(status)
        headers = headers or {"content-type": "application/json"}
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        if close:
            self.send_header("Connection", "close")  # also sets self.close_connection
        self.end_headers()
        self.wfile.write(payload)
