"""Link previews (link_shared -> chat.unfurl) and the "Decide on this article" message
shortcut, end to end: a user's message in the look-alike, Slack's signed requests to the
app over HTTP, the payloads checked by slack_sdk's own Block Kit and view models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import CHANNEL, CHIEF, EDITOR, Newsroom, parsed, start_newsroom, wait_for_log
from newsbot.handlers.blocks import PUBLISH_ACTION, SKIP_ACTION, UNDO_ACTION
from newsbot.handlers.link_preview import TO_REVIEW
from newsbot.handlers.listeners.shortcut import DECIDE_SHORTCUT, NO_ARTICLE, NOT_AN_EDITOR
from newsbot.handlers.manifest import METHOD_SCOPES
from newsbot.sandbox import SlackLookalike
from newsbot.storage.index import refresh_paths
from slack_sdk import WebClient
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

DOMAIN = "example-news.org"


def valid_blocks(blocks: list[dict]) -> list[dict]:
    for block in blocks:
        parsed_block = Block.parse(block)
        assert parsed_block is not None, block
        parsed_block.validate_json()
    return blocks


def valid_view(view: dict) -> dict:
    fields = {k: view[k] for k in ("type", "title", "close", "blocks", "private_metadata",
                                   "callback_id") if view.get(k) is not None}
    View(**fields).validate_json()
    valid_blocks(view["blocks"])
    return view


def button_ids(blocks: list[dict]) -> dict[str, str]:
    """action_id -> the button's label, over every actions block."""
    return {e["action_id"]: e["text"]["text"] for b in blocks if b["type"] == "actions"
            for e in b["elements"]}


@pytest.fixture
def room(tmp_path: Path):
    with start_newsroom(tmp_path, unfurl_domains=(DOMAIN,)) as started:
        started.slack.event_sink = started.client.send_event  # what users do reaches the app
        yield started


def an_article(room: Newsroom) -> dict:
    [row] = room.store.query(
        "SELECT id, title, web_url FROM articles WHERE error IS NULL AND web_url LIKE ?"
        " ORDER BY quality DESC, id LIMIT 1", [f"%{DOMAIN}%"])
    return row


def user_posts(slack: SlackLookalike, user: str, text: str) -> dict:
    client = WebClient(token=slack.user_token(user), base_url=slack.base_url)
    return client.chat_postMessage(channel=CHANNEL, text=text)["message"]


def stored(room: Newsroom, ts: str) -> dict:
    return room.slack.workspace.message(CHANNEL, ts)


def test_a_pasted_article_link_is_previewed_and_its_buttons_decide(room: Newsroom):
    article = an_article(room)
    # pasted over http, without www., with tracking parameters: still the article
    pasted = article["web_url"].replace("https://www.", "http://") + "?utm_source=mail&fbclid=1"
    other = f"https://www.{DOMAIN}/not/an/article"
    message = user_posts(room.slack, EDITOR, f"Seen this? <{pasted}> and <{other}>")

    [call] = room.slack.wait_for_calls("chat.unfurl")
    assert call.ok, call.response
    unfurls = parsed(call.params["unfurls"])
    assert list(unfurls) == [pasted]  # the link that is no indexed article gets nothing
    blocks = valid_blocks(unfurls[pasted]["blocks"])
    shown = json.dumps(blocks, ensure_ascii=False)
    assert article["title"][:40] in shown and "quality *" in shown and "heat *" in shown
    assert TO_REVIEW in shown
    assert button_ids(blocks) == {PUBLISH_ACTION: "Publish", SKIP_ACTION: "Skip"}
    assert all(e.get("accessibility_label") for b in blocks if b["type"] == "actions"
               for e in b["elements"])
    [preview] = stored(room, message["ts"])["attachments"]
    assert preview["is_app_unfurl"] and preview["app_unfurl_url"] == pasted

    click = room.client.unfurl_action(user_id=EDITOR, action_id=PUBLISH_ACTION,
                                      value=article["id"], channel_id=CHANNEL,
                                      message=stored(room, message["ts"]), url=pasted)
    assert click.status == 200
    [row] = wait_for_log(room, 1)
    assert (row["article_id"], row["action"], row["source"]) == (article["id"], "publish",
                                                                 "button")
    room.slack.wait_until(lambda: any("Recorded: publish" in (p.payload.get("text") or "")
                                      for p in room.slack.response_posts()))
    again = room.slack.wait_for_calls("chat.unfurl", 2)[1]
    redrawn = valid_blocks(parsed(again.params["unfurls"])[pasted]["blocks"])
    assert "*Published* by <@U0EDITOR>" in json.dumps(redrawn)
    assert button_ids(redrawn)[PUBLISH_ACTION] == "Published \u2713"
    [preview] = stored(room, message["ts"])["attachments"]  # replaced, not added
    assert "Published" in json.dumps(preview["blocks"])
    assert {c.method for c in room.slack.calls()} <= set(METHOD_SCOPES)


