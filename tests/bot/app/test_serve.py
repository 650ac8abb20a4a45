"""`newsbot serve --http` and `newsbot digest --post` as real processes against the look-alike."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import EXAMPLES, clean_env, run_cli
from newsbot.sandbox import SignedSlackClient, SlackLookalike
from slack_sdk.signature import SignatureVerifier

SECRET = "serve-test-secret"


@pytest.fixture
def slack():
    with SlackLookalike() as lookalike:
        yield lookalike


def slack_env(slack: SlackLookalike, tmp_path: Path, **extra: str) -> dict[str, str]:
    articles = tmp_path / "articles"
    if not articles.exists():
        shutil.copytree(EXAMPLES, articles)
    env = {"SLACK_BOT_TOKEN": slack.bot_token, "SLACK_API_URL": slack.base_url,
           "NEWSBOT_ARTICLES": str(articles), "NEWSBOT_DB": str(tmp_path / "newsbot.db")}
    env.update(extra)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        env[name] = ""
    return env


def test_serve_http_answers_signed_requests_and_stops_cleanly(slack, tmp_path: Path):
    config = tmp_path / "newsbot.yaml"
    config.write_text('schedules:\n  - channel: C0NEWSDESK\n    cron: "0 9 * * 1-5"\n'
                      "    tz: Europe/London\n"
                      '  - channel: C0ELSEWHERE\n    cron: "0 10 * * *"\n', encoding="utf-8")
    slack.workspace.add_channel("elsewhere", "C0ELSEWHERE", bot_is_member=False)
    env = clean_env(slack_env(slack, tmp_path, SLACK_SIGNING_SECRET=SECRET))
    process = subprocess.Popen(
        [sys.executable, "-m", "newsbot.bot", "serve", "--http", "--host", "127.0.0.1", "--port",
         "0", "--config", str(config)],
        cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True,
    )
    lines = []
    try:
        url = None
        deadline = time.monotonic() + 30
        while url is None and time.monotonic() < deadline:
            line = process.stderr.readline()
            if not line:
                break
            lines.append(line)
            record = json.loads(line)
            if record["msg"] == "serving HTTP":
                url = record["url"]
        assert url, "".join(lines)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"{url}/healthz") as response:
            assert json.loads(response.read()) == {"ok": True, "articles": 39,
                                                  "index": {"follows": "file events"}}
        client = SignedSlackClient(f"{url}/slack/events", SECRET,
                                   response_url_factory=slack.new_response_url)
        assert client.slash_command("/news", "schedule list", user_id="U0EDITOR",
                                    channel_id="C0NEWSDESK").status == 200
        slack.wait_until(lambda: slack.response_posts(), timeout=10)
        listing = json.dumps(slack.response_posts()[0].payload)
        assert "0 9 * * 1-5" in listing  # the config file's schedule was applied at start
    finally:
        process.send_signal(signal.SIGTERM)
        _, rest = process.communicate(timeout=15)
        lines.append(rest)
    log = "".join(lines)
    assert process.returncode == 0, log
    assert slack.bot_token not in log and SECRET not in log
    records = [json.loads(line) for line in filter(None, log.splitlines())]  # all JSON
    warned = [r for r in records if r["msg"] == "a schedule cannot post in its channel"]
    assert [r["channel"] for r in warned] == ["C0ELSEWHERE"]  # C0NEWSDESK has newsbot in it
    assert "/invite @newsbot" in warned[0]["problem"]


def test_serve_without_a_signing_secret_in_http_mode_names_it(tmp_path: Path, slack):
    result = run_cli("serve", "--http", cwd=tmp_path, env=slack_env(slack, tmp_path))
    assert result.code == 2
    assert "SLACK_SIGNING_SECRET" in result.stderr and "Traceback" not in result.stderr


def test_digest_post_from_the_command_line_and_resume(slack, tmp_path: Path):
    env = slack_env(slack, tmp_path)
    result = run_cli("digest", "--post", "--channel", "<#C0NEWSDESK|newsdesk>", "--top", "3",
                     "--json", cwd=tmp_path, env=env)
    assert result.code == 0, result.stderr
    document = result.json
    assert document["channel"] == "C0NEWSDESK" and len(document["articles"]) == 3
    assert all(a["ts"] for a in document["articles"])
    assert len(slack.calls("chat.postMessage")) == 4
    again = run_cli("digest", "--post", "--channel", "C0NEWSDESK", "--top", "3", "--json",
                    cwd=tmp_path, env=env)
    assert {a["id"] for a in again.json["articles"]}.isdisjoint(
        {a["id"] for a in document["articles"]})


def test_digest_post_reports_a_slack_failure_and_the_rerun_posts_only_what_is_missing(
        slack, tmp_path: Path):
    env = slack_env(slack, tmp_path)
    slack.fail_next("chat.postMessage", error="channel_not_found")
    failed = run_cli("digest", "--post", "--channel", "C0NEWSDESK", "--top", "2", cwd=tmp_path,
                     env=env)
    assert failed.code == 2 and "channel_not_found" in failed.stderr
    assert "check the channel id" in failed.stderr and "/invite @newsbot" in failed.stderr
    rerun = run_cli("digest", "--post", "--channel", "C0NEWSDESK", "--top", "2", "--json",
                    cwd=tmp_path, env=env)
    assert rerun.code == 0, rerun.stderr
    assert [c.ok for c in slack.calls("chat.postMessage")] == [False, True, True, True]


def test_digest_post_rerun_after_an_unsettled_header_posts_it_once(slack, tmp_path: Path):
    env = slack_env(slack, tmp_path)
    slack.fail_next("chat.postMessage", status=500, stored=True)  # stored, answered 500
    slack.fail_next("conversations.history", error="internal_error")  # and no read back
    failed = run_cli("digest", "--post", "--channel", "C0NEWSDESK", "--top", "2", cwd=tmp_path,
                     env=env)
    assert failed.code == 2 and "run it again" in failed.stderr
    assert "ambiguous failure posting a digest message" in failed.stderr
    rerun = run_cli("digest", "--post", "--channel", "C0NEWSDESK", "--top", "2", "--json",
                    cwd=tmp_path, env=env)
    assert rerun.code == 0, rerun.stderr
    assert "ambiguous post resolved: found in Slack" in rerun.stderr
    assert [c.status for c in slack.calls("chat.postMessage")] == [500, 200, 200]
    headers = [m for m in slack.workspace.history("C0NEWSDESK")
               if m["metadata"]["event_type"] == "newsbot_digest"]
    assert len(headers) == 1 and rerun.json["articles"][0]["ts"]


# --- unusable credentials, an unreachable Web API, a taken port: one line, exit 2

WRONG_BOT_TOKEN = "xoxb-0000-not-a-real-token"
WRONG_APP_TOKEN = "xapp-1-not-a-real-token"


def closed_port() -> int:
    """A loopback port nothing listens on (connections to it are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def assert_one_line_naming(result_stderr: str, code: int, variable: str) -> None:
    assert code == 2, result_stderr
    assert "Traceback" not in result_stderr
    last = result_stderr.strip().splitlines()[-1]
    assert last.startswith("newsbot: error: ") and variable in last, last
    assert "not-a-real-token" not in result_stderr


def test_serve_with_a_refused_bot_token_names_it(slack, tmp_path: Path):
    env = slack_env(slack, tmp_path, SLACK_BOT_TOKEN=WRONG_BOT_TOKEN, SLACK_SIGNING_SECRET=SECRET)
    result = run_cli("serve", "--http", "--host", "127.0.0.1", "--port", "0", cwd=tmp_path,
                     env=env)
    assert_one_line_naming(result.stderr, result.code, "SLACK_BOT_TOKEN")
    assert "invalid_auth" in result.stderr


def test_serve_in_socket_mode_with_a_refused_app_token_names_it(slack, tmp_path: Path):
    env = slack_env(slack, tmp_path, SLACK_APP_TOKEN=WRONG_APP_TOKEN)
    result = run_cli("serve", cwd=tmp_path, env=env)
    assert_one_line_naming(result.stderr, result.code, "SLACK_APP_TOKEN")
    assert [c.method for c in slack.calls()][-1] == "apps.connections.open"


def test_serve_on_a_taken_port_names_the_port(slack, tmp_path: Path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = slack_env(slack, tmp_path, SLACK_SIGNING_SECRET=SECRET)
        result = run_cli("serve", "--http", "--host", "127.0.0.1", "--port", str(port),
                         cwd=tmp_path, env=env)
    assert_one_line_naming(result.stderr, result.code, f"127.0.0.1:{port}")
    assert "--port" in result.stderr


def test_digest_post_with_a_refused_bot_token_names_it(slack, tmp_path: Path):
    env = slack_env(slack, tmp_path, SLACK_BOT_TOKEN=WRONG_BOT_TOKEN)
    result = run_cli("digest", "--post", "--channel", "C0NEWSDESK", "--top", "2",
                     cwd=tmp_path, env=env)
    assert_one_line_naming(result.stderr, result.code, "SLACK_BOT_TOKEN")


def test_an_unreachable_web_api_is_named_by_serve_and_digest_post(slack, tmp_path: Path):
    nowhere = f"http://127.0.0.1:{closed_port()}/api/"
    env = clean_env(slack_env(slack, tmp_path, SLACK_API_URL=nowhere,
                              SLACK_SIGNING_SECRET=SECRET))
    commands = [["serve", "--http", "--host", "127.0.0.1", "--port", "0"],
                ["digest", "--post", "--channel", "C0NEWSDESK", "--top", "2"]]
    # slack_sdk retries a refused connection for about 5 s: both wait at the same time
    processes = [subprocess.Popen([sys.executable, "-m", "newsbot.bot", *args], cwd=tmp_path,
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True)
                 for args in commands]
    for process in processes:
        _, stderr = process.communicate(timeout=60)
        assert_one_line_naming(stderr, process.returncode, "SLACK_API_URL")
        assert nowhere in stderr
    rerun = run_cli("digest", "--post", "--channel", "C0NEWSDESK", "--top", "2", "--json",
                    cwd=tmp_path, env=slack_env(slack, tmp_path))
    assert rerun.code == 0, rerun.stderr  # as the message says: run it again
    assert len(rerun.json["articles"]) == 2


def test_the_periodic_refresh_keeps_the_index_when_the_folder_goes_away(tmp_path: Path):
    from newsbot.bot.config.settings import Config
    from newsbot.bot.services.refresh import IndexRefresher
    from newsbot.storage.db import Store

    articles = tmp_path / "articles"
    shutil.copytree(EXAMPLES, articles)
    config = Config(articles=articles, db=tmp_path / "newsbot.db")
    store = Store(config.db)
    refresh_index = IndexRefresher(store, config)
    assert refresh_index() is not None
    shutil.rmtree(articles)  # the share is unmounted
    assert refresh_index() is None
    assert store.db.execute("SELECT count(*) FROM articles").fetchone()[0] == 39


def test_serve_with_a_missing_articles_folder_says_so(tmp_path: Path, slack):
    env = slack_env(slack, tmp_path, SLACK_SIGNING_SECRET=SECRET,
                    NEWSBOT_ARTICLES=str(tmp_path / "nowhere"))
    result = run_cli("serve", "--http", "--port", "0", cwd=tmp_path, env=env)
    assert result.code == 2 and "nowhere" in result.stderr and "Traceback" not in result.stderr


# --- the production server as deployed: a real `newsbot serve --http` process


class Served:
    """A running `newsbot serve --http` on loopback, with a digest posted to react on."""

    def __init__(self, slack: SlackLookalike, tmp_path: Path) -> None:
        from newsbot.bot.app.slack_client import web_client
        from newsbot.bot.newsroom.digest import DigestOptions, plan_digest
        from newsbot.handlers.posting.digest_post import post_digest
        from newsbot.storage.db import Store
        from newsbot.storage.index import refresh

        env = clean_env(slack_env(slack, tmp_path, SLACK_SIGNING_SECRET=SECRET))
        self.store = Store(env["NEWSBOT_DB"])
        refresh(self.store, Path(env["NEWSBOT_ARTICLES"]))
        plan = post_digest(web_client(slack.bot_token, slack.base_url), self.store,
                           plan_digest(self.store, "C0NEWSDESK", DigestOptions(top=5)))
        self.targets = [m.ts for m in plan.messages if m.ts]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "newsbot.bot", "serve", "--http", "--host", "127.0.0.1",
             "--port", "0"], cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self.url = None
        while self.url is None:
            line = self.process.stderr.readline()
            assert line, "".join(self.lines)
            self.lines.append(line)
            record = json.loads(line)
            if record["msg"] == "serving HTTP":
                self.url = record["url"]
        self.client = SignedSlackClient(f"{self.url}/slack/events", SECRET,
                                        response_url_factory=slack.new_response_url)

    def react(self, n: int) -> int:
        """Editor n reacts on one of the digest's messages (event id EvTest{n})."""
        return self.client.reaction_added(
            user_id=f"U0ED{n:05d}", reaction="white_check_mark", channel_id="C0NEWSDESK",
            ts=self.targets[n % len(self.targets)], event_id=f"EvTest{n:05d}").status

    def recorded(self) -> set[str]:
        return {row[0] for row in self.store.db.execute("SELECT event_key FROM decision_log")}

    def metric(self, name: str) -> float:
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
                f"{self.url}/metrics") as response:
            text = response.read().decode()
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith(name) and not line.startswith("#"))

    def stop(self, signalled: bool = False) -> str:
        if not signalled:
            self.process.send_signal(signal.SIGTERM)
        _, rest = self.process.communicate(timeout=60)
        self.lines.append(rest)
        return "".join(self.lines)


