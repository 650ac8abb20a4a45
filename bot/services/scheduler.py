"""The digest scheduler inside `newsbot serve`: each schedule's digest, once per fire time.

APScheduler (3.x, BackgroundScheduler) holds one cron job per enabled schedule and a
short periodic "tick" that re-reads the schedules table, so changes made from Slack or
the command line apply within seconds. The tick also finds work the cron jobs cannot
know about: fire times missed while the bot was down (posted once if inside the grace
window, logged if older), failed runs to retry, and claims that failed because the
database was busy.

Every run first claims its (schedule, fire time) row in the database, then posts; a
process that loses the claim does nothing. That makes restarts and several `serve`
processes on one database safe: APScheduler's own job store is never shared.

The posting itself is a callable, `post_digest(schedule, fire_time)`: this module knows
nothing of Slack. Time comes from an injectable clock so tests never wait.

It is the one scheduler of `newsbot serve`: the periodic index refresh and sync are
interval jobs in it too (`add_interval_job`), so one shutdown stops all of them and waits,
up to a bound, for the jobs running at that moment.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from apscheduler.executors.pool import BasePoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from newsbot.bot.newsroom.cron import fire_times_between
from newsbot.bot.newsroom.fires import (
    FAILED,
    claim_run,
    fail_run,
    failed_runs_before,
    finish_run,
    fire_key,
    latest_run_before,
    process_name,
    record_missed,
    runs_since,
)
from newsbot.bot.newsroom.schedules import (
    Schedule,
    UnknownSchedule,
    get_schedule,
    list_schedules,
    parse_utc_text,
)
from newsbot.bot.services.workers import Workers
from newsbot.storage.db import Store

log = logging.getLogger("newsbot.scheduler")

PostDigest = Callable[[Schedule, dt.datetime], None]
Clock = Callable[[], dt.datetime]

JOB_THREADS = 10  # APScheduler's default pool size
MIN_GRACE = dt.timedelta(minutes=1)  # an on-time run is a few milliseconds late
TICK_JOB = "__schedules_tick"

# Outcomes of one check
POSTED = "posted"
FAILED_RUN = "failed"
TAKEN = "taken"  # another process (or thread) claimed it first


def _minutes(span: dt.timedelta) -> str:
    return f"{span.total_seconds() / 60:g} min"


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Plan:
    """What a schedule needs at one moment; computed from the database, changes nothing."""

    schedule_id: str
    run: dt.datetime | None = None  # the fire time to post now (schedule's zone)
    retry: bool = False  # `run` failed before and is tried again
    superseded: tuple[dt.datetime, ...] = ()  # in the window, but a later one is posted
    expired: tuple[dt.datetime, ...] = ()  # failed runs whose grace window has passed
    old_misses: int = 0  # never-run fire times older than the grace window
    latest_old_miss: dt.datetime | None = None

    @property
    def has_work(self) -> bool:
        return bool(self.run or self.superseded or self.expired or self.old_misses)


@dataclass(frozen=True)
class Outcome:
    schedule_id: str
    fire_time: dt.datetime | None
    result: str | None  # POSTED, FAILED_RUN, TAKEN, or None: nothing was due
    plan: Plan | None = field(compare=False, default=None)


class DigestScheduler:
    """Runs digest schedules: plain methods for the logic, `start()` for the live threads."""

    def __init__(
        self,
        store: Store,
        post_digest: PostDigest,
        *,
        grace: dt.timedelta = dt.timedelta(hours=1),
        retry_delay: dt.timedelta = dt.timedelta(seconds=30),
        poll_seconds: float = 5.0,
        now: Clock = utc_now,
        owner: str | None = None,
        digests: bool = True,
    ) -> None:
        self.store = store
        self.post_digest = post_digest
        self.grace = max(grace, MIN_GRACE)
        self.retry_delay = retry_delay
        self.poll_seconds = poll_seconds
        self.now = now
        self.owner = owner or process_name()
        self._scheduler: BackgroundScheduler | None = None
        self._workers: Workers | None = None  # the threads the jobs run on
        self._jobs: dict[str, tuple[str, str]] = {}  # schedule id -> (cron, tz) of its job
        self._lock = threading.Lock()
        self.digests = digests  # False: only the interval jobs (tests of those alone)
        self._interval_jobs: list[tuple[Callable[[], object], float, str]] = []

    # --- the logic, callable without threads

    def plan(self, schedule: Schedule, now: dt.datetime | None = None) -> Plan:
        """Which fire time to post now, and which ones to write off."""
        now = now or self.now()
        trigger = schedule.trigger()
        active_since = parse_utc_text(schedule.active_since)
        window_start = max(now - self.grace, active_since)
        fires = fire_times_between(trigger, window_start, now)
        runs = runs_since(self.store, schedule.id, window_start)
        run, retry = None, False
        if fires:
            latest = runs.get(fire_key(fires[-1]))
            if latest is None:
                run = fires[-1]
            elif latest.status == FAILED and self._retry_due(latest, now) or latest.stale(now):
                run, retry = fires[-1], True
        superseded = tuple(
            f for f in fires[:-1]
            if fire_key(f) not in runs or runs[fire_key(f)].status == FAILED
        )
        expired = tuple(self._failed_before(schedule.id, window_start))
        old, latest_old = self._old_misses(schedule, trigger, active_since, window_start)
        return Plan(schedule.id, run, retry, superseded, expired, old, latest_old)

    def _retry_due(self, run, now: dt.datetime) -> bool:
        finished = parse_utc_text(run.finished_at) if run.finished_at else None
        return finished is None or now >= finished + self.retry_delay * run.attempts

    def _failed_before(self, schedule_id: str, start: dt.datetime) -> list[dt.datetime]:
        return [run.fire_time for run in failed_runs_before(self.store, schedule_id, start)]

    def _old_misses(self, schedule: Schedule, trigger, active_since: dt.datetime,
                    window_start: dt.datetime) -> tuple[int, dt.datetime | None]:
        """Fire times before the window that never got a run row (the bot was down)."""
        previous = latest_run_before(self.store, schedule.id, window_start)
        start = active_since
        if previous is not None:
            start = max(start, previous.fire_time + dt.timedelta(seconds=1))
        end = window_start - dt.timedelta(microseconds=1)
        if start > end:
            return 0, None
        fires = fire_times_between(trigger, start, end)
        return len(fires), (fires[-1] if fires else None)

    def check(self, schedule: Schedule, now: dt.datetime | None = None) -> Outcome:
        """Do what the plan says: write off old fire times, then claim and post the due one."""
        clock_time = now is None
        now = now or self.now()
        plan = self.plan(schedule, now)
        sid = schedule.id
        for fire in plan.superseded:
            if record_missed(self.store, sid, fire, "superseded by a later fire time", now):
                log.info("schedule %s: %s not posted, a later fire time is due", sid,
                         fire.isoformat())
        for fire in plan.expired:
            if record_missed(self.store, sid, fire, "grace window over, no more retries", now):
                log.warning("schedule %s: gave up on %s: it kept failing until the grace "
                            "window (%s) was over", sid, fire_key(fire), _minutes(self.grace))
        if plan.latest_old_miss is not None:
            reason = (f"{plan.old_misses} fire time(s) passed while newsbot was not running, "
                      f"longer ago than the grace window ({_minutes(self.grace)})")
            if record_missed(self.store, sid, plan.latest_old_miss, reason, now):
                log.warning("schedule %s: %s; latest %s; not posted", sid, reason,
                            plan.latest_old_miss.isoformat())
        if plan.run is None:
            return Outcome(sid, None, None, plan)
        if not claim_run(self.store, sid, plan.run, owner=self.owner, now=now):
            return Outcome(sid, plan.run, TAKEN, plan)
        try:
            self.post_digest(schedule, plan.run)
        except Exception as error:  # Slack down, database locked, a bug: retry later
            fail_run(self.store, sid, plan.run, f"{type(error).__name__}: {error}", now)
            log.exception("schedule %s: posting the %s digest failed; will retry within %s",
                          sid, plan.run.isoformat(), _minutes(self.grace))
            return Outcome(sid, plan.run, FAILED_RUN, plan)
        finish_run(self.store, sid, plan.run, self.now() if clock_time else now)
        log.info("schedule %s: posted the %s digest to %s%s", sid, plan.run.isoformat(),
                 schedule.channel, " (retry)" if plan.retry else "")
        return Outcome(sid, plan.run, POSTED, plan)

    def run_pending(self, now: dt.datetime | None = None) -> list[Outcome]:
        """Check every enabled schedule once; one schedule's failure never stops the rest."""
        outcomes = []
        for schedule in list_schedules(self.store, enabled_only=True):
            try:
                outcomes.append(self.check(schedule, now))
            except Exception:
                log.exception("schedule %s: check failed; trying again shortly", schedule.id)
        return outcomes

    # --- the live scheduler

    def start(self) -> None:
        """Start APScheduler's thread; the first tick (catch-up) runs at once."""
        if self._scheduler is not None:
            return
        self._workers = Workers(JOB_THREADS, "scheduler")
        self._scheduler = BackgroundScheduler(
            timezone=dt.UTC,
            executors={"default": _JobsOn(self._workers)},
            job_defaults={"coalesce": True, "max_instances": 1,
                          "misfire_grace_time": int(self.grace.total_seconds())},
        )
        if self.digests:
            self._scheduler.add_job(
                self.tick, IntervalTrigger(seconds=self.poll_seconds, timezone=dt.UTC),
                id=TICK_JOB, name="re-read schedules, catch up, retry",
                next_run_time=utc_now(),
            )
        for function, seconds, name in self._interval_jobs:
            self._add_interval(function, seconds, name)
        self._scheduler.start()
        if self.digests:
            log.info("digest scheduler started (grace %s, re-reading schedules every %ss)",
                     _minutes(self.grace), self.poll_seconds)

    def add_interval_job(self, function: Callable[[], object], seconds: float,
                         name: str) -> None:
        """Run `function` every `seconds` (first run one period after start). A run still
        going when the next is due is not doubled; errors are logged, never fatal."""
        self._interval_jobs.append((function, seconds, name))
        if self._scheduler is not None:
            self._add_interval(function, seconds, name)

    def _add_interval(self, function: Callable[[], object], seconds: float, name: str) -> None:
        def run() -> None:
            try:
                function()
            except Exception:
                log.exception("periodic job failed", extra={"job": name})

        assert self._scheduler is not None
        self._scheduler.add_job(run, IntervalTrigger(seconds=seconds, timezone=dt.UTC),
                                id=f"__{name}", name=name)

    def run_soon(self, name: str) -> None:
        """Run the interval job `name` now rather than at its next period (its schedule
        then goes on from now); nothing before `start`, after `shutdown`, or while it runs
        (a job that must not miss a wake asks for another pass itself)."""
        scheduler = self._scheduler
        if scheduler is None:
            return
        with contextlib.suppress(JobLookupError, SchedulerNotRunningError):
            scheduler.modify_job(f"__{name}", next_run_time=dt.datetime.now(dt.UTC))

    def shutdown(self, wait: bool = True, timeout: float = 30.0) -> bool:
        """Stop firing; with `wait`, wait up to `timeout` seconds for running jobs, then
        join their threads. False when a job was still running at the bound (it is left to
        the process exit)."""
        scheduler, self._scheduler = self._scheduler, None
        workers, self._workers = self._workers, None
        self._jobs.clear()
        if scheduler is None or workers is None:
            return True
        scheduler.shutdown(wait=False)  # no new fires; the jobs running go on
        if not wait:
            return True
        if not workers.drain(timeout):
            log.warning("scheduler shutdown: a job is still running after %ss", timeout)
            return False
        return True

    @property
    def running(self) -> bool:
        return self._scheduler is not None and self._scheduler.running

    def job_ids(self) -> list[str]:
        """The schedules that have a cron job now (for tests and the App Home)."""
        return sorted(self._jobs)

    def tick(self) -> None:
        """Sync cron jobs with the table; wake the job of any schedule with work to do."""
        try:
            schedules = self.sync_jobs()
        except Exception:
            log.exception("could not re-read the schedules; trying again shortly")
            return
        now = self.now()
        for schedule in schedules:
            try:
                if self.plan(schedule, now).has_work:
                    self._wake(schedule.id)
            except Exception:
                log.exception("schedule %s: could not plan; trying again shortly", schedule.id)

    def sync_jobs(self) -> list[Schedule]:
        """Add, retime and remove cron jobs to match the enabled schedules; returns them."""
        schedules = list_schedules(self.store, enabled_only=True)
        with self._lock:
            wanted = {s.id: s for s in schedules}
            for schedule_id in [i for i in self._jobs if i not in wanted]:
                self._remove_job(schedule_id)
            valid = []
            for schedule in schedules:
                try:
                    self._ensure_job(schedule)
                    valid.append(schedule)
                except Exception:
                    log.exception("schedule %s: cannot be scheduled; skipped", schedule.id)
        return valid

    def _ensure_job(self, schedule: Schedule) -> None:
        timing = (schedule.cron, schedule.tz)
        if self._jobs.get(schedule.id) == timing:
            return
        trigger = schedule.trigger()
        if self._scheduler is not None:
            if schedule.id in self._jobs:
                self._scheduler.reschedule_job(schedule.id, trigger=trigger)
                log.info("schedule %s: retimed to %r %s", schedule.id, schedule.cron, schedule.tz)
            else:
                self._scheduler.add_job(
                    self._run_job, trigger, args=[schedule.id], id=schedule.id,
                    name=f"digest {schedule.id}", replace_existing=True,
                )
                log.info("schedule %s: scheduled %r %s to %s", schedule.id, schedule.cron,
                         schedule.tz, schedule.channel)
        self._jobs[schedule.id] = timing

    def _remove_job(self, schedule_id: str) -> None:
        if self._scheduler is not None and self._scheduler.get_job(schedule_id):
            self._scheduler.remove_job(schedule_id)
        self._jobs.pop(schedule_id, None)
        log.info("schedule %s: removed or paused; no longer scheduled", schedule_id)

    def _wake(self, schedule_id: str) -> None:
        """Run a schedule's job now (it keeps its cron timing afterwards)."""
        if self._scheduler is not None and self._scheduler.get_job(schedule_id):
            self._scheduler.modify_job(schedule_id, next_run_time=utc_now())

    def _run_job(self, schedule_id: str) -> None:
        """A cron job fired (or was woken): check the schedule as it is now in the table."""
        try:
            schedule = get_schedule(self.store, schedule_id)
        except UnknownSchedule:
            return
        if schedule.enabled:
            try:
                self.check(schedule)
            except Exception:
                log.exception("schedule %s: run failed; the next tick retries", schedule_id)


class _JobsOn(BasePoolExecutor):
    """APScheduler's pool executor on threads of ours, so that shutdown can bound its wait."""

    def __init__(self, workers: Workers) -> None:
        super().__init__(workers)
