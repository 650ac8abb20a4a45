"""The schedules table, the config file's schedules and the run claims, on real SQLite files."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT
from newsbot.bot.config.settings import ConfigError, load_config
from newsbot.bot.newsroom.config_schedules import apply_config_schedules
from newsbot.bot.newsroom.fires import (
    claim_run,
    fail_run,
    finish_run,
    recent_runs,
    record_missed,
)
from newsbot.bot.newsroom.schedules import (
    ScheduleError,
    ScheduleSpec,
    UnknownSchedule,
    add_schedule,
    get_schedule,
    list_schedules,
    normalize_channel,
    pause_schedule,
    remove_schedule,
    resume_schedule,
)
from newsbot.storage.db import Store

REPO = REPO_ROOT
EXAMPLE_CONFIG = REPO / "examples" / "newsbot.yaml"
T0 = dt.datetime(2026, 3, 2, 7, 0, tzinfo=dt.UTC)


def spec(channel="C0NEWS", cron="0 9 * * 1-5", tz="Europe/London", **kw) -> ScheduleSpec:
    return ScheduleSpec(channel=channel, cron=cron, tz=tz, **kw)


# --- add, list, remove, pause, resume


def test_add_list_and_short_ids_that_are_never_reused(store):
    first = add_schedule(store, spec(top=5, topics=("Politics", "Tech"), min_quality=0.5),
                         origin="slack", created_by="U1", now=T0)
    second = add_schedule(store, spec(cron="30 17 * * *"), origin="cli")
    assert (first.id, second.id) == ("s1", "s2")
    assert first.top == 5 and first.topics == ("Politics", "Tech") and first.min_quality == 0.5
    assert first.created_by == "U1" and first.origin == "slack" and first.enabled
    assert first.created_at == "2026-03-02T07:00:00.000Z"
    assert [s.id for s in list_schedules(store)] == ["s1", "s2"]
    remove_schedule(store, "s2")
    assert add_schedule(store, spec(cron="0 12 * * *"), origin="cli").id == "s3"
    assert get_schedule(store, "S1").id == "s1"  # ids are typed by people: any case


def test_schedule_json_has_the_next_fire_time_with_its_offset(store):
    schedule = add_schedule(store, spec(tz="Europe/Berlin"), origin="cli", now=T0)
    document = schedule.to_json(now=dt.datetime(2026, 3, 27, 12, 0, tzinfo=dt.UTC))
    assert document["nextFire"] == "2026-03-30T09:00:00+02:00"  # Friday noon -> Monday, CEST
    assert document["topics"] == [] and document["top"] is None
    assert json.loads(json.dumps(document)) == document


def test_the_same_digest_twice_is_refused(store):
    add_schedule(store, spec(), origin="cli")
    with pytest.raises(ScheduleError, match="already scheduled as s1"):
        add_schedule(store, spec(cron="0  9 * * 1-5"), origin="slack")
    add_schedule(store, spec(top=3), origin="cli")  # a different digest is fine


@pytest.mark.parametrize("bad,message", [
    (dict(cron="0 9 * * 8"), "invalid cron expression: day-of-week field '8': must be 0-7 or "
                             "sun-sat"),
    (dict(tz="Europe/Lundon"), "unknown time zone 'Europe/Lundon'"),
    (dict(channel="#general"), "channel '#general' is a name, not an id"),
    (dict(channel="news room"), "channel 'news room' is not a channel id"),
    (dict(top=0), "top '0': must be a whole number of 1 or more"),
    (dict(min_quality="high"), "min_quality 'high': must be a number"),
    (dict(min_quality="nan"), "min_quality 'nan': must be a finite number"),
    (dict(min_quality=float("inf")), "min_quality 'inf': must be a finite number"),
    (dict(top=2**63), f"top '{2**63}': must be at most {2**63 - 1}"),
    (dict(topics=("Politics", " ")), "empty topic name"),
])
def test_invalid_values_are_refused_with_what_is_wrong(store, bad, message):
    with pytest.raises(ScheduleError) as raised:
        add_schedule(store, spec(**bad), origin="cli")
    assert message in str(raised.value)
    assert list_schedules(store) == []


@pytest.mark.parametrize("text,channel", [
    ("<#C0123ABCD|newsroom>", "C0123ABCD"), ("<#C0123ABCD|>", "C0123ABCD"),
    ("<#C0123ABCD>", "C0123ABCD"), ("C0123ABCD", "C0123ABCD"), ("c0123abcd", "C0123ABCD"),
    ("G0PRIVATE", "G0PRIVATE"), ("#C0123ABCD", "C0123ABCD"),
])
def test_channels_as_slack_sends_them_or_bare_ids(text, channel):
    assert normalize_channel(text) == channel


@pytest.mark.parametrize("text", ["#news", "#c0news", "<@U0123>", "", "C", "news desk"])
def test_names_and_other_text_are_not_channel_ids(text):
    with pytest.raises(ScheduleError):
        normalize_channel(text)


def test_pause_and_resume(store):
    add_schedule(store, spec(), origin="slack", now=T0)
    later = T0 + dt.timedelta(days=1)
    paused, changed = pause_schedule(store, "s1", later)
    assert changed and not paused.enabled and paused.next_fire(later) is None
    assert pause_schedule(store, "s1")[1] is False
    resumed, changed = resume_schedule(store, "s1", later)
    assert changed and resumed.enabled
    assert resumed.active_since == "2026-03-03T07:00:00.000Z"  # nothing to catch up from before
    assert [s.id for s in list_schedules(store, enabled_only=True)] == ["s1"]


def test_unknown_ids_are_named_with_the_known_ones(store):
    with pytest.raises(UnknownSchedule, match="no schedule with id 's7' .there are no sch"):
        pause_schedule(store, "s7")
    add_schedule(store, spec(), origin="cli")
    with pytest.raises(UnknownSchedule, match=r"no schedule with id 's7' \(schedules: s1\)"):
        remove_schedule(store, "s7")


# --- the config file's schedules


CONFIG_ENTRIES = [
    {"id": "weekday-morning", "channel": "C0NEWSROOM", "cron": "0 9 * * 1-5",
     "tz": "Europe/London"},
    {"channel": "C0SPORT", "cron": "0 17 * * *", "topics": ["Sport"], "top": 3},
]


def test_config_schedules_applied_twice_are_not_duplicated(store):
    first = apply_config_schedules(store, CONFIG_ENTRIES, default_tz="Europe/Berlin", now=T0)
    assert first.added == ["weekday-morning", "s2"]
    before = [s.to_json(now=T0) for s in list_schedules(store)]
    second = apply_config_schedules(store, CONFIG_ENTRIES, default_tz="Europe/Berlin")
    assert second.to_json() == {"added": [], "updated": [], "removed": [],
                                "unchanged": ["weekday-morning", "s2"]}
    assert [s.to_json(now=T0) for s in list_schedules(store)] == before
    sport = get_schedule(store, "s2")
    assert (sport.tz, sport.topics, sport.top, sport.origin) == ("Europe/Berlin", ("Sport",), 3,
                                                                 "config")


def test_two_processes_applying_the_config_at_once_add_each_entry_once(tmp_path):
    db = tmp_path / "shared.db"
    Store(db)
    script = (
        "import sys, json\n"
        "from newsbot.storage.db import Store\n"
        "from newsbot.bot.newsroom.config_schedules import apply_config_schedules\n"
        f"entries = json.loads({json.dumps(json.dumps(CONFIG_ENTRIES))})\n"
        "print(apply_config_schedules(Store(sys.argv[1]), entries).added)\n"
    )
    processes = [subprocess.Popen([sys.executable, "-c", script, str(db)], cwd=REPO,
                                  stdout=subprocess.PIPE, text=True) for _ in range(3)]
    outputs = [p.communicate(timeout=60)[0] for p in processes]
    assert all(p.returncode == 0 for p in processes)
    assert sorted(outputs).count("[]\n") == 2
    assert [s.id for s in list_schedules(Store(db))] == ["weekday-morning", "s2"]


def test_an_entry_removed_from_the_file_removes_its_schedule(store):
    apply_config_schedules(store, CONFIG_ENTRIES, now=T0)
    report = apply_config_schedules(store, CONFIG_ENTRIES[:1])
    assert report.removed == ["s2"]
    assert [s.id for s in list_schedules(store)] == ["weekday-morning"]


def test_an_entry_with_an_id_is_edited_in_place_and_retimed_from_now(store):
    apply_config_schedules(store, CONFIG_ENTRIES, now=T0)
    edited = [dict(CONFIG_ENTRIES[0], cron="30 8 * * 1-5", top=4), CONFIG_ENTRIES[1]]
    later = T0 + dt.timedelta(days=2)
    report = apply_config_schedules(store, edited, now=later)
    assert report.updated == ["weekday-morning"] and report.added == []
    schedule = get_schedule(store, "weekday-morning")
    assert (schedule.cron, schedule.top) == ("30 8 * * 1-5", 4)
    assert schedule.active_since == "2026-03-04T07:00:00.000Z"


def test_an_entry_without_id_is_identified_by_its_content(store):
    apply_config_schedules(store, CONFIG_ENTRIES, now=T0)
    edited = [CONFIG_ENTRIES[0], dict(CONFIG_ENTRIES[1], top=5)]
    report = apply_config_schedules(store, edited)
    assert (report.removed, report.added) == (["s2"], ["s3"])


def test_a_pause_from_slack_survives_restarts_until_the_file_changes_enabled(store):
    apply_config_schedules(store, CONFIG_ENTRIES, now=T0)
    pause_schedule(store, "weekday-morning")
    apply_config_schedules(store, CONFIG_ENTRIES)  # restart
    assert not get_schedule(store, "weekday-morning").enabled
    # the file now says enabled: false, then true again: the file wins each time it changes
    disabled = [dict(CONFIG_ENTRIES[0], enabled=False), CONFIG_ENTRIES[1]]
    apply_config_schedules(store, disabled)
    assert not get_schedule(store, "weekday-morning").enabled
    resume_schedule(store, "weekday-morning")
    apply_config_schedules(store, disabled)
    assert get_schedule(store, "weekday-morning").enabled
    apply_config_schedules(store, CONFIG_ENTRIES)
    assert get_schedule(store, "weekday-morning").enabled


def test_config_schedules_cannot_be_removed_from_slack_or_the_cli(store):
    apply_config_schedules(store, CONFIG_ENTRIES)
    with pytest.raises(ScheduleError, match="comes from the config file: remove it there"):
        remove_schedule(store, "weekday-morning")
    assert len(list_schedules(store)) == 2


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "newsbot.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("entry,message", [
    ('{channel: C0NEWS, cron: "0 25 * * *"}',
     "key 'schedules[0].cron': invalid cron expression: hour field '25': must be 0-23 "
     "(got '0 25 * * *')"),
    ('{channel: C0NEWS, cron: "0 9 * * *", tpoics: [a]}',
     "key 'schedules[0].tpoics': unknown key (did you mean 'topics'?)"),
    ('{cron: "0 9 * * *"}', "key 'schedules[0]': missing 'channel'"),
    ('{channel: C0NEWS}', "key 'schedules[0]': missing 'cron'"),
    ('{channel: C0NEWS, cron: "0 9 * * *", tz: Europe/Lundon}',
     "key 'schedules[0].tz': unknown time zone 'Europe/Lundon'"),
    ('{channel: "#news", cron: "0 9 * * *"}', "key 'schedules[0].channel': channel '#news'"),
    ('{channel: C0NEWS, cron: "0 9 * * *", top: many}',
     "key 'schedules[0].top': top 'many': must be a whole number of 1 or more"),
    ('{channel: C0NEWS, cron: "0 9 * * *", min_quality: high}',
     "key 'schedules[0].min_quality': min_quality 'high': must be a number"),
    ('{channel: C0NEWS, cron: "0 9 * * *", enabled: "no"}',
     "key 'schedules[0].enabled': enabled must be true or false"),
    ('{channel: C0NEWS, cron: "0 9 * * *", id: s4}',
     "key 'schedules[0].id': id 's4' looks like a generated id"),
    ('just text', "key 'schedules[0]': must be a mapping"),
])
def test_config_file_schedule_errors_name_file_key_and_reason(tmp_path, entry, message):
    path = write_config(tmp_path, f"schedules:\n  - {{channel: C0OK, cron: '@daily'}}\n"
                                  f"  - {entry}\n".replace("[0]", "[1]"))
    with pytest.raises(ConfigError) as raised:
        load_config(path, env={})
    assert str(raised.value).startswith(f"{path}: ")
    assert message.replace("[0]", "[1]") in str(raised.value)


def test_config_file_entries_given_twice_are_refused(tmp_path):
    path = write_config(tmp_path, "schedules:\n  - {channel: C0A, cron: '@daily'}\n"
                                  "  - {channel: C0A, cron: '@daily'}\n")
    with pytest.raises(ConfigError, match=r"schedules\[1\]': the same schedule is already given"):
        load_config(path, env={})
    path = write_config(tmp_path, "schedules:\n  - {id: a, channel: C0A, cron: '@daily'}\n"
                                  "  - {id: A, channel: C0B, cron: '@hourly'}\n")
    with pytest.raises(ConfigError, match=r"id 'A' is already given as schedules\[0\]"):
        load_config(path, env={})


def test_the_bundled_example_config_loads_and_its_schedule_applies(tmp_path):
    config = load_config(EXAMPLE_CONFIG, env={})
    assert config.articles == REPO / "examples" / "articles"
    (entry,) = config.schedules
    assert (entry["cron"], entry["tz"], entry["channel"]) == ("0 9 * * 1-5", "Europe/London",
                                                              "C0NEWSROOM")
    store = Store(tmp_path / "example.db")
    apply_config_schedules(store, config.schedules, default_tz=config.timezone, now=T0)
    apply_config_schedules(store, config.schedules, default_tz=config.timezone)
    (schedule,) = list_schedules(store)
    friday_noon = dt.datetime(2026, 3, 27, 12, 0, tzinfo=dt.UTC)
    assert schedule.next_fire(friday_noon).isoformat() == "2026-03-30T09:00:00+01:00"


def test_the_example_config_documents_every_key():
    from newsbot.bot.config.settings import SETTINGS

    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    for key in SETTINGS:
        assert f"{key.split('.')[-1]}:" in text, key


def test_timezone_setting_and_environment(tmp_path):
    assert load_config(write_config(tmp_path, "scheduler:\n  timezone: Asia/Tokyo\n"),
                       env={}).timezone == "Asia/Tokyo"
    assert load_config(None, env={"NEWSBOT_TIMEZONE": "America/Chicago"},
                       cwd=tmp_path / "nowhere").timezone == "America/Chicago"
    with pytest.raises(ConfigError, match="environment variable NEWSBOT_TIMEZONE: key "
                                          "'scheduler.timezone': unknown time zone"):
        load_config(None, env={"NEWSBOT_TIMEZONE": "Mars/Base"}, cwd=tmp_path / "nowhere")


# --- run claims


FIRE = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def test_a_fire_time_is_claimed_once(store):
    assert claim_run(store, "s1", FIRE, owner="a") is True
    assert claim_run(store, "s1", FIRE, owner="b") is False
    assert claim_run(store, "s1", FIRE + dt.timedelta(days=1), owner="b") is True
    assert claim_run(store, "s2", FIRE, owner="b") is True
    finish_run(store, "s1", FIRE)
    assert claim_run(store, "s1", FIRE, owner="c") is False


def test_the_same_instant_in_another_zone_is_the_same_fire_time(store):
    berlin = FIRE.astimezone(dt.timezone(dt.timedelta(hours=1)))
    assert claim_run(store, "s1", FIRE) is True
    assert claim_run(store, "s1", berlin) is False
    with pytest.raises(ValueError, match="time zone"):
        claim_run(store, "s1", FIRE.replace(tzinfo=None))


def test_a_failed_run_is_claimed_again_by_one_caller(store):
    assert claim_run(store, "s1", FIRE, owner="a")
    fail_run(store, "s1", FIRE, "SlackApiError: ratelimited")
    assert claim_run(store, "s1", FIRE, owner="b") is True
    assert claim_run(store, "s1", FIRE, owner="c") is False
    (run,) = recent_runs(store, "s1")
    assert (run.status, run.attempts, run.claimed_by) == ("running", 2, "b")


def test_missed_never_overwrites_a_posted_or_running_run(store):
    claim_run(store, "s1", FIRE)
    assert record_missed(store, "s1", FIRE, "late") is False
    finish_run(store, "s1", FIRE)
    assert record_missed(store, "s1", FIRE, "late") is False
    assert recent_runs(store, "s1")[0].status == "done"
    later = FIRE + dt.timedelta(days=1)
    claim_run(store, "s1", later)
    fail_run(store, "s1", later, "boom")
    assert record_missed(store, "s1", later, "grace over") is True
    assert recent_runs(store, "s1")[0].error == "boom; grace over"
