"""Embargo: an article whose publishedDateTime lies in the future stays out of digests and
look-ups until then, on the command line and in Slack."""

from __future__ import annotations

import datetime as dt

from conftest import CHANNEL, EDITOR, Raw, start_newsroom, texts, write_article
from newsbot.bot.newsroom.digest import DigestOptions, plan_digest, select_digest
from newsbot.bot.newsroom.lookup import lookup_topic, search
from newsbot.storage.index import refresh


def at(moment: dt.datetime) -> Raw:
    return Raw(moment.strftime("%Y-%m-%dT%H:%M:%SZ"))


NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
SOON = NOW + dt.timedelta(hours=5)


def embargoed_folder(folder):
    write_article(folder, "now.md", title="Out already", quality=50, topics=["Space"],
                  webUrl="https://example.org/now",
                  publishedDateTime=at(NOW - dt.timedelta(hours=1)))
    write_article(folder, "later.md", title="Embargoed moon landing", quality=90,
                  webUrl="https://example.org/later",
                  topics=["Space"], publishedDateTime=at(SOON))
    write_article(folder, "later-too.md", title="Embargoed rocket test", quality=80,
                  webUrl="https://example.org/later-too",
                  topics=["Space"], publishedDateTime=at(SOON + dt.timedelta(days=2)))


def test_cli_digest_holds_embargoed_back_and_says_how_many(newsbot, workdir):
    folder = workdir / "articles"
    embargoed_folder(folder)
    (workdir / "newsbot.yaml").write_text("articles: articles\ndb: newsbot.db\n")
    result = newsbot("digest", "--json")
    assert [a["id"] for a in result.json["articles"]] == ["now.md"]
    assert result.json["embargoed"] == 2
    text = newsbot("digest").stdout
    assert "2 embargoed articles held back" in text
    assert "Embargoed" not in text.split("held back")[0]
    shown = newsbot("digest", "--json", "--include-embargoed").json
    assert [a["id"] for a in shown["articles"]] == ["later.md", "later-too.md", "now.md"]
    assert shown["embargoed"] == 0
    assert [a["id"] for a in newsbot("lookup", "space", "--json").json["articles"]] == ["now.md"]
    everything = newsbot("lookup", "space", "--json", "--include-embargoed").json
    assert [a["id"] for a in everything["articles"]] == ["later.md", "later-too.md", "now.md"]
    assert newsbot("search", "embargoed", "--json").json["articles"] == []
    found = newsbot("search", "embargoed", "--json", "--include-embargoed").json
    assert {a["id"] for a in found["articles"]} == {"later.md", "later-too.md"}


def test_embargo_lifts_at_its_time(store, articles):
    embargoed_folder(articles)
    refresh(store, articles)
    after = SOON + dt.timedelta(seconds=1)
    assert [a.id for a in select_digest(store, now=SOON - dt.timedelta(seconds=1))] == ["now.md"]
    assert [a.id for a in select_digest(store, now=SOON)] == ["later.md", "now.md"]
    assert [a.id for a in lookup_topic(store, "space", now=after).articles] == [
        "later.md", "now.md"]
    assert [a.id for a in search(store, "embargoed", now=after)] == ["later.md"]


def test_slack_lookups_hide_embargoed_and_a_later_schedule_posts_it(tmp_path):
    with start_newsroom(tmp_path) as newsroom:
        write_article(newsroom.config.articles, "zz/embargoed.md",
                      title="Embargoed quantum result", quality=100, topics=["AI"],
                      publishedDateTime=at(SOON))
        refresh(newsroom.store, newsroom.config.articles)
        for text in ("digest", "topic AI", "search embargoed quantum"):
            newsroom.client.slash_command("/news", text, user_id=EDITOR, channel_id=CHANNEL)
        newsroom.slack.wait_until(lambda: len(newsroom.slack.response_posts()) == 3)
        for post in newsroom.slack.response_posts():
            assert "Embargoed quantum result" not in texts(post.payload["blocks"])
        early = plan_digest(newsroom.store, CHANNEL, DigestOptions(top=3), key="schedule:s1:a",
                            now=NOW)
        assert "zz/embargoed.md" not in [m.article.id for m in early.messages]
        late = plan_digest(newsroom.store, CHANNEL, DigestOptions(top=3), key="schedule:s1:b",
                           now=SOON + dt.timedelta(minutes=1))
        assert late.messages[0].article.id == "zz/embargoed.md"
