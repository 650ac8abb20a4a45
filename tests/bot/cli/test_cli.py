"""The `newsbot` command line: each command's JSON, refresh before reading, exit codes."""

from __future__ import annotations

import datetime as dt
import json
import os
import pty
import subprocess
import sys

import pytest
from conftest import (
    EXAMPLES,
    Raw,
    article_text,
    bump_mtime,
    clean_env,
    run_cli,
    write_article,
    write_raw,
)

ARTICLE_KEYS = {"id", "title", "webUrl", "quality", "heat", "publishedDateTime", "topics",
                "provider"}


def days_ago(days: float) -> Raw:
    moment = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
    return Raw(moment.strftime("%Y-%m-%dT%H:%M:%SZ"))


@pytest.fixture
def folder(workdir):
    """An articles folder that the CLI finds through newsbot.yaml."""
    articles = workdir / "articles"
    # each with its own webUrl: the same URL would make them one story (clusters)
    write_article(articles, "ai/top.md", title="Top AI story", topics=["AI", "Health"],
                  webUrl="https://example.org/top",
                  quality=90, heat=10, publishedDateTime=days_ago(1),
                  provider={"name": "Health Signal", "domain": "healthsignal.example.com"})
    write_article(articles, "ai/second.txt", title="Second AI story", topics=["ai"],
                  webUrl="https://example.org/second",
                  quality=50, heat=50, publishedDateTime=days_ago(20))
    write_article(articles, "ai/out.md", title="Published AI story", topics=["AI"],
                  quality=99, published=True)
    write_article(articles, "space/rocket.md", title="Rocket reuse record", topics=["Space"],
                  webUrl="https://example.org/rocket",
                  quality=70, heat=5, publishedDateTime=days_ago(3))
    write_raw(articles, "broken/quality.md", article_text(quality=Raw("high")))
    write_raw(articles, "broken/no-front-matter.txt", "Only a body.\n")
    (workdir / "newsbot.yaml").write_text("articles: articles\ndb: newsbot.db\n")
    return articles


def assert_article_json(article: dict) -> None:
    assert set(article) >= ARTICLE_KEYS
    assert set(article["provider"]) == {"name", "domain"}
    assert isinstance(article["topics"], list)


# --- index


def test_index_json_counts_and_exit_0_with_failures(newsbot, folder):
    result = newsbot("index", "--json")
    assert result.code == 0
    assert result.json == {"total": 6, "indexed": 4, "unchanged": 0, "failed": 2, "removed": 0}
    result = newsbot("index", "--json")
    assert result.json == {"total": 6, "indexed": 0, "unchanged": 4, "failed": 2, "removed": 0}


def test_index_reports_change_add_delete_and_rename(newsbot, folder):
    newsbot("index")
    write_article(folder, "space/rocket.md", title="Rocket reuse record, updated")
    bump_mtime(folder / "space/rocket.md")
    write_article(folder, "new.md")
    (folder / "ai/second.txt").unlink()
    (folder / "ai/top.md").rename(folder / "top-moved.md")
    assert newsbot("index", "--json").json == {
        "total": 6, "indexed": 3, "unchanged": 1, "failed": 2, "removed": 2,
    }


def test_index_failed_lists_each_broken_file_with_its_reason(newsbot, folder):
    result = newsbot("index", "--failed", "--json")
    assert result.code == 0
    failed = result.json["failed"]
    assert [f["id"] for f in failed] == ["broken/no-front-matter.txt", "broken/quality.md"]
    assert "no front matter" in failed[0]["reason"]
    assert "quality must be a number" in failed[1]["reason"]
    text = newsbot("index", "--failed").stdout
    assert "broken/quality.md: quality must be a number" in text


def test_index_text(newsbot, folder):
    result = newsbot("index")
    assert result.stdout.startswith("6 files: 4 indexed, 0 unchanged, 2 failed, 0 removed")
    assert "newsbot index --failed" in result.stdout


def test_json_flag_before_or_after_the_command(newsbot, folder):
    assert newsbot("--json", "index").json["total"] == 6
    assert newsbot("index", "--json").json["total"] == 6


# --- digest


def test_digest_json(newsbot, folder):
    result = newsbot("digest", "--json")
    assert result.code == 0
    assert set(result.json) == {"articles", "embargoed"}
    articles = result.json["articles"]
    assert [a["id"] for a in articles] == ["ai/top.md", "space/rocket.md", "ai/second.txt"]
    for article in articles:
        assert_article_json(article)
    top = articles[0]
    assert top["title"] == "Top AI story"
    assert (top["quality"], top["heat"]) == (90, 10)
    assert top["topics"] == ["AI", "Health"]
    assert top["provider"] == {"name": "Health Signal", "domain": "healthsignal.example.com"}
    assert top["publishedDateTime"].endswith("Z")
    assert top["published"] is False


