"""The HTTP server's framing, spoken over raw sockets: every request gets exactly one answer,
an unread body is never parsed as another request, and a silent client cannot hold a
thread forever."""

from __future__ import annotations

import logging
import re
import socket

import pytest

from bot.app import health
from handlers.http_server import MAX_BODY, SlackHTTPServer
from tests.conftest import Newsroom, start_newsroom

SMUGGLED = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.fixture(scope="module")
def newsroom(tmp_path_factory: pytest.TempPathFactory) -> Newsroom:
    """One served app for the whole module: these requests never reach a listener."""
    with pytest.MonkeyPatch.context() as patch:
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
            patch.delenv(name, raising=False)  # as the no_proxy fixture, for a whole module
        with start_newsroom(tmp_path_factory.mktemp("http")) as started:
            yield started


def exchange(server: SlackHTTPServer, data: bytes, patience: float = 10.0) -> bytes:
    """Send raw bytes; everything the server answers until it closes the connection.

    `patience` only bounds a failing test (a server that keeps the connection open)."""
    connection = socket.create_connection(server.server_address[:2], timeout=patience)
    with connection:
        connection.sendall(data)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    return received


def statuses(answer: bytes) -> list[int]:
    """The status of each response (a response may follow the previous body directly)."""
    return [int(code) for code in re.findall(rb"HTTP/1\.[01] (\d{3}) ", answer)]


def post(path: str, headers: str, body: bytes) -> bytes:
    return f"POST {path} HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode() + body


def test_the_body_of_a_post_to_an_unknown_path_is_not_served_as_a_second_request(
        newsroom: Newsroom):
    answer = exchange(newsroom.server,
                      post("/other", f"Content-Length: {len(SMUGGLED)}\r\n", SMUGGLED))
    assert statuses(answer) == [404]
    assert b"Connection: close" in answer


def test_an_oversized_body_gets_413_and_the_connection_closes(newsroom: Newsroom):
    body = b"x" * (MAX_BODY + 1)
    answer = exchange(newsroom.server, post("/slack/events", f"Content-Length: {len(body)}\r\n",
                                            body[:1000] + SMUGGLED))
    assert statuses(answer) == [413]


@pytest.mark.parametrize("value", ["-1", "abc", "+5", "1e3", "٣", "5, 6"])
def test_a_malformed_content_length_gets_400_without_a_traceback(
        newsroom: Newsroom, capfd: pytest.CaptureFixture, value: str):
    answer = exchange(newsroom.server,
                      post("/slack/events", f"Content-Length: {value}\r\n", b"{}" + SMUGGLED))
    assert statuses(answer) == [400]
    assert b"invalid_content_length" in answer
    assert "Traceback" not in capfd.readouterr().err


def test_two_different_content_lengths_get_400(newsroom: Newsroom):
    answer = exchange(newsroom.server, post(
        "/slack/events", "Content-Length: 2\r\nContent-Length: 40\r\n", b"{}" + SMUGGLED))
    assert statuses(answer) == [400]


def test_a_post_without_content_length_gets_411(newsroom: Newsroom):
    answer = exchange(newsroom.server, post("/slack/events", "", SMUGGLED))
    assert statuses(answer) == [411]


def test_a_chunked_body_is_refused_and_never_parsed(newsroom: Newsroom):
    chunk = b"%x\r\n%s\r\n0\r\n\r\n" % (len(SMUGGLED), SMUGGLED)
    answer = exchange(newsroom.server, post(
        "/slack/events", "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n", chunk))
    assert statuses(answer) == [411]


def test_a_body_shorter_than_announced_gets_400(newsroom: Newsroom):
    connection = socket.create_connection(newsroom.server.server_address[:2], timeout=10)
    with connection:
        connection.sendall(post("/slack/events", "Content-Length: 100\r\n", b"{}"))
        connection.shutdown(socket.SHUT_WR)  # the client gives up half way
        answer = connection.makefile("rb").read()
    assert statuses(answer) == [400]


def test_well_formed_requests_still_share_a_connection(newsroom: Newsroom):
    two_gets = SMUGGLED + b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    assert statuses(exchange(newsroom.server, two_gets)) == [200, 200]


def test_a_client_that_stops_mid_request_is_disconnected(newsroom: Newsroom):
    impatient = SlackHTTPServer(newsroom.server.app, "127.0.0.1", 0,
                                health=lambda: health(newsroom.store), request_timeout=0.2)
    thread = impatient.start_in_thread(poll_interval=0.05)
    try:
        connection = socket.create_connection(impatient.server_address[:2], timeout=10)
        with connection:
            connection.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\n")  # never ends
            assert connection.recv(100) == b"", "the server still holds the connection"
    finally:
        impatient.shutdown()
        impatient.server_close()
        thread.join()


def test_errors_escaping_a_handler_are_one_log_line(
        newsroom: Newsroom, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture):
    with caplog.at_level(logging.INFO, logger="handlers.http_server"):
        for error in (ConnectionResetError(104, "Connection reset by peer"),
                      RuntimeError("a bug")):
            try:
                raise error
            except Exception:
                newsroom.server.handle_error(None, ("127.0.0.1", 40000))
    dropped, failed = caplog.records
    assert (dropped.levelname, dropped.getMessage()) == ("INFO", "http connection dropped")
    assert (failed.levelname, failed.getMessage()) == ("ERROR", "http request failed")
    assert failed.exc_info[1].args == ("a bug",)
    assert "Traceback" not in capsys.readouterr().err
