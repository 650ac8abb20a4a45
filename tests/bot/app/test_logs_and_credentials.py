"""Structured logs never carry secrets; credentials are checked with messages that name them."""

import io
import json
import logging

import pytest
from newsbot.bot.app.logs import JsonLines
from newsbot.bot.config.settings import ConfigError
from newsbot.bot.config.slack_credentials import credentials_from_env


def test_log_lines_are_json_with_extra_fields_and_redacted_secrets():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLines(secrets=["s3cr3t-signing"]))
    logger = logging.getLogger("test.redaction")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        logger.info("token xoxb-123-456-abc and s3cr3t-signing", extra={"event_id": "Ev1",
                                                                         "app": "xapp-1-A-2"})
    finally:
        logger.removeHandler(handler)
    line = stream.getvalue()
    assert line.count("\n") == 1
    record = json.loads(line)
    assert record["event_id"] == "Ev1" and record["level"] == "info"
    assert "xoxb-123" not in line and "s3cr3t-signing" not in line and "xapp-1-A" not in line
    assert "xoxb-[redacted]" in record["msg"]


@pytest.mark.parametrize(
    ("env", "mode", "named"),
    [
        ({}, "socket", ["SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"]),
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, "http", ["SLACK_SIGNING_SECRET"]),
        ({"SLACK_BOT_TOKEN": "xoxp-user", "SLACK_SIGNING_SECRET": "s"}, "http",
         ["SLACK_BOT_TOKEN"]),
        ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xoxb-2"}, "socket",
         ["SLACK_APP_TOKEN"]),
        ({}, "post", ["SLACK_BOT_TOKEN"]),
    ],
)
def test_missing_or_malformed_credentials_are_named(env, mode, named):
    with pytest.raises(ConfigError) as caught:
        credentials_from_env(env, mode)
    for name in named:
        assert name in str(caught.value)
    assert "xoxb-1" not in str(caught.value)


def test_good_credentials_and_api_url_gets_a_trailing_slash():
    env = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "abc",
           "SLACK_API_URL": "http://127.0.0.1:9/api"}
    credentials = credentials_from_env(env, "http")
    assert credentials.api_url == "http://127.0.0.1:9/api/"
    assert credentials.signing_secret == "abc"
