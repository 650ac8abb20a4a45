"""Digest selection: who is eligible, in which order, and the options that narrow it."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import EXAMPLES, OMIT, Raw, write_article, write_raw
from newsbot.bot.newsroom.decisions import decide
from newsbot.bot.newsroom.digest import DigestOptions, select_digest
from newsbot.storage.db import Store
from newsbot.storage.index import refresh

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)


def digest_ids(store: Store, now: dt.datetime = NOW, **options) -> list[str]:
    return [a.id for a in select_digest(store, DigestOptions(**options), now=now)]


def when(days_ago: float) -> Raw:
    moment = NOW - dt.timedelta(days=days_ago)
    return Raw(moment.strftime("%Y-%m-%dT%H:%M:%SZ"))


def test_eligible_means_usable_unpublished_and_undecided(store, articles):
    write_article(articles, "usable.md", quality=50)
    write_article(articles, "published.md", quality=90, published=True)
    write_article(articles, "no-published-key.md", quality=40, published=OMIT)
    write_article(articles, "broken.md", quality=Raw("high"))
    write_raw(articles, "no-front-matter.md", "quality: 99\n")
    write_article(articles, "published-skip.md", quality=80)
    write_article(articles, "decided-publish.md", quality=70)
    refresh(store, articles)
    decide(store, "published-skip.md", "skip", "U1", source="test")
    decide(store, "decided-publish.md", "publish", "U1", source="test")
    assert digest_ids(store) == ["usable.md", "no-published-key.md"]


def test_order_quality_then_heat_then_newest_then_id(store, articles):
    write_article(articles, "q-low.md", quality=10, heat=99, publishedDateTime=when(0))
    write_article(articles, "q-high.md", quality=90, heat=1, publishedDateTime=when(100))
    write_article(articles, "heat-low.md", quality=50, heat=10, publishedDateTime=when(0))
    write_article(articles, "heat-high.md", quality=50, heat=20, publishedDateTime=when(50))
    # same quality and heat: newest first
    write_article(articles, "old.md", quality=40, heat=5, publishedDateTime=when(10))
    write_article(articles, "new.md", quality=40, heat=5, publishedDateTime=when(1))
    # all three equal: id ascending, whatever order the files were written in
    write_article(articles, "tie/c.md", quality=30, heat=5, publishedDateTime=when(3))
    write_article(articles, "tie/a.md", quality=30, heat=5, publishedDateTime=when(3))
    write_article(articles, "tie/b.md", quality=30, heat=5, publishedDateTime=when(3))
    refresh(store, articles)
    assert digest_ids(store, top=100) == [
        "q-high.md", "heat-high.md", "heat-low.md", "new.md", "old.md",
        "tie/a.md", "tie/b.md", "tie/c.md", "q-low.md",
    ]


def test_newest_compares_instants_not_the_text_written(store, articles):
    # 21:00+02:00 is 19:00Z: older than 20:00Z although its text sorts later
    write_article(articles, "a.md", publishedDateTime=Raw("2026-11-20T21:00:00+02:00"))
    write_article(articles, "b.md", publishedDateTime=Raw("2026-11-20T20:00:00Z"))
    refresh(store, articles)
    assert digest_ids(store) == ["b.md", "a.md"]


def test_fractional_scores_order_numerically(store, articles):
    write_article(articles, "nine.md", quality=9)
    write_article(articles, "ten-and-a-half.md", quality=10.5)
    write_article(articles, "hundred.md", quality=100)
    refresh(store, articles)
    assert digest_ids(store) == ["hundred.md", "ten-and-a-half.md", "nine.md"]


def test_articles_without_scores_or_date_come_after_scored_ones(store, articles):
    write_article(articles, "no-quality.md", quality=OMIT, heat=99)
    write_article(articles, "no-heat.md", quality=5, heat=OMIT)
    write_article(articles, "no-date.md", quality=5, heat=OMIT, publishedDateTime=OMIT)
    write_article(articles, "scored.md", quality=5, heat=1)
    refresh(store, articles)
    assert digest_ids(store) == ["scored.md", "no-heat.md", "no-date.md", "no-quality.md"]


def test_top_n(store, articles):
    for n in range(15):
        write_article(articles, f"{n:02}.md", quality=n)
    refresh(store, articles)
    assert len(digest_ids(store)) == 10  # the default
    assert digest_ids(store, top=3) == ["14.md", "13.md", "12.md"]


def test_topic_filter_is_any_of_the_names_case_insensitive_and_exact(store, articles):
    write_article(articles, "ai.md", topics=["AI"], quality=3)
    write_article(articles, "space.md", topics=["Space", "Energy"], quality=2)
    write_article(articles, "ai-ethics.md", topics=["AI Ethics"], quality=1)
    write_article(articles, "none.md", topics=OMIT, quality=4)
    refresh(store, articles)
    assert digest_ids(store, topics=("ai",)) == ["ai.md"]
    assert digest_ids(store, topics=("SPACE", "ai")) == ["ai.md", "space.md"]
    assert digest_ids(store, topics=("energy",)) == ["space.md"]
    assert digest_ids(store, topics=(" ai ",)) == ["ai.md"]
    assert digest_ids(store, topics=("nothing",)) == []


def test_unicode_topics_match_case_insensitively(store, articles):
    write_article(articles, "a.md", topics=["Économie"])
    refresh(store, articles)
    assert digest_ids(store, topics=("économie",)) == ["a.md"]


def test_min_quality_includes_the_bound(store, articles):
    for q in (39, 40, 40.5, 41):
        write_article(articles, f"{q}.md", quality=q)
    write_article(articles, "unscored.md", quality=OMIT)
    refresh(store, articles)
    assert digest_ids(store, min_quality=40) == ["41.md", "40.5.md", "40.md"]


def test_max_age_in_days_counts_back_from_now(store, articles):
    write_article(articles, "hour.md", publishedDateTime=when(1 / 24), quality=1)
    write_article(articles, "six-days.md", publishedDateTime=when(6.9), quality=2)
    write_article(articles, "eight-days.md", publishedDateTime=when(8), quality=3)
    write_article(articles, "undated.md", publishedDateTime=OMIT, quality=4)
    refresh(store, articles)
    assert digest_ids(store, max_age_days=7) == ["six-days.md", "hour.md"]
    assert digest_ids(store, max_age_days=0.5) == ["hour.md"]
    assert digest_ids(store, max_age_days=0) == []


@pytest.mark.parametrize("days", [400_000, 1e12, float("inf")])
def test_a_very_large_max_age_keeps_every_dated_article(store, articles, days):
    write_article(articles, "ancient.md", publishedDateTime=Raw("1066-10-14T09:00:00Z"))
    write_article(articles, "recent.md", publishedDateTime=when(1))
    refresh(store, articles)
    assert sorted(digest_ids(store, max_age_days=days)) == ["ancient.md", "recent.md"]


def test_options_combine(store, articles):
    write_article(articles, "match.md", topics=["AI"], quality=60, publishedDateTime=when(1))
    write_article(articles, "old.md", topics=["AI"], quality=90, publishedDateTime=when(30))
    write_article(articles, "weak.md", topics=["AI"], quality=10, publishedDateTime=when(1))
    write_article(articles, "other.md", topics=["Space"], quality=90, publishedDateTime=when(1))
    refresh(store, articles)
    assert digest_ids(store, topics=("ai",), min_quality=50, max_age_days=7) == ["match.md"]


def test_a_decision_removes_an_article_and_undo_brings_it_back(store, articles):
    write_article(articles, "a.md", quality=2)
    write_article(articles, "b.md", quality=1)
    refresh(store, articles)
    decide(store, "a.md", "publish", "U1", source="test")
    assert digest_ids(store) == ["b.md"]
    decide(store, "a.md", "undo", "U1", source="test")
    assert digest_ids(store) == ["a.md", "b.md"]


def test_an_article_stays_out_while_any_vote_stands(store, articles):
    write_article(articles, "a.md")
    refresh(store, articles)
    decide(store, "a.md", "publish", "U1", source="test")
    decide(store, "a.md", "skip", "U2", source="test")
    decide(store, "a.md", "undo", "U2", source="test")
    assert digest_ids(store) == []  # U1's publish still stands
    decide(store, "a.md", "undo", "U1", source="test")
    assert digest_ids(store) == ["a.md"]


def test_the_bundled_examples_digest(tmp_path):
    store = Store(tmp_path / "examples.db")
    refresh(store, EXAMPLES)
    articles = select_digest(store, DigestOptions(top=100), now=NOW)
    assert len(articles) == 31  # 39 files, 8 published (no clustering here)
    assert not any(a.published for a in articles)
    keys = [(-a.quality, -a.heat, *(-ord(c) for c in a.published_at), a.id) for a in articles]
    assert keys == sorted(keys)
    ids = [a.id for a in articles]
    assert ids[:3] == [
        "2026/11/014_8e00f55ab9c8e475.md",  # quality 95
        "2026/11/002_1fd0de9fdd025416.txt",  # 91
        "2026/11/011_91fcc8c89a6b3341.txt",  # 85
    ]
    # quality 62 and heat 48 both: the newer one first
    assert ids.index("2026/10/011_65dfb029413305fb.txt") + 1 == ids.index(
        "2026/10/006_9afb9197bf75f951.txt"
    )
    store.close()


def test_a_message_answer_is_read_once_and_a_message_posted_elsewhere_is_found(
        store, articles):
    """article_for_message keeps what it found; what it did not find it asks again, so a
    message posted since by another process on the same file (a second `serve`) is found."""
    from newsbot.bot.newsroom.digest import plan_digest, record_message
    from newsbot.bot.newsroom.message_lookup import article_for_message

    write_article(articles, "a.md", quality=50)
    refresh(store, articles)
    plan = plan_digest(store, "C1", DigestOptions(top=1))
    assert article_for_message(store, "C1", "1700000000.000100") is None
    other_process = Store(store.path)
    record_message(other_process, plan.id, 0, "1700000000.000100")
    statements: list[str] = []
    store.db.conn.set_trace_callback(statements.append)
    answers = [article_for_message(store, "C1", "1700000000.000100") for _ in range(3)]
    store.db.conn.set_trace_callback(None)
    assert answers == ["a.md"] * 3
    assert sum("digest_messages" in s for s in statements) == 1
    assert article_for_message(store, "C2", "1700000000.000100") is None  # another channel
