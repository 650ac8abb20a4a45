"""Look-ups: articles by topic, the topic list with counts, and full-text search."""

from __future__ import annotations

import pytest
from conftest import Raw, write_article
from newsbot.bot.newsroom.lookup import fts_query, list_topics, lookup_topic, search
from newsbot.storage.db import Store
from newsbot.storage.index import refresh


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    """One index for the whole module: these tests only read it."""
    articles = tmp_path_factory.mktemp("lookup") / "articles"
    store = Store(articles.parent / "index.db")
    write_article(articles, "ai-top.md", topics=["AI", "Health"], quality=90, heat=10,
                  title="Hospitals adopt diagnostic models", excerpt="Radiology gets faster.")
    write_article(articles, "ai-mid.md", topics=["ai"], quality=50, heat=50,
                  title="Newsrooms summarize filings", excerpt="Language models read PDFs.")
    write_article(articles, "ai-published.md", topics=["AI"], quality=99, published=True,
                  title="Published piece on models", excerpt="Already out.")
    write_article(articles, "space.md", topics=["Space"], quality=70,
                  title="Rocket reuse record", excerpt="Boosters land again: models disagree.")
    write_article(articles, "vision.md", topics=["Computer Vision"], quality=60,
                  title="Drone imagery maps floods", excerpt="Segmentation speeds surveys.")
    write_article(articles, "broken.md", topics=["Ghost"], quality=Raw("high"),
                  title="Broken models article")
    refresh(store, articles)
    yield store
    store.close()


# --- lookup by topic


def test_lookup_is_case_insensitive_unpublished_and_in_digest_order(indexed):
    result = lookup_topic(indexed, "Ai")
    assert result.known and result.suggestions == []
    assert result.topic in ("AI", "ai")
    assert [a.id for a in result.articles] == ["ai-top.md", "ai-mid.md"]


def test_lookup_all_adds_published_articles(indexed):
    result = lookup_topic(indexed, "AI", include_published=True)
    assert [a.id for a in result.articles] == ["ai-published.md", "ai-top.md", "ai-mid.md"]


def test_lookup_limit(indexed):
    assert [a.id for a in lookup_topic(indexed, "ai", limit=1).articles] == ["ai-top.md"]


def test_lookup_is_exact_not_a_substring(indexed):
    result = lookup_topic(indexed, "Vision")
    assert not result.known and result.articles == []
    assert result.suggestions == ["Computer Vision"]


@pytest.mark.parametrize(("asked", "suggested"), [("Spaec", "Space"), ("helth", "Health")])
def test_an_unknown_topic_answers_with_close_matches(indexed, asked, suggested):
    result = lookup_topic(indexed, asked)
    assert (result.known, result.topic) == (False, asked)
    assert suggested in result.suggestions


def test_an_unknown_topic_with_nothing_close(indexed):
    result = lookup_topic(indexed, "Gardening")
    assert (result.known, result.articles, result.suggestions) == (False, [], [])


def test_topics_of_broken_files_are_unknown(indexed):
    assert not lookup_topic(indexed, "Ghost").known


def test_a_topic_with_only_published_articles_is_known_but_empty(store, articles):
    write_article(articles, "a.md", topics=["Archive"], published=True)
    refresh(store, articles)
    result = lookup_topic(store, "archive")
    assert (result.known, result.articles) == (True, [])
    assert [a.id for a in lookup_topic(store, "archive", include_published=True).articles] == [
        "a.md"
    ]


# --- the topic list


def test_topics_with_unpublished_and_total_counts(indexed):
    counts = {t.topic.casefold(): (t.unpublished, t.total) for t in list_topics(indexed)}
    assert counts == {
        "ai": (2, 3), "health": (1, 1), "space": (1, 1), "computer vision": (1, 1),
    }
    assert list_topics(indexed)[0].to_json() == {
        "topic": list_topics(indexed)[0].topic, "unpublished": 2, "total": 3,
    }


def test_skipped_articles_are_not_counted_as_unpublished(store, articles):
    write_article(articles, "open.md", topics=["Courts"])
    write_article(articles, "skipped.md", topics=["Courts"], skipped=True)
    write_article(articles, "out.md", topics=["Courts"], published=True)
    refresh(store, articles)
    assert [(t.topic, t.unpublished, t.total) for t in list_topics(store)] == [("Courts", 1, 3)]


# --- full-text search


def test_search_finds_words_in_title_and_excerpt_best_match_first(indexed):
    found = [a.id for a in search(indexed, "models")]
    # title matches weigh more than excerpt matches; broken files never show up
    assert set(found[:2]) == {"ai-top.md", "ai-published.md"}
    assert set(found[2:]) == {"ai-mid.md", "space.md"}


def test_search_words_are_prefixes_and_all_must_match(indexed):
    assert [a.id for a in search(indexed, "radio")] == ["ai-top.md"]
    assert [a.id for a in search(indexed, "ROCKET boost")] == ["space.md"]
    assert search(indexed, "rocket floods") == []


def test_search_limit(indexed):
    assert len(search(indexed, "models", limit=2)) == 2


@pytest.mark.parametrize(
    "words",
    ['"', "'", "*", "AND", "OR", "NOT", "NEAR(", "title:rocket", ":", "^", "-", "(", ")",
     '"unbalanced', "a AND", "models*", "—", "🙂", "", "   ", "_", "x_y", "\\", "%", "{}",
     "rocket OR", "NEAR(rocket reuse)", "+"],
)
def test_odd_input_never_crashes(indexed, words):
    assert isinstance(search(indexed, words), list)


def test_syntax_words_are_searched_as_words(indexed):
    assert [a.id for a in search(indexed, "rocket: reuse AND")] == []  # AND is a word too
    assert [a.id for a in search(indexed, "Rocket: (reuse)")] == ["space.md"]
    assert [a.id for a in search(indexed, '"Rocket" reuse*')] == ["space.md"]


def test_fts_query_quotes_every_word():
    assert fts_query('say "hi" AND col:x*') == '"say"* "hi"* "AND"* "col"* "x"*'
    assert fts_query("  *** ") == ""
