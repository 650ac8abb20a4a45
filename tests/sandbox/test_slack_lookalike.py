"""The Slack look-alike answers slack_sdk's real WebClient over real HTTP as Slack would."""

from __future__ import annotations

import contextlib
import json
import threading
import urllib.request

import pytest
from newsbot.sandbox import SlackLookalike, SlackUser
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.webhook import WebhookClient

CHANNEL = "C0NEWSDESK"
EDITOR = "U0EDITOR"
SECTION = {"type": "section", "text": {"type": "mrkdwn", "text": "*Budget vote delayed*"}}
DIGEST_METADATA = {"event_type": "newsbot_digest", "event_payload": {"digest_id": 7}}


@pytest.fixture
def slack():
    with SlackLookalike() as lookalike:
        yield lookalike


@pytest.fixture
def bot(slack: SlackLookalike) -> WebClient:
    return WebClient(token=slack.bot_token, base_url=slack.base_url, retry_handlers=[])


def as_user(slack: SlackLookalike, user_id: str) -> WebClient:
    return WebClient(token=slack.user_token(user_id), base_url=slack.base_url, retry_handlers=[])


def error_of(call) -> tuple[int, str]:
    with pytest.raises(SlackApiError) as raised:
        call()
    return raised.value.response.status_code, raised.value.response["error"]


def test_auth_test_names_the_bot_and_rejects_bad_tokens(slack: SlackLookalike, bot: WebClient):
    answer = bot.auth_test()
    assert (answer["user_id"], answer["bot_id"], answer["team_id"]) == (
        "U0NEWSBOT", "B0NEWSBOT", "T0NEWSROOM")
    wrong = WebClient(token="xoxb-wrong", base_url=slack.base_url)
    assert error_of(wrong.auth_test) == (200, "invalid_auth")
    anonymous = WebClient(base_url=slack.base_url)
    assert error_of(anonymous.auth_test) == (200, "not_authed")
    assert [c.ok for c in slack.calls("auth.test")] == [True, False, False]
    assert slack.calls("auth.test")[0].headers["Authorization"] == f"Bearer {slack.bot_token}"


def test_post_message_returns_increasing_ts_and_the_stored_message(bot: WebClient):
    first = bot.chat_postMessage(channel=CHANNEL, text="Digest", blocks=[SECTION],
                                 metadata=DIGEST_METADATA)
    second = bot.chat_postMessage(channel="#newsdesk", text="Second")
    assert first["channel"] == second["channel"] == CHANNEL
    assert float(second["ts"]) > float(first["ts"])
    assert len(first["ts"].split(".")[1]) == 6
    message = first["message"]
    assert message["text"] == "Digest"
    assert message["bot_id"] == "B0NEWSBOT"
    assert message["metadata"] == DIGEST_METADATA
    assert message["blocks"][0]["text"] == SECTION["text"]
    assert message["blocks"][0]["block_id"]  # Slack names unnamed blocks


def test_post_message_refuses_unknown_channels_empty_messages_and_oversized_blocks(
        bot: WebClient):
    assert error_of(lambda: bot.chat_postMessage(channel="C0NOWHERE", text="x")) == (
        200, "channel_not_found")
    with pytest.warns(UserWarning, match="text"):  # slack_sdk warns too
        assert error_of(lambda: bot.chat_postMessage(channel=CHANNEL, text="")) == (
            200, "no_text")
    too_many = [dict(SECTION) for _ in range(51)]
    with pytest.raises(SlackApiError) as raised:
        bot.chat_postMessage(channel=CHANNEL, text="x", blocks=too_many)
    assert raised.value.response["error"] == "invalid_blocks"
    assert "less than 51 items" in raised.value.response["errors"][0]


