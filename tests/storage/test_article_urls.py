"""articles.canonical_url: filled by the index for each parsed article, and by the migration
for the rows already indexed (an unchanged file is never parsed again)."""

from __future__ import annotations

from pathlib import Path

import sqlite_utils
from conftest import write_article
from newsbot.bot.newsroom.lookup import article_by_url
from newsbot.storage import schema
from newsbot.storage.db import Store, migrate
from newsbot.storage.index import refresh


def test_the_migration_fills_the_rows_already_indexed(tmp_path: Path):
    path = tmp_path / "old.db"
    db = sqlite_utils.Database(path)
    migrate(db, schema.MIGRATIONS[: schema.MIGRATIONS.index(schema.article_urls)])
    db.execute("INSERT INTO articles (id, title, web_url, size, mtime_ns, content_hash,"
               " indexed_at) VALUES ('a.md', 'A', 'https://WWW.Example.org/a/?utm_source=x',"
               " 1, 1, 'h', 'now')")
    db.conn.commit()
    migrate(db, schema.MIGRATIONS)
    assert db.execute("SELECT canonical_url FROM articles").fetchone() == (
        "https://example.org/a",)
    db.close()


def test_a_link_finds_its_article_whatever_its_tracking_www_or_scheme(store: Store,
                                                                       articles: Path):
    write_article(articles, "a.md", webUrl="https://www.example.org/story/1/")
    write_article(articles, "broken.md", webUrl="https://www.example.org/story/2", quality="x")
    refresh(store, articles)
    for url in ("https://www.example.org/story/1/", "http://example.org/story/1?utm_medium=x",
                "HTTPS://EXAMPLE.ORG/story/1#top"):
        found = article_by_url(store, url)
        assert found is not None and found.id == "a.md", url
    assert article_by_url(store, "https://example.org/story/2") is None  # broken: not usable
    assert article_by_url(store, "https://example.org/story/3") is None
    assert article_by_url(store, "not a link") is None
