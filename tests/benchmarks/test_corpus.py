"""The benchmark corpus: the right files, in the example's format, odd where it should be."""

from __future__ import annotations

import json
from pathlib import Path

import corpus
import pytest
from newsbot.bot.newsroom.lookup import lookup_topic
from newsbot.storage.db import Store
from newsbot.storage.index import failures, refresh

COUNT = 1_200  # one in 200 files is broken and kinds take turns: 1,200 holds every kind

BROKEN_REASONS = {
    "invalid_yaml": "invalid YAML in front matter",
    "no_front_matter": "no front matter",
    "not_closed": "front matter is not closed",
    "quality_text": "quality must be a number",
    "published_maybe": "published must be true or false",
    "list_front_matter": "not a mapping",
}


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> tuple[Path, corpus.CorpusSummary]:
    folder = tmp_path_factory.mktemp("corpus")
    summary = corpus.generate(folder, COUNT, seed=5)
    corpus.write_manifest(folder, COUNT, 5, summary)
    return folder, summary


@pytest.fixture(scope="module")
def indexed(generated, tmp_path_factory) -> tuple[Store, object]:
    folder, _ = generated
    store = Store(tmp_path_factory.mktemp("db") / "index.db")
    return store, refresh(store, folder, workers=1)


def files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()
                  and not p.name.startswith("."))


def test_writes_the_requested_number_of_files_in_year_month_folders(generated):
    folder, summary = generated
    written = files(folder)
    assert len(written) == COUNT == len(summary.ids)
    assert written == sorted(summary.ids)
    for article_id in written:
        year, month, name = article_id.split("/")
        assert len(year) == 4 and year.isdigit() and 1 <= int(month) <= 12
        number, _, rest = name.partition("_")
        stem, _, extension = rest.partition(".")
        assert number.isdigit() and len(stem) == 16 and int(stem, 16) >= 0
        assert extension in {"txt", "md"}


def test_the_same_seed_gives_the_same_bytes_and_another_seed_does_not(tmp_path):
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        corpus.generate(tmp_path / name, 50, seed=seed)
    written = files(tmp_path / "a")
    assert files(tmp_path / "b") == written
    assert all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()
               for f in written)
    assert files(tmp_path / "c") != written


def test_ordinary_files_have_the_example_layout(generated):
    folder, summary = generated
    plain = next(i for i in summary.ids if i not in summary.awkward and i not in summary.broken)
    text = (folder / plain).read_text(encoding="utf-8")
    keys = [line.split(":")[0] for line in text.splitlines() if line and line[0].isalpha()]
    assert keys[:9] == ["category", "title", "excerpt", "publishedDateTime", "webUrl", "type",
                        "quality", "heat", "published"]
    assert keys[-1] == "secured" and "provider" in keys and "topics" in keys
    assert text.startswith("---\ncategory: news\ntitle: \"")
    assert "\n\nprovider:\n  name: " in text and "\n\ntopics:\n  - " in text


def test_about_one_percent_awkward_and_half_a_percent_broken_with_every_kind(generated):
    _, summary = generated
    assert len(summary.awkward) == COUNT // 100
    assert len(summary.broken) == COUNT // 200
    assert set(summary.awkward.values()) == set(corpus.AWKWARD_KINDS)
    assert set(summary.broken.values()) == set(corpus.BROKEN_KINDS)


def test_the_manifest_records_what_was_written(generated):
    folder, summary = generated
    manifest = json.loads((folder / corpus.MANIFEST).read_text(encoding="utf-8"))
    assert manifest == corpus.read_manifest(folder)
    assert (manifest["count"], manifest["seed"]) == (COUNT, 5)
    assert manifest["broken"] == summary.broken and manifest["awkward"] == summary.awkward


def test_the_index_reports_exactly_the_broken_files_with_their_reasons(generated, indexed):
    _, summary = generated
    store, report = indexed
    assert report.as_dict() == {"total": COUNT, "indexed": COUNT - len(summary.broken),
                                "unchanged": 0, "failed": len(summary.broken), "removed": 0}
    reasons = {row["id"]: row["reason"] for row in failures(store)}
    assert set(reasons) == set(summary.broken)
    for article_id, kind in summary.broken.items():
        assert BROKEN_REASONS[kind] in reasons[article_id], (kind, reasons[article_id])


def test_awkward_files_are_usable_articles(generated, indexed):
    folder, summary = generated
    store, _ = indexed
    for article_id, kind in summary.awkward.items():
        row = store.query(
            "SELECT title, error, topics, quality FROM articles WHERE id = ?", [article_id]
        )[0]
        assert row["error"] is None, (kind, row["error"])
        assert row["title"] and json.loads(row["topics"]) and row["quality"] is not None, kind
        data = (folder / article_id).read_bytes()
        if kind == "crlf":
            assert b"\r\n" in data and data.count(b"\n") == data.count(b"\r\n")
        elif kind == "bom":
            assert data.startswith("\ufeff".encode())
        elif kind == "body_rule":
            assert data.count(b"\n---\n") >= 3
        elif kind == "unicode_title":
            assert ":" in row["title"] and not row["title"].isascii()
        elif kind == "markdown":
            assert article_id.endswith(".md")


def test_topics_come_from_the_fifty_names(indexed):
    store, _ = indexed
    names = {row["topic"] for row in store.query("SELECT DISTINCT topic FROM article_topics")}
    assert names <= set(corpus.TOPICS) and len(names) >= 45
    assert lookup_topic(store, "computer vision").known


def test_about_one_file_in_ten_is_a_planted_copy_and_clusters_with_its_original(
        generated, tmp_path):
    from newsbot.storage.story_clusters import ClusterSettings

    folder, summary = generated
    plain = COUNT - len(summary.broken) - len(summary.awkward)
    assert 0.07 * plain <= len(summary.copies) <= 0.13 * plain
    assert {how for _, how in summary.copies.values()} == {"url", "text"}
    store = Store(tmp_path / "clusters.db")
    refresh(store, folder, workers=1, clusters=ClusterSettings())
    cluster = dict(store.db.execute("SELECT article_id, cluster_id FROM cluster_members"))
    stories: dict[str, set[str]] = {}
    for copy_id, (original, _) in summary.copies.items():
        stories.setdefault(original, {original}).add(copy_id)
    for members in stories.values():  # each story is one cluster, and nothing else is in it
        assert len({cluster.get(m) for m in members}) == 1 and cluster.get(next(iter(members)))
    assert len(cluster) == sum(len(members) for members in stories.values())
