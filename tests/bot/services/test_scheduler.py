"""The digest scheduler: each (schedule, fire time) posted at most once, with controlled time.

The logic is driven through `run_pending(now)` with explicit clocks; one test runs the
real BackgroundScheduler for about a second, and one runs several processes on one
database file.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import sqlite3
import subprocess
import sys
import threading
import time
from zoneinfo import ZoneInfo

import pytest
from conftest import REPO_ROOT
from newsbot.bot.newsroom.fires import recent_runs
from newsbot.bot.newsroom.schedules import (
    ScheduleSpec,
    add_schedule,
    get_schedule,
    pause_schedule,
    remove_schedule,
    resume_schedule,
)
from newsbot.bot.services.scheduler import FAILED_RUN, POSTED, TAKEN, DigestScheduler

REPO = REPO_ROOT
UTC = dt.UTC
LONDON = ZoneInfo("Europe/London")
# Monday 2 March 2026; London is on GMT (UTC+0) that week
MONDAY_0700 = dt.datetime(2026, 3, 2, 7, 0, tzinfo=UTC)


def at(hour: int, minute: int = 0, second: int = 0, day: int = 2) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, minute, second, tzinfo=UTC)


class Poster:
    """A post_digest that records what it posted; it can be told to fail."""

    def __init__(self, fail_for: set[str] | None = None, failures: int = 0) -> None:
        self.posted: list[tuple[str, str]] = []
        self.fail_for = fail_for or set()
        self.failures = failures  # fail this many times first (any schedule)
        self.attempts = 0
        self.lock = threading.Lock()
        self.event = threading.Event()

    def __call__(self, schedule, fire_time: dt.datetime) -> None:
        with self.lock:
            self.attempts += 1
            if schedule.id in self.fail_for or self.failures > 0:
                self.failures -= 1
                raise sqlite3.OperationalError("database is locked")
            self.posted.append((schedule.id, fire_time.isoformat()))
        self.event.set()


def weekday_digest(store, cron="0 9 * * 1-5", tz="Europe/London", now=MONDAY_0700, **kw):
    return add_schedule(store, ScheduleSpec("C0NEWS", cron, tz, **kw), origin="cli", now=now)


def scheduler(store, poster, **kw) -> DigestScheduler:
    kw.setdefault("grace", dt.timedelta(hours=1))
    return DigestScheduler(store, poster, owner="test", **kw)


def test_a_due_fire_time_is_posted_once(store):
    weekday_digest(store)
    poster = Poster()
    runner = scheduler(store, poster)
    assert [o.result for o in runner.run_pending(at(8, 59, 59))] == [None]
    assert [o.result for o in runner.run_pending(at(9, 0, 0))] == [POSTED]
    for moment in (at(9, 0, 1), at(9, 30), at(12)):
        assert [o.result for o in runner.run_pending(moment)] == [None]
    assert poster.posted == [("s1", "2026-03-02T09:00:00+00:00")]
    (run,) = recent_runs(store, "s1")
    assert (run.status, run.attempts, run.claimed_by) == ("done", 1, "test")


def test_the_fire_time_is_passed_in_the_schedules_zone(store):
    weekday_digest(store, tz="America/New_York")
    poster = Poster()
    scheduler(store, poster).run_pending(at(14, 5))  # 09:05 in New York (EST)
    assert poster.posted == [("s1", "2026-03-02T09:00:00-05:00")]


def test_restart_catch_up_inside_the_grace_window_posts_once(store):
    weekday_digest(store)
    poster = Poster()
    scheduler(store, poster).run_pending(at(8, 50))  # running, then down from 08:50
    assert poster.posted == []
    scheduler(store, poster).run_pending(at(9, 40))  # restarted 40 minutes late
    scheduler(store, poster).run_pending(at(9, 41))  # and once more
    assert poster.posted == [("s1", "2026-03-02T09:00:00+00:00")]


def test_restart_outside_the_grace_window_logs_the_miss_and_continues(store, caplog):
    weekday_digest(store)
    poster = Poster()
    caplog.set_level(logging.INFO, logger="newsbot.scheduler")
    outcomes = scheduler(store, poster).run_pending(at(10, 30))  # 90 minutes late
    assert [o.result for o in outcomes] == [None]
    assert poster.posted == []
    (run,) = recent_runs(store, "s1")
    assert (run.status, run.fire_time) == ("missed", at(9))
    assert "1 fire time(s) passed while newsbot was not running" in run.error
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "not posted" in warnings[0]
    caplog.clear()
    scheduler(store, poster).run_pending(at(10, 31))  # restart again: logged once only
    assert [r for r in caplog.records if r.levelno == logging.WARNING] == []
    scheduler(store, poster).run_pending(at(9, 0, 2, day=3))  # Tuesday: on schedule again
    assert poster.posted == [("s1", "2026-03-03T09:00:00+00:00")]


def test_several_misses_inside_the_window_post_only_the_latest(store):
    weekday_digest(store, cron="*/15 * * * *", now=at(8, 44))
    poster = Poster()
    scheduler(store, poster).run_pending(at(8, 50))  # posts 08:45, then down
    scheduler(store, poster).run_pending(at(9, 50))  # 09:00, 09:15, 09:30, 09:45 all due
    assert poster.posted == [("s1", "2026-03-02T08:45:00+00:00"),
                             ("s1", "2026-03-02T09:45:00+00:00")]
    statuses = {run.fire_time.strftime("%H:%M"): run.status for run in recent_runs(store, "s1")}
    assert statuses == {"09:45": "done", "09:30": "missed", "09:15": "missed", "09:00": "missed",
                        "08:45": "done"}


def test_long_downtime_is_counted_not_posted(store, caplog):
    weekday_digest(store, cron="0 * * * *")
    caplog.set_level(logging.WARNING, logger="newsbot.scheduler")
    poster = Poster()
    scheduler(store, poster).run_pending(at(12, 10, day=4))  # 2 days later, 12:10 Wednesday
    assert poster.posted == [("s1", "2026-03-04T12:00:00+00:00")]
    # Monday 07:00 (when it was added) to Wednesday 11:00: 53 hourly fire times
    assert "53 fire time(s) passed" in caplog.records[0].getMessage()
    assert "latest 2026-03-04T11:00:00+00:00" in caplog.records[0].getMessage()


def test_a_schedule_added_or_resumed_after_its_fire_time_waits_for_the_next(store):
    weekday_digest(store, now=at(9, 20))
    poster = Poster()
    runner = scheduler(store, poster)
    runner.run_pending(at(9, 21))
    assert poster.posted == []
    pause_schedule(store, "s1", at(9, 22))
    runner.run_pending(at(9, 0, 1, day=3))  # paused on Tuesday at nine: nothing
    resume_schedule(store, "s1", at(9, 30, day=3))
    runner.run_pending(at(9, 31, day=3))
    assert poster.posted == []
    runner.run_pending(at(9, 0, 5, day=4))
    assert poster.posted == [("s1", "2026-03-04T09:00:00+00:00")]


def test_a_removed_schedule_is_not_posted(store):
    weekday_digest(store)
    remove_schedule(store, "s1")
    poster = Poster()
    assert scheduler(store, poster).run_pending(at(9, 0, 1)) == []
    assert poster.posted == []


def test_a_failed_run_is_retried_after_a_delay_within_the_grace_window(store, caplog):
    weekday_digest(store)
    poster = Poster(failures=1)
    runner = scheduler(store, poster, retry_delay=dt.timedelta(seconds=30))
    assert [o.result for o in runner.run_pending(at(9, 0, 1))] == [FAILED_RUN]
    assert "posting the 2026-03-02T09:00:00+00:00 digest failed" in caplog.text
    (run,) = recent_runs(store, "s1")
    assert (run.status, run.error) == ("failed", "OperationalError: database is locked")
    assert [o.result for o in runner.run_pending(at(9, 0, 20))] == [None]  # not yet
    assert [o.result for o in runner.run_pending(at(9, 0, 32))] == [POSTED]
    assert poster.posted == [("s1", "2026-03-02T09:00:00+00:00")]
    (run,) = recent_runs(store, "s1")
    assert (run.status, run.attempts) == ("done", 2)


def test_retries_stop_when_the_grace_window_is_over(store, caplog):
    weekday_digest(store)
    poster = Poster(fail_for={"s1"})
    runner = scheduler(store, poster, retry_delay=dt.timedelta(minutes=5))
    caplog.set_level(logging.WARNING, logger="newsbot.scheduler")
    moment = at(9)
    while moment <= at(10, 30):
        runner.run_pending(moment)
        moment += dt.timedelta(minutes=1)
    # backoff 5, 10, 15, 20 minutes after each failure: 09:00, 09:05, 09:15, 09:30, 09:50
    assert poster.attempts == 5
    (run,) = recent_runs(store, "s1")
    assert run.status == "missed" and "grace window over" in run.error
    gave_up = [r for r in caplog.records if "gave up" in r.getMessage()]
    assert len(gave_up) == 1


def test_one_failing_schedule_never_blocks_the_others(store, caplog):
    weekday_digest(store)
    weekday_digest(store, cron="0 9 * * *")
    weekday_digest(store, cron="0 9 * * mon")
    with store.write() as db:  # a row broken behind our back
        db.execute("UPDATE schedules SET cron = '0 9 * * 9' WHERE id = 's3'")
    poster = Poster(fail_for={"s1"})
    outcomes = scheduler(store, poster).run_pending(at(9, 0, 1))
    assert [(o.schedule_id, o.result) for o in outcomes] == [("s1", FAILED_RUN), ("s2", POSTED)]
    assert poster.posted == [("s2", "2026-03-02T09:00:00+00:00")]
    assert "schedule s3: check failed" in caplog.text


def test_a_second_runner_on_the_same_database_does_not_post_again(store):
    weekday_digest(store)
    first, second = Poster(), Poster()
    assert [o.result for o in scheduler(store, first).run_pending(at(9, 0, 1))] == [POSTED]
    assert [o.result for o in scheduler(store, second).run_pending(at(9, 0, 1))] == [None]
    assert second.posted == []


# --- daylight saving, driven through the scheduler with a stepping clock


@pytest.mark.parametrize("tz,day,cron,expected", [
    ("Europe/Berlin", 25, "30 2 * * *", ["2026-10-24T02:30:00+02:00", "2026-10-25T02:30:00+02:00",
                                         "2026-10-26T02:30:00+01:00"]),
    ("Europe/Berlin", 25, "0 9 * * *", ["2026-10-24T09:00:00+02:00", "2026-10-25T09:00:00+01:00",
                                        "2026-10-26T09:00:00+01:00"]),
    ("America/New_York", 1, "30 1 * * *", ["2026-10-31T01:30:00-04:00",
                                           "2026-11-01T01:30:00-04:00",
                                           "2026-11-02T01:30:00-05:00"]),
    ("America/New_York", 1, "0 9 * * *", ["2026-10-31T09:00:00-04:00",
                                          "2026-11-01T09:00:00-05:00",
                                          "2026-11-02T09:00:00-05:00"]),
])
def test_fall_back_posts_each_daily_time_once(store, tz, day, cron, expected):
    month = 10 if tz == "Europe/Berlin" else 11
    change = dt.datetime(2026, month, day, tzinfo=ZoneInfo(tz))
    assert_posts_while_stepping(store, tz, cron, change, expected)


@pytest.mark.parametrize("tz,day,cron,expected", [
    ("Europe/Berlin", 29, "30 2 * * *", ["2026-03-28T02:30:00+01:00", "2026-03-29T03:30:00+02:00",
                                         "2026-03-30T02:30:00+02:00"]),
    ("Europe/Berlin", 29, "0 9 * * *", ["2026-03-28T09:00:00+01:00", "2026-03-29T09:00:00+02:00",
                                        "2026-03-30T09:00:00+02:00"]),
    ("America/New_York", 8, "30 2 * * *", ["2026-03-07T02:30:00-05:00",
                                           "2026-03-08T03:30:00-04:00",
                                           "2026-03-09T02:30:00-04:00"]),
    ("America/New_York", 8, "0 9 * * *", ["2026-03-07T09:00:00-05:00",
                                          "2026-03-08T09:00:00-04:00",
                                          "2026-03-09T09:00:00-04:00"]),
])
def test_spring_forward_posts_each_daily_time_once(store, tz, day, cron, expected):
    change = dt.datetime(2026, 3, day, tzinfo=ZoneInfo(tz))
    assert_posts_while_stepping(store, tz, cron, change, expected)


def assert_posts_while_stepping(store, tz, cron, change_day, expected):
    """Run the scheduler every 17 minutes from the day before the change to the day after."""
    start = (change_day - dt.timedelta(days=1)).astimezone(UTC)
    add_schedule(store, ScheduleSpec("C0NEWS", cron, tz), origin="cli", now=start)
    poster = Poster()
    runner = scheduler(store, poster)
    moment = start
    while moment < start + dt.timedelta(days=3):
        runner.run_pending(moment)
        moment += dt.timedelta(minutes=17)
    assert [fire for _, fire in poster.posted] == expected


# --- several processes on one database


WORKER = """
import datetime as dt, os, sys, time
from newsbot.storage.db import Store
from newsbot.bot.services.scheduler import DigestScheduler

