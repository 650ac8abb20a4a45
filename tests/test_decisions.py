"""Publish/skip decisions: one vote per editor, the latest standing vote wins, undo restores."""

from __future__ import annotations

import pytest
from conftest import Raw, write_article

from bot.decisions import (
    DUPLICATE,
    NO_OP,
    RECORDED,
    RETRACTED,
    UnknownArticle,
    UnusableArticle,
    decide,
    decision_history,
    standing_decision,
    standing_decisions,
)
from storage.index import refresh


@pytest.fixture
def indexed(store, articles):
    write_article(articles, "a.md", quality=2)
    write_article(articles, "b.md", quality=1)
    refresh(store, articles)
    return store


def standing(store, article_id="a.md") -> tuple[str, str] | None:
    decision = standing_decision(store, article_id)
    return (decision.decision, decision.user_id) if decision else None


def test_publish_then_undo(indexed):
    outcome = decide(indexed, "a.md", "publish", "U1", source="cli")
    assert (outcome.outcome, outcome.changed) == (RECORDED, True)
    assert standing(indexed) == ("publish", "U1")
    outcome = decide(indexed, "a.md", "undo", "U1", source="cli")
    assert (outcome.outcome, outcome.standing) == (RETRACTED, None)
    assert standing(indexed) is None


def test_undo_without_a_vote_changes_nothing(indexed):
    outcome = decide(indexed, "a.md", "undo", "U1", source="cli")
    assert (outcome.outcome, outcome.changed) == (NO_OP, False)


def test_an_editor_can_change_their_vote(indexed):
    decide(indexed, "a.md", "publish", "U1", source="cli")
    decide(indexed, "a.md", "skip", "U1", source="cli")
    assert standing(indexed) == ("skip", "U1")
    assert len(standing_decisions(indexed)) == 1


def test_the_latest_standing_vote_wins_and_undo_restores_the_earlier_one(indexed):
    decide(indexed, "a.md", "publish", "U1", source="cli")
    decide(indexed, "a.md", "skip", "U2", source="cli")
    assert standing(indexed) == ("skip", "U2")
    decide(indexed, "a.md", "undo", "U2", source="cli")
    assert standing(indexed) == ("publish", "U1")
    decide(indexed, "a.md", "publish", "U2", source="cli")
    decide(indexed, "a.md", "skip", "U1", source="cli")  # U1 changes: now the latest
    assert standing(indexed) == ("skip", "U1")


def test_an_event_key_is_recorded_once(indexed):
    first = decide(indexed, "a.md", "publish", "U1", source="reaction", event_key="Ev1")
    again = decide(indexed, "a.md", "publish", "U1", source="reaction", event_key="Ev1")
    assert (first.outcome, again.outcome) == (RECORDED, DUPLICATE)
    assert len(decision_history(indexed)) == 1


def test_toggle_and_only_if(indexed):
    decide(indexed, "a.md", "publish", "U1", source="button", toggle=True)
    assert decide(indexed, "a.md", "publish", "U1", source="button", toggle=True).outcome == (
        RETRACTED
    )
    decide(indexed, "a.md", "skip", "U1", source="reaction")
    # removing a ✅ reaction must not withdraw the ❌ given since
    outcome = decide(indexed, "a.md", "undo", "U1", source="reaction", only_if="publish")
    assert outcome.outcome == NO_OP and standing(indexed) == ("skip", "U1")


def test_unknown_article_and_unknown_action(indexed):
    with pytest.raises(UnknownArticle):
        decide(indexed, "missing.md", "publish", "U1", source="cli")
    with pytest.raises(ValueError):
        decide(indexed, "a.md", "approve", "U1", source="cli")  # type: ignore[arg-type]
    assert decision_history(indexed) == []


def test_standing_decisions_lists_each_article_once(indexed):
    decide(indexed, "a.md", "publish", "U1", source="cli")
    decide(indexed, "a.md", "skip", "U2", source="cli")
    decide(indexed, "b.md", "publish", "U3", source="cli")
    found = {(d.article_id, d.decision, d.user_id) for d in standing_decisions(indexed)}
    assert found == {("a.md", "skip", "U2"), ("b.md", "publish", "U3")}


def test_an_article_whose_file_is_broken_cannot_be_decided(indexed, articles):
    write_article(articles, "c.md", quality=Raw("high"))
    refresh(indexed, articles)
    with pytest.raises(UnusableArticle, match=r"'c.md' cannot be used: .*quality"):
        decide(indexed, "c.md", "publish", "U1", source="cli", event_key="Ev1")
    assert indexed.query("SELECT * FROM decision_log") == []
    assert standing(indexed, "c.md") is None
