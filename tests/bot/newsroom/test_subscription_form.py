"""The subscription and follow forms' rules: every wrong field at once, the spec the typed
command makes, and a stored subscription or follow filled back into the form."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from newsbot.bot.newsroom.subscription_command import parse_follow, parse_subscribe
from newsbot.bot.newsroom.subscription_filters import Filters
from newsbot.bot.newsroom.subscription_form import (
    SubscriptionForm,
    subscription_form,
    subscription_spec,
)
from newsbot.bot.newsroom.subscriptions import SubscriptionSpec, add_subscription

NOW = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)
GOOD = SubscriptionForm(channel="C0NEWS", topics=("AI", "Climate"), providers="Reuters, AP",
                        words="heat wave", exclude_topics="Sport", exclude_words="opinion",
                        min_quality="60", min_heat="5.5", quiet_from="22:00",
                        quiet_to="07:00", tz="Europe/Paris")
TYPED = ('topics=AI,Climate providers=Reuters,AP words="heat wave" exclude_topics=Sport '
         'exclude_words=opinion min_quality=60 min_heat=5.5 quiet=22:00-07:00 tz=Europe/Paris')


def test_a_good_form_is_the_spec_the_typed_command_makes():
    spec, problems = subscription_spec(GOOD)
    assert problems == {}
    assert spec == parse_subscribe(TYPED, "C0NEWS")


def test_a_good_follow_form_is_the_spec_the_typed_follow_makes():
    form = dataclasses.replace(GOOD, channel=None, until="2027-01-31")
    spec, problems = subscription_spec(form, follow=True)
    assert problems == {}
    assert spec == parse_follow(f"{TYPED} until=2027-01-31").validated()
    assert spec.channel == "" and spec.until == "2027-01-31"


def test_every_wrong_field_is_named_at_once():
    wrong = SubscriptionForm(channel=None, words="!!", exclude_words="??", min_quality="lots",
                             min_heat="nan", quiet_from="22:00", tz="Mars/Olympus",
                             until="31/12/2026")
    spec, problems = subscription_spec(wrong)
    assert spec is None
    assert set(problems) == {"channel", "words", "exclude_words", "min_quality", "min_heat",
                             "quiet_to", "tz"}  # a subscription has no until: ignored
    assert all(message.endswith(".") and message[0].isupper() for message in problems.values())
    spec, problems = subscription_spec(wrong, follow=True)
    assert set(problems) == {"words", "exclude_words", "min_quality", "min_heat", "quiet_to",
                             "tz", "until"}  # a follow has no channel


@pytest.mark.parametrize(("start", "end", "field", "message"), [
    (None, "07:00", "quiet_from", "both ends"), ("22:00", None, "quiet_to", "both ends"),
    ("07:00", "07:00", "quiet_to", "start and end are the same time")])
def test_quiet_hours_need_both_ends_and_two_times(start, end, field, message):
    spec, problems = subscription_spec(dataclasses.replace(GOOD, quiet_from=start,
                                                           quiet_to=end))
    assert spec is None and set(problems) == {field} and message in problems[field]


def test_empty_fields_filter_nothing():
    spec, problems = subscription_spec(SubscriptionForm(channel="C0NEWS", providers=" ",
                                                        words="", tz="UTC"))
    assert problems == {} and spec == SubscriptionSpec("C0NEWS", Filters(), tz="UTC")


def test_a_stored_subscription_and_follow_fill_the_form_back(store):
    spec, _ = subscription_spec(GOOD)
    stored = add_subscription(store, spec, created_by="U1", now=NOW)
    form = subscription_form(stored)
    assert form == GOOD
    assert subscription_spec(form) == (spec, {})
    follow_spec, _ = subscription_spec(dataclasses.replace(GOOD, channel=None,
                                                           until="2027-01-31"), follow=True)
    follow = add_subscription(store, dataclasses.replace(follow_spec, channel="D0U1",
                                                         member="U1"), now=NOW)
    form = subscription_form(follow)
    assert form.channel is None and form.until == "2027-01-31"
    assert dataclasses.replace(form, channel="C0NEWS", until=None) == GOOD
    bare = add_subscription(store, SubscriptionSpec("C0OTHER"), now=NOW)
    assert subscription_form(bare) == SubscriptionForm(channel="C0OTHER", tz="UTC")
