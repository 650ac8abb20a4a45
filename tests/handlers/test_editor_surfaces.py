"""One truth on every surface: look-ups leave decided articles out of "to review" and
mark them, `newsbot decisions` shows outcomes, answers are worded for their count."""

from __future__ import annotations

import pytest
from conftest import write_article


@pytest.fixture
def folder(workdir):
    articles = workdir / "articles"
    # two different stories: their own URLs and excerpts, so no story cluster joins them
    write_article(articles, "a.md", title="Alpha battery story", topics=["Energy"], quality=90,
                  webUrl="https://news.example/alpha", excerpt="Cells store more charge.")
    write_article(articles, "b.md", title="Beta grid story", topics=["Energy"], quality=50,
                  webUrl="https://news.example/beta", excerpt="The grid gets a new line.")
    (workdir / "newsbot.yaml").write_text("articles: articles\ndb: newsbot.db\n")
    return articles


def test_lookup_leaves_a_decided_article_out_and_says_so(newsbot, folder):
    assert newsbot("decide", "a.md", "publish", "--user", "U0ANA").code == 0
    result = newsbot("lookup", "energy", "--json")
    assert [a["id"] for a in result.json["articles"]] == ["b.md"]
    assert result.json["waitingForSync"] == 1
    text = newsbot("lookup", "energy").stdout
    assert text.startswith("Energy: 1 unpublished article\n")
    assert "1 more article with a decision waiting for sync: newsbot lookup 'Energy' --decided" \
        in text
    marked = newsbot("lookup", "energy", "--decided")
    assert "Alpha battery story [publish by U0ANA, waiting for sync]" in marked.stdout
    decided = newsbot("lookup", "energy", "--decided", "--json").json["articles"][0]
    assert decided["decision"]["decision"] == "publish" and decided["decision"]["user"] == "U0ANA"


def test_topics_leave_articles_waiting_for_sync_out_of_to_review(newsbot, folder):
    def energy() -> dict:
        return next(t for t in newsbot("topics", "--json").json["topics"]
                    if t["topic"] == "Energy")

    assert energy() == {"topic": "Energy", "unpublished": 2, "total": 2}
    newsbot("decide", "a.md", "publish", "--user", "U0ANA")
    newsbot("decide", "a.md", "skip", "--user", "U0BEN")  # two votes, one article
    assert energy() == {"topic": "Energy", "unpublished": 1, "total": 2}
    newsbot("decide", "a.md", "undo", "--user", "U0ANA")
    newsbot("decide", "a.md", "undo", "--user", "U0BEN")
    assert energy() == {"topic": "Energy", "unpublished": 2, "total": 2}
    assert newsbot("sync").code == 0  # nothing to write: no decision stands
    newsbot("decide", "b.md", "skip", "--user", "U0ANA")
    assert newsbot("sync").code == 0  # b.md gets skipped: true; counted once, as skipped
    assert energy() == {"topic": "Energy", "unpublished": 1, "total": 2}


def test_search_marks_decided_articles_and_counts_in_words(newsbot, folder):
    newsbot("decide", "a.md", "skip", "--user", "U0ANA")
    one = newsbot("search", "battery").stdout
    assert one.startswith("1 match for 'battery'\n")
    assert "Alpha battery story [skip by U0ANA, waiting for sync]" in one
    assert newsbot("search", "story").stdout.startswith("2 matches for 'story'\n")


def test_digest_heading_counts_in_words(newsbot, folder):
    newsbot("decide", "a.md", "skip", "--user", "U0ANA")
    assert newsbot("digest").stdout.startswith("Top 1 unpublished article\n")


def test_decisions_show_outcomes_and_whether_the_file_has_them(newsbot, folder):
    newsbot("decide", "a.md", "publish", "--user", "U0ANA")
    newsbot("decide", "a.md", "skip", "--user", "U0BEN")
    newsbot("decide", "b.md", "skip", "--user", "U0ANA")
    newsbot("decide", "b.md", "undo", "--user", "U0ANA")
    standing = newsbot("decisions").stdout
    assert standing.startswith("skip     a.md  by U0BEN at ")
    assert standing.rstrip().endswith("via cli: waiting for sync")
    assert newsbot("sync").code == 0
    document = newsbot("decisions", "--json").json
    assert [(d["id"], d["writtenToFile"]) for d in document["decisions"]] == [("a.md", True)]
    log = newsbot("decisions", "--log", "--json").json["events"]
    assert [(e["id"], e["action"], e["user"], e["status"]) for e in log] == [
        ("b.md", "undo", "U0ANA", "withdrawn"),
        ("b.md", "skip", "U0ANA", "withdrawn"),
        ("a.md", "skip", "U0BEN", "written to file"),
        ("a.md", "publish", "U0ANA", "superseded"),
    ]
    assert "a.md  by U0ANA via cli: superseded" in newsbot("decisions", "--log").stdout


@pytest.mark.parametrize("text,closest", [
    ("artciles: articles\n", "articles"),
    ("sheduler:\n  timezone: Europe/London\n", "scheduler"),
    ("digest:\n  tpo: 3\n", "digest.top"),
])
def test_a_config_typo_suggests_the_closest_key_and_lists_the_valid_ones(newsbot, workdir,
                                                                         text, closest):
    (workdir / "newsbot.yaml").write_text(text)
    result = newsbot("topics")
    assert result.code == 2
    assert f"(did you mean '{closest}'?); valid keys: articles, db, patterns, digest.top," in \
        result.stderr
    assert "scheduler.timezone" in result.stderr


@pytest.mark.parametrize("args", [
    ("decide", "nope.md", "publish", "--user", "U1", "--json"),  # the command refuses
    ("--json", "digest", "--top", "0"),  # argparse refuses
    ("--json", "schedule", "add", "#news", "0 9 * * *"),
])
def test_errors_under_json_are_one_json_document(newsbot, folder, args):
    result = newsbot(*args)
    assert result.code == 2
    assert result.json["ok"] is False and result.json["error"]
    assert result.json["error"] in result.stderr


def test_errors_without_json_stay_text(newsbot, folder):
    result = newsbot("decide", "nope.md", "publish", "--user", "U1")
    assert result.code == 2 and result.stdout == ""
    assert result.stderr.startswith("newsbot: error: no article with id 'nope.md'")
