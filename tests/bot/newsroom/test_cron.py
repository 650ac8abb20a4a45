"""Cron expressions mean what they mean in a Unix crontab, and DST fires each time once."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger
from newsbot.bot.newsroom.cron import (
    CronError,
    UnknownTimeZone,
    build_trigger,
    fire_times_between,
    next_fire_times,
    parse_cron,
    zone,
)

UTC = dt.UTC
# A plain week: Sunday 2026-03-01 .. Saturday 2026-03-07 (no DST change in it)
SUNDAY = dt.datetime(2026, 3, 1)


def weekdays_fired(cron: str, days: int = 14) -> list[str]:
    fires = next_fire_times(cron, "UTC", SUNDAY, count=days * 2)
    return [f.strftime("%a") for f in fires if f < (SUNDAY + dt.timedelta(days=days)).replace(
        tzinfo=UTC)]


@pytest.mark.parametrize("cron", ["0 9 * * 0", "0 9 * * 7", "0 9 * * sun", "0 9 * * SUN"])
def test_sunday_is_0_7_or_sun(cron):
    assert weekdays_fired(cron) == ["Sun", "Sun"]


@pytest.mark.parametrize("cron", ["0 9 * * 1-5", "0 9 * * mon-fri", "0 9 * * Mon-Fri",
                                  "0 9 * * 1,2,3,4,5"])
def test_monday_to_friday(cron):
    assert weekdays_fired(cron, days=7) == ["Mon", "Tue", "Wed", "Thu", "Fri"]


def test_apschedulers_own_crontab_parser_is_off_by_one_which_is_why_we_translate():
    # The trap this module exists for: from_crontab numbers Monday 0, so 1-5 is Tue-Sat.
    trigger = CronTrigger.from_crontab("0 9 * * 1-5", timezone=UTC)
    fire, fires = None, []
    now = SUNDAY.replace(tzinfo=UTC)
    for _ in range(5):
        fire = trigger.get_next_fire_time(fire, now)
        fires.append(fire.strftime("%a"))
        now = fire
    assert fires == ["Tue", "Wed", "Thu", "Fri", "Sat"]


def test_weekend_ranges_and_steps_on_weekdays():
    assert weekdays_fired("0 9 * * 6-7", days=7) == ["Sun", "Sat"]
    assert weekdays_fired("0 9 * * fri-sun", days=7) == ["Sun", "Fri", "Sat"]
    assert weekdays_fired("0 9 * * */2", days=7) == ["Sun", "Tue", "Thu", "Sat"]
    assert weekdays_fired("0 9 * * 0-7", days=7) == ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri",
                                                     "Sat"]


def test_month_names_and_numbers():
    fires = next_fire_times("0 0 1 jan,jul *", "UTC", dt.datetime(2026, 3, 1), 3)
    assert [f.date().isoformat() for f in fires] == ["2026-07-01", "2027-01-01", "2027-07-01"]
    assert next_fire_times("0 0 1 JUN-aug *", "UTC", SUNDAY, 3) == next_fire_times(
        "0 0 1 6-8 *", "UTC", SUNDAY, 3)


def test_minutes_hours_lists_ranges_and_steps():
    fires = next_fire_times("*/20 9-10 * * *", "UTC", SUNDAY, 7)
    assert [f.strftime("%H:%M") for f in fires] == [
        "09:00", "09:20", "09:40", "10:00", "10:20", "10:40", "09:00"]
    fires = next_fire_times("5,50 8 * * *", "UTC", SUNDAY, 2)
    assert [f.strftime("%H:%M") for f in fires] == ["08:05", "08:50"]
    # "start/step": from start to the end of the field
    fires = next_fire_times("45/5 0 * * *", "UTC", SUNDAY, 4)
    assert [f.strftime("%H:%M") for f in fires] == ["00:45", "00:50", "00:55", "00:45"]
    fires = next_fire_times("0 0-12/6 * * *", "UTC", SUNDAY, 4)
    assert [f.strftime("%H") for f in fires] == ["00", "06", "12", "00"]


def test_day_of_month_or_day_of_week_when_both_are_restricted():
    # crontab(5): "0 9 13 * fri" fires on every Friday AND on every 13th
    fires = next_fire_times("0 9 13 * fri", "UTC", SUNDAY, 7)
    assert [f.strftime("%a %d") for f in fires] == [
        "Fri 06", "Fri 13", "Fri 20", "Fri 27", "Fri 03", "Fri 10", "Mon 13"]
    # a day matching both fires once
    assert len({f for f in fires}) == len(fires)


def test_day_fields_starting_with_star_still_combine_with_and():
    # crontab(5) counts a field as restricted only if it does not start with '*':
    # "*/2" in day-of-month plus "fri" means odd-numbered Fridays.
    fires = next_fire_times("0 9 */2 * fri", "UTC", SUNDAY, 4)
    assert [f.strftime("%a %d") for f in fires] == ["Fri 13", "Fri 27", "Fri 03", "Fri 17"]


@pytest.mark.parametrize("alias,expected", [
    ("@daily", ["2026-03-01 00:00 Sun", "2026-03-02 00:00 Mon"]),
    ("@midnight", ["2026-03-01 00:00 Sun", "2026-03-02 00:00 Mon"]),
    ("@hourly", ["2026-03-01 00:00 Sun", "2026-03-01 01:00 Sun"]),
    ("@weekly", ["2026-03-01 00:00 Sun", "2026-03-08 00:00 Sun"]),
    ("@monthly", ["2026-03-01 00:00 Sun", "2026-04-01 00:00 Wed"]),
    ("@yearly", ["2027-01-01 00:00 Fri", "2028-01-01 00:00 Sat"]),
    ("@annually", ["2027-01-01 00:00 Fri", "2028-01-01 00:00 Sat"]),
])
def test_aliases(alias, expected):
    fires = next_fire_times(alias, "UTC", SUNDAY, 2)
    assert [f.strftime("%Y-%m-%d %H:%M %a") for f in fires] == expected


@pytest.mark.parametrize("cron,message", [
    ("0 9 * * 8", "day-of-week field '8': must be 0-7 or sun-sat"),
    ("0 9 * * funday", "day-of-week field 'funday': must be 0-7 or sun-sat"),
    ("60 9 * * *", "minute field '60': must be 0-59"),
    ("0 24 * * *", "hour field '24': must be 0-23"),
    ("0 9 0 * *", "day-of-month field '0': must be 1-31"),
    ("0 9 32 * *", "day-of-month field '32': must be 1-31"),
    ("0 9 * 13 *", "month field '13': must be 1-12 or jan-dec"),
    ("0 9 * janu *", "month field 'janu': must be 1-12 or jan-dec"),
    ("0 9 * * 5-1", "day-of-week field '5-1': range '5-1' goes backwards (5 is after 1)"),
    ("*/0 9 * * *", "minute field '*/0': step '/0' must be a whole number of 1 or more"),
    ("0 9 * * 1-5/", "day-of-week field '1-5/': step '/' must be a whole number of 1 or more"),
    ("0,,30 9 * * *", "minute field '0,,30': empty item in the list"),
    ("0 -9 * * *", "hour field '-9': must be 0-23"),
    ("0 9 * *", "a cron expression has 5 fields (minute hour day-of-month month day-of-week), "
                "got 4 in '0 9 * *'"),
    ("0 9 * * * *", "a cron expression has 5 fields (minute hour day-of-month month "
                    "day-of-week), got 6 in '0 9 * * * *'"),
    ("", 'empty cron expression: expected five fields, e.g. "0 9 * * 1-5"'),
    ("@reboot", "'@reboot' is not supported: use five fields or one of @yearly, @annually, "
                "@monthly, @weekly, @daily, @midnight, @hourly"),
    ("0 9 31 feb *", "day-of-month field '31': no such day in month field 'feb' "
                     "(the expression would never fire)"),
])
def test_invalid_expressions_say_which_field_and_why(cron, message):
    with pytest.raises(CronError) as raised:
        parse_cron(cron)
    assert str(raised.value) == message
    assert isinstance(raised.value, ValueError)


def test_february_29_is_accepted_and_fires_in_leap_years():
    fires = next_fire_times("0 0 29 2 *", "UTC", SUNDAY, 2)
    assert [f.date().isoformat() for f in fires] == ["2028-02-29", "2032-02-29"]


def test_whitespace_is_normalised():
    assert parse_cron("  0   9 *  * 1-5 ").expression == "0 9 * * 1-5"


def test_unknown_time_zone_names_close_ones():
    with pytest.raises(UnknownTimeZone) as raised:
        zone("Europe/Berln")
    assert str(raised.value).startswith(
        "unknown time zone 'Europe/Berln': use an IANA name such as Europe/London")
    assert "Europe/Berlin" in str(raised.value)
    for bad in ("", "Mars/Olympus", "../../etc/passwd", "UTC+2"):
        with pytest.raises(UnknownTimeZone):
            build_trigger("0 9 * * *", bad)
    assert zone("America/New_York") == ZoneInfo("America/New_York")


def test_next_fire_times_reads_a_naive_start_as_local_time_and_includes_it():
    fires = next_fire_times("0 9 * * *", "Europe/Berlin", dt.datetime(2026, 3, 30, 9, 0), 2)
    assert [f.isoformat() for f in fires] == ["2026-03-30T09:00:00+02:00",
                                              "2026-03-31T09:00:00+02:00"]
    aware = dt.datetime(2026, 3, 30, 7, 0, 1, tzinfo=UTC)  # 09:00:01 in Berlin
    assert next_fire_times("0 9 * * *", "Europe/Berlin", aware, 1)[0].isoformat() == (
        "2026-03-31T09:00:00+02:00")


def test_fire_times_between_is_inclusive_and_limited():
    trigger = build_trigger("*/15 * * * *", "UTC")
    start = dt.datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    fires = fire_times_between(trigger, start, start + dt.timedelta(hours=1))
    assert [f.strftime("%H:%M") for f in fires] == ["09:00", "09:15", "09:30", "09:45", "10:00"]
    assert len(fire_times_between(trigger, start, start + dt.timedelta(days=1), limit=3)) == 3


# --- daylight saving time, in two zones
# Europe/Berlin: 2026-03-29 02:00 -> 03:00, 2026-10-25 03:00 -> 02:00
# America/New_York: 2026-03-08 02:00 -> 03:00, 2026-11-01 02:00 -> 01:00

DST_DAYS = {
    ("Europe/Berlin", "spring"): dt.date(2026, 3, 29),
    ("Europe/Berlin", "fall"): dt.date(2026, 10, 25),
    ("America/New_York", "spring"): dt.date(2026, 3, 8),
    ("America/New_York", "fall"): dt.date(2026, 11, 1),
}


def fires_around(cron: str, tz: str, day: dt.date) -> list[dt.datetime]:
    """Every fire time from the day before the change to the day after, inclusive."""
    start = dt.datetime.combine(day - dt.timedelta(days=1), dt.time(0, 0))
    end = dt.datetime.combine(day + dt.timedelta(days=2), dt.time(0, 0), tzinfo=ZoneInfo(tz))
    trigger = build_trigger(cron, tz)
    return fire_times_between(trigger, start.replace(tzinfo=ZoneInfo(tz)), end)


@pytest.mark.parametrize("tz,change", list(DST_DAYS))
def test_nine_oclock_fires_at_nine_local_once_a_day_across_dst(tz, change):
    day = DST_DAYS[(tz, change)]
    fires = fires_around("0 9 * * *", tz, day)
    assert [f.date() for f in fires] == [day - dt.timedelta(days=1), day,
                                         day + dt.timedelta(days=1)]
    assert all((f.hour, f.minute) == (9, 0) for f in fires)
    # 24 hours apart except across the change, where local 09:00 moved in UTC
    offsets = {f.utcoffset() for f in fires}
    assert len(offsets) == 2


@pytest.mark.parametrize("tz,utc_fire", [("Europe/Berlin", "2026-03-29T01:30:00+00:00"),
                                         ("America/New_York", "2026-03-08T07:30:00+00:00")])
def test_a_time_that_does_not_exist_fires_once_pushed_forward_by_the_gap(tz, utc_fire):
    day = DST_DAYS[(tz, "spring")]
    fires = fires_around("30 2 * * *", tz, day)
    on_the_day = [f for f in fires if f.date() == day]
    assert len(on_the_day) == 1
    # 02:30 does not exist that night; APScheduler 3.11 fires at 03:30 (new offset)
    assert on_the_day[0].strftime("%H:%M") == "03:30"
    assert on_the_day[0].astimezone(UTC).isoformat() == utc_fire
    assert len(fires) == 3


@pytest.mark.parametrize("tz,cron,first", [
    ("Europe/Berlin", "30 2 * * *", "2026-10-25T02:30:00+02:00"),
    ("America/New_York", "30 1 * * *", "2026-11-01T01:30:00-04:00"),
])
def test_a_time_that_exists_twice_fires_once_at_its_first_occurrence(tz, cron, first):
    day = DST_DAYS[(tz, "fall")]
    fires = fires_around(cron, tz, day)
    on_the_day = [f.isoformat() for f in fires if f.date() == day]
    assert on_the_day == [first]
    assert len(fires) == 3


def test_apscheduler_alone_would_fire_the_repeated_time_twice():
    # Why CrontabTrigger skips the second occurrence (checked against APScheduler 3.11.3)
    berlin = ZoneInfo("Europe/Berlin")
    trigger = CronTrigger(hour=2, minute=30, timezone=berlin)
    start = dt.datetime(2026, 10, 25, 0, 0, tzinfo=berlin)
    first = trigger.get_next_fire_time(None, start)
    second = trigger.get_next_fire_time(first, first)
    assert (first.date(), second.date()) == (dt.date(2026, 10, 25), dt.date(2026, 10, 25))


@pytest.mark.parametrize("tz", ["Europe/Berlin", "America/New_York"])
def test_hourly_schedule_fires_each_wall_clock_hour_once_on_the_fall_back_day(tz):
    day = DST_DAYS[(tz, "fall")]
    zone_info = ZoneInfo(tz)
    start = dt.datetime.combine(day, dt.time(0, 0), tzinfo=zone_info)
    end = dt.datetime.combine(day, dt.time(23, 59), tzinfo=zone_info)
    fires = fire_times_between(build_trigger("0 * * * *", tz), start, end)
    hours = [f.hour for f in fires]
    assert hours == list(range(24))  # 24 wall-clock hours, none twice, in a 25-hour day
    assert len({f.astimezone(UTC) for f in fires}) == 24


@pytest.mark.parametrize("tz", ["Europe/Berlin", "America/New_York"])
def test_hourly_schedule_skips_the_missing_hour_on_the_spring_day(tz):
    day = DST_DAYS[(tz, "spring")]
    zone_info = ZoneInfo(tz)
    start = dt.datetime.combine(day, dt.time(0, 0), tzinfo=zone_info)
    end = dt.datetime.combine(day, dt.time(23, 59), tzinfo=zone_info)
    fires = fire_times_between(build_trigger("0 * * * *", tz), start, end)
    assert [f.hour for f in fires] == [h for h in range(24) if h != 2]


def test_an_impossible_day_with_a_weekday_fires_on_the_weekday():
    # 30 February or Mondays: crontab fires on Mondays in February (the day never comes)
    start = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
    fires = next_fire_times("0 0 30 2 1", "UTC", start, 3)
    assert [f.date().isoformat() for f in fires] == ["2026-02-02", "2026-02-09", "2026-02-16"]
