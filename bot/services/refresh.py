"""The periodic index refresh inside `serve` and the sandbox, and how fresh the index is.

/healthz and /metrics both ask how long ago the index last refreshed successfully: a
folder that went away (an unmounted share) must show up there, not only in the log.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from newsbot.bot.config.settings import Config
from newsbot.storage.db import Store
from newsbot.storage.index import IndexReport, Progress, refresh, refresh_paths

log = logging.getLogger(__name__)


def refresh_index(store: Store, config: Config,
                  progress: Progress | None = None) -> IndexReport:
    """The index of the configured folder under every configured rule (patterns, the file
    size limit, story clusters): the one way commands, sync and `serve` refresh it."""
    return refresh(store, config.articles, config.patterns, progress=progress,
                   max_file_bytes=config.max_file_bytes, clusters=config.cluster_settings)


class IndexRefresher:
    """Refresh the index of `config.articles`; remembers when it last succeeded."""

    def __init__(self, store: Store, config: Config,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store, self.config, self.clock = store, config, clock
        self.on_change: Callable[[], None] = lambda: None  # after a refresh that changed rows
        self._succeeded_at: float | None = None
        self._lock = threading.Lock()
        # one refresh at a time: the full walk (a scheduler job) and the file events'
        # refreshes (bot/services/folder_watch.py) compare the same rows with the disk
        self._running = threading.Lock()

    def __call__(self) -> IndexReport | None:
        """One refresh. A folder that went away is logged and the index kept as it was,
        rather than emptied; the next success clears the alarm."""
        try:
            with self._running:
                report = refresh_index(self.store, self.config)
        except NotADirectoryError as error:
            log.error("index not refreshed", extra={"error": str(error)})
            return None
        with self._lock:
            self._succeeded_at = self.clock()
        from newsbot.bot.services import (
            metrics,  # here: `newsbot index` imports this module, not the metrics
        )

        metrics.index_refreshed(report.failed)
        if report.indexed or report.removed:
            log.info("index refreshed", extra=report.as_dict())
            self.on_change()
        return report

    def refresh_paths(self, touched: list[str]) -> IndexReport | None:
        """Re-index only these paths (relative to the folder): what file events name."""
        config = self.config
        try:
            with self._running:
                report = refresh_paths(self.store, config.articles, touched, config.patterns,
                                       max_file_bytes=config.max_file_bytes,
                                       clusters=config.cluster_settings)
        except NotADirectoryError as error:
            log.error("index not refreshed", extra={"error": str(error)})
            return None
        if report.indexed or report.removed:
            log.info("index refreshed from file events",
                     extra={**report.as_dict(), "paths": len(touched)})
            self.on_change()
        return report

    def seconds_since_success(self) -> float | None:
        """Seconds since the last successful refresh; None before the first one."""
        with self._lock:
            if self._succeeded_at is None:
                return None
            return self.clock() - self._succeeded_at
