"""SignedSlackClient plays Slack towards a real Bolt app served over real HTTP.

The app is a tiny slack_bolt.App served by handlers.web_server.WebServer (what
`newsbot serve --http` runs), talking back to the Slack look-alike through WebClient.
`process_before_response=True` makes each listener finish before the HTTP answer, so the
test can check its effects as soon as the request returns.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from newsbot.bot.app.web_server import Routes, SlackEvents, WebServer
from newsbot.sandbox import Delivery, SignedSlackClient, SlackLookalike
from slack_bolt import App
from slack_sdk import WebClient

SECRET = "signing-secret-for-tests"
CHANNEL = "C0NEWSDESK"
EDITOR = "U0EDITOR"


@dataclass
class Setup:
    slack: SlackLookalike
    client: SignedSlackClient
    bot: WebClient
    heard: list[tuple[str, Any]] = field(default_factory=list)  # (listener, what it got)


def tiny_app(bot: WebClient, heard: list[tuple[str, Any]]) -> App:
    app = App(client=bot, signing_secret=SECRET, process_before_response=True)

    @app.command("/news")
    def news(ack, respond, command):
        ack()
        heard.append(("command", command))
        respond(text=f"Looking up {command['text']}")

    @app.event("reaction_added")
    def reaction(body, event, request):
        heard.append(("reaction", (body["event_id"], event,
                                   request.headers.get("x-slack-retry-num", [""])[0])))

    @app.action("publish")
    def publish(ack, respond, action):
        ack()
        heard.append(("action", action))
        respond(text="Published by Erin", replace_original=True)

    @app.event("app_home_opened")
    def home(event, client):
        client.views_publish(user_id=event["user"], view={
            "type": "home", "blocks": [{"type": "section",
                                        "text": {"type": "mrkdwn", "text": "Your digest"}}]})

    return app


@pytest.fixture
def setup() -> Iterator[Setup]:
    with SlackLookalike() as slack:
        bot = WebClient(token=slack.bot_token, base_url=slack.base_url)
        heard: list[tuple[str, Any]] = []
        routes = Routes(lambda: (True, {}), SlackEvents(tiny_app(bot, heard), SECRET))
        server = WebServer(routes, "127.0.0.1", 0)
        server.start_in_thread()
        try:
            client = SignedSlackClient(f"{server.url}/slack/events", SECRET,
                                       response_url_factory=slack.new_response_url)
            yield Setup(slack, client, bot, heard)
        finally:
            server.stop()


def test_signed_slash_command_reaches_the_app_and_its_answer_the_user(setup: Setup):
    answer = setup.client.slash_command("/news", "climate", user_id=EDITOR, channel_id=CHANNEL)
    assert answer.status == 200
    [(kind, command)] = setup.heard
    assert kind == "command"
    assert (command["user_id"], command["channel_id"], command["text"]) == (
        EDITOR, CHANNEL, "climate")
    assert command["response_url"].startswith(setup.slack.url + "/response/")
    assert command["trigger_id"]
    [post] = setup.slack.response_posts()
    assert (post.response_type, post.payload["text"]) == ("ephemeral", "Looking up climate")
    assert setup.slack.workspace.ephemeral_messages(EDITOR)[0]["text"] == "Looking up climate"


def test_events_arrive_and_a_redelivery_carries_retry_headers(setup: Setup):
    ts = setup.bot.chat_postMessage(channel=CHANNEL, text="Article")["ts"]
    event = {"type": "reaction_added", "user": EDITOR, "reaction": "white_check_mark",
             "item": {"type": "message", "channel": CHANNEL, "ts": ts},
             "item_user": "U0NEWSBOT", "event_ts": "1700000000.000200"}
    first = setup.client.send_event(event, event_id="Ev0001", event_time=1700000000)
    again = setup.client.send_event(event, event_id="Ev0001", event_time=1700000000,
                                    delivery=Delivery(retry_num=1, retry_reason="http_timeout"))
    assert (first.status, again.status) == (200, 200)
    assert [got for kind, got in setup.heard] == [("Ev0001", event, ""), ("Ev0001", event, "1")]


def test_bad_signature_and_stale_timestamp_are_refused_with_401(setup: Setup):
    wrong = setup.client.slash_command("/news", "climate", user_id=EDITOR, channel_id=CHANNEL,
                                       delivery=Delivery(bad_signature=True))
    stale = setup.client.reaction_added(user_id=EDITOR, reaction="x", channel_id=CHANNEL,
                                        ts="1700000000.000100",
                                        delivery=Delivery(age_seconds=6 * 60))
    assert (wrong.status, stale.status) == (401, 401)
    assert setup.heard == []
    recent = setup.client.reaction_added(user_id=EDITOR, reaction="x", channel_id=CHANNEL,
                                         ts="1700000000.000100",
                                         delivery=Delivery(age_seconds=60))
    assert recent.status == 200 and len(setup.heard) == 1


def test_url_verification_returns_the_challenge(setup: Setup):
    answer = setup.client.url_verification("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P")
    assert answer.status == 200
    assert answer.body == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}


def test_button_click_on_a_posted_message_replaces_it(setup: Setup):
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Budget vote*"}},
              {"type": "actions", "elements": [
                  {"type": "button", "action_id": "publish", "value": "2026/10/001.txt",
                   "text": {"type": "plain_text", "text": "Publish"}}]}]
    posted = setup.bot.chat_postMessage(channel=CHANNEL, text="Budget vote", blocks=blocks)
    message = posted["message"]
    answer = setup.client.block_action(user_id=EDITOR, action_id="publish",
                                       value="2026/10/001.txt", channel_id=CHANNEL,
                                       message=message)
    assert answer.status == 200
    [(kind, action)] = setup.heard
    assert (kind, action["value"]) == ("action", "2026/10/001.txt")
    assert action["block_id"] == message["blocks"][1]["block_id"]
    assert setup.slack.workspace.message(CHANNEL, posted["ts"])["text"] == "Published by Erin"


def test_a_sandbox_users_reaction_is_forwarded_to_the_app(setup: Setup):
    setup.slack.event_sink = setup.client.send_event
    ts = setup.bot.chat_postMessage(channel=CHANNEL, text="Article")["ts"]
    editor = WebClient(token=setup.slack.user_token(EDITOR), base_url=setup.slack.base_url)
    editor.reactions_add(channel=CHANNEL, timestamp=ts, name="white_check_mark")
    [delivery] = setup.slack.deliveries()
    assert delivery.error is None and delivery.result.status == 200
    [(kind, (_, event, _))] = setup.heard
    assert (kind, event["user"], event["reaction"], event["item"]) == (
        "reaction", EDITOR, "white_check_mark", {"type": "message", "channel": CHANNEL, "ts": ts})
    assert event["item_user"] == "U0NEWSBOT"


def test_app_home_opened_leads_to_a_published_home_view(setup: Setup):
    assert setup.client.app_home_opened(user_id=EDITOR).status == 200
    view = setup.slack.workspace.home_view(EDITOR)
    assert view is not None and view["blocks"][0]["text"]["text"] == "Your digest"