def test_digest_options(newsbot, folder):
    def ids(*args: str) -> list[str]:
        result = newsbot("digest", "--json", *args)
        assert result.code == 0, result.stderr
        return [a["id"] for a in result.json["articles"]]

    assert ids("--top", "1") == ["ai/top.md"]
    assert ids("--topic", "AI") == ["ai/top.md", "ai/second.txt"]
    assert ids("--topic", "space", "--topic", "HEALTH") == ["ai/top.md", "space/rocket.md"]
    assert ids("--min-quality", "70") == ["ai/top.md", "space/rocket.md"]
    assert ids("--max-age-days", "7") == ["ai/top.md", "space/rocket.md"]
    assert ids("--max-age-days", "2", "--topic", "ai") == ["ai/top.md"]
    assert ids("--topic", "nothing") == []


@pytest.mark.parametrize(
    "args",
    [
        ("--top", "0"), ("--top", "many"), ("--top", "100000000000000000000000"),
        ("--max-age-days", "-1"), ("--max-age-days", "inf"), ("--max-age-days", "nan"),
        ("--min-quality", "abc"), ("--min-quality", "nan"),
    ],
)
def test_digest_refuses_bad_numbers_with_a_usage_error(newsbot, folder, args):
    result = newsbot("digest", *args)
    assert result.code == 2
    assert args[0] in result.stderr
    assert result.stdout == ""


def test_digest_with_a_huge_max_age_keeps_everything(newsbot, folder):
    result = newsbot("digest", "--json", "--max-age-days", "1000000000")
    assert result.code == 0, result.stderr
    assert len(result.json["articles"]) == 3


def test_digest_text(newsbot, folder):
    text = newsbot("digest").stdout
    assert text.startswith("Top 3 unpublished articles")
    assert "Top AI story" in text and "id: ai/top.md" in text


def test_digest_with_nothing_eligible(newsbot, workdir):
    (workdir / "empty").mkdir()
    result = newsbot("digest", "--articles", "empty", "--json")
    assert (result.code, result.json) == (0, {"articles": [], "embargoed": 0})
    assert "Nothing to review" in newsbot("digest", "--articles", "empty").stdout


# --- refresh before reading


@pytest.mark.parametrize(
    ("command", "found"),
    [
        (("digest",), lambda doc: [a["id"] for a in doc["articles"]]),
        (("lookup", "Fresh"), lambda doc: [a["id"] for a in doc["articles"]]),
        (("search", "freshly"), lambda doc: [a["id"] for a in doc["articles"]]),
        (("topics",), lambda doc: [t["topic"] for t in doc["topics"]]),
    ],
)
def test_reading_commands_refresh_first_unless_no_refresh(newsbot, folder, command, found):
    newsbot("index")
    write_article(folder, "fresh.md", title="Freshly added", topics=["Fresh"], quality=100,
                  webUrl="https://example.org/fresh")
    stale = newsbot(*command, "--json", "--no-refresh")
    assert "fresh.md" not in str(stale.json) and "Fresh" not in found(stale.json)
    fresh = newsbot(*command, "--json")
    assert fresh.code == 0
    assert {"fresh.md", "Fresh"} & set(found(fresh.json))


def test_decide_refreshes_first(newsbot, folder):
    newsbot("index")
    write_article(folder, "fresh.md")
    assert newsbot("decide", "fresh.md", "publish", "--user", "U1", "--no-refresh").code == 2
    assert newsbot("decide", "fresh.md", "publish", "--user", "U1").code == 0


# --- lookup, topics, search


def test_lookup_json(newsbot, folder):
    result = newsbot("lookup", "ai", "--json")
    assert result.code == 0
    assert set(result.json) == {"topic", "articles"}
    assert result.json["topic"] in ("AI", "ai")
    assert [a["id"] for a in result.json["articles"]] == ["ai/top.md", "ai/second.txt"]
    for article in result.json["articles"]:
        assert_article_json(article)


def test_lookup_all_and_limit(newsbot, folder):
    result = newsbot("lookup", "AI", "--all", "--json")
    assert [a["id"] for a in result.json["articles"]] == [
        "ai/out.md", "ai/top.md", "ai/second.txt",
    ]
    assert result.json["articles"][0]["published"] is True
    result = newsbot("lookup", "AI", "--all", "--limit", "2", "--json")
    assert len(result.json["articles"]) == 2


