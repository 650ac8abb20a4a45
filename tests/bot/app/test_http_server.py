"""The production HTTP server (waitress + Bolt's WSGI adapter), spoken to over raw sockets:
framing, limits, slow clients, and bodies refused before anything parses them."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import resource
import socket
import time

import pytest
from conftest import SECRET, Newsroom, start_newsroom
from newsbot.bot.app.startup import listen
from newsbot.bot.app.web_server import MAX_BODY, Routes, WebServer
from newsbot.bot.services.health import Health

SMUGGLED = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.fixture(scope="module")
def newsroom(tmp_path_factory: pytest.TempPathFactory) -> Newsroom:
    """One served app for the whole module: these requests never reach a listener."""
    with pytest.MonkeyPatch.context() as patch:
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
            patch.delenv(name, raising=False)  # as the no_proxy fixture, for a whole module
        with start_newsroom(tmp_path_factory.mktemp("http")) as started:
            yield started


def exchange(server: WebServer, data: bytes, patience: float = 10.0,
             half_close: bool = False) -> bytes:
    """Send raw bytes; everything the server answers until it closes the connection.

    `patience` only bounds a failing test (a server that keeps the connection open)."""
    connection = socket.create_connection(server.server_address, timeout=patience)
    with connection:
        connection.sendall(data)
        if half_close:
            connection.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    return received


def statuses(answer: bytes) -> list[int]:
    """The status of each response (a response may follow the previous body directly)."""
    return [int(code) for code in re.findall(rb"HTTP/1\.[01] (\d{3}) ", answer)]


def post(path: str, headers: str, body: bytes) -> bytes:
    return f"POST {path} HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode() + body


def signed(body: bytes, content_type: str = "application/json",
           secret: str = SECRET) -> bytes:
    """A POST to /slack/events signed as Slack signs, closing the connection after."""
    timestamp = str(int(time.time()))
    digest = hmac.new(secret.encode(), b"v0:%s:%s" % (timestamp.encode(), body), hashlib.sha256)
    signature = f"v0={digest.hexdigest()}"  # on the bytes: some of these are not UTF-8
    return post("/slack/events", f"Content-Type: {content_type}\r\nContent-Length: {len(body)}"
                f"\r\nX-Slack-Request-Timestamp: {timestamp}\r\nX-Slack-Signature: {signature}"
                "\r\nConnection: close\r\n", body)


def test_the_server_listens_with_a_backlog_for_slack_bursts(newsroom: Newsroom):
    assert newsroom.server.backlog >= 128


def test_the_body_of_a_post_to_an_unknown_path_is_not_served_as_a_second_request(
        newsroom: Newsroom):
    answer = exchange(newsroom.server, post(
        "/other", f"Content-Length: {len(SMUGGLED)}\r\nConnection: close\r\n", SMUGGLED))
    assert statuses(answer) == [404]


def test_an_oversized_body_gets_413_and_is_never_parsed(newsroom: Newsroom):
    body = b"x" * (MAX_BODY + 1)
    answer = exchange(newsroom.server, post("/slack/events", f"Content-Length: {len(body)}\r\n",
                                            body[:1000] + SMUGGLED))
    assert statuses(answer) == [413]


@pytest.mark.parametrize("value", ["-1", "abc", "+5", "1e3", "5, 6"])
def test_a_malformed_content_length_gets_400_without_a_traceback(
        newsroom: Newsroom, capfd: pytest.CaptureFixture, value: str):
    answer = exchange(newsroom.server,
                      post("/slack/events", f"Content-Length: {value}\r\n", b"{}" + SMUGGLED))
    assert statuses(answer) == [400]
    assert "Traceback" not in capfd.readouterr().err


def test_a_chunked_body_is_read_as_one_body_never_as_a_request(newsroom: Newsroom):
    chunk = b"%x\r\n%s\r\n0\r\n\r\n" % (len(SMUGGLED), SMUGGLED)
    answer = exchange(newsroom.server, post(
        "/slack/events", "Transfer-Encoding: chunked\r\nConnection: close\r\n", chunk))
    assert statuses(answer) == [401]  # the body, unsigned: the smuggled GET never ran


def test_a_body_shorter_than_announced_is_never_dispatched(newsroom: Newsroom):
    rows = len(newsroom.log_rows())
    answer = exchange(newsroom.server, post("/slack/events", "Content-Length: 100\r\n", b"{}"),
                      half_close=True)  # the client gives up half way
    assert 200 not in statuses(answer)
    assert len(newsroom.log_rows()) == rows


def test_well_formed_requests_still_share_a_connection(newsroom: Newsroom):
    two_gets = SMUGGLED + b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    assert statuses(exchange(newsroom.server, two_gets)) == [200, 200]


def test_a_client_that_stops_mid_request_is_disconnected(newsroom: Newsroom):
    impatient = WebServer(Routes(Health(newsroom.store)), "127.0.0.1", 0, request_timeout=1)
    impatient.start_in_thread()
    try:
        connection = socket.create_connection(impatient.server_address, timeout=20)
        with connection:
            connection.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\n")  # never ends
            assert connection.recv(100) == b"", "the server still holds the connection"
    finally:
        impatient.stop()


def slow_client(server: WebServer, source: str) -> socket.socket:
    """A slowloris from `source` (any 127.x address is this machine): a request begun,
    never finished."""
    connection = socket.create_connection(server.server_address, timeout=20,
                                          source_address=(source, 0))
    connection.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\n")
    return connection


def test_a_request_trickled_a_line_at_a_time_is_cut_at_the_bound(newsroom: Newsroom):
    """channel_timeout counts silence only: this client is never silent for long."""
    bounded = WebServer(Routes(Health(newsroom.store)), "127.0.0.1", 0, request_seconds=1)
    bounded.start_in_thread()
    try:
        connection = slow_client(bounded, "127.0.0.1")
        with connection:
            connection.settimeout(0.2)
            answer, lines = b"", 0
            while not answer and lines < 100:  # 100 lines: 20 s, far past the bound
                try:
                    connection.sendall(b"X-Trickle: %d\r\n" % lines)
                    lines += 1
                    answer = connection.recv(200)
                except TimeoutError:
                    continue
                except (BrokenPipeError, ConnectionResetError):
                    break
            assert statuses(answer) == [408] and lines < 100, (lines, answer)
    finally:
        bounded.stop()


def test_connections_from_one_address_are_capped(newsroom: Newsroom):
    capped = WebServer(Routes(Health(newsroom.store)), "127.0.0.1", 0, per_address=3)
    capped.start_in_thread()
    held = [slow_client(capped, "127.0.0.2") for _ in range(3)]
    try:
        extra = socket.create_connection(capped.server_address, timeout=20,
                                         source_address=("127.0.0.2", 0))
        with extra:
            assert extra.recv(100) == b"", "a fourth connection from one address was kept"
        other = exchange(capped, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert statuses(other) == [200]  # from another address: served
    finally:
        for connection in held:
            connection.close()
        capped.stop()


def test_healthz_answers_while_600_slow_connections_are_open(newsroom: Newsroom):
    """The probe's lock-out: 520 slow connections held every slot. 600 here, 50 from each
    of 12 addresses (under the per-address cap), and /healthz still answers."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 2048:  # both ends of 600 connections live in this process
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, hard), hard))
    server = WebServer(Routes(Health(newsroom.store)), "127.0.0.1", 0)
    server.start_in_thread()
    slow = []
    try:
        for address in range(2, 14):
            slow += [slow_client(server, f"127.0.0.{address}") for _ in range(50)]
        answer = exchange(server, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                          patience=10)
        assert statuses(answer) == [200]
    finally:
        for connection in slow:
            connection.close()
        server.stop()


