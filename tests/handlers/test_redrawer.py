"""The Redrawer: its stop draws what is queued before its thread ends, two servers draw
each change once, and the calls keep to Slack's rate for each method."""

from __future__ import annotations

import time

from conftest import CHANNEL, EDITOR, start_newsroom
from newsbot.bot.app.slack_client import web_client
from newsbot.bot.newsroom.decisions import decide
from newsbot.handlers.posting.call_budget import CallBudget
from newsbot.handlers.posting.redrawer import COALESCE_SECONDS, Redrawer


def test_stop_draws_every_queued_redraw_first(tmp_path):
    with start_newsroom(tmp_path, manual_redraw=True) as newsroom:  # no other redrawer runs
        _stop_draws_every_queued_redraw(newsroom)


def _stop_draws_every_queued_redraw(newsroom) -> None:
    plan = newsroom.post_digest(top=3)
    messages = [m for m in plan.messages if m.ts]
    # an interval far longer than the test: only the draining stop can draw these
    redrawer = Redrawer(web_client(newsroom.slack.bot_token, newsroom.slack.base_url),
                        newsroom.store, interval=3600).start()
    before = len(newsroom.slack.calls("chat.update"))
    for message in messages:
        decide(newsroom.store, message.article.id, "publish", EDITOR, source="cli")
    assert redrawer.stop(timeout=30) is True
    updates = [c for c in newsroom.slack.calls("chat.update")[before:]
               if c.params["channel"] == CHANNEL]
    assert sorted(c.params["ts"] for c in updates) == sorted(m.ts for m in messages)
    assert not redrawer._thread.is_alive()


def test_two_servers_on_one_database_draw_each_change_once(tmp_path):
    """A rolling deploy or a second replica: two processes poll one queue. Each claims
    what it draws, so every message is updated once, not once by each."""
    with start_newsroom(tmp_path, manual_redraw=True) as newsroom:
        plan = newsroom.post_digest(top=10)
        messages = [m for m in plan.messages if m.ts]
        before = len(newsroom.slack.calls("chat.update"))
        for message in messages:
            decide(newsroom.store, message.article.id, "publish", EDITOR, source="cli")
        drawn = newsroom.redraw_on_two_servers()
        updates = [c.params["ts"] for c in newsroom.slack.calls("chat.update")[before:]]
        assert sorted(updates) == sorted(m.ts for m in messages)  # each once
        assert sum(drawn) == len(messages)
        assert newsroom.store.query("SELECT * FROM redraw_queue") == []


def test_a_pass_takes_the_write_lock_twice_however_many_articles_it_draws(tmp_path):
    """Claiming and forgetting are one write each per pass: the decision writer waits
    behind every write the redraws make."""
    with start_newsroom(tmp_path, manual_redraw=True) as newsroom:
        plan = newsroom.post_digest(top=5)
        messages = [m for m in plan.messages if m.ts]
        for message in messages:
            decide(newsroom.store, message.article.id, "publish", EDITOR, source="cli")
        statements: list[str] = []
        newsroom.store.db.conn.set_trace_callback(statements.append)
        drawn = newsroom.redrawer.redraw_now()
        newsroom.store.db.conn.set_trace_callback(None)
        assert drawn == len(messages) == 5
        assert sum(s.startswith("BEGIN IMMEDIATE") for s in statements) == 2
        assert newsroom.store.query("SELECT * FROM redraw_queue") == []


def test_a_change_made_between_the_claim_and_the_read_is_drawn_once(tmp_path):
    """A change that lands after a pass claimed its article but before it read what to draw
    is shown by that drawing: it must not be drawn a second time by the next pass. The
    other process's write is made from SQLite's trace hook, right after the claim."""
    from newsbot.storage.db import Store

    with start_newsroom(tmp_path, manual_redraw=True) as newsroom:
        plan = newsroom.post_digest(top=1)
        [message] = [m for m in plan.messages if m.ts]
        other_process = Store(newsroom.store.path)  # its own connection
        decide(newsroom.store, message.article.id, "publish", EDITOR, source="cli")
        seen = {"claim": False, "commit": False, "change": False}

        def after_the_claim(statement: str) -> None:
            """The statement after the claim's COMMIT: the other process decides, once."""
            if seen["change"]:
                return
            if "SET claimed_by" in statement:
                seen["claim"] = True
            elif seen["claim"] and statement == "COMMIT":
                seen["commit"] = True
            elif seen["commit"]:
                seen["change"] = True
                decide(other_process, message.article.id, "skip", "U0OTHER", source="cli")

        before = len(newsroom.slack.calls("chat.update"))
        newsroom.store.db.conn.set_trace_callback(after_the_claim)
        try:
            newsroom.redrawer.redraw_now()
        finally:
            newsroom.store.db.conn.set_trace_callback(None)
        assert seen["change"]
        newsroom.redrawer.redraw_now()  # the next pass: nothing left to draw
        updates = [c.params["text"] for c in newsroom.slack.calls("chat.update")[before:]]
        assert len(updates) == 1 and updates[0].endswith("skipped by U0OTHER"), updates
        assert newsroom.store.query("SELECT * FROM redraw_queue") == []


