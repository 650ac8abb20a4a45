"""Publish/skip decisions: one vote per editor, the latest standing vote wins, undo restores."""

from __future__ import annotations

import itertools
import shutil

import pytest
import sqlite_utils
from conftest import Raw, write_article
from hypothesis import given, settings
from hypothesis import strategies as st
from newsbot.bot.newsroom.decisions import (
    DUPLICATE,
    NO_OP,
    RECORDED,
    RETRACTED,
    UnknownArticle,
    UnusableArticle,
    decide,
    decision_history,
    slack_ts_us,
    standing_decision,
    standing_decisions,
)
from newsbot.storage.db import Store
from newsbot.storage.index import refresh


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


# --- event time: the latest event_ts / action_ts wins, whatever the processing order

T0 = 1_700_000_000_000_000  # an event time in microseconds


def apply_in_order(store, events, order) -> None:
    """Record `events` (kwargs for decide, with event times) in the processing `order`."""
    for n in order:
        user, action, extra = events[n]
        decide(store, "a.md", action, user, source="reaction", event_key=f"Ev{user}{n}",
               event_us=T0 + n, **extra)


@pytest.mark.parametrize("order", list(itertools.permutations(range(2))))
def test_a_removal_processed_before_its_addition_still_wins(indexed, order):
    events = [("U1", "skip", {}), ("U1", "undo", {"only_if": "skip"})]
    apply_in_order(indexed, events, order)
    assert standing(indexed) is None
    assert indexed.query("SELECT * FROM votes") == []


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_add_remove_add_ends_with_the_decision_in_any_order(indexed, order):
    events = [("U1", "publish", {}), ("U1", "undo", {"only_if": "publish"}),
              ("U1", "publish", {})]
    apply_in_order(indexed, events, order)
    assert standing(indexed) == ("publish", "U1")


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_removing_an_earlier_emoji_keeps_a_later_one_in_any_order(indexed, order):
    # ❌ at t0, ✅ at t1, then the ❌ removed at t2: the ✅ stands
    events = [("U1", "skip", {}), ("U1", "publish", {}), ("U1", "undo", {"only_if": "skip"})]
    apply_in_order(indexed, events, order)
    assert standing(indexed) == ("publish", "U1")


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_button_toggles_follow_action_time(indexed, order):
    # three clicks on Publish: on, off, on
    events = [("U1", "publish", {"toggle": True})] * 3
    apply_in_order(indexed, events, order)
    assert standing(indexed) == ("publish", "U1")
    decide(indexed, "a.md", "publish", "U1", source="button", toggle=True, event_us=T0 + 10)
    assert standing(indexed) is None


def test_the_standing_decision_is_the_vote_cast_latest_in_event_time(indexed):
    decide(indexed, "a.md", "publish", "U1", source="reaction", event_us=T0 + 2)
    decide(indexed, "a.md", "skip", "U2", source="reaction", event_us=T0 + 1)  # older, late
    assert standing(indexed) == ("publish", "U1")
    assert standing_decision(indexed, "a.md").decided_at == "2023-11-14T22:13:20.000Z"


def test_a_superseded_late_event_is_audited_as_a_no_op(indexed):
    decide(indexed, "a.md", "undo", "U1", source="reaction", only_if="skip", event_key="Ev2",
           event_us=T0 + 2, received_at="2026-01-01T00:00:00.000Z")
    late = decide(indexed, "a.md", "skip", "U1", source="reaction", event_key="Ev1",
                  event_us=T0 + 1)
    assert late.outcome == NO_OP
    rows = indexed.query("SELECT event_key, event_us, received_at, outcome FROM decision_log"
                         " ORDER BY id")
    assert [(r["event_key"], r["event_us"], r["outcome"]) for r in rows] == [
        ("Ev2", T0 + 2, "no-op"), ("Ev1", T0 + 1, "no-op")]
    assert rows[0]["received_at"] == "2026-01-01T00:00:00.000Z"
    assert rows[1]["received_at"].endswith("Z")


def test_slack_timestamps_become_exact_microseconds():
    assert slack_ts_us("1700000000.000100") == 1_700_000_000_000_100
    assert slack_ts_us("1700000000.1") == 1_700_000_000_100_000
    assert slack_ts_us("1700000000") == 1_700_000_000_000_000
    assert [slack_ts_us(v) for v in (None, "", "x.1", "1.1234567", "-1.0", "1e9")] == [None] * 6


def test_the_migration_keeps_old_decisions_and_their_undo_rules(tmp_path):
    """A database from before event time: replaying its log reproduces its votes."""
    from newsbot.storage import schema
    from newsbot.storage.db import migrate

    before = schema.MIGRATIONS[:schema.MIGRATIONS.index(schema.decision_event_time)]
    db = sqlite_utils.Database(tmp_path / "old.db")
    migrate(db, before)
    db.execute("INSERT INTO articles (id, size, mtime_ns, content_hash, indexed_at)"
               " VALUES ('a.md', 1, 1, 'h', 'now')")
    log = [  # U1: ✅, ❌, then removed ✅ (a no-op); U2: a button clicked twice
        ("U1", "publish", "reaction", "recorded"), ("U1", "skip", "reaction", "recorded"),
        ("U1", "undo", "reaction", "no-op"), ("U2", "publish", "button", "recorded"),
        ("U2", "publish", "button", "retracted"),
    ]
    for n, (user, action, source, outcome) in enumerate(log, start=1):
        db.execute("INSERT INTO decision_log (article_id, user_id, action, source, outcome,"
                   " created_at) VALUES ('a.md', ?, ?, ?, ?, ?)",
                   [user, action, source, outcome, f"2026-01-01T00:00:0{n}.000Z"])
    db.execute("INSERT INTO votes (article_id, user_id, decision, decided_at, seq, source)"
               " VALUES ('a.md', 'U1', 'skip', '2026-01-01T00:00:02.000Z', 2, 'reaction')")
    db.conn.commit()
    db.close()
    store = Store(tmp_path / "old.db")
    assert standing(store) == ("skip", "U1")
    # a new event for U1 replays U1's whole history: the old no-op removal stays a no-op
    outcome = decide(store, "a.md", "undo", "U1", source="reaction", only_if="publish")
    assert outcome.outcome == NO_OP and standing(store) == ("skip", "U1")
    decide(store, "a.md", "publish", "U2", source="button", toggle=True)
    assert standing(store) == ("publish", "U2")  # U2's two old clicks cancelled out