def test_lookup_unknown_topic_exits_1_with_close_matches(newsbot, folder):
    result = newsbot("lookup", "spac", "--json")
    assert result.code == 1
    assert result.json == {"topic": "spac", "articles": [], "suggestions": ["Space"]}
    text = newsbot("lookup", "spac")
    assert text.code == 1
    assert "No topic named 'spac'" in text.stdout and "Space" in text.stdout


def test_topics_json(newsbot, folder):
    write_article(folder, "ai/skipped.md", title="Skipped AI story", topics=["AI"], skipped=True)
    result = newsbot("topics", "--json")
    assert result.code == 0
    counts = {t["topic"].casefold(): (t["unpublished"], t["total"]) for t in result.json["topics"]}
    # "unpublished" counts what is still to review: not the published one, not the skipped one
    assert counts == {"ai": (2, 4), "health": (1, 1), "space": (1, 1)}
    assert all(set(t) == {"topic", "unpublished", "total"} for t in result.json["topics"])
    assert result.json["topics"][0]["topic"].casefold() == "ai"  # busiest first


def test_search_json(newsbot, folder):
    result = newsbot("search", "ai", "story", "--json")
    assert result.code == 0
    assert result.json["query"] == "ai story"
    assert [a["id"] for a in result.json["articles"]] == [
        "ai/out.md", "ai/top.md", "ai/second.txt",
    ]
    for article in result.json["articles"]:
        assert_article_json(article)
    assert len(newsbot("search", "story", "--limit", "1", "--json").json["articles"]) == 1


def test_search_odd_input(newsbot, folder):
    for words in ['"', "*", "AND", ":", "title:rocket", "NEAR(", "'", "-x"]:
        result = newsbot("search", "--json", "--", words)
        assert result.code == 0, words
        assert isinstance(result.json["articles"], list)


# --- decide and decisions


def test_decide_refuses_a_broken_file_and_says_where_to_look(newsbot, folder):
    result = newsbot("decide", "broken/quality.md", "publish", "--user", "U1")
    assert result.code == 2
    assert "'broken/quality.md' cannot be used:" in result.stderr
    assert "newsbot index --failed" in result.stderr
    assert newsbot("decisions", "--json").json == {"decisions": []}


def test_decide_json_and_the_digest_follows(newsbot, folder):
    result = newsbot("decide", "ai/top.md", "publish", "--user", "U1", "--json")
    assert result.code == 0
    assert set(result.json) == {"id", "outcome", "standing"}
    assert (result.json["id"], result.json["outcome"]) == ("ai/top.md", "recorded")
    assert result.json["standing"]["decision"] == "publish"
    assert result.json["standing"]["user"] == "U1"
    assert result.json["standing"]["source"] == "cli"
    ids = [a["id"] for a in newsbot("digest", "--json").json["articles"]]
    assert "ai/top.md" not in ids

    result = newsbot("decide", "ai/top.md", "undo", "--user", "U1", "--json")
    assert (result.json["outcome"], result.json["standing"]) == ("retracted", None)
    ids = [a["id"] for a in newsbot("digest", "--json").json["articles"]]
    assert ids[0] == "ai/top.md"


def test_two_editors_the_latest_standing_vote_wins(newsbot, folder):
    newsbot("decide", "ai/top.md", "publish", "--user", "U1")
    result = newsbot("decide", "ai/top.md", "skip", "--user", "U2", "--json")
    assert result.json["standing"]["decision"] == "skip"
    decisions = newsbot("decisions", "--json").json["decisions"]
    assert [(d["id"], d["decision"], d["user"]) for d in decisions] == [
        ("ai/top.md", "skip", "U2"),
    ]
    newsbot("decide", "ai/top.md", "undo", "--user", "U2")
    decisions = newsbot("decisions", "--json").json["decisions"]
    assert [(d["id"], d["decision"], d["user"]) for d in decisions] == [
        ("ai/top.md", "publish", "U1"),
    ]
    assert "publish" in newsbot("decisions").stdout


def test_decide_unknown_article_and_bad_action(newsbot, folder):
    result = newsbot("decide", "missing.md", "publish", "--user", "U1", "--json")
    assert result.code == 2 and "missing.md" in result.json["error"]
    assert "missing.md" in result.stderr
    assert newsbot("decide", "ai/top.md", "approve", "--user", "U1").code == 2
    assert newsbot("decide", "ai/top.md", "publish").code == 2  # --user is required