def raw_signed_reaction(n: int, ts: str) -> bytes:
    body = json.dumps({"type": "event_callback", "team_id": "T0NEWSROOM",
                       "api_app_id": "A0NEWSBOT", "event_id": f"EvRaw{n:05d}",
                       "event_time": int(time.time()),
                       "event": {"type": "reaction_added", "user": f"U0RAW{n:05d}",
                                 "reaction": "x", "event_ts": f"{time.time():.6f}",
                                 "item": {"type": "message", "channel": "C0NEWSDESK",
                                          "ts": ts}}}).encode()
    timestamp = str(int(time.time()))
    signature = SignatureVerifier(SECRET).generate_signature(timestamp=timestamp, body=body)
    return (f"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nX-Slack-Request-Timestamp: {timestamp}\r\n"
            f"X-Slack-Signature: {signature}\r\nConnection: close\r\n\r\n").encode() + body


def test_the_production_server_records_signed_events_counts_them_and_takes_100_at_once(
        slack, tmp_path: Path):
    served = Served(slack, tmp_path)
    try:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"{served.url}/healthz") as response:
            assert json.loads(response.read()) == {"ok": True, "articles": 39,
                                                  "index": {"follows": "file events"}}
        received = served.metric('newsbot_events_received_total{kind="reaction_added"}')
        recorded = served.metric('newsbot_events_recorded_total{kind="reaction_added"}')
        assert [served.react(n) for n in range(5)] == [200] * 5
        assert served.react(0) == 200  # Slack's retry of the first: a duplicate
        slack.wait_until(lambda: len(served.recorded()) == 5, timeout=10)
        slack.wait_until(lambda: served.metric(
            'newsbot_events_duplicate_total{kind="reaction_added"}') == 1, timeout=10)
        assert served.metric('newsbot_events_received_total{kind="reaction_added"}') \
            == received + 6
        assert served.metric('newsbot_events_recorded_total{kind="reaction_added"}') \
            == recorded + 5
        assert served.metric('newsbot_slack_api_calls_total{method="auth.test",'
                             'outcome="ok"}') == 1

        # 100 connections open at once, then 100 signed events sent on them together
        host, port = served.url.removeprefix("http://").split(":")
        connections = [socket.create_connection((host, int(port)), timeout=30)
                       for _ in range(100)]
        requests = [raw_signed_reaction(n, served.targets[n % len(served.targets)])
                    for n in range(100)]
        for connection, request in zip(connections, requests, strict=True):
            connection.sendall(request)
        answers = []
        for connection in connections:
            with connection:
                answer = b""
                while chunk := connection.recv(65536):  # a reset raises here
                    answer += chunk
                answers.append(answer.split(b" ", 2)[1])
        assert answers == [b"200"] * 100
        slack.wait_until(lambda: len(served.recorded()) == 105, timeout=30)
    finally:
        log = served.stop()
    assert served.process.returncode == 0, log


