"""What /metrics counts, read from prometheus-client's registry after real calls."""

from __future__ import annotations

import pytest
from newsbot.bot.app.slack_client import web_client
from newsbot.sandbox import SlackLookalike
from prometheus_client import REGISTRY
from slack_sdk.errors import SlackApiError


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def slack():
    with SlackLookalike() as lookalike:
        yield lookalike


def test_web_api_calls_are_counted_by_method_and_outcome_429s_included(slack):
    client = web_client(slack.bot_token, slack.base_url)
    ok = value("newsbot_slack_api_calls_total", method="chat.postMessage", outcome="ok")
    limited = value("newsbot_slack_api_rate_limited_total", method="chat.postMessage")
    refused = value("newsbot_slack_api_calls_total", method="chat.postMessage",
                    outcome="slack_error")
    slack.fail_next("chat.postMessage", status=429, retry_after=0)
    client.chat_postMessage(channel="C0NEWSDESK", text="retried once, then posted")
    assert value("newsbot_slack_api_rate_limited_total", method="chat.postMessage") \
        == limited + 1
    assert value("newsbot_slack_api_calls_total", method="chat.postMessage",
                 outcome="ok") == ok + 1
    slack.fail_next("chat.postMessage", error="channel_not_found")
    with pytest.raises(SlackApiError):
        client.chat_postMessage(channel="C0NEWSDESK", text="refused")
    assert value("newsbot_slack_api_calls_total", method="chat.postMessage",
                 outcome="slack_error") == refused + 1


def test_a_rate_limit_that_outlasts_the_retries_is_counted_as_rate_limited(slack):
    client = web_client(slack.bot_token, slack.base_url)
    before = value("newsbot_slack_api_calls_total", method="chat.update",
                   outcome="rate_limited")
    slack.fail_next("chat.update", status=429, retry_after=0, times=10)
    with pytest.raises(SlackApiError):
        client.chat_update(channel="C0NEWSDESK", ts="1.0", text="never")
    assert value("newsbot_slack_api_calls_total", method="chat.update",
                 outcome="rate_limited") == before + 1


def test_digests_syncs_and_index_failures_are_counted(newsroom, tmp_path):
    from conftest import EDITOR, write_article, write_raw
    from newsbot.bot.config.settings import Config
    from newsbot.bot.newsroom.decisions import decide
    from newsbot.bot.services.refresh import IndexRefresher
    from newsbot.bot.services.sync import sync_decisions
    from newsbot.storage.db import Store

    posted = value("newsbot_digests_posted_total")
    plan = newsroom.post_digest(top=2)
    assert value("newsbot_digests_posted_total") == posted + 1
    written = value("newsbot_sync_files_written_total")
    decide(newsroom.store, plan.messages[0].article.id, "publish", EDITOR, source="cli")
    sync_decisions(newsroom.store, newsroom.config)
    assert value("newsbot_sync_files_written_total") == written + 1

    articles = tmp_path / "broken"
    write_article(articles, "good.md")
    write_raw(articles, "bad.md", "---\ntitle: [unclosed\n---\n")
    refresher = IndexRefresher(Store(tmp_path / "broken.db"), Config(articles=articles))
    refresher()
    assert value("newsbot_index_failed_files") == 1


def test_events_received_and_listener_failures_are_counted_by_kind(slack):
    import json
    import time

    from newsbot.handlers.listeners import event_metrics
    from slack_bolt import App, BoltRequest

    app = App(client=web_client(slack.bot_token, slack.base_url),
              request_verification_enabled=False, signing_secret="unused")
    event_metrics.register(app)

    @app.event("app_mention")
    def broken() -> None:
        raise RuntimeError("a bug in a listener")

    received = value("newsbot_events_received_total", kind="app_mention")
    failed = value("newsbot_events_failed_total", kind="app_mention")
    body = json.dumps({"type": "event_callback", "team_id": "T0NEWSROOM", "event_id": "Ev1",
                       "event": {"type": "app_mention", "user": "U1", "text": "hi",
                                 "channel": "C1", "ts": "1.0"}})
    response = app.dispatch(BoltRequest(body=body, headers={"content-type": "application/json"}))
    assert response.status == 200  # acknowledged before the listener runs
    deadline = time.monotonic() + 10
    while value("newsbot_events_failed_total", kind="app_mention") == failed \
            and time.monotonic() < deadline:
        time.sleep(0.02)
    assert value("newsbot_events_failed_total", kind="app_mention") == failed + 1
    assert value("newsbot_events_received_total", kind="app_mention") == received + 1
