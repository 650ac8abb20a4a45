"""The redrawer's budget for one Web API method (handlers/posting/call_budget.py), on a
clock the test moves."""

from __future__ import annotations

from newsbot.handlers.posting.call_budget import CallBudget


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_burst_at_once_then_the_rate_and_never_more_than_the_burst_saved_up():
    clock = Clock()
    budget = CallBudget(per_minute=60, burst=3, clock=clock)
    assert budget.available() == 3
    budget.spend(3)
    assert not budget.affords(1) and budget.ready_at() == 101.0
    clock.now += 1
    assert budget.affords(1) and not budget.affords(2)
    clock.now += 3600  # a quiet hour saves up no more than the burst
    assert budget.available() == 3


def test_more_calls_than_the_burst_are_afforded_once_full_and_paid_back_before_the_next():
    clock = Clock()
    budget = CallBudget(per_minute=60, burst=3, clock=clock)
    assert budget.affords(5)  # an article in 5 messages is drawn, not starved
    budget.spend(5)
    assert budget.available() == 0 and budget.ready_at() == 103.0


def test_a_retry_after_holds_every_call_then_refills_from_empty():
    clock = Clock()
    budget = CallBudget(per_minute=60, burst=3, clock=clock)
    budget.hold(30)
    clock.now += 29.9
    assert budget.available() == 0 and budget.ready_at() == 131.0
    clock.now += 1.1
    assert budget.available() == 1
