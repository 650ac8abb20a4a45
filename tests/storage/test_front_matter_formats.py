"""TOML (`+++`) and JSON front matter: indexed like YAML, broken files named, and synced
with the same one-line edits, undo and conflicts, on real files through the command line
and the Slack look-alike."""

from __future__ import annotations

import pytest
from conftest import CHANNEL, EDITOR, start_newsroom, texts
from newsbot.storage.article_file import BrokenArticle, parse_article
from newsbot.storage.index import refresh

TOML_ARTICLE = (
    '+++\n'
    'title = "Rideshare fleets map potholes"\n'
    'excerpt = "Dashboard cameras feed a daily pothole map."\n'
    'publishedDateTime = 2026-11-19T10:20:00Z\n'
    'webUrl = "https://metro.example/potholes"\n'
    'quality = 67\n'
    'heat = 41\n'
    'published = false  # the desk sets this\n'
    'topics = ["Cities", "Computer Vision"]\n'
    '\n'
    '[provider]\n'
    'name = "Metro Ledger"\n'
    'domain = "metro.example"\n'
    '+++\n'
    'Body with its own\n+++\nline.\n'
)
JSON_ARTICLE = (
    '{\n'
    '  "title": "Port tests drones for crane inspections",\n'
    '  "excerpt": "Drones cut a two-day climb to an afternoon.",\n'
    '  "publishedDateTime": "2026-11-22T15:05:00Z",\n'
    '  "webUrl": "https://harbor.example/cranes",\n'
    '  "quality": 53,\n'
    '  "heat": 38,\n'
    '  "published": false,\n'
    '  "provider": {\n'
    '    "name": "Harbor Times",\n'
    '    "domain": "harbor.example",\n'
    '    "published": true\n'
    '  },\n'
    '  "topics": ["Robotics"]\n'
    '}\n'
    'Body.\n'
)
JSON_LAST_KEY = '{\n    "title": "Last key",\n    "webUrl": "https://j.example/b",\n' \
                '    "published": false\n}\n'
TOML_NO_PUBLISHED = '+++\ntitle = "No published key"\nwebUrl = "https://t.example/c"\n' \
                    'quality = 10\n[provider]\nname = "P"\n+++\n'


def test_toml_and_json_articles_read_like_yaml_ones():
    toml = parse_article(TOML_ARTICLE.encode())
    assert (toml["title"], toml["quality"], toml["published"], toml["published_at"],
            toml["topics"], toml["provider_name"]) == (
        "Rideshare fleets map potholes", 67, False, "2026-11-19T10:20:00Z",
        ["Cities", "Computer Vision"], "Metro Ledger")
    json_fields = parse_article(JSON_ARTICLE.encode())
    assert (json_fields["title"], json_fields["published"], json_fields["published_at"],
            json_fields["provider_domain"]) == (
        "Port tests drones for crane inspections", False, "2026-11-22T15:05:00Z",
        "harbor.example")
    crlf = parse_article(("\ufeff" + TOML_ARTICLE.replace("\n", "\r\n")).encode())
    assert crlf == toml


@pytest.mark.parametrize(("text", "reason"), [
    ('+++\ntitle = \nquality = 1\n+++\n', "invalid TOML in front matter at line 2"),
    ('+++\ntitle = "x"\ntitle = "y"\n+++\n', "invalid TOML in front matter at line 3"),
    ('+++\ntitle = "x"\nquality = 3\n', "front matter is not closed: no second '+++' line"),
    ('+++\ntitle = "x"\nquality = "high"\n+++\n', "quality must be a number"),
    ('+++\ntitle = "x"\npublished = "yes"\n+++\n', "published must be true or false"),
    ('+++ title = "x"\n+++\n', "no front matter: the first line must be '+++' alone"),
    ('{\n  "title": "x",\n}\n', "invalid JSON in front matter at line 3"),
    ('{\n  "title": "x"\n  "quality": 3\n}\n', "invalid JSON in front matter at line 3"),
    ('{\n  "title": "x"\n', "front matter is not closed: no '}' line"),
    ('{"title": "x"}\n', "no front matter: the first line must be '{' alone"),
    ('{\n  "title": "x",\n  "quality": [1]\n}\n', "quality must be a number"),
    ('{\n  "quality": 3\n}\n', "title is missing or empty"),
])
def test_broken_toml_and_json_say_why(text, reason):
    with pytest.raises(BrokenArticle) as caught:
        parse_article(text.encode())
    assert str(caught.value).startswith(reason)


