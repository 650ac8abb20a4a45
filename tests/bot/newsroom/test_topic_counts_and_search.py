"""The shortcuts that keep look-ups fast at 100,000 articles give the plain queries' answers.

list_topics reads counts the index keeps, lookup_topic walks topic rows that carry copies
of the digest-order keys, and search joins only the best-scoring matches. Each is checked
here against the straightforward query over the index, through the changes a folder sees.
"""

from __future__ import annotations

from pathlib import Path

from conftest import Raw, article_text, bump_mtime, write_article, write_raw
from newsbot.bot.newsroom.article import COLUMNS, DIGEST_ORDER, Article
from newsbot.bot.newsroom.lookup import LIST_TOPICS, fts_query, list_topics, lookup_topic, search
from newsbot.storage.db import Store
from newsbot.storage.index import refresh


def topics_by_join(store: Store) -> list[tuple[str, int, int]]:
    rows = store.db.execute(
        """
        SELECT min(t.topic), sum(a.published = 0 AND a.skipped = 0), count(*)
        FROM article_topics t JOIN articles a ON a.id = t.article_id
        WHERE a.error IS NULL
        GROUP BY t.topic_key
        ORDER BY 2 DESC, 3 DESC, t.topic_key
        """
    )
    return [tuple(row) for row in rows]


def lookup_by_sort(store: Store, key: str, include_published: bool, limit: int) -> list[str]:
    published = "" if include_published else "AND a.published = 0"
    rows = store.db.execute(
        f"""
        SELECT a.id FROM article_topics t JOIN articles a ON a.id = t.article_id
        WHERE t.topic_key = ? AND a.error IS NULL {published}
        ORDER BY {DIGEST_ORDER} LIMIT ?
        """,
        [key, limit],
    )
    return [row[0] for row in rows]


def search_by_sort(store: Store, words: str, limit: int) -> list[Article]:
    rows = store.db.execute(
        f"""
        SELECT {COLUMNS} FROM articles_fts f JOIN articles a ON a.rowid = f.rowid
        WHERE articles_fts MATCH ? AND a.error IS NULL
        ORDER BY bm25(articles_fts, 5.0, 1.0), {DIGEST_ORDER} LIMIT ?
        """,
        [fts_query(words), limit],
    )
    return [Article.from_row(row) for row in rows]


def assert_topics_agree(store: Store) -> None:
    listed = [(t.topic, t.unpublished, t.total) for t in list_topics(store)]
    assert listed == topics_by_join(store)
    for name, _, _ in listed:
        for include_published in (False, True):
            found = lookup_topic(store, name.upper(), include_published=include_published,
                                 limit=7)
            assert [a.id for a in found.articles] == lookup_by_sort(
                store, name.casefold(), include_published, 7
            )


def test_topic_counts_and_look_ups_follow_every_kind_of_change(store: Store, articles: Path):
    for n in range(24):
        write_article(articles, f"a/{n:02}.md", title=f"Article {n}", quality=n % 5,
                      heat=n % 3, published=n % 4 == 0,
                      topics=[Raw(["Energy", "Space", "AI"][n % 3]), Raw("Climate")])
    refresh(store, articles)
    assert_topics_agree(store)

    write_article(articles, "a/01.md", title="Now published", published=True,
                  topics=[Raw("energy"), Raw("Oceans")])  # another spelling, a new topic
    bump_mtime(articles / "a/01.md")
    write_raw(articles, "a/02.md", article_text(quality=Raw("high")))  # breaks
    bump_mtime(articles / "a/02.md")
    (articles / "a/03.md").unlink()
    write_article(articles, "b/new.md", title="New", topics=[Raw("Oceans")], quality=9)
    write_article(articles, "b/skipped.md", title="Skipped", topics=[Raw("Oceans")],
                  skipped=True)  # counts in the total, not among those to review
    refresh(store, articles)
    assert_topics_agree(store)
    assert {t.topic for t in list_topics(store)} >= {"Oceans", "Energy"}
    write_article(articles, "a/04.md", title="Skipped now", skipped=True,
                  topics=[Raw("AI"), Raw("Climate")])
    bump_mtime(articles / "a/04.md")
    refresh(store, articles)
    assert_topics_agree(store)

    refresh(store, articles, patterns=["b/*.md"])  # nearly everything leaves the index
    assert_topics_agree(store)
    assert [(t.topic, t.unpublished, t.total) for t in list_topics(store)] == [("Oceans", 1, 2)]


def test_search_beyond_the_first_fetch_with_ties_and_broken_matches(store: Store,
                                                                  articles: Path):
    # 150 equally good matches (first fetch is 100), ties broken by digest order
    for n in range(150):
        write_article(articles, f"z/{n:03}.md", title="Zebra crossing", excerpt="Road works.",
                      quality=n % 7, heat=n % 2)
    write_article(articles, "z/best.md", title="Zebra zebra zebra", excerpt="zebra")
    refresh(store, articles)
    # broken files keep their old text in the search index, so they still match
    for n in range(0, 150, 3):
        write_raw(articles, f"z/{n:03}.md", article_text(published=Raw("maybe")))
        bump_mtime(articles / f"z/{n:03}.md")
    refresh(store, articles)
    for limit in (1, 20, 99, 100, 101, 150):
        assert search(store, "zebra", limit=limit) == search_by_sort(store, "zebra", limit)
    assert search(store, "zebra", limit=1)[0].id == "z/best.md"
    assert search(store, "nothing like it") == []


def test_listing_topics_joins_from_the_votes_not_from_every_topic_row(articles, tmp_path):
    """The decided articles are the few: SQLite, left to itself, scanned every topic row
    (0.2-0.3 s at 50,000 articles) to find them."""
    for n in range(30):
        write_article(articles, f"{n}.md", title=f"Story {n}", topics=["Energy", f"T{n}"])
    store = Store(tmp_path / "newsbot.db")
    refresh(store, articles)
    plan = [row[3].split()[:2] for row in store.db.execute("EXPLAIN QUERY PLAN " + LIST_TOPICS)]
    assert ["SCAN", "v"] in plan and ["SCAN", "t"] not in plan, plan
    assert_topics_agree(store)