def an_article_at(room: Newsroom, url: str) -> dict:
    """An indexed article whose file now gives `url` as its webUrl."""
    article = an_article(room)
    file = room.config.articles / article["id"]  # its path in the articles folder
    file.write_text(file.read_text(encoding="utf-8").replace(
        f'webUrl: "{article["web_url"]}"', f'webUrl: "{url}"', 1), encoding="utf-8")
    refresh_paths(room.store, room.config.articles, [article["id"]])
    assert room.store.query("SELECT web_url FROM articles WHERE id = ?",
                            [article["id"]])[0]["web_url"] == url
    return article


def test_a_link_with_several_parameters_is_found_though_slack_escapes_its_ampersands(
        room: Newsroom):
    """Slack lists a link as the message's text holds it: `&` as `&amp;`. The article is
    found by the link as typed; the preview is keyed by Slack's spelling of it."""
    typed = f"https://www.{DOMAIN}/story?id=5&page=2"
    article = an_article_at(room, typed)
    as_slack_lists_it = typed.replace("&", "&amp;")
    user_posts(room.slack, EDITOR, f"Look: <{as_slack_lists_it}>")  # as the client sends it
    [call] = room.slack.wait_for_calls("chat.unfurl")
    assert call.ok, call.response
    unfurls = parsed(call.params["unfurls"])
    assert list(unfurls) == [as_slack_lists_it]
    assert article["title"][:40] in json.dumps(unfurls[as_slack_lists_it]["blocks"],
                                               ensure_ascii=False)


def test_copies_of_one_story_show_the_also_line_in_the_preview(tmp_path: Path):
    with start_newsroom(tmp_path, unfurl_domains=(DOMAIN,), clusters_enabled=True) as room:
        room.slack.event_sink = room.client.send_event
        rows = room.store.query(
            "SELECT a.id, a.web_url FROM cluster_members m JOIN articles a ON a.id = m.article_id"
            " WHERE a.web_url LIKE ? ORDER BY m.rank LIMIT 1", [f"%{DOMAIN}%"])
        if not rows:
            pytest.skip("the bundled articles hold no story cluster on this domain")
        user_posts(room.slack, EDITOR, f"<{rows[0]['web_url']}>")
        [call] = room.slack.wait_for_calls("chat.unfurl")
        blocks = valid_blocks(parsed(call.params["unfurls"])[rows[0]["web_url"]]["blocks"])
        assert "Also: " in json.dumps(blocks)


def test_links_to_other_domains_or_the_bots_own_are_not_unfurled(room: Newsroom):
    article = an_article(room)
    user_posts(room.slack, EDITOR, "<https://elsewhere.example.com/a>")
    bot = WebClient(token=room.slack.bot_token, base_url=room.slack.base_url)
    bot.chat_postMessage(channel=CHANNEL, text=f"<{article['web_url']}>")
    user_posts(room.slack, EDITOR, f"<{article['web_url']}>")  # the one Slack tells of
    [call] = room.slack.wait_for_calls("chat.unfurl")
    assert list(parsed(call.params["unfurls"])) == [article["web_url"]]
    shared = [d.event for d in room.slack.deliveries() if d.event["type"] == "link_shared"]
    assert len(shared) == 1


def test_the_shortcut_opens_a_modal_whose_buttons_decide_and_undo(room: Newsroom):
    article = an_article(room)
    message = user_posts(room.slack, CHIEF, f"Should we run <{article['web_url']}|this>?")
    answer = room.client.message_shortcut(user_id=EDITOR, callback_id=DECIDE_SHORTCUT,
                                          channel_id=CHANNEL, message=stored(room,
                                                                             message["ts"]))
    assert answer.status == 200
    [opened] = room.slack.wait_for_calls("views.open")
    assert opened.ok, opened.response
    view = valid_view(opened.response["view"])
    assert article["title"][:40] in json.dumps(view["blocks"], ensure_ascii=False)
    assert set(button_ids(view["blocks"])) == {PUBLISH_ACTION, SKIP_ACTION}

    room.client.block_action(user_id=EDITOR, action_id=PUBLISH_ACTION, value=article["id"],
                             view=view)
    [updated] = room.slack.wait_for_calls("views.update")
    assert updated.ok, updated.response
    view = valid_view(updated.response["view"])
    shown = json.dumps(view["blocks"], ensure_ascii=False)
    assert "Recorded: publish" in shown
    assert button_ids(view["blocks"]) == {PUBLISH_ACTION: "Published \u2713",
                                          SKIP_ACTION: "Skip", UNDO_ACTION: "Undo"}
    assert room.votes() == [{"article_id": article["id"], "user_id": EDITOR,
                             "decision": "publish"}]

    room.client.block_action(user_id=EDITOR, action_id=UNDO_ACTION, value=article["id"],
                             view=view)
    undone = room.slack.wait_for_calls("views.update", 2)[1]
    assert "Withdrawn: your vote" in json.dumps(valid_view(undone.response["view"])["blocks"])
    assert room.votes() == []


