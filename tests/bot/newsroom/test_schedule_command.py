"""`schedule ...` as typed in Slack: parsing, admin rights, answers; and the admin check."""

from __future__ import annotations

import datetime as dt

import pytest
from newsbot.bot.newsroom.schedule_command import parse_schedule_command, run_schedule_command
from newsbot.bot.newsroom.schedules import ScheduleError, get_schedule, list_schedules
from newsbot.bot.services.admins import AdminCheck
from newsbot.handlers.slack_text import slack_unescape

NOW = dt.datetime(2026, 3, 27, 12, 0, tzinfo=dt.UTC)  # a Friday


# --- parsing


def test_add_with_every_option_as_slack_sends_it():
    command = parse_schedule_command(
        'add <#C0123ABCD|newsroom> "0 9 * * 1-5" tz=Europe/Berlin top=5 topics=Politics,Tech '
        "min_quality=0.7"
    )
    assert command.action == "add"
    spec = command.spec
    assert (spec.channel, spec.cron, spec.tz, spec.top, spec.topics, spec.min_quality) == (
        "C0123ABCD", "0 9 * * 1-5", "Europe/Berlin", 5, ("Politics", "Tech"), 0.7)


def test_topics_with_spaces_and_slack_escaped_ampersands():
    command = parse_schedule_command('add C0123ABCD "@daily" "topics=Arts &amp; Culture,World"',
                                     unescape=slack_unescape)
    assert command.spec.topics == ("Arts & Culture", "World")


def test_text_is_read_as_typed():
    """The rules read plain text: an `&amp;` or `&lt;` here was typed so (Slack's escaping
    is undone at the Slack edge, handlers/slack_text.py)."""
    command = parse_schedule_command('add C0123ABCD "@daily" "topics=R&amp;D,&lt;b&gt;"')
    assert command.spec.topics == ("R&amp;D", "&lt;b&gt;")


@pytest.mark.parametrize("text", [
    'schedule add C0123ABCD "0 9 * * 1-5"',  # with the leading word, bare id
    "add <#C0123ABCD> '0 9 * * 1-5'",
    "add <#C0123ABCD|> \u201c0 9 * * 1-5\u201d",  # phones turn quotes into smart quotes
    "add C0123ABCD 0 9 * * 1-5",  # five bare fields work too
])
def test_add_spellings(text):
    command = parse_schedule_command(text)
    assert (command.spec.channel, command.spec.cron, command.spec.tz) == (
        "C0123ABCD", "0 9 * * 1-5", None)  # no tz: the caller's default applies


@pytest.mark.parametrize("text,expected", [
    ("list", ("list", None)), ("LIST", ("list", None)), ("remove s3", ("remove", "s3")),
    ("pause weekday-morning", ("pause", "weekday-morning")), ("resume s1", ("resume", "s1")),
])
def test_other_actions(text, expected):
    command = parse_schedule_command(text)
    assert (command.action, command.schedule_id) == expected


def test_preview():
    command = parse_schedule_command('preview "30 8 * * mon" tz=America/New_York')
    assert (command.action, command.cron, command.tz) == ("preview", "30 8 * * mon",
                                                          "America/New_York")
    assert parse_schedule_command('preview "@daily"').tz is None