def test_threads_history_and_replies(bot: WebClient):
    parent = bot.chat_postMessage(channel=CHANNEL, text="Digest", metadata=DIGEST_METADATA)
    reply = bot.chat_postMessage(channel=CHANNEL, text="Article 1", thread_ts=parent["ts"],
                                 metadata={"event_type": "newsbot_article",
                                           "event_payload": {"position": 1}})
    bot.chat_postMessage(channel=CHANNEL, text="Later")

    history = bot.conversations_history(channel=CHANNEL)["messages"]
    assert [m["text"] for m in history] == ["Later", "Digest"]  # newest first, no replies
    assert history[1]["reply_count"] == 1 and history[1]["latest_reply"] == reply["ts"]
    assert "metadata" not in history[1]  # only with include_all_metadata, as in Slack

    thread = bot.conversations_replies(channel=CHANNEL, ts=parent["ts"],
                                       include_all_metadata=True)["messages"]
    assert [m["text"] for m in thread] == ["Digest", "Article 1"]
    assert thread[1]["thread_ts"] == parent["ts"]
    assert thread[1]["metadata"]["event_payload"] == {"position": 1}

    since = bot.conversations_history(channel=CHANNEL, oldest=parent["ts"], inclusive=True,
                                      include_all_metadata=True)["messages"]
    assert [m["text"] for m in since] == ["Later", "Digest"]
    assert since[1]["metadata"] == DIGEST_METADATA
    after = bot.conversations_history(channel=CHANNEL, oldest=parent["ts"])["messages"]
    assert [m["text"] for m in after] == ["Later"]  # oldest itself only when inclusive
    before = bot.conversations_history(channel=CHANNEL, latest=after[0]["ts"])["messages"]
    assert [m["text"] for m in before] == ["Digest"]
    assert error_of(lambda: bot.conversations_replies(channel=CHANNEL, ts="1.000001")) == (
        200, "thread_not_found")


def test_history_pages_with_cursors(bot: WebClient):
    for n in range(5):
        bot.chat_postMessage(channel=CHANNEL, text=f"m{n}")
    seen, cursor = [], None
    while True:
        page = bot.conversations_history(channel=CHANNEL, limit=2, cursor=cursor)
        seen += [m["text"] for m in page["messages"]]
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            assert page["has_more"] is False
            break
    assert seen == ["m4", "m3", "m2", "m1", "m0"]


def test_update_and_delete_only_by_the_author(slack: SlackLookalike, bot: WebClient):
    posted = bot.chat_postMessage(channel=CHANNEL, text="Pending", blocks=[SECTION])
    updated = bot.chat_update(channel=CHANNEL, ts=posted["ts"], text="Published by Erin")
    assert updated["message"]["text"] == "Published by Erin"
    stored = slack.workspace.message(CHANNEL, posted["ts"])
    assert stored["edited"]["user"] == "U0NEWSBOT"
    assert stored["blocks"][0]["text"] == SECTION["text"]  # blocks kept when not given

    editor = as_user(slack, EDITOR)
    assert error_of(lambda: editor.chat_update(channel=CHANNEL, ts=posted["ts"], text="x")) == (
        200, "cant_update_message")
    assert error_of(lambda: editor.chat_delete(channel=CHANNEL, ts=posted["ts"])) == (
        200, "cant_delete_message")
    bot.chat_delete(channel=CHANNEL, ts=posted["ts"])
    assert error_of(lambda: bot.chat_update(channel=CHANNEL, ts=posted["ts"], text="x")) == (
        200, "message_not_found")


def test_users_info_has_time_zone_and_roles(slack: SlackLookalike, bot: WebClient):
    slack.workspace.add_user(SlackUser("U0TOKYO", "kei", tz="Asia/Tokyo", is_admin=True))
    user = bot.users_info(user="U0TOKYO")["user"]
    assert (user["tz"], user["tz_offset"], user["is_admin"], user["is_owner"]) == (
        "Asia/Tokyo", 9 * 3600, True, False)
    assert bot.users_info(user="U0CHIEF")["user"]["is_owner"] is True
    assert error_of(lambda: bot.users_info(user="U0NOBODY")) == (200, "user_not_found")