def folder_with_formats(workdir):
    articles = workdir / "articles"
    articles.mkdir()
    (articles / "toml.md").write_bytes(TOML_ARTICLE.encode())
    other = TOML_ARTICLE  # another story (its own title, excerpt and URL), with CRLF
    for old, new in (("Rideshare fleets map potholes", "Buses count cyclists"),
                     ("Dashboard cameras feed a daily pothole map.", "Bike lanes, hourly."),
                     ("/potholes", "/cyclists")):
        other = other.replace(old, new)
    (articles / "toml-crlf.md").write_bytes(other.replace("\n", "\r\n").encode())
    (articles / "json.md").write_bytes(JSON_ARTICLE.encode())
    (articles / "json-last.md").write_bytes(JSON_LAST_KEY.encode())
    (articles / "toml-none.md").write_bytes(TOML_NO_PUBLISHED.encode())
    (articles / "broken.md").write_bytes(b'+++\ntitle = "x"\ntitle = "y"\n+++\n')
    (articles / "broken.json.md").write_bytes(b'{\n  "title": "x",\n}\n')
    (workdir / "newsbot.yaml").write_text("articles: articles\ndb: newsbot.db\n")
    return articles


def snapshot(folder) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_cli_indexes_and_syncs_toml_and_json_byte_for_byte(newsbot, workdir):
    folder = folder_with_formats(workdir)
    before = snapshot(folder)
    assert newsbot("index", "--json").json == {"total": 7, "indexed": 5, "unchanged": 0,
                                              "failed": 2, "removed": 0}
    failed = {row["id"]: row["reason"] for row in newsbot("index", "--failed", "--json").json[
        "failed"]}
    assert failed["broken.md"].startswith("invalid TOML in front matter at line 3")
    assert failed["broken.json.md"].startswith("invalid JSON in front matter at line 3")
    ids = {a["id"] for a in newsbot("digest", "--json").json["articles"]}
    assert ids == {"toml.md", "toml-crlf.md", "json.md", "json-last.md", "toml-none.md"}

    for article_id, action in (("toml.md", "publish"), ("toml-crlf.md", "skip"),
                               ("json.md", "skip"), ("json-last.md", "skip"),
                               ("toml-none.md", "skip")):
        assert newsbot("decide", article_id, action, "--user", "U1").code == 0
    synced = newsbot("sync", "--json").json
    assert sorted(synced["written"]) == sorted(
        ["toml.md", "toml-crlf.md", "json.md", "json-last.md", "toml-none.md"])
    after = snapshot(folder)
    assert after["toml.md"] == before["toml.md"].replace(
        b"published = false  # the desk", b"published = true  # the desk")
    assert after["toml-crlf.md"] == before["toml-crlf.md"].replace(
        b"published = false  # the desk sets this\r\n",
        b"published = false  # the desk sets this\r\nskipped = true\r\n")
    assert after["json.md"] == before["json.md"].replace(
        b'  "published": false,\n', b'  "published": false,\n  "skipped": true,\n')
    # the last key has no comma: the new line goes before it, so the JSON stays valid
    assert after["json-last.md"] == before["json-last.md"].replace(
        b'    "published": false\n', b'    "skipped": true,\n    "published": false\n')
    assert after["toml-none.md"] == before["toml-none.md"].replace(
        b"quality = 10\n", b"quality = 10\npublished = false\nskipped = true\n")
    assert newsbot("digest", "--json").json["articles"] == []  # the files say so now
    assert newsbot("sync", "--json").json["written"] == []

    for article_id in ("toml.md", "toml-crlf.md", "json.md", "json-last.md", "toml-none.md"):
        newsbot("decide", article_id, "undo", "--user", "U1")
    assert len(newsbot("sync", "--json").json["written"]) == 5
    assert snapshot(folder) == before  # undo gives every byte back