def test_the_shortcut_on_a_message_without_an_article_says_so(room: Newsroom):
    message = user_posts(room.slack, EDITOR, "lunch at noon? <https://elsewhere.example.com/>")
    room.client.message_shortcut(user_id=EDITOR, callback_id=DECIDE_SHORTCUT,
                                 channel_id=CHANNEL, message=stored(room, message["ts"]))
    [opened] = room.slack.wait_for_calls("views.open")
    view = valid_view(opened.response["view"])
    assert NO_ARTICLE in json.dumps(view["blocks"]) and button_ids(view["blocks"]) == {}


def test_the_shortcut_finds_a_link_whose_ampersands_the_text_escapes(room: Newsroom):
    """A message with text only (an integration's, a bot's): its links are read from the
    text, where Slack writes `&` as `&amp;`."""
    article = an_article_at(room, f"https://www.{DOMAIN}/story?id=5&page=2")
    bot = WebClient(token=room.slack.bot_token, base_url=room.slack.base_url)
    posted = bot.chat_postMessage(
        channel=CHANNEL, text=f"<https://www.{DOMAIN}/story?id=5&amp;page=2|Today's story>")
    message = stored(room, posted["ts"])
    assert not message.get("blocks")  # nothing but the text to read the link from
    room.client.message_shortcut(user_id=EDITOR, callback_id=DECIDE_SHORTCUT,
                                 channel_id=CHANNEL, message=message)
    [opened] = room.slack.wait_for_calls("views.open")
    view = valid_view(opened.response["view"])
    assert article["title"][:40] in json.dumps(view["blocks"], ensure_ascii=False)


def test_a_non_editor_sees_the_article_without_buttons(tmp_path: Path):
    with start_newsroom(tmp_path, unfurl_domains=(DOMAIN,), editors=(EDITOR,)) as room:
        article = an_article(room)
        message = user_posts(room.slack, EDITOR, f"<{article['web_url']}>")
        room.client.message_shortcut(user_id=CHIEF, callback_id=DECIDE_SHORTCUT,
                                     channel_id=CHANNEL, message=stored(room, message["ts"]))
        [opened] = room.slack.wait_for_calls("views.open")
        view = valid_view(opened.response["view"])
        assert NOT_AN_EDITOR in json.dumps(view["blocks"]) and button_ids(view["blocks"]) == {}


def test_slack_refusing_a_preview_or_a_modal_loses_nothing_else(room: Newsroom):
    """chat.unfurl refused (the message deleted meanwhile) and views.open refused (the
    trigger expired) are logged; the next link and the next shortcut work."""
    article = an_article(room)
    room.slack.fail_next("chat.unfurl", error="cannot_unfurl_url")
    user_posts(room.slack, EDITOR, f"<{article['web_url']}>")
    [refused] = room.slack.wait_for_calls("chat.unfurl")
    assert not refused.ok
    user_posts(room.slack, EDITOR, f"again <{article['web_url']}>")
    assert room.slack.wait_for_calls("chat.unfurl", 2)[1].ok
    assert all(d.error is None and d.result.status == 200 for d in room.slack.deliveries())

    room.slack.fail_next("views.open", error="expired_trigger_id")
    message = user_posts(room.slack, EDITOR, f"<{article['web_url']}>")
    for _ in range(2):
        answer = room.client.message_shortcut(user_id=EDITOR, callback_id=DECIDE_SHORTCUT,
                                              channel_id=CHANNEL,
                                              message=stored(room, message["ts"]))
        assert answer.status == 200
    calls = room.slack.wait_for_calls("views.open", 2)
    assert sorted(c.ok for c in calls) == [False, True]
