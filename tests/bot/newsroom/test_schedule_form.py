"""The schedule form's rules: every wrong field at once, time and days as cron, and a
stored schedule filled back into the form; the typed command names every error too."""

from __future__ import annotations

import pytest
from newsbot.bot.newsroom.schedule_command import parse_schedule_command
from newsbot.bot.newsroom.schedule_form import ScheduleForm, form_spec, schedule_form, timed_cron
from newsbot.bot.newsroom.schedules import (
    ScheduleError,
    ScheduleSpec,
    add_schedule,
    get_schedule,
    update_schedule,
)

GOOD = ScheduleForm(channel="C0NEWS", time="09:30", days=("mon", "tue", "wed", "thu", "fri"),
                    tz="Europe/London", kind="digest", top="5", topics=("AI",),
                    min_quality="70")


def test_a_good_form_is_the_spec_the_typed_command_makes():
    spec, problems = form_spec(GOOD)
    assert problems == {}
    typed = parse_schedule_command(
        'add C0NEWS "30 9 * * 1-5" tz=Europe/London top=5 topics=AI min_quality=70').spec
    assert spec == typed


def test_every_wrong_field_is_named_at_once():
    form = ScheduleForm(channel=None, time="25:00", days=(), tz="Mars/Olympus", kind="poem",
                        top="0", min_quality="lots")
    spec, problems = form_spec(form)
    assert spec is None
    assert set(problems) == {"channel", "time", "days", "tz", "kind", "top", "min_quality"}
    assert all(message.endswith(".") for message in problems.values())


def test_the_advanced_cron_replaces_time_and_days_and_is_checked():
    spec, problems = form_spec(ScheduleForm(**{**GOOD.__dict__, "days": (), "time": None,
                                               "cron": "0 25 * * *"}))
    assert spec is None and set(problems) == {"cron"} and "'25'" in problems["cron"]
    spec, _ = form_spec(ScheduleForm(**{**GOOD.__dict__, "days": (), "cron": "@daily"}))
    assert spec.cron == "@daily"


@pytest.mark.parametrize(("days", "field"), [
    (("mon", "tue", "wed", "thu", "fri"), "1-5"), (("sat", "sun"), "0,6"),
    (("mon", "tue", "wed", "thu", "fri", "sat", "sun"), "*"), (("mon", "wed", "thu", "fri"),
                                                              "1,3-5"),
    (("sun",), "0")])
def test_days_become_the_unix_day_field(days, field):
    assert timed_cron("07:05", days) == (f"5 7 * * {field}", {})


def test_a_stored_schedule_fills_the_form_back(store):
    simple = add_schedule(store, ScheduleSpec("C0NEWS", "30 9 * * mon-fri", "Europe/Paris",
                                              top=3, topics=("AI",), min_quality=61.5),
                          origin="slack")
    form = schedule_form(simple)
    assert (form.time, form.days, form.tz, form.top, form.topics, form.min_quality,
            form.cron) == ("09:30", ("mon", "tue", "wed", "thu", "fri"), "Europe/Paris", "3",
                           ("AI",), "61.5", None)
    monthly = add_schedule(store, ScheduleSpec("C0NEWS", "0 6 1 * *", "UTC"), origin="slack")
    assert schedule_form(monthly).cron == "0 6 1 * *" and schedule_form(monthly).time is None


def test_an_update_keeps_the_id_and_restarts_only_a_new_timing(store):
    first = add_schedule(store, ScheduleSpec("C0NEWS", "30 9 * * mon-fri", "UTC"),
                         origin="slack")
    same_time = update_schedule(store, first.id, ScheduleSpec("C0NEWS", "30 9 * * 1-5", "UTC",
                                                              top=4))
    assert (same_time.id, same_time.top, same_time.active_since) == (first.id, 4,
                                                                     first.active_since)
    retimed = update_schedule(store, first.id, ScheduleSpec("C0NEWS", "0 10 * * 1-5", "UTC"))
    assert retimed.active_since > first.active_since
    assert get_schedule(store, first.id).cron == "0 10 * * 1-5"


def test_the_typed_command_reports_a_bad_cron_and_a_bad_zone_together():
    with pytest.raises(ScheduleError) as error:
        parse_schedule_command('add C0NEWS "0 25 * * *" tz=Mars/Olympus top=0')
    message = str(error.value)
    assert "hour field '25'" in message and "Mars/Olympus" in message and "top '0'" in message