def test_sigterm_during_a_burst_loses_no_accepted_event(slack, tmp_path: Path):
    served = Served(slack, tmp_path)
    answered: dict[int, int | str] = {}
    lock = threading.Lock()
    counter = iter(range(100_000))

    def sender() -> None:
        while True:
            with lock:
                n = next(counter)
            try:
                status = served.react(n)
            except OSError as error:  # refused or reset once the server stops accepting
                status = type(error).__name__
            with lock:
                answered[n] = status
            if status != 200:
                return

    threads = [threading.Thread(target=sender) for _ in range(8)]
    signalled = False
    try:
        for thread in threads:
            thread.start()
        slack.wait_until(lambda: len(answered) >= 60, timeout=30)
        served.process.send_signal(signal.SIGTERM)
        signalled = True
        for thread in threads:
            thread.join(60)
    finally:
        log = served.stop(signalled)
    assert served.process.returncode == 0, log
    accepted = {f"EvTest{n:05d}" for n, status in answered.items() if status == 200}
    assert len(accepted) >= 60
    assert accepted <= served.recorded(), accepted - served.recorded()
    assert '"msg": "stopped"' in log


def test_socket_mode_with_a_metrics_port_that_cannot_connect_frees_the_port(slack, tmp_path: Path):
    port = closed_port()
    env = slack_env(slack, tmp_path, SLACK_APP_TOKEN=WRONG_APP_TOKEN)
    result = run_cli("serve", "--metrics-port", str(port), cwd=tmp_path, env=env)
    assert_one_line_naming(result.stderr, result.code, "SLACK_APP_TOKEN")
    with socket.socket() as again:
        again.bind(("127.0.0.1", port))  # the metrics server did not keep it
    bad = run_cli("serve", cwd=tmp_path, env={**env, "NEWSBOT_METRICS_PORT": "http"})
    assert bad.code == 2 and "NEWSBOT_METRICS_PORT" in bad.stderr