def test_a_command_line_undo_after_a_reaction_wins_when_slacks_clock_runs_ahead(store, articles):
    """The reaction carries Slack's event_ts, 3 s ahead of this machine; the undo typed
    after it has only the local clock, and still comes after it."""
    from conftest import write_article
    from newsbot.bot.newsroom.decisions import decide, now_us, standing_decision
    from newsbot.storage.index import refresh

    write_article(articles, "a.md")
    refresh(store, articles)
    ahead = now_us() + 3_000_000
    decide(store, "a.md", "publish", "U1", source="reaction", event_key="Ev1", event_us=ahead)
    assert standing_decision(store, "a.md") is not None
    decide(store, "a.md", "undo", "U1", source="cli")
    assert standing_decision(store, "a.md") is None


# --- decide against a plain model: every event's outcome and every vote, any order

def model_vote(logged: list[tuple]) -> tuple[str, int] | None:
    """An editor's vote after their logged events (id, action, only_if, toggle, event_us),
    replayed in event-time order: (decision, id of the event that cast it) or None."""
    vote = None
    for log_id, action, only_if, toggle, _ in sorted(logged, key=lambda e: (e[4], e[0])):
        current = vote[0] if vote else None
        if action == "undo":
            if only_if is None or only_if == current:
                vote = None
        elif toggle and action == current:
            vote = None
        else:
            vote = (action, log_id)
    return vote


EVENT = st.tuples(st.sampled_from(["U1", "U2", "U3"]),
                  st.sampled_from(["publish", "skip", "undo"]),
                  st.sampled_from([None, "publish", "skip"]), st.booleans(),
                  st.integers(0, 5))  # few event times: many ties


@settings(max_examples=60, deadline=None)
@given(events=st.lists(EVENT, min_size=1, max_size=12), data=st.data())
def test_decide_agrees_with_replaying_each_editors_events(empty_db, tmp_path_factory,
                                                          events, data):
    store = Store(shutil.copyfile(empty_db, tmp_path_factory.mktemp("db") / "index.db"))
    store.db.execute("INSERT INTO articles (id, size, mtime_ns, content_hash, indexed_at)"
                     " VALUES ('a.md', 1, 1, 'h', 'now')")
    duplicate = data.draw(st.sampled_from(range(len(events))))
    order = data.draw(st.permutations(range(len(events)))) + [duplicate]
    logged: dict[str, list[tuple]] = {"U1": [], "U2": [], "U3": []}
    seen: set[int] = set()
    for n in order:
        user, action, only_if, toggle, at = events[n]
        only_if = only_if if action == "undo" else None
        outcome = decide(store, "a.md", action, user, source="reaction", event_key=f"Ev{n}",
                         only_if=only_if, toggle=toggle, event_us=T0 + at)
        if n in seen:  # Slack's redelivery: nothing
            assert outcome.outcome == DUPLICATE
            continue
        seen.add(n)
        before = model_vote(logged[user])
        logged[user].append((len(seen), action, only_if, toggle, T0 + at))  # its log id
        after = model_vote(logged[user])
        expected = NO_OP if after == before else RECORDED if after else RETRACTED
        assert outcome.outcome == expected
    votes = {row["user_id"]: (row["decision"], row["seq"]) for row in store.query(
        "SELECT user_id, decision, seq FROM votes")}
    assert votes == {user: model_vote(events_of_user) for user, events_of_user in logged.items()
                     if model_vote(events_of_user)}
    view = store.query("SELECT user_id, decision, decided_at FROM decisions"
                       " WHERE article_id = 'a.md'")
    standing_now = standing_decision(store, "a.md")
    assert ([(standing_now.user_id, standing_now.decision, standing_now.decided_at)]
            if standing_now else []) == [tuple(row.values()) for row in view]
    store.close()


def test_an_event_that_changes_no_vote_writes_no_vote_and_queues_no_redraw(indexed):
    decide(indexed, "a.md", "skip", "U1", source="reaction", event_key="Ev1")
    indexed.db.execute("DELETE FROM redraw_queue")
    # removing a ✅ that was never there, or a redelivered event: the message stays as drawn
    assert decide(indexed, "a.md", "undo", "U1", source="reaction", only_if="publish",
                  event_key="Ev2").outcome == NO_OP
    assert indexed.query("SELECT * FROM redraw_queue") == []
    assert decide(indexed, "a.md", "undo", "U1", source="reaction", only_if="skip",
                  event_key="Ev3").outcome == RETRACTED
    assert [row["article_id"] for row in indexed.query("SELECT * FROM redraw_queue")] == ["a.md"]
