"""Serving the Bolt app over HTTP: `POST /slack/events` and `GET /healthz`.

A threading server from the standard library: Bolt answers each request quickly (it acks
events before running listeners), so one thread per connection is plenty for a newsroom.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from slack_bolt import App, BoltRequest, BoltResponse

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
MAX_BODY = 1_000_000  # Slack's payloads are a few KB; refuse anything absurd


class SlackHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, app: App, host: str, port: int, health: Callable[[], dict]) -> None:
        self.app = app
        self.health = health
        super().__init__((host, port), _Handler)

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

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        log.debug("http " + format, *args)

    def do_GET(self) -> None:
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
        if path != EVENTS_PATH:
            self._send(404, b'{"ok": false, "error": "not_found"}')
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._send(413, b'{"ok": false, "error": "too_large"}')
            return
        body = self.rfile.read(length).decode("utf-8", errors="replace")
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

    def _send(self, status: int, payload: bytes, headers: dict | None = None) -> None:
        self.send_response(status)
        headers = headers or {"content-type": "application/json"}
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