@pytest.mark.parametrize("text,message", [
    ('add <#C0123ABCD|news> "0 9 * * 8"',
     "invalid cron expression: day-of-week field '8': must be 0-7 or sun-sat"),
    ('add <#C0123ABCD|news> "0 9 * *"',
     "invalid cron expression: a cron expression has 5 fields (minute hour day-of-month month "
     "day-of-week), got 4 in '0 9 * *'"),
    ('add C0123ABCD "0 9 * * *" tz=Europe/Berln',
     "unknown time zone 'Europe/Berln': use an IANA name such as Europe/London (did you mean "
     "Europe/Berlin"),
    ('add #newsroom "0 9 * * *"', "channel '#newsroom' is a name, not an id"),
    ("add <@U0123|someone> \"0 9 * * *\"", "channel '<@U0123|someone>' is not a channel id"),
    ("add C0123ABCD", 'missing the cron expression, in double quotes: /news schedule add '
                      'C0123ABCD "0 9 * * 1-5"'),
    ("add", 'missing the channel: /news schedule add #channel "0 9 * * 1-5" ...'),
    ('add C0123ABCD "0 9 * * *', "unbalanced quotes"),
    ('add C0123ABCD "0 9 * * *" top=0', "top '0': must be a whole number of 1 or more"),
    ('add C0123ABCD "0 9 * * *" top=five', "top 'five': must be a whole number of 1 or more"),
    ('add C0123ABCD "0 9 * * *" min_quality=good', "min_quality 'good': must be a number"),
    ('add C0123ABCD "0 9 * * *" topics=A,,B', "topics 'A,,B': empty topic name"),
    ('add C0123ABCD "0 9 * * *" tpoics=A', "unknown option 'tpoics=': use tz=, top=, topics=, "
                                           "min_quality="),
    ('add C0123ABCD "0 9 * * *" top=1 top=2', "option 'top=' given twice"),
    ('add C0123ABCD "0 9 * * *" tz=', "option 'tz=' has no value"),
    ('preview "0 9 * * *" top=3', "unknown option 'top=': use tz="),
    ("preview", 'missing the cron expression, in double quotes: /news schedule preview '
                '"0 9 * * 1-5"'),
    ("remove", "'/news schedule remove' takes one schedule id, e.g. /news schedule remove s1"),
    ("pause s1 s2", "'/news schedule pause' takes one schedule id, e.g. /news schedule pause s1"),
    ("list all", "'/news schedule list' takes no arguments (got 'all')"),
    ("delete s1", "unknown schedule command 'delete' (did you mean 'remove'?)"),
    ("stop s1", "unknown schedule command 'stop' (did you mean 'pause'?)"),
    ("ad C0123ABCD", "unknown schedule command 'ad' (did you mean 'add'?)"),
    ("", "what should I do with schedules? Usage: /news schedule add"),
])
def test_parse_errors_say_exactly_what_is_wrong(text, message):
    with pytest.raises(ScheduleError) as raised:
        parse_schedule_command(text)
    assert message in str(raised.value)


# --- carrying it out, as an admin or not


def admins_are(*user_ids):
    return lambda user_id: user_id in user_ids


def run(store, text, user="U_ADMIN", **kw):
    kw.setdefault("is_admin", admins_are("U_ADMIN"))
    return run_schedule_command(store, text, user_id=user, now=NOW, **kw)


def test_an_admin_adds_a_schedule_in_their_own_time_zone(store):
    reply = run(store, 'add <#C0NEWS|news> "0 9 * * 1-5" top=5',
                user_zone=lambda user: "Europe/Berlin", channel_format=lambda c: f"<#{c}>")
    assert reply.ok and reply.changed
    assert reply.text == (
        'Scheduled s1: <#C0NEWS> "0 9 * * 1-5" Europe/Berlin, top 5, enabled, from slack by '
        "U_ADMIN; next digest 2026-03-30T09:00:00+02:00 (Mon)")
    schedule = get_schedule(store, "s1")
    assert (schedule.tz, schedule.created_by, schedule.origin) == ("Europe/Berlin", "U_ADMIN",
                                                                   "slack")


def test_without_a_known_user_zone_the_fallback_applies(store):
    reply = run(store, 'add C0NEWS "0 9 * * *"', user_zone=lambda user: "Not/AZone",
                fallback_zone="Asia/Tokyo")
    assert reply.ok and reply.schedule.tz == "Asia/Tokyo"


@pytest.mark.parametrize("text", ['add C0NEWS "0 9 * * *"', "remove s1", "pause s1",
                                  "resume s1", 'add C0NEWS "0 9 * * 8"', "remove"])
def test_non_admins_are_refused_and_nothing_changes(store, text):
    run(store, 'add C0NEWS "0 9 * * 1-5"')
    before = [s.to_json(now=NOW) for s in list_schedules(store)]
    reply = run(store, text, user="U_EDITOR")
    assert not reply.ok and not reply.changed
    assert reply.text.startswith("Only newsbot admins can ")
    assert "Nothing was changed" in reply.text
    assert [s.to_json(now=NOW) for s in list_schedules(store)] == before