# --- Socket Mode: /healthz and /metrics on --metrics-port, and an orderly SIGTERM


class SocketModeSlack:
    """Just enough of Slack for `serve` in Socket Mode: auth.test, apps.connections.open
    and a WebSocket that accepts the connection and answers pings (RFC 6455 framing)."""

    def __init__(self) -> None:
        import http.server

        owner = self
        self._listener = socket.create_server(("127.0.0.1", 0))
        ws_port = self._listener.getsockname()[1]

        class Api(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the standard library's name
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                method = self.path.rsplit("/", 1)[-1]
                answer = {"auth.test": {"ok": True, "user_id": "U0NEWSBOT", "bot_id": "B0BOT",
                                        "team_id": "T0NEWSROOM", "team": "Newsroom",
                                        "url": "https://newsroom.slack.com/"},
                          "apps.connections.open": {"ok": True,
                                                    "url": f"ws://127.0.0.1:{ws_port}/link"},
                          }.get(method, {"ok": False, "error": "unknown_method"})
                payload = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.api = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Api)
        self.base_url = f"http://127.0.0.1:{self.api.server_address[1]}/api/"
        threading.Thread(target=self.api.serve_forever, daemon=True).start()
        self._accepting = threading.Thread(target=owner._accept, daemon=True)
        self._accepting.start()

    def _accept(self) -> None:
        import base64
        import hashlib

        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            request = b""
            while b"\r\n\r\n" not in request:
                request += connection.recv(4096)
            key = re.search(rb"Sec-WebSocket-Key: *(\S+)", request, re.I).group(1)
            accept = base64.b64encode(hashlib.sha1(
                key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
            connection.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                               b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept +
                               b"\r\n\r\n")
            self._send(connection, 0x1, json.dumps({"type": "hello"}).encode())
            threading.Thread(target=self._talk, args=(connection,), daemon=True).start()

    def _talk(self, connection: socket.socket) -> None:
        with connection:
            while True:
                try:
                    opcode, data = self._read(connection)
                except OSError:
                    return
                if opcode == 0x9:  # ping: pong with the same data
                    self._send(connection, 0xA, data)
                elif opcode == 0x8:  # close
                    self._send(connection, 0x8, data[:2])
                    return

    @staticmethod
    def _read(connection: socket.socket) -> tuple[int, bytes]:
        def exactly(n: int) -> bytes:
            data = b""
            while len(data) < n:
                chunk = connection.recv(n - len(data))
                if not chunk:
                    raise ConnectionResetError
                data += chunk
            return data

        first, second = exactly(2)
        length = second & 0x7F
        if length == 126:
            length = int.from_bytes(exactly(2), "big")
        elif length == 127:
            length = int.from_bytes(exactly(8), "big")
        mask = exactly(4) if second & 0x80 else b"\0\0\0\0"
        data = bytes(b ^ mask[i % 4] for i, b in enumerate(exactly(length)))
        return first & 0x0F, data

    @staticmethod
    def _send(connection: socket.socket, opcode: int, data: bytes) -> None:
        header = bytes([0x80 | opcode, len(data)]) if len(data) < 126 else \
            bytes([0x80 | opcode, 126]) + len(data).to_bytes(2, "big")
        connection.sendall(header + data)

    def stop(self) -> None:
        """Leaves no thread behind: closing a listening socket does not wake an accept()
        blocked on it (Linux), shutting it down does."""
        self.api.shutdown()
        self.api.server_close()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self._accepting.join(timeout=5)
        assert not self._accepting.is_alive()


def test_socket_mode_serves_health_and_metrics_on_the_metrics_port_and_stops_in_order(
        tmp_path: Path):
    fake = SocketModeSlack()
    articles = tmp_path / "articles"
    shutil.copytree(EXAMPLES, articles)
    env = clean_env({"SLACK_BOT_TOKEN": "xoxb-socket-test", "SLACK_APP_TOKEN": "xapp-1-test",
                     "SLACK_API_URL": fake.base_url, "NEWSBOT_ARTICLES": str(articles),
                     "NEWSBOT_DB": str(tmp_path / "newsbot.db"), "HTTP_PROXY": "",
                     "HTTPS_PROXY": "", "http_proxy": "", "https_proxy": ""})
    process = subprocess.Popen(
        [sys.executable, "-m", "newsbot.bot", "serve", "--host", "127.0.0.1", "--metrics-port",
         "0"],
        cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)
    lines, url, connected = [], None, False
    try:
        while not (url and connected):
            line = process.stderr.readline()
            assert line, "".join(lines)
            lines.append(line)
            record = json.loads(line)
            url = record.get("url", url) if record["msg"] == "serving /healthz and /metrics" \
                else url
            connected = connected or record["msg"] == "connected in Socket Mode"
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"{url}/healthz") as response:
            assert json.loads(response.read()) == {"ok": True, "articles": 39,
                                                  "index": {"follows": "file events"}}
        with opener.open(f"{url}/metrics") as response:
            metrics = response.read().decode()
        assert ('newsbot_slack_api_calls_total{method="apps.connections.open",outcome="ok"} 1.0'
                in metrics)
        with pytest.raises(urllib.error.HTTPError) as no_route:
            opener.open(urllib.request.Request(f"{url}/slack/events", data=b"{}"))
        assert no_route.value.code == 404  # events arrive over the WebSocket, not here
    finally:
        process.send_signal(signal.SIGTERM)
        _, rest = process.communicate(timeout=60)
        lines.append(rest)
        fake.stop()
    log = "".join(lines)
    assert process.returncode == 0, log
    assert '"msg": "stopped"' in log
