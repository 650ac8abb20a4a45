"""Signed but odd bodies are answered 400, never 500 (which Slack would redeliver three
times) nor 404, and nothing is recorded."""

from __future__ import annotations

import json

import pytest
from conftest import Newsroom

ODD = {
    "event is text": {"type": "event_callback", "event": "x", "event_id": "Ev1"},
    "event is empty": {"type": "event_callback", "event": {}, "event_id": "Ev2"},
    "event is a list": {"type": "event_callback", "event": [], "event_id": "Ev3"},
    "event type is not text": {"type": "event_callback", "event": {"type": 7}},
}


@pytest.mark.parametrize("name", sorted(ODD))
def test_an_odd_signed_event_is_a_400(newsroom: Newsroom, name: str):
    answer = newsroom.client.post(json.dumps(ODD[name]), "application/json")
    assert answer.status == 400, name
    assert newsroom.log_rows() == []


def test_a_body_nested_past_the_parser_is_a_400(newsroom: Newsroom):
    deep = '{"type": "event_callback", "event": ' + "[" * 50_000 + "]" * 50_000 + "}"
    answer = newsroom.client.post(deep, "application/json")
    assert answer.status == 400
    assert newsroom.client.url_verification().status == 200  # and the app still answers
