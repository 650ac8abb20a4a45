"""The sandbox's web page and its small JSON API, on 127.0.0.1 only.

- GET /, /app.js, /style.css: the page (sandbox/static/), plain files, no build step.
- GET /emoji/NAME.svg: the bundled emoji images (sandbox/static/emoji/), so reactions look
  the same on every machine, with or without an emoji font.
- GET /images/FILE: the example articles' bundled images (sandbox.bundled_images).
- GET /api/state?since=N&user=U: everything the page draws for member U (default: the
  sandbox's own user); with `since`, waits (up to 20 s) until the workspace changes after
  version N: the page long-polls this for live updates.
- POST /api/react {channel, ts, name, add}, /api/click {action_id, block_id, channel, ts,
  ephemeral, home, modal, unfurl (the URL of the preview clicked in)}, /api/command
  {channel, text, thread_ts}, /api/shortcut {callback_id, channel, ts}, /api/home,
  /api/view/submit {values}, /api/view/close, /api/view/suggest {block_id, action_id,
  value} (an external select's options: the app's block_suggestion answer): the user's
  actions. Each body may name the
  member it acts as (`user`, one of the state's `members`): the app gets it signed as them.
- GET /api/sync: the dry run (diff); POST /api/sync: run the sync.
- GET /files/<id>/<name>: a file uploaded to the look-alike (images in messages).

Answers are JSON: `{"ok": true, ...}` or `{"ok": false, "error": ...}` with a 4xx/5xx.

Any web page the user visits could send requests to 127.0.0.1, so the API only takes
POSTs with a JSON body (a cross-site form cannot send one without a CORS preflight,
which is never granted), refuses a foreign Origin, and answers only to the Host names
127.0.0.1:PORT and localhost:PORT (no DNS rebinding).
"""

from __future__ import annotations

import functools
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from newsbot.sandbox.bundled_images import BundledImages
from newsbot.sandbox.lookalike import SlackLookalike

log = logging.getLogger(__name__)

LONG_POLL_SECONDS = 20.0
MAX_BODY = 100_000
STATIC = {  # path -> (file in sandbox/static, content type)
    "/": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/style.css": ("style.css", "text/css; charset=utf-8"),
}
# Article images come from anywhere; scripts, styles and requests only from here.
CSP = ("default-src 'self'; img-src * data:; script-src 'self'; style-src 'self'; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")


class ActionRefused(Exception):
    """A page action Slack would refuse too (e.g. already_reacted); `error` says why."""

    def __init__(self, error: str, status: int = 400) -> None:
        super().__init__(error)
        self.error = error
        self.status = status


class PageBackend(Protocol):
    """What the page needs of the sandbox that serves it (sandbox/runner.py): what to
    draw, and the user's actions, which raise ActionRefused when Slack would refuse."""

    images: BundledImages
    slack: SlackLookalike | None

    def state(self, user: str | None = None) -> dict[str, Any]: ...
    def wait_for_change(self, since: int, timeout: float) -> int: ...
    def react(self, channel: str, ts: str, name: str, add: bool = True,
              user: str | None = None) -> None: ...
    def click(self, *, action_id: str, block_id: str, channel: str | None = None,
              ts: str | None = None, ephemeral: bool = False, home: bool = False,
              unfurl: str | None = None, modal: bool = False,
              user: str | None = None) -> None: ...
    def command(self, channel: str, text: str, thread_ts: str | None = None,
                user: str | None = None) -> None: ...
    def shortcut(self, callback_id: str, channel: str, ts: str,
                 user: str | None = None) -> None: ...
    def open_home(self, user: str | None = None) -> None: ...
    def submit_view(self, values: dict[str, Any], user: str | None = None) -> None: ...
    def close_view(self, user: str | None = None) -> None: ...
    def suggest(self, block_id: str, action_id: str, value: str,
                user: str | None = None) -> dict[str, Any]: ...
    def sync(self, dry_run: bool) -> dict[str, Any]: ...


class PageServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, sandbox: PageBackend, host: str, port: int) -> None:
        self.sandbox = sandbox
        super().__init__((host, port), _Handler)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"

    @property
    def allowed_hosts(self) -> set[str]:
        port = self.server_address[1]
        return {f"127.0.0.1:{port}", f"localhost:{port}"}

    def start_in_thread(self) -> None:
        self._thread = threading.Thread(target=self.serve_forever, name="sandbox-page",
                                        kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:  # shutdown() waits for a serve_forever that never ran
            self.shutdown()
            self._thread.join()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: PageServer
    protocol_version = "HTTP/1.1"
    server_version = "newsbot-sandbox/1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        log.debug("page " + format, *args)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if not self._host_allowed():
            return
        parts = urlsplit(self.path)
        if parts.path in STATIC:
            self._static(*STATIC[parts.path])
        elif parts.path.startswith("/emoji/") and parts.path[7:] in _emoji_files():
            self._static(f"emoji/{parts.path[7:]}", "image/svg+xml")
        elif parts.path.startswith("/images/"):
            self._bundled_image(parts.path[8:])
        elif parts.path == "/api/state":
            query = parse_qs(parts.query)
            self._state(query.get("since", [""])[0], query.get("user", [""])[0] or None)
        elif parts.path == "/api/sync":
            self._act(lambda sandbox, _: sandbox.sync(dry_run=True), {})
        elif parts.path.startswith("/files/"):
            self._file(parts.path.removeprefix("/files/").split("/")[0])
        else:
            self._json(404, {"ok": False, "error": "not_found"})

    def do_POST(self) -> None:  # noqa: N802
        if not self._host_allowed():
            return
        body = self._json_body()
        if body is None:
            return
        actions = {
            "/api/react": lambda s, b: s.react(_text(b, "channel"), _text(b, "ts"),
                                               _text(b, "name"), add=bool(b.get("add", True)),
                                               user=_user(b)),
            "/api/click": lambda s, b: s.click(
                action_id=_text(b, "action_id"), block_id=_text(b, "block_id"),
                channel=b.get("channel"), ts=b.get("ts"),
                ephemeral=bool(b.get("ephemeral")), home=bool(b.get("home")),
                unfurl=b.get("unfurl") or None, modal=bool(b.get("modal")), user=_user(b)),
            "/api/command": lambda s, b: s.command(_text(b, "channel"), _text(b, "text"),
                                                   thread_ts=b.get("thread_ts") or None,
                                                   user=_user(b)),
            "/api/shortcut": lambda s, b: s.shortcut(_text(b, "callback_id"),
                                                     _text(b, "channel"), _text(b, "ts"),
                                                     user=_user(b)),
            "/api/home": lambda s, b: s.open_home(user=_user(b)),
            "/api/view/submit": lambda s, b: s.submit_view(_mapping(b, "values"),
                                                           user=_user(b)),
            "/api/view/close": lambda s, b: s.close_view(user=_user(b)),
            "/api/view/suggest": lambda s, b: s.suggest(
                _text(b, "block_id"), _text(b, "action_id"), str(b.get("value") or ""),
                user=_user(b)),
            "/api/sync": lambda s, b: s.sync(dry_run=bool(b.get("dry_run"))),
        }
        action = actions.get(urlsplit(self.path).path)
        if action is None:
            self._json(404, {"ok": False, "error": "not_found"})
            return
        self._act(action, body)

    # ---- parts

    def _static(self, name: str, content_type: str) -> None:
        data = (resources.files("newsbot.sandbox") / "static" / name).read_bytes()
        self._send(200, data, {"Content-Type": content_type, "Cache-Control": "no-store",
                               "Content-Security-Policy": CSP,
                               "X-Content-Type-Options": "nosniff"})

    def _bundled_image(self, name: str) -> None:
        found = self.server.sandbox.images.file(name)
        if found is None:
            self._json(404, {"ok": False, "error": "not_found"})
            return
        data, content_type = found
        self._send(200, data, {"Content-Type": content_type, "Cache-Control": "max-age=3600",
                               "Content-Security-Policy": "default-src 'none'; style-src "
                               "'unsafe-inline'", "X-Content-Type-Options": "nosniff"})
    def _file(self, file_id: str) -> None:
        """An uploaded file (the chart of /news report), as Slack shows an upload."""
        stored = self.server.sandbox.slack.uploads.get(file_id)
        if stored is None or stored.data is None:
            self._json(404, {"ok": False, "error": "file_not_found"})
            return
        self._send(200, stored.data, {"Content-Type": stored.mimetype,
                                      "Cache-Control": "no-store",
                                      "X-Content-Type-Options": "nosniff"})

    def _state(self, since: str, user: str | None) -> None:
        sandbox = self.server.sandbox
        if since.isdigit():
            sandbox.wait_for_change(int(since), LONG_POLL_SECONDS)
        self._act(lambda s, _: s.state(user), {})

    def _act(self, action: Any, body: dict[str, Any]) -> None:
        try:
            result = action(self.server.sandbox, body)
        except ActionRefused as refused:
            self._json(refused.status, {"ok": False, "error": refused.error})
            return
        except Exception:  # one failed action must not take the page down
            log.exception("sandbox action failed", extra={"path": self.path})
            self._json(500, {"ok": False, "error": "internal_error: see the terminal"})
            return
        self._json(200, {"ok": True, **(result or {})})

    def _host_allowed(self) -> bool:
        if self.headers.get("Host", "") not in self.server.allowed_hosts:
            self._json(421, {"ok": False, "error": "unknown_host"})
            return False
        return True

    def _json_body(self) -> dict[str, Any] | None:
        origin = self.headers.get("Origin")
        if origin is not None and origin.removeprefix("http://") not in self.server.allowed_hosts:
            self._json(403, {"ok": False, "error": "foreign_origin"})
            return None
        if self.headers.get_content_type() != "application/json":
            self._json(415, {"ok": False, "error": "json_body_required"})
            return None
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._json(413, {"ok": False, "error": "too_large"})
            return None
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            self._json(400, {"ok": False, "error": "invalid_json"})
            return None
        return body

    def _json(self, status: int, document: dict[str, Any]) -> None:
        data = json.dumps(document, ensure_ascii=False).encode("utf-8")
        self._send(status, data, {"Content-Type": "application/json; charset=utf-8",
                                  "Cache-Control": "no-store"})

    def _send(self, status: int, data: bytes, headers: dict[str, str]) -> None:
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the browser left (tab closed)
            self.close_connection = True


@functools.cache  # the bundled folder never changes while the sandbox runs
def _emoji_files() -> set[str]:
    """The bundled emoji file names: only these are served (no path from the request)."""
    folder = resources.files("newsbot.sandbox") / "static" / "emoji"
    return {entry.name for entry in folder.iterdir() if entry.name.endswith(".svg")}


def _text(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise ActionRefused(f"{key}_required")
    return value


def _user(body: dict[str, Any]) -> str | None:
    """The member an action is done as (None: the sandbox's own user)."""
    value = body.get("user")
    if value is not None and not isinstance(value, str):
        raise ActionRefused("user_invalid")
    return value or None


def _mapping(body: dict[str, Any], key: str) -> dict[str, Any]:
    value = body.get(key)
    if not isinstance(value, dict):
        raise ActionRefused(f"{key}_required")
    return value