def test_everyone_may_list_and_preview(store):
    assert run(store, "list", user="U_EDITOR").text.startswith("No digest schedules yet.")
    run(store, 'add C0NEWS "0 9 * * 1-5" tz=Europe/London')
    reply = run(store, "list", user="U_EDITOR")
    assert reply.ok and [s.id for s in reply.schedules] == ["s1"]
    assert reply.text.splitlines()[1].startswith('• s1: C0NEWS "0 9 * * 1-5" Europe/London')
    reply = run(store, 'preview "0 9 * * 1-5" tz=Europe/Berlin', user="U_EDITOR")
    assert reply.ok and not reply.changed
    assert [f.isoformat() for f in reply.fires] == [
        "2026-03-30T09:00:00+02:00", "2026-03-31T09:00:00+02:00", "2026-04-01T09:00:00+02:00",
        "2026-04-02T09:00:00+02:00", "2026-04-03T09:00:00+02:00"]
    assert reply.text.splitlines()[0] == 'Next 5 fire times of "0 9 * * 1-5" in Europe/Berlin:'


def test_preview_without_tz_uses_the_users_zone(store):
    reply = run(store, 'preview "0 9 * * *"', user="U_EDITOR",
                user_zone=lambda user: "America/New_York")
    assert reply.fires[0].isoformat() == "2026-03-27T09:00:00-04:00"  # 08:00 there now


def test_unknown_channels_are_refused(store):
    reply = run(store, 'add C0GONE "0 9 * * *"', channel_known=lambda channel: False)
    assert not reply.ok
    assert reply.text == ("unknown channel C0GONE: it does not exist or newsbot cannot see it "
                          "(invite newsbot to the channel first)")
    assert list_schedules(store) == []


def test_errors_come_back_as_replies(store):
    reply = run(store, 'add C0NEWS "61 9 * * *"')
    assert (reply.ok, reply.text) == (False, "invalid cron expression: minute field '61': "
                                             "must be 0-59")
    reply = run(store, "pause s9")
    assert (reply.ok, reply.text) == (False, "no schedule with id 's9' (there are no schedules)")


def test_remove_pause_resume_answers(store):
    run(store, 'add C0NEWS "0 9 * * 1-5" tz=Europe/London')
    assert run(store, "pause s1").text == "Paused s1; resume it with: /news schedule resume s1"
    assert run(store, "pause s1").text == "s1 is already paused."
    assert run(store, "resume s1").text.startswith("Resumed s1: C0NEWS")
    assert run(store, "resume s1").text == "s1 is already running."
    reply = run(store, "remove s1")
    assert reply.changed and reply.text.startswith("Removed s1: C0NEWS")
    assert list_schedules(store) == []


# --- the admin check


class Profiles:
    """A users.info look-alike: counts calls, can be made to fail."""

    def __init__(self, profiles: dict) -> None:
        self.profiles = profiles
        self.calls = 0
        self.down = False

    def __call__(self, user_id: str) -> dict:
        self.calls += 1
        if self.down:
            raise ConnectionError("slack is down")
        return self.profiles.get(user_id, {})


def test_config_admins_and_workspace_admins_and_owners_are_admins():
    profiles = Profiles({"U_WSADMIN": {"is_admin": True, "tz": "Europe/Paris"},
                         "U_OWNER": {"is_owner": True}, "U_EDITOR": {"tz": "Asia/Tokyo"}})
    check = AdminCheck(["U_CONFIG"], profiles)
    assert check.is_admin("U_CONFIG") and profiles.calls == 0
    assert check.is_admin("U_WSADMIN") and check.is_admin("U_OWNER")
    assert not check.is_admin("U_EDITOR")
    assert check.time_zone("U_EDITOR") == "Asia/Tokyo"
    assert check.time_zone("U_OWNER") is None


def test_profiles_are_cached_for_a_few_minutes():
    clock = [1000.0]
    profiles = Profiles({"U_WSADMIN": {"is_admin": True}})
    check = AdminCheck([], profiles, ttl_seconds=300, clock=lambda: clock[0])
    for _ in range(5):
        assert check.is_admin("U_WSADMIN")
    assert profiles.calls == 1
    clock[0] += 301
    profiles.profiles["U_WSADMIN"] = {"is_admin": False}  # demoted
    assert not check.is_admin("U_WSADMIN")
    assert profiles.calls == 2


def test_a_failed_look_up_grants_nothing_and_is_not_cached():
    profiles = Profiles({"U_WSADMIN": {"is_admin": True}})
    check = AdminCheck([], profiles)
    profiles.down = True
    assert not check.is_admin("U_WSADMIN")
    profiles.down = False
    assert check.is_admin("U_WSADMIN")
