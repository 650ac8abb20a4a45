"""`newsbot serve`: the runtime behind Slack's real front door, until SIGTERM or Ctrl-C."""

from __future__ import annotations

import logging
import signal
import threading
import time

from newsbot.bot.app.runtime import Runtime
from newsbot.bot.app.slack_client import web_client
from newsbot.bot.app.web_server import EVENTS_PATH, WebServer
from newsbot.bot.config.settings import Config
from newsbot.bot.config.slack_credentials import SlackCredentials

log = logging.getLogger(__name__)


def serve(
    config: Config, credentials: SlackCredentials, http: bool, host: str = "127.0.0.1",
    port: int = 3000, metrics_port: int | None = None,
) -> None:
    """Run the bot until SIGTERM or Ctrl-C: Socket Mode, or HTTP on host:port.

    Beside the Slack listeners one scheduler runs the digest schedules, the periodic
    index refresh, the spool apply and, when configured, the periodic sync (all of it
    bot/app/runtime.py). `/healthz` and `/metrics` are served on the HTTP port, or in
    Socket Mode on `metrics_port` when given. Stopping is the runtime's ordered stop.
    """
    secret = credentials.signing_secret if http else None
    runtime = Runtime(config, web_client(credentials.bot_token, credentials.api_url), secret)
    try:
        runtime.start()
        if http:
            server = runtime.open_http(host, port)
        else:
            server = (runtime.open_http(host, metrics_port, slack_events=False)
                      if metrics_port is not None else None)
            log.info("connecting in Socket Mode")
            runtime.connect_socket_mode(credentials.app_token or "")
        runtime.start_jobs()
    except BaseException:
        runtime.stop()
        raise
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
        runtime.stop()
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