# --- bodies refused before Bolt parses them (Bolt's request parsing raises on these)

MALFORMED = [
    (b"[1,2]", "application/json"),
    (b'"x"', "application/json"),
    (b"payload=1", "application/x-www-form-urlencoded"),
    (b"payload=%5B1%5D", "application/x-www-form-urlencoded"),
    (b"{not json", "application/json"),
    (b"\xff\xfe{}", "application/json"),
]


@pytest.mark.parametrize(("body", "content_type"), MALFORMED)
def test_a_signed_body_bolt_cannot_read_gets_200_with_nothing_done_and_no_traceback(
        newsroom: Newsroom, caplog: pytest.LogCaptureFixture, body: bytes, content_type: str):
    """Slack signed it: a non-2xx would only bring it back three times."""
    with caplog.at_level(logging.DEBUG):
        answer = exchange(newsroom.server, signed(body, content_type))
    assert statuses(answer) == [200]
    assert answer.split(b"\r\n\r\n", 1)[1] == b""
    assert [r.getMessage() for r in caplog.records
            if r.levelno == logging.DEBUG and r.name.endswith("web_server")] == [
        "signed request ignored"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


@pytest.mark.parametrize(("body", "content_type"), MALFORMED)
def test_an_unsigned_or_wrongly_signed_body_gets_401_before_any_parsing(
        newsroom: Newsroom, caplog: pytest.LogCaptureFixture, body: bytes, content_type: str):
    with caplog.at_level(logging.INFO):
        wrong = exchange(newsroom.server, signed(body, content_type, secret="not-the-secret"))
        unsigned = exchange(newsroom.server, post(
            "/slack/events", f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
            "X-Slack-Request-Timestamp: soon\r\nConnection: close\r\n", body))
    assert statuses(wrong) == [401]  # the signature is checked over the bytes, text or not
    assert statuses(unsigned) == [401]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


def test_a_signed_event_still_reaches_bolt(newsroom: Newsroom):
    body = json.dumps({"type": "url_verification", "challenge": "c-123"}).encode()
    answer = exchange(newsroom.server, signed(body))
    assert statuses(answer) == [200] and b"c-123" in answer


def test_metrics_are_served_in_prometheus_text_format(newsroom: Newsroom):
    answer = exchange(newsroom.server, b"GET /metrics HTTP/1.1\r\nHost: x\r\n"
                                       b"Connection: close\r\n\r\n")
    assert statuses(answer) == [200]
    assert b"# TYPE newsbot_events_received_total counter" in answer
    assert b"newsbot_index_refresh_age_seconds" in answer


def test_the_socket_mode_server_has_health_and_metrics_but_no_slack_route(newsroom: Newsroom):
    metrics_only = WebServer(Routes(Health(newsroom.store)), "127.0.0.1", 0)
    metrics_only.start_in_thread()
    try:
        get = b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        assert statuses(exchange(metrics_only, get % b"/healthz")) == [200]
        assert statuses(exchange(metrics_only, get % b"/metrics")) == [200]
        body = json.dumps({"type": "url_verification", "challenge": "c"}).encode()
        assert statuses(exchange(metrics_only, signed(body))) == [404]
    finally:
        metrics_only.stop()


def test_stop_while_the_loop_is_closing_does_not_raise(tmp_path):
    """The loop closes its wake-up trigger just before it says it has stopped: a stop()
    in between found the trigger's descriptor closed (EBADF, seen in a test teardown)."""
    with start_newsroom(tmp_path) as newsroom:
        runtime = newsroom.runtime
        server = listen(Routes(runtime.health, None), "127.0.0.1", 0, runtime.config)
        server._server.trigger.close()  # the moment: trigger closed, not yet stopped
        server.stop(timeout=0.1)
        server.close()