# Slack's rate for each method the redrawer calls (handlers/posting/call_budget.py), scaled
# down so a test sees the budget run out and refill within seconds.
PER_MINUTE, BURST = 60, 3


def small_budgets() -> dict[str, CallBudget]:
    return {method: CallBudget(PER_MINUTE, BURST) for method in ("chat.update", "chat.unfurl")}


def paced_redrawer(newsroom, budgets: dict[str, CallBudget] | None = None) -> Redrawer:
    return Redrawer(web_client(newsroom.slack.bot_token, newsroom.slack.base_url),
                    newsroom.store, interval=3600, budgets=budgets or small_budgets())


def decide_all(newsroom, messages, kind: str, editor: str) -> None:
    for message in messages:
        decide(newsroom.store, message.article.id, kind, editor, source="cli")


def shows(newsroom, message, text: str) -> bool:
    return newsroom.slack.workspace.message(CHANNEL, message.ts)["text"].endswith(text)


def most_in_any_window(calls) -> float:
    """The most calls made in any stretch of time, less what the budget refilled in it:
    the budget holds when this is at most BURST."""
    times = sorted(call.at for call in calls)
    return max((j - i + 1) - (times[j] - times[i]) * PER_MINUTE / 60
               for i in range(len(times)) for j in range(i, len(times)))


def test_a_burst_above_the_budget_keeps_to_it_and_each_message_ends_on_its_last_state(
        tmp_path):
    """Votes on 8 messages, twice over, against a budget of 3 calls and 1 a second: the
    redrawer never outruns the budget, a message whose redraw waited through both bursts
    is drawn once, with the newest state, and every message ends on its last decision."""
    with start_newsroom(tmp_path, manual_redraw=True) as newsroom:
        messages = [m for m in newsroom.post_digest(top=8).messages if m.ts]
        before = len(newsroom.slack.calls("chat.update"))
        decide_all(newsroom, messages, "publish", EDITOR)
        redrawer = paced_redrawer(newsroom).start()
        redrawer.wake()
        first = newsroom.slack.wait_for_calls("chat.update", before + BURST)[before:]
        decide_all(newsroom, messages, "skip", "U0SECOND")  # while 5 still wait their turn
        redrawer.wake()
        newsroom.slack.wait_until(lambda: all(shows(newsroom, m, "skipped by U0SECOND")
                                              for m in messages), timeout=30)
        assert redrawer.stop(timeout=10)
        updates = newsroom.slack.calls("chat.update")[before:]
        assert most_in_any_window(updates) <= BURST + 0.1, [u.at for u in updates]
        waited = {m.ts for m in messages} - {call.params["ts"] for call in first}
        assert len(waited) == 5
        assert all(sum(u.params["ts"] == ts for u in updates) == 1 for ts in waited)
        assert newsroom.store.query("SELECT * FROM redraw_queue") == []


def test_a_lone_vote_after_a_quiet_spell_is_drawn_at_once(tmp_path):
    """The budget spent, then a quiet spell long enough to refill it: one vote shows
    within the coalescing pause, not at the next poll or a paced pass."""
    with start_newsroom(tmp_path, manual_redraw=True) as newsroom:
        messages = [m for m in newsroom.post_digest(top=4).messages if m.ts]
        redrawer = paced_redrawer(newsroom).start()
        decide_all(newsroom, messages[:BURST], "publish", EDITOR)
        redrawer.wake()
        newsroom.slack.wait_until(lambda: all(shows(newsroom, m, f"published by {EDITOR}")
                                              for m in messages[:BURST]))
        time.sleep(BURST * 60 / PER_MINUTE + 0.5)  # quiet: the budget refills
        decide(newsroom.store, messages[-1].article.id, "skip", EDITOR, source="cli")
        voted = time.monotonic()
        redrawer.wake()
        newsroom.slack.wait_until(lambda: shows(newsroom, messages[-1], f"skipped by {EDITOR}"))
        [drawn] = [c for c in newsroom.slack.calls("chat.update")
                   if c.params["ts"] == messages[-1].ts]
        assert drawn.at - voted < COALESCE_SECONDS + 0.4
        assert redrawer.stop(timeout=10)


