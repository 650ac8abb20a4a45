"""The running bot, put together in one place.

`newsbot serve` (HTTP and Socket Mode), the sandbox and the tests all run this object;
they differ only in the Slack that `client` talks to, the signing secret, and how Slack
reaches the app (the front door: the HTTP server, or Socket Mode). Everything with a
thread is owned here and ended here, so a new background job is wired once.

Start order: the database and its spool, the index and the watch on its folder (file
events re-index what changes: bot/services/folder_watch.py), the config file's
schedules, the redrawer, the spool left by the last run, the Bolt app (auth.test), then
the front door, then the scheduler with every periodic job. A bot that cannot listen never posts a
missed digest on its way out.

Stop order, so that nothing Slack saw acknowledged is lost: close the front door,
answer the requests already received, let Bolt's listeners finish, send the replies
they left for after the acknowledgement, draw the pending redraws, stop the scheduler
(waiting for running jobs), end the folder watch and the decision writer. Each wait has
a bound, and every thread is joined unless its bound ran out (that is logged).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING

from newsbot.bot.app.bolt_app import build_app
from newsbot.bot.app.startup import (
    StartupError,
    checked_app,
    connect_socket_mode,
    listen,
    open_store,
    warn_unpostable_schedules,
)
from newsbot.bot.app.web_server import Routes, SlackEvents, WebServer
from newsbot.bot.config.settings import Config, articles_folder_problem
from newsbot.bot.newsroom.alerts import waiting_alerts
from newsbot.bot.newsroom.config_schedules import apply_config_schedules
from newsbot.bot.newsroom.digest import release_dead_claims
from newsbot.bot.services import metrics
from newsbot.bot.services.admins import AdminCheck
from newsbot.bot.services.folder_watch import FolderWatcher
from newsbot.bot.services.health import Health
from newsbot.bot.services.intake import Intake
from newsbot.bot.services.leased_job import LeasedJob
from newsbot.bot.services.refresh import IndexRefresher
from newsbot.bot.services.scheduler import DigestScheduler
from newsbot.bot.services.spool_apply import apply_spool
from newsbot.bot.services.sync import SyncBusy, SyncError, sync_decisions
from newsbot.bot.services.workers import Workers
from newsbot.handlers.after_ack import AfterAck
from newsbot.handlers.listeners.home import HomeTab
from newsbot.handlers.posting.alert_post import AlertPoster
from newsbot.handlers.posting.by_kind import scheduled_poster_by_kind
from newsbot.handlers.posting.digest_post import claim_holder_died
from newsbot.handlers.posting.redrawer import Redrawer
from newsbot.handlers.posting.rejection_reports import RejectionReporter
from newsbot.storage.db import Store
from newsbot.storage.spool import Spool
from slack_bolt import App
from slack_sdk import WebClient

if TYPE_CHECKING:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

log = logging.getLogger(__name__)

SHUTDOWN_SECONDS = 30.0  # how long a stop waits for listeners, redraws and running jobs
SPOOL_APPLY_SECONDS = 1.0  # how soon a spooled decision is retried once the database is back
ALERT_SECONDS = 2.0  # the alert pass besides the index's wake: embargoes lift, quiet hours end
LISTENER_THREADS = 5  # Bolt's own default


class Runtime:
    """Starts and stops the running bot: `start()`, a front door (`open_http` or
    `connect_socket_mode`), `start_jobs()`; then `stop()`, once, whatever got started.

    With `redraw_thread=False` no thread polls the redraw queue: a test calls
    `runtime.redrawer.redraw_now()` and knows exactly which redraws ran."""

    def __init__(self, config: Config, client: WebClient, signing_secret: str | None, *,
                 redraw_thread: bool = True) -> None:
        self.config = config
        self.client = client
        self.signing_secret = signing_secret
        self.redraw_thread = redraw_thread
        self.store: Store | None = None
        self.spool: Spool | None = None
        self.refresher: IndexRefresher | None = None
        self.watcher: FolderWatcher | None = None
        self.health: Health | None = None
        self.redrawer: Redrawer | None = None
        self.alerts: AlertPoster | None = None
        self.reporter: RejectionReporter | None = None
        self.intake: Intake | None = None
        self.app: App | None = None
        self.server: WebServer | None = None
        self.socket_mode: SocketModeHandler | None = None
        self.scheduler: DigestScheduler | None = None
        self.sync_job: LeasedJob | None = None
        self._listeners: Workers | None = None
        self._after_ack: AfterAck | None = None

    # ---- start

    def start(self) -> Runtime:
        """Everything but the front door and the periodic jobs; StartupError names what an
        operator has to fix. On any failure what was started is stopped again."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        config = self.config
        self.store, self.spool = open_store(config.db, config.busy_timeout_ms)
        released = release_dead_claims(self.store, claim_holder_died)
        if released:  # a poster killed before this start: resume its digests now
            log.warning("claims of a dead poster released", extra={"digests": released})
        problem = articles_folder_problem(config.articles)
        if problem:
            raise StartupError(problem)
        self.refresher = IndexRefresher(self.store, config)
        self.refresher()
        self.watcher = FolderWatcher(self.refresher, enabled=config.file_events).start()
        metrics.watch_index_age(self.refresher.seconds_since_success)
        metrics.watch_spool_depth(self.spool.depth)
        self.health = Health(self.store, refresh_seconds=config.walk_seconds(self.watcher.events),
                             index_age_seconds=self.refresher.seconds_since_success,
                             spool_age_seconds=self.spool.oldest_age_seconds,
                             index_follows=self.watcher.describe, spool_path=self.spool.path,
                             min_free_bytes=int(config.health_min_free_mb * (1 << 20)))
        applied = apply_config_schedules(self.store, config.schedules, default_tz=config.timezone)
        log.info("config schedules applied", extra=applied.to_json())
        self.redrawer = Redrawer(self.client, self.store)
        client = self.client
        admins = AdminCheck(config.admins, lambda user: client.users_info(user=user)["user"])
        home_tab = HomeTab(self.store, config, admins)
        self.reporter = RejectionReporter(self.client, self.store, home_tab)
        if self.redraw_thread:
            self.redrawer.start()
        self.alerts = AlertPoster(self.client, self.store, config)
        self.refresher.on_change = self.alerts.wake
        store = self.store
        metrics.watch_alerts_waiting(lambda: waiting_alerts(store))
        self.apply_spool()  # what the last run spooled, before new events arrive
        self.intake = Intake(self.store, self.spool)
        self._listeners = Workers(LISTENER_THREADS, "listener")
        self._after_ack = AfterAck()
        store, intake, redrawer = self.store, self.intake, self.redrawer
        after_ack, listeners = self._after_ack, self._listeners
        self.app = checked_app(lambda: build_app(
            config, store, self.client, self.signing_secret, intake=intake, redrawer=redrawer,
            after_ack=after_ack, listener_executor=listeners, home_tab=home_tab), self.client)
        warn_unpostable_schedules(self.store, self.client)  # the token and API work now

    def open_http(self, host: str, port: int, *, slack_events: bool = True) -> WebServer:
        """The HTTP server on host:port with /healthz and /metrics, and Slack's events
        unless `slack_events` is False (Socket Mode's metrics port). Not yet serving: the
        caller runs `serve_forever()` or `start_in_thread()`."""
        assert self.health is not None and self.app is not None, "start() first"
        events = SlackEvents(self.app, self.signing_secret or "") if slack_events else None
        self.server = listen(Routes(self.health, events), host, port, self.config)
        return self.server

    def connect_socket_mode(self, app_token: str) -> None:
        assert self.app is not None, "start() first"
        self.socket_mode = connect_socket_mode(self.app, app_token, self.client.base_url)

    def start_jobs(self) -> None:
        """The scheduler: every schedule's posts, the index refresh, the spool apply, the
        database's quick_check (/healthz) and, when configured, the periodic sync."""
        assert self.store is not None and self.refresher is not None, "start() first"
        config, store = self.config, self.store
        self.scheduler = DigestScheduler(
            store, scheduled_poster_by_kind(self.client, store, config),
            grace=dt.timedelta(minutes=config.grace_minutes))
        self.scheduler.add_interval_job(self.walk_folder, config.walk_seconds(False),
                                        "index-refresh")
        self.scheduler.add_interval_job(self.apply_spool, SPOOL_APPLY_SECONDS, "spool-apply")
        assert self.alerts is not None
        self.scheduler.add_interval_job(self.alerts.run, ALERT_SECONDS, "alerts")
        scheduler = self.scheduler
        self.alerts.kick = lambda: scheduler.run_soon("alerts")
        if config.sync_interval_minutes > 0:  # one process runs it (bot/services/leased_job.py)
            seconds = config.sync_interval_minutes * 60
            self.sync_job = LeasedJob(store, "sync", PeriodicSync(store, config), seconds)
            self.scheduler.add_interval_job(self.sync_job, seconds, "sync")
            self.scheduler.add_interval_job(self.sync_job.renew, self.sync_job.renew_seconds,
                                            "sync-lease")
        assert self.health is not None
        self.scheduler.add_interval_job(self.health.check_integrity,
                                        config.health_quick_check_seconds, "quick-check")
        self.scheduler.start()

    def walk_folder(self) -> None:
        """The full walk: every polling period while file events do not work, and only
        every `walk_seconds(True)` as a safety net while they do."""
        assert self.refresher is not None and self.watcher is not None
        since = self.refresher.seconds_since_success()
        safety_net = self.config.walk_seconds(True) - self.config.walk_seconds(False) / 2
        if self.watcher.events and since is not None and since < safety_net:
            return
        self.refresher()

    def apply_spool(self) -> None:
        """Record the decisions spooled while the database refused them; applied votes
        queue their redraws themselves (bot/newsroom/redraw_queue.py): draw them now.
        Those that could not be applied are reported to their authors, once."""
        assert self.store is not None and self.spool is not None and self.redrawer is not None
        assert self.refresher is not None and self.reporter is not None
        redrawer = self.redrawer
        apply_spool(self.store, self.spool, lambda event, article_id, outcome: redrawer.wake(),
                    editors=self.config.editors, refresh_articles=self.refresher.refresh_paths)
        self.reporter()

    # ---- stop

    def stop(self, timeout: float = SHUTDOWN_SECONDS) -> None:
        """The ordered stop (module docstring); safe after a partial start, and twice."""
        if self.socket_mode is not None:
            self.socket_mode.close()  # no new events; listeners already running finish below
            self.socket_mode = None
        if self.server is not None:
            self.server.stop()
            self.server = None
        if self._listeners is not None:
            if not self._listeners.drain(timeout):
                log.warning("listeners still running after %ss", timeout)
            self._listeners = None
        if self._after_ack is not None:
            self._after_ack.drain(timeout)
            self._after_ack = None
        if self.redrawer is not None:
            self.redrawer.stop(timeout)
        if self.scheduler is not None:
            if self.scheduler.shutdown(wait=True, timeout=timeout) and self.sync_job:
                self.sync_job.release()  # not while a sync still runs: that one expires
            self.scheduler = None
            self.sync_job = None
        if self.watcher is not None:
            self.watcher.stop(timeout)
            self.watcher = None
        if self.intake is not None:
            if not self.intake.close(timeout):
                log.warning("decision writer still busy after %ss", timeout)
            self.intake = None


class PeriodicSync:
    """The sync `sync.interval_minutes` asks for; a sync already running is left to finish.

    A refusal that every run would repeat (the bundled examples, a folder gone) is logged
    once, and again only when its reason changes or after a sync that ran."""

    def __init__(self, store: Store, config: Config) -> None:
        self.store = store
        self.config = config
        self._refused: str | None = None  # the reason last logged; the scheduler runs one at a time

    def __call__(self) -> None:
        config = self.config
        try:
            report = sync_decisions(self.store, config, git_commit=config.sync_git_commit,
                                    lock_timeout=0)
        except SyncBusy:
            log.info("sync skipped: another sync is running")
            return
        except SyncError as error:
            if str(error) != self._refused:
                log.warning("sync skipped", extra={"reason": str(error)})
                self._refused = str(error)
            return
        self._refused = None
        if report.written or report.conflicts:
            log.info("sync", extra=report.to_json())