def test_reactions_ephemeral_permalink_views_and_channels(slack: SlackLookalike,
                                                          bot: WebClient):
    posted = bot.chat_postMessage(channel=CHANNEL, text="Article")
    editor = as_user(slack, EDITOR)
    editor.reactions_add(channel=CHANNEL, timestamp=posted["ts"], name="white_check_mark")
    assert error_of(lambda: editor.reactions_add(
        channel=CHANNEL, timestamp=posted["ts"], name="white_check_mark")) == (
        200, "already_reacted")
    message = slack.workspace.message(CHANNEL, posted["ts"])
    assert message["reactions"] == [{"name": "white_check_mark", "users": [EDITOR], "count": 1}]
    editor.reactions_remove(channel=CHANNEL, timestamp=posted["ts"], name="white_check_mark")
    assert "reactions" not in slack.workspace.message(CHANNEL, posted["ts"])

    shown = bot.chat_postEphemeral(channel=CHANNEL, user=EDITOR, text="Only you")
    assert slack.workspace.ephemeral_messages(EDITOR)[0]["ts"] == shown["message_ts"]
    assert slack.workspace.history(CHANNEL)[0]["text"] == "Article"  # not in the channel

    link = bot.chat_getPermalink(channel=CHANNEL, message_ts=posted["ts"])["permalink"]
    assert link.endswith(f"/archives/{CHANNEL}/p{posted['ts'].replace('.', '')}")

    home = {"type": "home", "blocks": [SECTION]}
    view = bot.views_publish(user_id=EDITOR, view=home)["view"]
    assert slack.workspace.home_view(EDITOR)["id"] == view["id"]
    assert error_of(lambda: editor.views_publish(user_id=EDITOR, view=home)) == (
        200, "not_allowed_token_type")
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "Why skip?"},
             "blocks": [SECTION]}
    assert bot.views_open(trigger_id=slack.new_trigger_id(EDITOR),
                          view=modal)["view"]["type"] == "modal"

    assert bot.conversations_info(channel=CHANNEL)["channel"]["name"] == "newsdesk"
    assert [c["id"] for c in bot.conversations_list()["channels"]] == [CHANNEL]


def test_rate_limit_is_retried_by_the_rate_limit_handler(slack: SlackLookalike):
    slack.fail_next("chat.postMessage", retry_after=0)
    client = WebClient(token=slack.bot_token, base_url=slack.base_url,
                       retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)])
    posted = client.chat_postMessage(channel=CHANNEL, text="Digest")
    assert posted["ok"]
    assert [c.status for c in slack.calls("chat.postMessage")] == [429, 200]
    assert len(slack.workspace.history(CHANNEL)) == 1


def test_rate_limit_answer_carries_retry_after(slack: SlackLookalike, bot: WebClient):
    slack.fail_next("chat.postMessage")
    with pytest.raises(SlackApiError) as raised:
        bot.chat_postMessage(channel=CHANNEL, text="Digest")
    response = raised.value.response
    assert (response.status_code, response["error"]) == (429, "ratelimited")
    assert response.headers["Retry-After"] == "1"
    assert bot.chat_postMessage(channel=CHANNEL, text="Digest")["ok"]  # used up


def test_other_faults(slack: SlackLookalike, bot: WebClient):
    slack.fail_next("chat.update", error="internal_error")
    slack.fail_next("chat.delete", status=503)
    slack.fail_next("users.info", drop=True)
    assert error_of(lambda: bot.chat_update(channel=CHANNEL, ts="1.000001", text="x")) == (
        200, "internal_error")
    assert error_of(lambda: bot.chat_delete(channel=CHANNEL, ts="1.000001")) == (
        503, "internal_error")
    with pytest.raises(ConnectionError):
        bot.users_info(user=EDITOR)
    assert bot.users_info(user=EDITOR)["ok"]