db, posted_file, go_file, ready_file, now = sys.argv[1:6]
store = Store(db)

def post(schedule, fire_time):
    with open(posted_file, "a") as out:
        out.write(f"{os.getpid()} {schedule.id} {fire_time.isoformat()}\\n")

runner = DigestScheduler(store, post, owner=f"worker-{os.getpid()}")
open(ready_file, "w").close()
while not os.path.exists(go_file):
    time.sleep(0.002)
print(" ".join(f"{o.schedule_id}:{o.result}" for o in runner.run_pending(
    dt.datetime.fromisoformat(now))))
"""


def test_several_scheduler_processes_on_one_database_post_each_digest_once(store, tmp_path):
    weekday_digest(store)
    weekday_digest(store, cron="0 9 * * *", top=3)
    posted, go = tmp_path / "posted.txt", tmp_path / "go"
    env = dict(os.environ)
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(store.path), str(posted), str(go),
             str(tmp_path / f"ready{n}"), "2026-03-02T09:00:01+00:00"],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for n in range(3)
    ]
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"ready{n}").exists() for n in range(3)):
        assert time.monotonic() < deadline, "workers did not start"
        assert all(w.poll() is None for w in workers), [w.communicate() for w in workers]
        time.sleep(0.01)
    go.touch()  # all three run the due logic at the same moment
    results = [w.communicate(timeout=60) for w in workers]
    assert all(w.returncode == 0 for w in workers), results
    lines = posted.read_text().splitlines()
    assert sorted(line.split(" ", 1)[1] for line in lines) == [
        "s1 2026-03-02T09:00:00+00:00", "s2 2026-03-02T09:00:00+00:00"]
    outcomes = " ".join(out for out, _ in results).split()
    assert sorted(o for o in outcomes if o.endswith(POSTED)) == [f"s1:{POSTED}", f"s2:{POSTED}"]
    # the others lost the claim (TAKEN) or saw the finished run when planning (None)
    assert all(o.split(":")[1] in (TAKEN, "None") for o in outcomes if not o.endswith(POSTED))
    assert len(outcomes) == 6
    assert {run.status for run in recent_runs(store)} == {"done"}


# --- the live BackgroundScheduler


def wait_for(condition, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_the_live_scheduler_catches_up_and_follows_table_changes(store):
    two_minutes_ago = dt.datetime.now(UTC) - dt.timedelta(minutes=2)
    weekday_digest(store, cron="* * * * *", now=two_minutes_ago)  # due: this minute's fire
    poster = Poster()
    runner = scheduler(store, poster, poll_seconds=0.1)
    runner.start()
    try:
        assert wait_for(lambda: len(poster.posted) >= 1), "the due digest was not posted"
        assert runner.job_ids() == ["s1"]
        # a schedule added elsewhere (CLI, Slack) is picked up without a restart
        add_schedule(store, ScheduleSpec("C0OTHER", "* * * * *", "UTC"), origin="cli",
                     now=two_minutes_ago)
        assert wait_for(lambda: any(sid == "s2" for sid, _ in poster.posted))
        assert runner.job_ids() == ["s1", "s2"]
        pause_schedule(store, "s1")
        assert wait_for(lambda: runner.job_ids() == ["s2"])
        resume_schedule(store, "s1")
        assert wait_for(lambda: runner.job_ids() == ["s1", "s2"])
        with store.write() as db:  # retimed elsewhere: the job gets the new trigger
            db.execute("UPDATE schedules SET cron = '0 9 * * 1-5', tz = 'Asia/Tokyo'"
                       " WHERE id = 's2'")
        job = runner._scheduler.get_job
        assert wait_for(lambda: "0 9 * * 1-5" in str(job("s2").trigger))
        next_run = job("s2").next_run_time.astimezone(ZoneInfo("Asia/Tokyo"))
        assert (next_run.hour, next_run.minute, next_run.isoweekday() <= 5) == (9, 0, True)
        assert job("s2").misfire_grace_time == 3600 and job("s2").coalesce
    finally:
        runner.shutdown()
    assert not runner.running
    fires = [(sid, fire) for sid, fire in poster.posted]
    assert len(fires) == len(set(fires)), f"a fire time was posted twice: {fires}"
    assert get_schedule(store, "s1").enabled


def test_a_run_whose_poster_died_is_taken_over_after_a_while_but_not_before(store):
    weekday_digest(store)
    alive = Poster()

    def dies(schedule, fire_time):
        raise SystemExit  # stands in for a process killed mid-post: nothing is recorded

    with pytest.raises(SystemExit):
        scheduler(store, dies).run_pending(at(9, 0, 1))
    (run,) = recent_runs(store, "s1")
    assert run.status == "running"
    # ten minutes on, the claim may still be a slow poster: leave it
    assert [o.result for o in scheduler(store, alive).run_pending(at(9, 10))] == [None]
    assert alive.posted == []
    assert [o.result for o in scheduler(store, alive).run_pending(at(9, 16))] == [POSTED]
    assert alive.posted == [("s1", "2026-03-02T09:00:00+00:00")]
    (run,) = recent_runs(store, "s1")
    assert (run.status, run.attempts) == ("done", 2)


# --- the one scheduler of `serve`: interval jobs beside the digests, a bounded shutdown


def test_interval_jobs_run_in_the_same_scheduler_and_shutdown_waits_for_a_running_one(store):
    started, release, finished = threading.Event(), threading.Event(), threading.Event()

    def slow_refresh() -> None:
        started.set()
        release.wait(10)
        finished.set()

    runner = DigestScheduler(store, Poster(), poll_seconds=3600)
    runner.add_interval_job(slow_refresh, 0.05, "index-refresh")
    runner.start()
    assert started.wait(10), "the interval job never ran"
    assert "index-refresh" in [job.name for job in runner._scheduler.get_jobs()]
    threading.Timer(0.3, release.set).start()
    assert runner.shutdown(wait=True, timeout=10) is True
    assert finished.is_set()  # shutdown returned only after the running job finished


def test_shutdown_gives_up_on_a_stuck_job_at_its_bound(store):
    """No helper thread is left waiting at the bound: what is left is the job's own thread,
    and it ends when the job does."""
    started, release = threading.Event(), threading.Event()
    stuck_on: list[threading.Thread] = []

    def stuck() -> None:
        stuck_on.append(threading.current_thread())
        started.set()
        release.wait(30)

    before = set(threading.enumerate())
    runner = DigestScheduler(store, Poster(), poll_seconds=3600, digests=False)
    runner.add_interval_job(stuck, 0.05, "sync")
    runner.start()
    assert started.wait(10)
    try:
        assert runner.shutdown(wait=True, timeout=0.2) is False
        assert not runner.running
        assert [t for t in threading.enumerate() if t not in before] == stuck_on
    finally:
        release.set()
    stuck_on[0].join(10)
    assert [t for t in threading.enumerate() if t not in before] == []


def test_an_interval_job_that_raises_is_logged_and_runs_again(store, caplog):
    calls: list[int] = []

    def broken() -> None:
        calls.append(1)
        raise RuntimeError("the share is gone")

    runner = DigestScheduler(store, Poster(), poll_seconds=3600, digests=False)
    runner.add_interval_job(broken, 0.05, "index-refresh")
    with caplog.at_level(logging.ERROR, logger="newsbot.scheduler"):
        runner.start()
        try:
            assert wait_for(lambda: len(calls) >= 2)
        finally:
            runner.shutdown()
    assert any(r.getMessage() == "periodic job failed" for r in caplog.records)
