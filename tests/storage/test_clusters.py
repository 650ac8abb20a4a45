"""Story clusters: copies of one story found by URL or near-duplicate text, kept up to date by
the index, and shown as one entry in digests and look-ups, on the command line and in Slack."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from conftest import CHANNEL, EDITOR, Raw, start_newsroom, texts, write_article
from newsbot.bot.newsroom.decisions import decide
from newsbot.bot.newsroom.digest import DigestOptions, plan_digest, select_digest
from newsbot.bot.newsroom.lookup import lookup_topic, search
from newsbot.storage.db import Store
from newsbot.storage.index import refresh, refresh_paths
from newsbot.storage.story_clusters import ClusterSettings, canonical_url

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
ON = ClusterSettings()
LEDE = ("Regional grid operators said on Monday they would add four gigawatts of battery "
        "storage before the summer peak, citing record demand and delayed gas plants.")


def at(hours_before_now: float) -> Raw:
    return Raw((NOW - dt.timedelta(hours=hours_before_now)).strftime("%Y-%m-%dT%H:%M:%SZ"))


def story(folder, name, *, title="Grid Operators Add Battery Storage Ahead of Summer Peak",
          excerpt=LEDE, hours=30.0, quality=50, provider="Wire", url=None, **fields):
    write_article(folder, name, title=title, excerpt=excerpt, publishedDateTime=at(hours),
                  quality=quality, heat=10, webUrl=url or f"https://{provider.lower()}.example/"
                  f"{name}", provider={"name": provider, "domain": f"{provider.lower()}.example"},
                  topics=["Energy"], **fields)


def other(folder, name, title, quality=40, hours=30.0, **fields):
    write_article(folder, name, title=title, excerpt=f"Nothing alike: {title.lower()}.",
                  publishedDateTime=at(hours), quality=quality, heat=10,
                  webUrl=f"https://other.example/{name}", topics=["Energy"], **fields)


def members(store) -> dict[str, list[str]]:
    rows = store.query("SELECT cluster_id, article_id FROM cluster_members ORDER BY rank")
    found: dict[str, list[str]] = {}
    for row in rows:
        found.setdefault(row["cluster_id"], []).append(row["article_id"])
    return found


def digest_ids(store, **options) -> list[str]:
    return [a.id for a in select_digest(store, DigestOptions(top=50, **options), now=NOW)]


# --- what makes a copy


@pytest.mark.parametrize(("url", "canonical"), [
    ("HTTPS://WWW.Example.org/a/b/?utm_source=x&id=3&fbclid=Z#part",
     "https://example.org/a/b?id=3"),
    ("http://m.example.org/a/", "http://example.org/a"),
    ("https://example.org/a?gclid=1&utm_medium=mail&UTM_Campaign=q", "https://example.org/a"),
    ("https://example.org:8443/a", "https://example.org:8443/a"),
    ("not a url", None),
    ("", None),
])
def test_canonical_url(url, canonical):
    assert canonical_url(url) == canonical


def test_copies_by_url_and_by_text_and_what_is_not_a_copy(store, articles):
    story(articles, "wire.md", quality=80, url="https://www.wire.example/grid")
    story(articles, "suffix.md", title="Grid operators add battery storage ahead of summer "
          "peak | Metro Ledger", excerpt=LEDE[:95], quality=71, provider="Metro", hours=26)
    story(articles, "word.md", title="Grid Operators To Add Battery Storage Before Summer Peak "
          "- Harbor Times", quality=64, provider="Harbor", hours=10)
    story(articles, "tracked.md", title="Something else", excerpt="Other words entirely.",
          quality=20, url="https://m.wire.example/grid/?utm_source=feed#top", hours=5)
    # same text, but published 73 hours from every member: not the same story
    story(articles, "late.md", quality=90, hours=30 + 73 + 1, provider="Late")
    # its `related` list names the wire story: related coverage, never a reason to merge
    other(articles, "related.md", "Utilities sign gas deals",
          related=Raw('\n  - title: "Grid Operators Add Battery Storage Ahead of Summer Peak"'
                      '\n    webUrl: "https://www.wire.example/grid"'))
    refresh(store, articles, clusters=ON)
    assert members(store) == {"wire.md": ["wire.md", "suffix.md", "word.md", "tracked.md"]}
    links = {(r["a"], r["b"]): r["reason"] for r in store.query("SELECT * FROM cluster_links")}
    assert links[("tracked.md", "wire.md")] == "url"
    assert links[("suffix.md", "wire.md")] == "text"


def test_clustering_is_transitive_across_the_window(store, articles):
    story(articles, "a.md", hours=100, quality=30)
    story(articles, "b.md", hours=50, quality=20, provider="Bee")
    story(articles, "c.md", hours=0, quality=10, provider="Sea")
    refresh(store, articles, clusters=ON)  # a and c are 100 hours apart, linked through b
    assert members(store) == {"a.md": ["a.md", "b.md", "c.md"]}


def test_changes_recluster_incrementally(store, articles):
    story(articles, "a.md", quality=30)
    story(articles, "b.md", quality=20, provider="Bee", hours=20)
    other(articles, "x.md", "Council rejects rooftop solar permits", hours=31)
    other(articles, "y.md", "Council rejects rooftop solar permit", hours=32)
    refresh(store, articles, clusters=ON)
    assert members(store) == {"a.md": ["a.md", "b.md"], "x.md": ["x.md", "y.md"]}
    story(articles, "b.md", quality=90, provider="Bee", hours=20)  # the lead changes
    story(articles, "c.md", quality=10, provider="Sea", hours=40)  # a copy is added
    refresh(store, articles, clusters=ON)
    assert members(store) == {"b.md": ["b.md", "a.md", "c.md"], "x.md": ["x.md", "y.md"]}
    (articles / "b.md").unlink()  # the lead goes: the rest stay one story
    refresh(store, articles, clusters=ON)
    assert members(store) == {"a.md": ["a.md", "c.md"], "x.md": ["x.md", "y.md"]}
    other(articles, "c.md", "Rewritten as its own story entirely", hours=40)
    (articles / "y.md").write_text("---\nquality: high\n---\n")  # broken: not usable
    refresh(store, articles, clusters=ON)
    assert members(store) == {}
    assert refresh(store, articles, clusters=ON).indexed == 0
    assert members(store) == {}


def test_settings_decide_and_a_change_of_settings_reclusters(store, articles):
    story(articles, "a.md", quality=30)
    story(articles, "b.md", quality=20, provider="Bee", hours=0)
    refresh(store, articles, clusters=ClusterSettings(window_hours=24))
    assert members(store) == {}
    refresh(store, articles, clusters=ON)
    assert members(store) == {"a.md": ["a.md", "b.md"]}
    refresh(store, articles, clusters=ClusterSettings(enabled=False))
    assert members(store) == {} and store.query("SELECT * FROM cluster_items") == []
    story(articles, "b.md", quality=20, provider="Bee", hours=0,
          title="Grid Operators Add More Battery Storage Ahead of a Summer Peak")
    refresh(store, articles, clusters=ON)
    assert members(store) == {"a.md": ["a.md", "b.md"]}
    refresh(store, articles, clusters=ClusterSettings(similarity=0.99))
    assert members(store) == {}


# --- one entry per story


def test_digest_and_lookups_show_one_entry_per_story(store, articles):
    story(articles, "lead.md", quality=80)
    story(articles, "copy.md", quality=70, provider="Bee", hours=20)
    other(articles, "alone.md", "Council rejects rooftop solar permits", quality=75)
    refresh(store, articles, clusters=ON)
    assert digest_ids(store) == ["lead.md", "alone.md"]
    assert [a.id for a in lookup_topic(store, "energy", now=NOW).articles] == [
        "lead.md", "alone.md"]
    assert [a.id for a in lookup_topic(store, "energy", limit=1, now=NOW).articles] == [
        "lead.md"]
    assert [a.id for a in search(store, "battery storage", now=NOW)] == ["lead.md"]


def test_a_decision_on_the_lead_decides_the_story(store, articles):
    story(articles, "lead.md", quality=80)
    story(articles, "copy.md", quality=70, provider="Bee", hours=20)
    story(articles, "copy2.md", quality=60, provider="Sea", hours=25)
    refresh(store, articles, clusters=ON)
    decide(store, "lead.md", "skip", "U1", source="test")
    assert digest_ids(store) == []
    assert store.query("SELECT article_id FROM votes") == [{"article_id": "lead.md"}]
    decide(store, "lead.md", "undo", "U1", source="test")
    assert digest_ids(store) == ["lead.md"]


def test_a_published_copy_settles_the_story_and_an_embargoed_lead_gives_way(store, articles):
    story(articles, "lead.md", quality=80, hours=-5)  # embargoed for five more hours
    story(articles, "copy.md", quality=70, provider="Bee", hours=20)
    story(articles, "copy2.md", quality=60, provider="Sea", hours=25)
    refresh(store, articles, clusters=ON)
    assert digest_ids(store) == ["copy.md"]
    assert digest_ids(store, include_embargoed=True) == ["lead.md"]
    story(articles, "copy2.md", quality=60, provider="Sea", hours=25, published=True)
    refresh(store, articles, clusters=ON)
    assert digest_ids(store) == [] and digest_ids(store, include_embargoed=True) == []


# --- the command line


@pytest.fixture
def folder(workdir):
    articles = workdir / "articles"
    story(articles, "lead.md", quality=80)
    story(articles, "copy.md", title="Grid operators to add battery storage ahead of summer "
          "peak | Bee News", excerpt=LEDE[:70], quality=71, provider="Bee", hours=20)
    story(articles, "same-url.md", title="Battery story", excerpt="Short.", quality=64,
          provider="Sea", hours=25, url="https://www.wire.example/lead.md?utm_source=x")
    other(articles, "alone.md", "Council rejects rooftop solar permits", quality=75)
    other(articles, "pair-a.md", "Port authority tests drone inspections", quality=50)
    other(articles, "pair-b.md", "Port authority tests drone inspections", quality=55,
          hours=29)
    (workdir / "newsbot.yaml").write_text("articles: articles\ndb: newsbot.db\n")
    return articles


def test_cli_clusters_digest_and_decide(newsbot, folder, monkeypatch):
    result = newsbot("clusters", "--json")
    assert result.code == 0
    assert result.json == {"clusters": [
        {"lead": "lead.md", "members": ["lead.md", "copy.md", "same-url.md"], "reason": "text"},
        {"lead": "pair-b.md", "members": ["pair-b.md", "pair-a.md"], "reason": "text"},
    ]}
    assert "3 articles (same text): lead.md (lead), copy.md, same-url.md" in newsbot(
        "clusters").stdout
    digest = newsbot("digest", "--json").json["articles"]
    assert [(a["id"], a["alsoCovered"]) for a in digest] == [
        ("lead.md", ["copy.md", "same-url.md"]), ("alone.md", []), ("pair-b.md", ["pair-a.md"])]
    text = newsbot("digest").stdout
    assert ("Also: Bee (quality 71) https://bee.example/copy.md, Sea (quality 64) "
            "https://www.wire.example/lead.md?utm_source=x") in text
    decided = newsbot("decide", "copy.md", "publish", "--user", "U1", "--json").json
    assert decided["outcome"] == "recorded"
    assert decided["cluster"] == {"lead": "lead.md", "members": ["lead.md", "copy.md",
                                                                 "same-url.md"], "reason": "text"}
    assert "lead lead.md" in newsbot("decide", "copy.md", "publish", "--user", "U2").stdout
    assert [a["id"] for a in newsbot("digest", "--json").json["articles"]] == [
        "alone.md", "pair-b.md"]
    newsbot("decide", "copy.md", "undo", "--user", "U1")
    newsbot("decide", "copy.md", "undo", "--user", "U2")
    newsbot("decide", "lead.md", "publish", "--user", "U1")
    synced = newsbot("sync", "--json").json
    assert synced["written"] == ["lead.md"] and synced["conflicts"] == []
    assert "published: true" in (folder / "lead.md").read_text()
    assert "published: false" in (folder / "copy.md").read_text()
    assert [a["id"] for a in newsbot("digest", "--json").json["articles"]] == [
        "alone.md", "pair-b.md"]
    monkeypatch.setenv("NEWSBOT_CLUSTERS_ENABLED", "false")
    assert newsbot("clusters", "--json").json == {"clusters": []}
    assert [a["id"] for a in newsbot("digest", "--json").json["articles"]] == [
        "alone.md", "copy.md", "same-url.md", "pair-b.md", "pair-a.md"]


def test_cluster_settings_from_the_environment(newsbot, folder, monkeypatch):
    monkeypatch.setenv("NEWSBOT_CLUSTERS_SIMILARITY", "0.99")
    assert newsbot("clusters", "--json").json["clusters"] == [
        {"lead": "lead.md", "members": ["lead.md", "same-url.md"], "reason": "url"},
        {"lead": "pair-b.md", "members": ["pair-b.md", "pair-a.md"], "reason": "text"}]
    monkeypatch.setenv("NEWSBOT_CLUSTERS_WINDOW_HOURS", "0.5")  # the pair is 1 hour apart
    assert newsbot("clusters", "--json").json == {"clusters": []}
    monkeypatch.setenv("NEWSBOT_CLUSTERS_SIMILARITY", "1.5")
    result = newsbot("clusters")
    assert result.code == 2 and "NEWSBOT_CLUSTERS_SIMILARITY" in result.stderr


# --- Slack


def test_slack_digest_posts_one_member_per_story_with_an_also_line(tmp_path):
    with start_newsroom(tmp_path) as newsroom:
        refresh(newsroom.store, newsroom.config.articles, clusters=ON)
        plan = newsroom.post_digest(top=10)
        posted = [m.article.id for m in plan.posted]
        assert "2026/11/002_1fd0de9fdd025416.txt" in posted
        assert not {"2026/11/017_3b9e0d1c52a7f460.txt", "2026/11/018_c07d5a9e1f3b2c84.txt",
                    "2026/11/019_8e41f2a6b0d9c375.txt"} & set(posted)
        lead = next(m for m in plan.posted if m.article.id.endswith("002_1fd0de9fdd025416.txt"))
        blocks = texts(newsroom.slack.workspace.message(CHANNEL, lead.ts)["blocks"])
        assert ("Also: <https://healthwire.example/news/2026/11/04/ai-mammography-trial-missed-"
                "cancers|Health Wire> (quality 71), <https://www.example-news.org/2026/11/"
                "ai-mammography-trial/163790/|Example News> (quality 64)") in blocks
        newsroom.client.reaction_added(user_id=EDITOR, reaction="white_check_mark",
                                       channel_id=CHANNEL, ts=lead.ts, event_id="EvLead")
        newsroom.slack.wait_until(lambda: newsroom.slack.calls("chat.update"))
        redrawn = texts(newsroom.slack.workspace.message(CHANNEL, lead.ts)["blocks"])
        assert "*Published* by <@U0EDITOR>" in redrawn and "Also: " in redrawn
        assert newsroom.votes() == [{"article_id": lead.article.id, "user_id": EDITOR,
                                     "decision": "publish"}]
        later = plan_digest(newsroom.store, "C0OTHER", DigestOptions(top=50))
        assert not {m.article.id for m in later.messages} & {
            "2026/11/002_1fd0de9fdd025416.txt", "2026/11/017_3b9e0d1c52a7f460.txt",
            "2026/11/018_c07d5a9e1f3b2c84.txt"}
        newsroom.client.slash_command("/news", "topic health", user_id=EDITOR,
                                      channel_id=CHANNEL)
        newsroom.slack.wait_until(lambda: newsroom.slack.response_posts())
        answer = texts(newsroom.slack.response_posts()[0].payload["blocks"])
        # the decided lead waits for sync, out of "to review", and its story with it
        assert "1 more article with a decision waiting for the next sync" in answer
        assert not {"002_1fd0de9fdd025416", "017_3b9e0d1c52a7f460",
                    "018_c07d5a9e1f3b2c84"} & set(re.findall(r"\d{3}_[0-9a-f]{16}", answer))
        # the App Home queue: the URL-copied story once, with its Also line
        newsroom.client.app_home_opened(user_id=EDITOR)
        newsroom.slack.wait_until(lambda: newsroom.slack.calls("views.publish"))
        home = texts(newsroom.slack.workspace.home_view(EDITOR)["blocks"])
        assert "011_91fcc8c89a6b3341" in home and "019_8e41f2a6b0d9c375" not in home
        assert "Also: <https://m.example-news.org/" in home
        assert "|Civic Signal> (quality 57)" in home


def test_a_quiet_refresh_still_sees_a_file_that_broke_or_was_never_clustered(store, articles):
    story(articles, "a.md", quality=30)
    story(articles, "b.md", quality=20, provider="Bee", hours=20)
    refresh(store, articles, clusters=ON)
    assert members(store) == {"a.md": ["a.md", "b.md"]}
    (articles / "a.md").write_text("---\nquality: high\n---\n")  # nothing indexed, one broke
    report = refresh(store, articles, clusters=ON)
    assert (report.indexed, report.removed) == (0, 0) and members(store) == {}
    story(articles, "a.md", quality=30)
    refresh(store, articles)  # indexed by a refresh that did not cluster (or was killed)
    assert members(store) == {}
    assert refresh(store, articles, clusters=ON).indexed == 0
    assert members(store) == {"a.md": ["a.md", "b.md"]}


def test_file_events_recluster_what_they_touched_as_a_walk_would(store, articles, tmp_path):
    story(articles, "a.md", quality=30)
    story(articles, "b.md", quality=20, provider="Bee", hours=20)
    other(articles, "x.md", "Council rejects rooftop solar permits", hours=31)
    refresh(store, articles, clusters=ON)
    story(articles, "c.md", quality=10, provider="Sea", hours=40)  # a copy arrives
    other(articles, "y.md", "Council rejects rooftop solar permit", hours=32)
    (articles / "a.md").unlink()
    refresh_paths(store, articles, ["c.md", "y.md", "a.md"], clusters=ON)
    assert members(store) == {"b.md": ["b.md", "c.md"], "x.md": ["x.md", "y.md"]}
    walked = Store(tmp_path / "walked.db")
    try:
        refresh(walked, articles, clusters=ON)
        assert members(walked) == members(store)
    finally:
        walked.close()
    assert refresh(store, articles, clusters=ON).indexed == 0  # the walk after: the same
    assert members(store) == {"b.md": ["b.md", "c.md"], "x.md": ["x.md", "y.md"]}


def vm_steps(store, call, *args, **kwargs) -> int:
    """SQLite virtual machine steps `call(*args, **kwargs)` makes on the store's connection: work,
    counted exactly, without timing anything."""
    steps = 0

    def count() -> int:
        nonlocal steps
        steps += 1
        return 0

    store.db.conn.set_progress_handler(count, 1)
    try:
        call(*args, **kwargs)
    finally:
        store.db.conn.set_progress_handler(None, 1)
    return steps


def test_a_file_event_costs_what_it_changed_not_what_the_folder_holds(tmp_path):
    """Clustering after a file event once compared every article with its clusters: 0.4 s
    a file event at 100,000 articles, most of an alert's latency."""
    costs = []
    for size in (20, 500):
        folder = tmp_path / f"articles-{size}"
        for number in range(size):
            other(folder, f"old-{number}.md", f"Story {number * 7919 % 10007} of {size}",
                  hours=100 + 100 * number)  # outside the new story's window
        store = Store(tmp_path / f"index-{size}.db")
        try:
            refresh(store, folder, clusters=ON)
            story(folder, "new.md")
            costs.append(vm_steps(store, refresh_paths, store, folder, ["new.md"],
                                  clusters=ON))
            assert store.query("SELECT 1 FROM cluster_items WHERE article_id = 'new.md'")
        finally:
            store.close()
    assert costs[1] < costs[0] * 1.5, costs