def test_a_stored_fault_keeps_the_message_and_still_answers_500(slack, bot):
    slack.fail_next("chat.postMessage", status=500, stored=True)
    slack.fail_next("chat.postMessage", drop=True, stored=True)
    assert error_of(lambda: bot.chat_postMessage(
        channel=CHANNEL, text="Digest", metadata=DIGEST_METADATA)) == (500, "internal_error")
    with pytest.raises(ConnectionError):
        bot.chat_postMessage(channel=CHANNEL, text="Again")
    history = bot.conversations_history(channel=CHANNEL, include_all_metadata=True)
    assert [m["text"] for m in history["messages"]] == ["Again", "Digest"]
    assert history["messages"][1]["metadata"] == DIGEST_METADATA


def test_flaky_faults_are_seeded_fractions(slack, bot):
    def outcomes(seed: int) -> list[int]:
        slack.flaky("chat.update", stored=0.3, refused=0.2, seed=seed)
        start = len(slack.calls("chat.update"))
        for _ in range(200):
            with contextlib.suppress(SlackApiError):
                bot.chat_update(channel=CHANNEL, ts=ts, text="x")
        return [c.status for c in slack.calls("chat.update")[start:]]

    ts = bot.chat_postMessage(channel=CHANNEL, text="Digest")["ts"]
    first = outcomes(3)
    assert first == outcomes(3) and first != outcomes(4)
    assert 70 <= first.count(500) <= 130  # 100 expected out of 200
    slack.flaky("chat.update")
    assert bot.chat_update(channel=CHANNEL, ts=ts, text="y")["ok"]


def test_form_encoded_and_json_bodies_are_both_understood(slack: SlackLookalike):
    def post(body: bytes, content_type: str) -> dict:
        request = urllib.request.Request(
            slack.base_url + "chat.postMessage", data=body, method="POST",
            headers={"Content-Type": content_type, "Authorization": f"Bearer {slack.bot_token}"})
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request) as response:
            return json.loads(response.read())

    form = post(b"channel=C0NEWSDESK&text=form&blocks=" + urllib.parse.quote(
        json.dumps([SECTION])).encode(), "application/x-www-form-urlencoded")
    assert form["message"]["blocks"][0]["type"] == "section"
    as_json = post(json.dumps({"channel": CHANNEL, "text": "json"}).encode(),
                   "application/json; charset=utf-8")
    assert as_json["message"]["text"] == "json"
    assert slack.calls("chat.postMessage")[0].params["text"] == "form"


def test_response_url_posts_ephemeral_in_channel_and_replacements(slack: SlackLookalike,
                                                                   bot: WebClient):
    url = slack.new_response_url(CHANNEL, EDITOR)
    WebhookClient(url).send(text="Only Erin sees this")
    WebhookClient(url).send(text="Everyone sees this", response_type="in_channel")
    posts = slack.response_posts()
    assert [(p.response_type, p.outcome) for p in posts] == [
        ("ephemeral", "posted"), ("in_channel", "posted")]
    assert slack.workspace.ephemeral_messages(EDITOR)[0]["text"] == "Only Erin sees this"
    assert slack.workspace.history(CHANNEL)[0]["text"] == "Everyone sees this"

    card = bot.chat_postMessage(channel=CHANNEL, text="Article card")
    on_card = slack.new_response_url(CHANNEL, EDITOR, message_ts=card["ts"])
    WebhookClient(on_card).send(text="Published by Erin", replace_original=True)
    assert slack.workspace.message(CHANNEL, card["ts"])["text"] == "Published by Erin"
    assert slack.response_posts()[-1].outcome == "replaced"

    unknown = WebhookClient(slack.url + "/response/nope").send(text="x")
    assert unknown.status_code == 404


def test_every_change_is_announced_with_a_new_version(slack: SlackLookalike, bot: WebClient):
    seen = []
    unsubscribe = slack.subscribe(seen.append)
    start = slack.version
    posted = bot.chat_postMessage(channel=CHANNEL, text="Digest")
    bot.chat_update(channel=CHANNEL, ts=posted["ts"], text="Digest (2)")
    unsubscribe()
    bot.chat_postMessage(channel=CHANNEL, text="unseen")
    assert [(c.kind, c.ts) for c in seen] == [("message_posted", posted["ts"]),
                                             ("message_updated", posted["ts"])]
    assert [c.version for c in seen] == [start + 1, start + 2]
    assert slack.wait_for_change(start + 2, timeout=5) == start + 3