def test_a_429_holds_every_later_call_for_its_retry_after_and_the_rows_stay_queued(tmp_path):
    """Slack says 429 with Retry-After: 2 to the first chat.update: no call of any later
    pass goes out before then; meanwhile the articles wait in the queue, unclaimed (no
    thread sleeps on a claim), and they are all drawn after it."""
    with start_newsroom(tmp_path, manual_redraw=True) as newsroom:
        messages = [m for m in newsroom.post_digest(top=3).messages if m.ts]
        budgets = {m: CallBudget(per_minute=600, burst=10) for m in ("chat.update", "chat.unfurl")}
        redrawer = paced_redrawer(newsroom, budgets).start()
        before = len(newsroom.slack.calls("chat.update"))
        newsroom.slack.fail_next("chat.update", retry_after=2)
        decide_all(newsroom, messages, "publish", EDITOR)
        redrawer.wake()
        [refused] = newsroom.slack.wait_for_calls("chat.update", before + 1)[before:]
        assert refused.status == 429
        time.sleep(0.5)
        decide_all(newsroom, messages, "skip", "U0SECOND")  # a later pass's worth
        redrawer.wake()
        time.sleep(0.5)
        queued = newsroom.store.query("SELECT article_id, claimed_by FROM redraw_queue")
        assert sorted(q["article_id"] for q in queued) == sorted(m.article.id for m in messages)
        assert all(q["claimed_by"] is None for q in queued)
        newsroom.slack.wait_until(lambda: all(shows(newsroom, m, "skipped by U0SECOND")
                                              for m in messages), timeout=15)
        later = newsroom.slack.calls("chat.update")[before + 1:]
        assert len(later) == len(messages)
        assert min(call.at for call in later) - refused.at >= 2
        assert redrawer.stop(timeout=10)


def test_stop_draws_while_the_budget_refills_within_its_timeout_and_leaves_the_rest_queued(
        tmp_path):
    """At shutdown with the budget spent: stop goes on drawing as the budget refills, until
    the next call could only go out after its timeout; the rest stays queued, unclaimed, for
    the other server or the next start, and stop does not wait out the timeout for them."""
    with start_newsroom(tmp_path, manual_redraw=True) as newsroom:
        messages = [m for m in newsroom.post_digest(top=5).messages if m.ts]
        budgets = {m: CallBudget(per_minute=30, burst=2) for m in ("chat.update", "chat.unfurl")}
        redrawer = paced_redrawer(newsroom, budgets).start()
        before = len(newsroom.slack.calls("chat.update"))
        decide_all(newsroom, messages, "publish", EDITOR)
        asked = time.monotonic()
        assert redrawer.stop(timeout=3.5) is True  # 2 at once, 1 two seconds later
        assert time.monotonic() - asked < 3.4
        drawn = {c.params["ts"] for c in newsroom.slack.calls("chat.update")[before:]}
        assert len(drawn) == 3
        queued = newsroom.store.query("SELECT article_id, claimed_by FROM redraw_queue")
        assert sorted(q["article_id"] for q in queued) == sorted(
            m.article.id for m in messages if m.ts not in drawn)
        assert all(q["claimed_by"] is None for q in queued)


def test_stop_with_the_budget_spent_and_nothing_queued_returns_at_once(tmp_path):
    """Nothing waits: stop has nothing to wait for the budget to refill for."""
    with start_newsroom(tmp_path, manual_redraw=True) as newsroom:
        [message] = [m for m in newsroom.post_digest(top=1).messages if m.ts]
        budgets = {m: CallBudget(per_minute=20, burst=1) for m in ("chat.update", "chat.unfurl")}
        redrawer = paced_redrawer(newsroom, budgets)
        decide_all(newsroom, [message], "publish", EDITOR)
        assert redrawer.redraw_now() == 1  # chat.update's burst spent, the queue empty
        budgets["chat.unfurl"].spend(1)  # and chat.unfurl's: no call can go out for 3 s
        redrawer.start()
        asked = time.monotonic()
        assert redrawer.stop(timeout=10) is True
        assert time.monotonic() - asked < 1.5  # the budget refills only after 3 s