def test_decisions_when_there_are_none(newsbot, folder):
    assert newsbot("decisions", "--json").json == {"decisions": []}
    assert "No standing decisions" in newsbot("decisions").stdout


# --- as its own process


def test_the_bundled_examples_with_no_configuration(tmp_path):
    result = run_cli("index", "--json", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert result.json == {"total": 39, "indexed": 39, "unchanged": 0, "failed": 0, "removed": 0}
    assert result.stderr == ""
    assert (tmp_path / "newsbot.db").exists()  # the default database, in the working folder
    result = run_cli("digest", "--json", cwd=tmp_path)
    articles = result.json["articles"]
    assert len(articles) == 10
    assert articles[0]["id"] == "2026/11/014_8e00f55ab9c8e475.md"
    assert [a["quality"] for a in articles] == sorted((a["quality"] for a in articles),
                                                      reverse=True)
    assert EXAMPLES.is_dir()


def test_the_bundled_examples_a_second_time_are_unchanged(newsbot, workdir):
    examples = ("--articles", str(EXAMPLES), "--json")
    assert newsbot("index", *examples).json["indexed"] == 39
    assert newsbot("index", *examples).json == {
        "total": 39, "indexed": 0, "unchanged": 39, "failed": 0, "removed": 0,
    }
    assert newsbot("index", "--failed", *examples).json == {"failed": []}
    topics = {t["topic"]: (t["unpublished"], t["total"])
              for t in newsbot("topics", *examples).json["topics"]}
    assert topics["Climate"] == (9, 11) and topics["AI"] == (12, 13)  # 3 syndicated copies
    assert sum(total for _, total in topics.values()) >= 39


def test_unicode_json(newsbot, workdir):
    write_article(workdir / "a", "東京.md", title="Émile’s 東京 🙂", topics=["Économie"])
    result = newsbot("digest", "--json", "--articles", "a")
    assert result.code == 0, result.stderr
    assert result.json["articles"][0]["title"] == "Émile’s 東京 🙂"
    assert result.json["articles"][0]["id"] == "東京.md"
    assert result.json["articles"][0]["topics"] == ["Économie"]


def run_with_terminal_stderr(args: list[str], cwd) -> tuple[int, str, str]:
    """Run the CLI with stderr on a pseudo-terminal (as in an editor's shell)."""
    try:
        leader, follower = pty.openpty()
    except OSError as error:  # a container without /dev/ptmx
        pytest.skip(f"no pseudo-terminal here: {error}")
    try:
        done = subprocess.run([sys.executable, "-m", "newsbot.bot", *args], cwd=cwd,
                              env=clean_env(), stdout=subprocess.PIPE, stderr=follower,
                              timeout=60)
    finally:
        os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the terminal is closed and drained
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    return done.returncode, done.stdout.decode(), b"".join(chunks).decode()


def test_progress_bar_shows_only_on_a_terminal_and_never_with_json(newsbot, workdir):
    text = article_text()
    for n in range(500):  # the bar starts at 500 files to parse
        write_raw(workdir / "many", f"{n // 100}/{n:03}.md", text)
    common = ["index", "--articles", "many"]

    code, stdout, stderr = run_with_terminal_stderr([*common, "--db", "tty.db"], workdir)
    assert code == 0
    assert "Indexing [" in stderr and "500/500 files" in stderr  # the test can see a bar

    code, stdout, stderr = run_with_terminal_stderr([*common, "--db", "json.db", "--json"],
                                                    workdir)
    assert code == 0 and stderr == ""
    assert json.loads(stdout)["indexed"] == 500  # exactly one JSON document

    result = newsbot(*common, "--db", "pipe.db")  # stderr is not a terminal here
    assert result.code == 0 and result.stderr == ""
    assert result.stdout.startswith("500 files: 500 indexed")


def test_errors_are_one_line_without_a_traceback(tmp_path):
    result = run_cli("digest", "--articles", "nowhere", "--db", "x.db", cwd=tmp_path)
    assert result.code == 2
    assert result.stderr.startswith("newsbot: error: the articles folder")
    assert len(result.stderr.splitlines()) == 1
    assert result.stdout == ""


def test_a_file_that_is_not_a_database(newsbot, workdir):
    (workdir / "junk.db").write_text("not a database")
    result = newsbot("digest", "--db", "junk.db")
    assert result.code == 2
    assert result.stderr.startswith("newsbot: error: cannot open the database")
    assert (workdir / "junk.db").read_text() == "not a database"
