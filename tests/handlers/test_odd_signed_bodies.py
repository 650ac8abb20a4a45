"""Signed but meaningless bodies are answered 200 with nothing done and a debug log line:
never 500 or 400 (which Slack would redeliver three times) nor 404."""

from __future__ import annotations

import json
import logging

import pytest
from conftest import Newsroom

ODD = {
    "event is text": {"type": "event_callback", "event": "x", "event_id": "Ev1"},
    "event is empty": {"type": "event_callback", "event": {}, "event_id": "Ev2"},
    "event is a list": {"type": "event_callback", "event": [], "event_id": "Ev3"},
    "event type is not text": {"type": "event_callback", "event": {"type": 7}},
}


def ignored(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.reason for r in caplog.records
            if r.getMessage() == "signed request ignored" and r.levelno == logging.DEBUG]


@pytest.mark.parametrize("name", sorted(ODD))
def test_an_odd_signed_event_is_a_200_with_nothing_done(
        newsroom: Newsroom, caplog: pytest.LogCaptureFixture, name: str):
    with caplog.at_level(logging.DEBUG, logger="newsbot.bot.app.web_server"):
        answer = newsroom.client.post(json.dumps(ODD[name]), "application/json")
    assert answer.status == 200, name
    assert ignored(caplog) == ["an event callback without an event type"]
    assert newsroom.log_rows() == []


def test_a_body_nested_past_the_parser_is_a_200_with_nothing_done(
        newsroom: Newsroom, caplog: pytest.LogCaptureFixture):
    deep = '{"type": "event_callback", "event": ' + "[" * 50_000 + "]" * 50_000 + "}"
    with caplog.at_level(logging.DEBUG, logger="newsbot.bot.app.web_server"):
        answer = newsroom.client.post(deep, "application/json")
    assert answer.status == 200
    assert ignored(caplog) == ["not JSON or a form Bolt reads"]
    assert newsroom.log_rows() == []
    assert newsroom.client.url_verification().status == 200  # and the app still answers
