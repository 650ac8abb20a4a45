"""`newsbot schedule ...`: the command line writes the same table the scheduler reads."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT
from newsbot.bot.cli.main import main
from newsbot.bot.services.scheduler import DigestScheduler
from newsbot.storage.db import Store

REPO = REPO_ROOT


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """An empty working folder, no config file, no NEWSBOT_* variables."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("NEWSBOT_"):
            monkeypatch.delenv(name)
    return tmp_path


def newsbot(*args: str) -> tuple[int, str, str]:
    """The real command line, in a subprocess."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")}
    done = subprocess.run([sys.executable, "-m", "newsbot.bot", *args], cwd=Path.cwd(), env=env,
                          capture_output=True, text=True, timeout=60)
    return done.returncode, done.stdout, done.stderr


def cli(capsys, *args: str) -> tuple[int, str, str]:
    """The same entry point in this process (faster)."""
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_preview_prints_iso_fire_times_with_offsets_as_json(workdir):
    code, out, err = newsbot("schedule", "preview", "0 9 * * 1-5", "--tz", "Europe/Berlin",
                             "--from", "2026-03-27T00:00", "--count", "3", "--json")
    assert (code, err) == (0, "")
    assert json.loads(out) == {"fires": ["2026-03-27T09:00:00+01:00",
                                         "2026-03-30T09:00:00+02:00",
                                         "2026-03-31T09:00:00+02:00"]}


def test_preview_text_and_an_aware_start(workdir, capsys):
    code, out, _ = cli(capsys, "schedule", "preview", "0 0 * * 0", "--tz", "America/New_York",
                       "--from", "2026-03-01T05:00:00+00:00", "--count", "2")
    assert code == 0
    assert out.splitlines() == ["2026-03-01T00:00:00-05:00", "2026-03-08T00:00:00-05:00"]


def test_an_invalid_cron_exits_2_naming_the_field(workdir, capsys):
    code, out, err = cli(capsys, "schedule", "preview", "0 25 * * *", "--tz", "UTC")
    assert (code, out) == (2, "")
    assert err == "newsbot: error: invalid cron expression: hour field '25': must be 0-23\n"


@pytest.mark.parametrize("args,message", [
    (["0 9 * * *", "--tz", "Europe/Berln"], "argument --tz: unknown time zone 'Europe/Berln'"),
    (["0 9 * * *", "--from", "next monday"], "argument --from: not an ISO 8601 date-time"),
    (["0 9 * * *", "--count", "0"], "argument --count: must be 1 or more"),
])
def test_bad_preview_options_exit_2(workdir, capsys, args, message):
    code = main(["schedule", "preview", *args])  # one line, not argparse's SystemExit
    assert code == 2
    assert message in capsys.readouterr().err


def test_add_list_pause_resume_remove(workdir, capsys):
    db = str(workdir / "n.db")
    code, out, _ = cli(capsys, "schedule", "add", "C0NEWSROOM", "0 9 * * 1-5", "--tz",
                       "Europe/London", "--top", "5", "--topic", "Politics", "--topic", "Tech",
                       "--min-quality", "0.5", "--user", "U_ME", "--db", db, "--json")
    assert code == 0
    added = json.loads(out)["schedule"]
    assert {k: added[k] for k in ("id", "channel", "cron", "tz", "top", "topics", "minQuality",
                                  "enabled", "origin", "createdBy")} == {
        "id": "s1", "channel": "C0NEWSROOM", "cron": "0 9 * * 1-5", "tz": "Europe/London",
        "top": 5, "topics": ["Politics", "Tech"], "minQuality": 0.5, "enabled": True,
        "origin": "cli", "createdBy": "U_ME"}
    assert dt.datetime.fromisoformat(added["nextFire"]).strftime("%H:%M") == "09:00"
    code, out, _ = cli(capsys, "schedule", "pause", "s1", "--db", db, "--json")
    assert json.loads(out)["schedule"]["enabled"] is False and json.loads(out)["changed"]
    code, out, _ = cli(capsys, "schedule", "list", "--db", db, "--json")
    (listed,) = json.loads(out)["schedules"]
    assert listed["enabled"] is False and listed["nextFire"] is None
    code, out, _ = cli(capsys, "schedule", "resume", "s1", "--db", db)
    assert out.startswith("Resumed s1: C0NEWSROOM")
    code, out, _ = cli(capsys, "schedule", "remove", "s1", "--db", db)
    assert (code, out.split(":")[0]) == (0, "Removed s1")
    code, out, _ = cli(capsys, "schedule", "list", "--db", db)
    assert out.startswith("No digest schedules yet.")


def test_add_without_tz_uses_newsbot_timezone_or_utc(workdir, capsys, monkeypatch):
    db = str(workdir / "n.db")
    code, out, _ = cli(capsys, "schedule", "add", "C0A", "@daily", "--db", db, "--json")
    assert json.loads(out)["schedule"]["tz"] == "UTC"
    monkeypatch.setenv("NEWSBOT_TIMEZONE", "Asia/Tokyo")
    code, out, _ = cli(capsys, "schedule", "add", "C0B", "@daily", "--db", db, "--json")
    assert json.loads(out)["schedule"]["tz"] == "Asia/Tokyo"


@pytest.mark.parametrize("args,message", [
    (["add", "#news", "0 9 * * *"], "channel '#news' is a name, not an id"),
    (["add", "C0A", "0 9 * * 8"], "invalid cron expression: day-of-week field '8': must be 0-7 "
                                  "or sun-sat"),
    (["remove", "s4"], "no schedule with id 's4' (there are no schedules)"),
    (["pause", "s4"], "no schedule with id 's4'"),
])
def test_schedule_errors_exit_2(workdir, capsys, args, message):
    code, out, err = cli(capsys, "schedule", *args, "--db", str(workdir / "n.db"))
    assert (code, out) == (2, "")
    assert err.startswith("newsbot: error: ") and message in err


def test_a_schedule_added_on_the_command_line_is_run_by_the_scheduler(workdir):
    db = workdir / "shared.db"
    code, out, err = newsbot("schedule", "add", "C0NEWSROOM", "* * * * *", "--db", str(db),
                             "--json")
    assert code == 0, err
    created = dt.datetime.fromisoformat(json.loads(out)["schedule"]["createdAt"])
    posted = []
    runner = DigestScheduler(Store(db), lambda schedule, fire: posted.append(schedule.channel))
    runner.run_pending(now=created + dt.timedelta(minutes=1))
    assert posted == ["C0NEWSROOM"]