def test_a_toml_or_json_line_changed_by_someone_else_is_a_conflict(newsbot, workdir):
    folder = folder_with_formats(workdir)
    newsbot("decide", "toml.md", "skip", "--user", "U1")
    newsbot("decide", "json.md", "publish", "--user", "U1")
    assert sorted(newsbot("sync", "--json").json["written"]) == ["json.md", "toml.md"]
    (folder / "toml.md").write_bytes((folder / "toml.md").read_bytes().replace(
        b"skipped = true", b"skipped = false"))
    (folder / "json.md").write_bytes((folder / "json.md").read_bytes().replace(
        b'"published": true,', b'"published": false,'))
    newsbot("decide", "toml.md", "undo", "--user", "U1")  # json.md: the publish stands
    kept = snapshot(folder)
    result = newsbot("sync", "--json")
    assert result.code == 1, result.json
    reasons = {c["id"]: c["reason"] for c in result.json["conflicts"]}
    assert "'skipped' was changed in the file since newsbot wrote it" in reasons["toml.md"]
    assert "'published' was changed in the file since newsbot wrote it" in reasons["json.md"]
    assert "contradicts the decision to publish" in reasons["json.md"]
    assert snapshot(folder) == kept


def test_slack_reaction_on_a_toml_article_and_news_sync_write_it(tmp_path):
    with start_newsroom(tmp_path, admins=(EDITOR,)) as newsroom:
        articles = newsroom.config.articles
        toml_id = "2026/11/020_5d1e7a3c9b04f862.md"
        json_id = "2026/11/021_a47c20e9d83f1b56.md"
        plan = newsroom.post_digest(top=50)
        messages = {m.article.id: m for m in plan.posted}
        assert {toml_id, json_id} <= set(messages)
        rendered = texts(newsroom.slack.workspace.message(CHANNEL, messages[toml_id].ts)[
            "blocks"])
        assert "Rideshare Fleets Map Potholes" in rendered
        newsroom.client.reaction_added(user_id=EDITOR, reaction="white_check_mark",
                                       channel_id=CHANNEL, ts=messages[toml_id].ts,
                                       event_id="EvToml")
        newsroom.client.reaction_added(user_id=EDITOR, reaction="x", channel_id=CHANNEL,
                                       ts=messages[json_id].ts, event_id="EvJson")
        newsroom.slack.wait_until(lambda: len(newsroom.votes()) == 2)
        toml_before = (articles / toml_id).read_bytes()
        json_before = (articles / json_id).read_bytes()
        newsroom.client.slash_command("/news", "sync", user_id=EDITOR, channel_id=CHANNEL)
        newsroom.slack.wait_until(lambda: newsroom.slack.response_posts())
        answer = texts(newsroom.slack.response_posts()[0].payload["blocks"])
        assert "Wrote 2 file(s)" in answer
        assert (articles / toml_id).read_bytes() == toml_before.replace(
            b"published = false\n", b"published = true\n")
        assert (articles / json_id).read_bytes() == json_before.replace(
            b'  "published": false,\n', b'  "published": false,\n  "skipped": true,\n')
        refresh(newsroom.store, articles)
        assert newsroom.store.query(
            "SELECT id, published, skipped FROM articles WHERE id IN (?, ?) ORDER BY id",
            [toml_id, json_id]) == [{"id": toml_id, "published": 1, "skipped": 0},
                                    {"id": json_id, "published": 0, "skipped": 1}]
