"""Block Kit rendering: escaping, links, fallback text, limits."""

from newsbot.bot.newsroom.article import Article
from newsbot.bot.newsroom.decisions import Decision
from newsbot.handlers.blocks import (
    PUBLISH_ACTION,
    SKIP_ACTION,
    UNDO_ACTION,
    article_blocks,
    article_fallback,
    article_list_blocks,
    escape,
    link,
    readable_time,
)


def make_article(**overrides) -> Article:
    fields = dict(
        id="2020/07/000_b7316ba93adffd97.txt", title="CBP’s Outgoing Biometrics Lead",
        excerpt="Law enforcement should be careful.", web_url="https://www.nextgov.com/a/166629/",
        provider_name="Nextgov", provider_domain="nextgov.com", topics=("Computer Vision", "AI"),
        quality=37, heat=37, published=False, published_at="2020-07-02T19:21:00Z",
        image_url="https://cdn.nextgov.com/open-graph.jpg",
    )
    fields.update(overrides)
    return Article(**fields)


def all_text(blocks: list[dict]) -> str:
    """Every mrkdwn text in the blocks (plain_text and alt_text are never parsed by Slack)."""
    texts = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                texts.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(blocks)
    return "\n".join(texts)


def test_article_text_cannot_ping_or_forge_links():
    article = make_article(title="Alert <!channel> & <https://evil.example|click>",
                           excerpt="<@U123> says <!here>", provider_name="A<B>")
    rendered = all_text(article_blocks(article))
    assert "<!channel>" not in rendered and "<!here>" not in rendered and "<@U123>" not in rendered
    assert "&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;" in rendered
    assert "A&lt;B&gt;" in rendered
    assert "<!channel>" not in article_fallback(article)


def test_link_encodes_characters_that_would_end_the_link():
    assert link("https://x.example/a|b>c d", "T") == "<https://x.example/a%7Cb%3Ec%20d|T>"
    assert link("https://x.example/?a=1&b=2", "T") == "<https://x.example/?a=1&amp;b=2|T>"
    assert link("javascript:alert(1)", "T<") == "T&lt;"
    assert link(None, "plain") == "plain"


def test_article_message_shows_every_fact_and_the_buttons():
    blocks = article_blocks(make_article())
    section, context, actions = blocks
    assert section["text"]["text"].startswith("*<https://www.nextgov.com/a/166629/|CBP’s")
    assert "Law enforcement should be careful." in section["text"]["text"]
    assert section["accessory"]["image_url"] == "https://cdn.nextgov.com/open-graph.jpg"
    facts = context["elements"][0]["text"]
    for fact in ("Nextgov", "2 Jul 2020, 19:21 UTC", "quality *37*", "heat *37*",
                 "Computer Vision, AI"):
        assert fact in facts
    assert [e["action_id"] for e in actions["elements"]] == [PUBLISH_ACTION, SKIP_ACTION]
    assert {e["value"] for e in actions["elements"]} == {"2020/07/000_b7316ba93adffd97.txt"}


def test_decision_line_says_who_what_when_and_the_buttons_show_it():
    decision = Decision("x", "publish", "U42", "2026-11-26T09:00:00Z", "reaction", "C1", "1.2")
    blocks = article_blocks(make_article(), decision)
    line = blocks[2]["elements"][0]["text"]
    assert line == (":white_check_mark: *Published* by <@U42> · "
                    "<!date^1795683600^{date_short_pretty} {time}|26 Nov 2026, 09:00 UTC> · "
                    "not in the file yet (next sync)")
    assert "written to the file" in article_blocks(
        make_article(), decision, written_at="2026-11-26T10:00:00Z")[2]["elements"][0]["text"]
    buttons = blocks[-1]["elements"]
    assert [(b["action_id"], b["text"]["text"], b.get("style")) for b in buttons] == [
        (PUBLISH_ACTION, "Published \u2713", None), (SKIP_ACTION, "Skip", "danger"),
        (UNDO_ACTION, "Undo", None)]
    assert "published by U42" in article_fallback(make_article(), decision)
    skip = Decision("x", "skip", "ana", "2026-11-26T09:00:00Z", "cli", None, None)
    skipped = article_blocks(make_article(), skip)
    assert ":x: *Skipped* by ana" in skipped[2]["elements"][0]["text"]
    assert [b["text"]["text"] for b in skipped[-1]["elements"]] == [
        "Publish", "Skipped \u2713", "Undo"]


def test_no_thumbnail_without_an_http_image_and_long_excerpts_are_cut():
    blocks = article_blocks(make_article(image_url=None, excerpt="word " * 1000))
    assert "accessory" not in blocks[0]
    assert len(blocks[0]["text"]["text"]) < 3000
    assert blocks[0]["text"]["text"].endswith("…")


def test_readable_time_falls_back_to_escaped_raw_text():
    assert readable_time("2026-03-29T01:30:00Z") == "29 Mar 2026, 01:30 UTC"
    assert readable_time(None) == "date unknown"
    assert readable_time("<soon>") == "&lt;soon&gt;"


def test_article_list_stays_under_slack_block_limit():
    articles = [make_article(id=f"a{n}.txt") for n in range(40)]
    blocks = article_list_blocks("*heading*", articles, "none", buttons=True)
    assert len(blocks) <= 50
    assert article_list_blocks("h", [], "Nothing here.")[1]["text"]["text"] == "Nothing here."


def test_escape_is_idempotent_only_for_plain_text():
    assert escape("a & b") == "a &amp; b"
    assert escape(None) == ""


def test_section_text_stays_within_slack_limit_after_escaping():
    article = make_article(title="&" * 1600, excerpt="<&>" * 900,
                           web_url="https://x.example/" + "a" * 1400)
    text = article_blocks(article)[0]["text"]["text"]
    assert len(text) <= 3000
    assert "&amp;" in text and not text.rstrip("…").endswith("&am")
    huge_url = make_article(web_url="https://x.example/" + "b" * 5000,
                            image_url="https://x.example/" + "c" * 5000)
    blocks = article_blocks(huge_url)
    assert "bbbb" not in blocks[0]["text"]["text"] and "accessory" not in blocks[0]


def test_only_slack_user_ids_become_mentions():
    decision = Decision("x", "skip", "U1> <!channel", "2026-11-26T09:00:00Z", "cli", None, None)
    rendered = all_text(article_blocks(make_article(), decision))
    assert "<!channel>" not in rendered and "U1&gt; &lt;!channel" in rendered
    decision = Decision("x", "skip", "W0ABC123", "2026-11-26T09:00:00Z", "cli", None, None)
    assert "<@W0ABC123>" in all_text(article_blocks(make_article(), decision))
