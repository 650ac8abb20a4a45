"""The incremental index: the folder mirrored into SQLite, re-reading only what changed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import Raw, article_text, bump_mtime, write_article, write_raw
from newsbot.bot.newsroom.lookup import list_topics, search
from newsbot.storage import index as index_module
from newsbot.storage.db import Store
from newsbot.storage.index import failures, refresh


def counts(report) -> dict[str, int]:
    data = report.as_dict()
    assert data["total"] == data["indexed"] + data["unchanged"] + data["failed"]
    return data


def ids(store: Store, where: str = "1") -> list[str]:
    return [r["id"] for r in store.query(f"SELECT id FROM articles WHERE {where} ORDER BY id")]


def mark_indexed_at(store: Store, value: str = "sentinel") -> None:
    """Stamp every row, so a row parsed again afterwards shows a new stamp."""
    with store.write() as db:
        db.execute("UPDATE articles SET indexed_at = ?", [value])


def indexed_at(store: Store) -> dict[str, str]:
    return {r["id"]: r["indexed_at"] for r in store.query("SELECT id, indexed_at FROM articles")}


@pytest.fixture
def three(articles: Path) -> Path:
    write_article(articles, "a.md", title="Alpha rockets", topics=["Space"], quality=10)
    write_article(articles, "sub/b.txt", title="Beta batteries", topics=["Energy"], quality=20)
    write_article(articles, "sub/deeper/c.md", title="Gamma grids", topics=["Energy"], quality=30)
    return articles


# --- what gets indexed


def test_first_refresh_indexes_matching_files_in_every_subfolder(store, three):
    write_raw(three, "notes.json", "{}")
    write_raw(three, "README", "not an article")
    write_raw(three, "image.md.png", b"\x89PNG")
    write_article(three, ".git/objects/x.md")  # hidden folders are not articles
    write_article(three, ".draft.md")
    assert counts(refresh(store, three)) == {
        "total": 3, "indexed": 3, "unchanged": 0, "failed": 0, "removed": 0,
    }
    assert ids(store) == ["a.md", "sub/b.txt", "sub/deeper/c.md"]


def test_patterns_choose_the_files(store, three):
    report = refresh(store, three, patterns=["*.md"])
    assert (report.total, ids(store)) == (2, ["a.md", "sub/deeper/c.md"])


def test_a_pattern_with_a_slash_matches_the_relative_path(store, three):
    refresh(store, three, patterns=["sub/*.txt"])
    assert ids(store) == ["sub/b.txt"]


def test_a_symlinked_folder_is_not_followed(store, three, tmp_path):
    outside = tmp_path / "outside"
    write_article(outside, "x.md")
    os.symlink(outside, three / "link")
    report = refresh(store, three)
    assert (report.total, report.failed) == (4, 1)
    assert failures(store) == [{"id": "link", "reason": "symbolic link"}]


def test_awkward_but_valid_files_are_all_usable(store, articles):
    write_article(articles, "bom.md", bom=True, title="With a BOM")
    write_article(articles, "crlf.txt", "Body\r\nline\r\n", crlf=True, title="With CRLF")
    write_article(articles, "both.md", "Body\n", crlf=True, bom=True, title="BOM and CRLF")
    write_article(articles, "empty-body.md", "", title="Empty body")
    write_article(articles, "dashes.md", "Intro\n---\nquality: 99\n---\nEnd\n", title="Dashes")
    write_article(articles, "unicode/東京.md", "Zürich 🙂\n", title="Émile’s 東京 🙂")
    write_article(articles, "unpublished.md", published=Raw("null"), title="Published null")
    report = refresh(store, articles)
    assert counts(report) == {"total": 7, "indexed": 7, "unchanged": 0, "failed": 0, "removed": 0}
    rows = {r["id"]: r for r in store.query("SELECT id, title, quality, published FROM articles")}
    assert rows["unicode/東京.md"]["title"] == "Émile’s 東京 🙂"
    assert rows["dashes.md"]["quality"] == 37
    assert {r["published"] for r in rows.values()} == {0}


# --- broken files


BROKEN = {
    "invalid-yaml.md": article_text(excerpt=Raw('"unclosed')),
    "no-front-matter.md": "Just a body, no front matter.\n",
    "not-closed.md": article_text().replace("\n---\n", "\n"),
    "quality-text.md": article_text(quality=Raw("high")),
    "heat-text.md": article_text(heat=Raw("warm")),
    "published-text.md": article_text(published=Raw('"yes"')),
    "list.md": "---\n- just\n- a list\n---\n",
}
REASONS = {
    "invalid-yaml.md": "invalid YAML",
    "no-front-matter.md": "no front matter",
    "not-closed.md": "not closed",
    "quality-text.md": "quality must be a number",
    "heat-text.md": "heat must be a number",
    "published-text.md": "published must be true or false",
    "list.md": "not a mapping",
}


def test_broken_files_are_recorded_with_their_reason_and_the_rest_is_indexed(store, three):
    for name, text in BROKEN.items():
        write_raw(three, f"broken/{name}", text)
    write_raw(three, "broken/latin1.md", "---\ntitle: caf\xe9\n---\n".encode("latin-1"))
    report = refresh(store, three)
    assert counts(report) == {
        "total": 11, "indexed": 3, "unchanged": 0, "failed": 8, "removed": 0,
    }
    reasons = {row["id"]: row["reason"] for row in failures(store)}
    assert list(reasons) == sorted(reasons)
    assert set(reasons) == {f"broken/{n}" for n in [*BROKEN, "latin1.md"]}
    for name, expected in REASONS.items():
        assert expected in reasons[f"broken/{name}"], name
    assert "not UTF-8" in reasons["broken/latin1.md"]
    # broken files stay out of everything that reads articles
    assert {t.topic for t in list_topics(store)} == {"Space", "Energy"}
    assert search(store, "unclosed") == []


def test_broken_files_count_as_failed_on_every_refresh_until_fixed(store, articles):
    write_raw(articles, "bad.md", BROKEN["quality-text.md"])
    write_article(articles, "good.md")
    refresh(store, articles)
    assert counts(refresh(store, articles)) == {
        "total": 2, "indexed": 0, "unchanged": 1, "failed": 1, "removed": 0,
    }


def test_a_file_name_that_is_not_utf8_does_not_stop_the_run(store, articles):
    write_article(articles, "good.md")
    name = os.fsdecode(b"caf\xe9.md")  # latin-1 name, as copied from an old system
    write_article(articles, name)
    report = refresh(store, articles)
    assert "good.md" in ids(store, "error IS NULL")
    assert report.total == 2 and report.failed == 1
    [broken] = failures(store)
    assert broken == {"id": "caf\\xe9.md",
                      "reason": "the file name is not valid UTF-8: rename the file"}
    assert counts(refresh(store, articles)) == {
        "total": 2, "indexed": 0, "unchanged": 1, "failed": 1, "removed": 0,
    }


def test_a_missing_articles_folder_is_an_error_not_an_empty_folder(store, articles):
    write_article(articles, "good.md")
    refresh(store, articles)
    with pytest.raises(NotADirectoryError):
        refresh(store, articles.parent / "not-mounted")
    assert ids(store, "error IS NULL") == ["good.md"]


# --- incremental refresh


def test_an_unchanged_folder_parses_nothing(store, three):
    refresh(store, three)
    mark_indexed_at(store)
    assert counts(refresh(store, three)) == {
        "total": 3, "indexed": 0, "unchanged": 3, "failed": 0, "removed": 0,
    }
    assert set(indexed_at(store).values()) == {"sentinel"}


def test_only_size_and_mtime_decide_whether_a_file_is_read(store, three):
    """Same size and mtime: not even opened (the stat walk is the whole cost)."""
    path = three / "a.md"
    an_hour_ago = path.stat().st_mtime_ns - 3600 * 10**9  # settled, not racing the refresh
    os.utime(path, ns=(an_hour_ago, an_hour_ago))
    refresh(store, three)
    st = path.stat()
    replacement = article_text(title="Alpha rockets", topics=["Space"], quality=99)
    assert len(replacement.encode()) == st.st_size
    write_raw(three, "a.md", replacement, mtime_ns=st.st_mtime_ns)
    assert refresh(store, three).indexed == 0
    assert store.query("SELECT quality FROM articles WHERE id = 'a.md'") == [{"quality": 10}]


def test_a_touched_but_identical_file_counts_as_unchanged(store, three):
    refresh(store, three)
    mark_indexed_at(store)
    bump_mtime(three / "a.md")
    assert counts(refresh(store, three)) == {
        "total": 3, "indexed": 0, "unchanged": 3, "failed": 0, "removed": 0,
    }
    assert indexed_at(store)["a.md"] == "sentinel"
    stored = store.query("SELECT mtime_ns FROM articles WHERE id = 'a.md'")[0]["mtime_ns"]
    assert stored == (three / "a.md").stat().st_mtime_ns  # so the next refresh skips it


def test_a_changed_file_is_parsed_again_and_only_it(store, three):
    refresh(store, three)
    mark_indexed_at(store)
    write_article(three, "sub/b.txt", title="Beta batteries, updated", topics=["Storage"],
                  quality=25)
    bump_mtime(three / "sub/b.txt")
    assert counts(refresh(store, three)) == {
        "total": 3, "indexed": 1, "unchanged": 2, "failed": 0, "removed": 0,
    }
    stamps = indexed_at(store)
    assert stamps["sub/b.txt"] != "sentinel"
    assert stamps["a.md"] == stamps["sub/deeper/c.md"] == "sentinel"
    row = store.query("SELECT title, quality, topics FROM articles WHERE id = 'sub/b.txt'")[0]
    assert row == {"title": "Beta batteries, updated", "quality": 25, "topics": '["Storage"]'}
    assert {t.topic: t.total for t in list_topics(store)} == {
        "Space": 1, "Energy": 1, "Storage": 1,
    }
    assert [a.id for a in search(store, "updated")] == ["sub/b.txt"]


def test_an_added_file_is_indexed(store, three):
    refresh(store, three)
    write_article(three, "new/d.md", title="Delta drones")
    assert counts(refresh(store, three)) == {
        "total": 4, "indexed": 1, "unchanged": 3, "failed": 0, "removed": 0,
    }
    assert "new/d.md" in ids(store)


def test_a_deleted_file_is_forgotten_with_its_topics_and_search_entry(store, three):
    refresh(store, three)
    (three / "a.md").unlink()
    assert counts(refresh(store, three)) == {
        "total": 2, "indexed": 0, "unchanged": 2, "failed": 0, "removed": 1,
    }
    assert "a.md" not in ids(store)
    assert "Space" not in {t.topic for t in list_topics(store)}
    assert search(store, "rockets") == []
    assert store.query("SELECT count(*) AS n FROM article_topics WHERE article_id = 'a.md'") == [
        {"n": 0}
    ]


def test_a_renamed_file_is_forgotten_under_its_old_id_and_indexed_under_the_new(store, three):
    refresh(store, three)
    (three / "sub/b.txt").rename(three / "b-moved.txt")
    assert counts(refresh(store, three)) == {
        "total": 3, "indexed": 1, "unchanged": 2, "failed": 0, "removed": 1,
    }
    assert ids(store) == ["a.md", "b-moved.txt", "sub/deeper/c.md"]
    assert [a.id for a in search(store, "batteries")] == ["b-moved.txt"]


def test_a_file_that_breaks_and_is_fixed_again(store, three):
    refresh(store, three)
    write_raw(three, "a.md", BROKEN["invalid-yaml.md"])
    bump_mtime(three / "a.md")
    assert counts(refresh(store, three)) == {
        "total": 3, "indexed": 0, "unchanged": 2, "failed": 1, "removed": 0,
    }
    assert "Space" not in {t.topic for t in list_topics(store)}
    assert search(store, "rockets") == []

    write_article(three, "a.md", title="Alpha rockets fixed", topics=["Space"])
    bump_mtime(three / "a.md", by_ns=10_000_000_000)
    assert counts(refresh(store, three)) == {
        "total": 3, "indexed": 1, "unchanged": 2, "failed": 0, "removed": 0,
    }
    assert failures(store) == []
    assert [a.id for a in search(store, "fixed")] == ["a.md"]
    assert "Space" in {t.topic for t in list_topics(store)}


def test_a_broken_file_deleted_is_no_longer_failed(store, articles):
    write_raw(articles, "bad.md", BROKEN["no-front-matter.md"])
    refresh(store, articles)
    (articles / "bad.md").unlink()
    assert counts(refresh(store, articles)) == {
        "total": 0, "indexed": 0, "unchanged": 0, "failed": 0, "removed": 1,
    }


def test_files_no_longer_matching_the_patterns_are_forgotten(store, three):
    refresh(store, three)
    report = refresh(store, three, patterns=["*.md"])
    assert (report.total, report.removed) == (2, 1)


def test_progress_is_reported_as_files_are_parsed(store, three):
    calls: list[tuple[int, int]] = []
    refresh(store, three, progress=lambda done, total: calls.append((done, total)))
    assert calls and calls[-1] == (3, 3)


def test_the_parallel_path_indexes_like_the_serial_one(tmp_path, articles, monkeypatch):
    for n in range(40):
        write_article(articles, f"{n // 10}/{n:02}.md", title=f"Article {n}", quality=n,
                      topics=[f"T{n % 3}"])
    write_raw(articles, "9/bad.md", BROKEN["list.md"])
    serial = Store(tmp_path / "serial.db")
    refresh(serial, articles, workers=1)
    monkeypatch.setattr(index_module, "PARALLEL_THRESHOLD", 1)
    monkeypatch.setattr(index_module, "BATCH_SIZE", 7)
    parallel = Store(tmp_path / "parallel.db")
    report = refresh(parallel, articles, workers=2)
    assert counts(report) == {"total": 41, "indexed": 40, "unchanged": 0, "failed": 1, "removed": 0}
    columns = "id, title, quality, topics, error"
    sql = f"SELECT {columns} FROM articles ORDER BY id"
    assert parallel.query(sql) == serial.query(sql)
