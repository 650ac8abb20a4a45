"""refresh_paths: re-indexing only the paths file events name gives the index a full
walk would, and looks at nothing else."""

from __future__ import annotations

import os
from pathlib import Path

from conftest import write_article, write_raw
from newsbot.storage.db import Store
from newsbot.storage.index import refresh, refresh_paths

COLUMNS = "id, title, quality, topics, published, error, size, mtime_ns, content_hash"


def rows(store: Store) -> list[dict]:
    return store.query(f"SELECT {COLUMNS} FROM articles ORDER BY id")


def test_touched_paths_give_the_index_a_full_walk_gives(tmp_path: Path):
    articles = tmp_path / "articles"
    for name in ("a.md", "b.md", "gone.md", "old/one.md", "old/two.txt", "keep/x.md"):
        write_article(articles, name, title=f"About {name}", webUrl=f"https://e.org/{name}")
    incremental = Store(tmp_path / "incremental.db")
    refresh(incremental, articles)
    # what happens between two events batches
    write_article(articles, "a.md", title="About a, edited", quality=99)  # changed
    (articles / "gone.md").unlink()  # deleted
    write_article(articles, "new/n.md", title="Brand new")  # created in a new folder
    os.rename(articles / "old", articles / "moved")  # a folder moved
    write_raw(articles, "broken.md", "---\ntitle: [unclosed\n---\n")  # created, broken
    write_article(articles, ".hidden/h.md", title="Hidden")  # never indexed
    os.symlink(articles / "b.md", articles / "link.md")  # a link: refused, never followed
    touched = ["a.md", "gone.md", "new", "new/n.md", "old", "moved", "broken.md",
               ".hidden/h.md", "link.md"]
    report = refresh_paths(incremental, articles, touched)
    walked = Store(tmp_path / "walked.db")
    refresh(walked, articles)
    assert rows(incremental) == rows(walked)
    assert {r["id"] for r in rows(incremental)} >= {"moved/one.md", "new/n.md", "keep/x.md"}
    assert report.removed == 3  # gone.md, old/one.md, old/two.txt
    assert report.indexed == 4  # a.md, new/n.md, moved/one.md, moved/two.txt


def test_untouched_files_are_not_looked_at(tmp_path: Path):
    """A file changed without an event (the walk's job) is left as indexed."""
    articles = tmp_path / "articles"
    write_article(articles, "a.md", quality=1)
    write_article(articles, "b.md", quality=1, webUrl="https://e.org/b")
    store = Store(tmp_path / "n.db")
    refresh(store, articles)
    write_article(articles, "a.md", quality=50)
    write_article(articles, "b.md", quality=60, webUrl="https://e.org/b")
    refresh_paths(store, articles, ["b.md"])
    assert {r["id"]: r["quality"] for r in rows(store)} == {"a.md": 1, "b.md": 60}