def test_concurrent_posts_get_distinct_timestamps(slack: SlackLookalike):
    def post_some() -> None:
        client = WebClient(token=slack.bot_token, base_url=slack.base_url)
        for n in range(5):
            client.chat_postMessage(channel=CHANNEL, text=f"m{n}")

    threads = [threading.Thread(target=post_some) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stamps = [c.response["ts"] for c in slack.calls("chat.postMessage")]
    assert len(stamps) == len(set(stamps)) == 20


def test_user_actions_become_events_for_the_app_and_bot_actions_do_not(slack: SlackLookalike,
                                                                         bot: WebClient):
    events: list[dict] = []
    slack.event_sink = events.append
    posted = bot.chat_postMessage(channel=CHANNEL, text="Article")
    bot.reactions_add(channel=CHANNEL, timestamp=posted["ts"], name="eyes")
    assert events == []
    editor = as_user(slack, EDITOR)
    editor.reactions_add(channel=CHANNEL, timestamp=posted["ts"], name=":white_check_mark:")
    editor.reactions_remove(channel=CHANNEL, timestamp=posted["ts"], name="white_check_mark")
    reply = editor.chat_postMessage(channel=CHANNEL, text="On it", thread_ts=posted["ts"])
    assert [e["type"] for e in events] == ["reaction_added", "reaction_removed", "message"]
    assert events[0]["item"] == {"type": "message", "channel": CHANNEL, "ts": posted["ts"]}
    assert (events[0]["user"], events[0]["reaction"], events[0]["item_user"]) == (
        EDITOR, "white_check_mark", "U0NEWSBOT")
    assert (events[2]["ts"], events[2]["thread_ts"], events[2]["channel_type"]) == (
        reply["ts"], posted["ts"], "channel")
    assert [d.error for d in slack.deliveries()] == [None, None, None]


def test_duplicate_block_ids_are_refused_in_views_and_response_urls(slack: SlackLookalike,
                                                                    bot: WebClient):
    actions = {"type": "actions", "block_id": "decide", "elements": [
        {"type": "button", "action_id": "publish", "text": {"type": "plain_text", "text": "P"}}]}
    with pytest.raises(SlackApiError) as raised:
        bot.views_publish(user_id=EDITOR, view={"type": "home", "blocks": [actions, actions]})
    assert raised.value.response["error"] == "invalid_arguments"
    assert "/view/blocks/1/block_id" in raised.value.response["errors"][0]

    answer = WebhookClient(slack.new_response_url(CHANNEL, EDITOR)).send(
        text="Two cards", blocks=[actions, actions])
    assert answer.status_code == 400
    [post] = slack.response_posts()
    assert (post.outcome, post.error) == ("refused", "invalid_blocks")
    assert slack.workspace.ephemeral_messages(EDITOR) == []


def test_in_process_calls_follow_the_same_rules(slack: SlackLookalike):
    posted = slack.call("chat.postMessage", slack.bot_token, channel=CHANNEL, text="Digest")
    assert posted["ok"] and posted["channel"] == CHANNEL
    assert slack.call("auth.test") == {"ok": False, "error": "not_authed"}
    assert slack.call("no.such.method", slack.bot_token)["error"] == "unknown_method"
    assert [c.method for c in slack.calls()] == ["chat.postMessage", "auth.test", "no.such.method"]


def test_wait_until_sees_a_change_made_by_another_thread(slack: SlackLookalike):
    poster = threading.Thread(target=slack.call, args=("chat.postMessage", slack.bot_token),
                              kwargs={"channel": CHANNEL, "text": "Later"})
    poster.start()
    slack.wait_until(lambda: len(slack.workspace.history(CHANNEL)) == 1)
    poster.join()
    with pytest.raises(TimeoutError):
        slack.wait_until(lambda: False, timeout=0.1)
