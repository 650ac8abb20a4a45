"""Hostile text in, valid and escaped Block Kit out: every `/news` sub-command over signed
HTTP, the App Home and a posted digest, with every payload the look-alike receives
checked by slack_sdk's own block models and Slack's documented limits.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from conftest import CHANNEL, CHIEF, parsed, start_newsroom, write_article
from newsbot.storage.index import refresh
from slack_sdk.models.blocks import Block

TYPED = "<!channel> <@U123> <script>alert(1)</script> &amp; R&D > "
HOSTILE = TYPED + "x&<>" * 2_500  # over 10,000 characters
RAW = ("<!", "<@U123>", "<script", "<b>")  # none of these may reach Slack unescaped
# newsbot's own times (handlers/blocks.date_token): the one `<!` it writes itself
OWN_DATE = re.compile(r"<!date\^\d+\^\{date_short_pretty\} \{time\}\|[^<>]*>")
BARE_AMPERSAND = re.compile(r"&(?!amp;|lt;|gt;)")


def hostile_article(folder: Path) -> None:
    write_article(
        folder, "hostile.md",
        title="<!channel> Budget & <b>cuts</b> " + "&" * 400,
        excerpt="<!here> <@U123> " + "&<>" * 2_000,
        webUrl="https://example.org/a?x=1" + "&y=2" * 300,
        provider={"name": "<!everyone> & Co " + "&" * 300, "domain": "example.org"},
        topics=["<!here>", "R&D <b>", "Climate"], quality=99, heat=99,
    )


def mrkdwn_texts(value: object) -> list[str]:
    """Every `text` string inside blocks (mrkdwn and plain_text objects)."""
    found = []
    if isinstance(value, dict):
        if isinstance(value.get("text"), str):
            found.append(value["text"])
        for inner in value.values():
            found += mrkdwn_texts(inner)
    elif isinstance(value, list):
        for inner in value:
            found += mrkdwn_texts(inner)
    return found


def check_message(text: str | None, blocks: object, max_blocks: int = 50) -> None:
    blocks = parsed(blocks) or []
    assert len(blocks) <= max_blocks
    for block in blocks:
        Block.parse(block).validate_json()  # slack_sdk's own limits (section 3,000, header 150)
        if block["type"] == "context":
            assert len(block["elements"]) <= 10
            assert all(len(e.get("text", "")) <= 2_000 for e in block["elements"])
    for piece in [text or ""] + mrkdwn_texts(blocks):
        piece = OWN_DATE.sub("", piece)
        assert not any(raw in piece for raw in RAW), piece[:200]
        assert not BARE_AMPERSAND.search(piece), piece[:200]


def test_hostile_text_through_every_news_command_comes_back_escaped_and_valid(tmp_path):
    with start_newsroom(tmp_path) as newsroom:
        hostile_article(newsroom.config.articles)
        refresh(newsroom.store, newsroom.config.articles)
        commands = [
            f"topic {HOSTILE}", "topic <!here>", "topic R&D <b>", f"search {HOSTILE}",
            "search Budget cuts", "topics", "digest", HOSTILE, "help",
            f'schedule add <#{CHANNEL}> "0 9 * * 1-5" topics=<!channel>,R&D',
            f'schedule add <#{CHANNEL}> "{TYPED}"', "schedule list",
            f'schedule preview "{HOSTILE}"', f'schedule preview "0 9 * * *" tz={TYPED}',
            f"schedule remove {HOSTILE}", f"schedule pause {TYPED}", f"schedule {HOSTILE}",
            "sync",
        ]
        slack = newsroom.slack
        for sent, text in enumerate(commands, start=1):
            answer = newsroom.client.slash_command("/news", text, user_id=CHIEF,
                                                   channel_id=CHANNEL)
            assert answer.status == 200
            # answers come after the ack, on other threads: one at a time keeps their order
            slack.wait_until(lambda n=sent: len(slack.response_posts()) == n, timeout=30)
        newsroom.client.app_home_opened(user_id=CHIEF)
        slack.wait_for_calls("views.publish", 1)
        newsroom.post_digest(top=3)

        posts = slack.response_posts()
        assert all(p.outcome == "posted" for p in posts), [p.error for p in posts]
        for post in posts:
            check_message(post.payload.get("text"), post.payload.get("blocks"))
        answers = {text: post.payload for text, post in zip(commands, posts, strict=True)}
        assert "&lt;!here&gt;" in json.dumps(answers["topic <!here>"]["blocks"])
        assert "&lt;!channel&gt;" in answers[f"topic {HOSTILE}"]["text"]
        schedule_list = json.dumps(answers["schedule list"]["blocks"])
        assert f"<#{CHANNEL}>" in schedule_list and "&lt;!channel&gt;" in schedule_list
        for call in slack.calls("chat.postMessage") + slack.calls("chat.update"):
            assert call.ok, call.response
            check_message(call.params.get("text"), call.params.get("blocks"))
        [home] = slack.calls("views.publish")
        assert home.ok, home.response
        check_message(None, parsed(home.params["view"])["blocks"], max_blocks=100)
        posted_titles = [c.params["text"] for c in slack.calls("chat.postMessage")]
        assert any("&lt;!channel&gt; Budget &amp;" in t for t in posted_titles)
