"""File events drive the index: an article created, changed, moved or deleted is
re-indexed within about a second, at a cost that follows the change, not the folder.

watchfiles (inotify on Linux, FSEvents, ReadDirectoryChangesW) batches and debounces the
events: a burst, such as a sync of a hundred files, becomes one refresh of the paths it
touched (storage/index.py, refresh_paths). The runtime's periodic full walk stays as the
safety net for anything events miss.

Where events cannot work (the inotify watch limit reached, a folder that cannot be
watched, `serve.file_events: false` for a network share whose remote writes raise no
events) the watcher says so once in the log, reports `polling` in /healthz and in
`newsbot_index_file_events`, and the full walk runs at the polling period instead. A
folder replaced under it (moved away, a new one in its place) is watched again.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

import watchfiles
from newsbot.bot.services import metrics
from newsbot.bot.services.refresh import IndexRefresher
from newsbot.bot.services.workers import name_os_thread
from newsbot.storage.db import file_identity

log = logging.getLogger(__name__)

DEBOUNCE_MS = 300  # events this close together are one batch
WAKE_MS = 100  # how often the thread looks up from waiting (start-up, stop, a replaced folder)
READY_SECONDS = 10.0  # how long start() waits for the watch to be set up
REPLACE_SECONDS = 5.0  # how long a folder may be missing while it is replaced


class FolderWatcher:
    """Watches `refresher.config.articles` on one thread; `events` says whether it works."""

    def __init__(self, refresher: IndexRefresher, *, enabled: bool = True) -> None:
        self.refresher = refresher
        self.root = Path(refresher.config.articles).resolve()
        self.enabled = enabled
        self.problem: str | None = None
        self._events = False
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def events(self) -> bool:
        """File events drive the index now (False: the full walk polls)."""
        return self._events

    def describe(self) -> dict[str, str]:
        """For /healthz: how the index follows the folder, and why not by events."""
        if self._events:
            return {"follows": "file events"}
        return {"follows": "polling", "reason": self.problem or "not started"}

    def start(self) -> FolderWatcher:
        """Set up the watch; returns once it works or has failed (then: polling)."""
        if not self.enabled:
            self._give_up("file events are turned off (serve.file_events)")
            return self
        self._thread = threading.Thread(target=self._run, name="folder-watch", daemon=True)
        self._thread.start()
        if not self._ready.wait(READY_SECONDS):
            self._give_up(f"the watch was not set up within {READY_SECONDS:g} s")
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        name_os_thread()
        replaced = False
        while not self._stop.is_set():
            try:
                identity = self._folder_identity(wait=replaced)
                self._watch(identity, walk_first=replaced)
            except Exception as error:  # the watch limit, a folder that cannot be watched
                self._give_up(f"{type(error).__name__}: {error}")
                return
            replaced = not self._stop.is_set()  # the folder was replaced: watch the new one
            if replaced:
                log.warning("the articles folder was replaced; watching it again",
                            extra={"folder": str(self.root)})

    def _folder_identity(self, wait: bool) -> tuple[int, int]:
        """The folder's (device, inode), with `wait` waiting a little for one being
        replaced (moved away, the new one not yet in place); NotADirectoryError when
        there is none."""
        deadline = time.monotonic() + (REPLACE_SECONDS if wait else 0)
        while True:
            identity = file_identity(self.root)
            if identity is not None and self.root.is_dir():
                return identity
            if time.monotonic() >= deadline or self._stop.wait(WAKE_MS / 1000):
                raise NotADirectoryError(f"{self.root} is not a folder")

    def _watch(self, identity: tuple[int, int], walk_first: bool) -> None:
        """Refresh the touched paths of each batch until stopped, or until the folder
        the watch was set up on is no longer the one at its path. `walk_first`: once
        the watch is set up, walk the whole (new) folder, which no event described."""
        for changes in watchfiles.watch(
                self.root, watch_filter=None, debounce=DEBOUNCE_MS, step=50,
                stop_event=self._stop, rust_timeout=WAKE_MS, yield_on_timeout=True,
                raise_interrupt=False, ignore_permission_denied=True):
            if not self._ready.is_set():
                self._events = True
                metrics.index_follows_events(True)
                log.info("file events drive the index", extra={"folder": str(self.root)})
                self._ready.set()
            if walk_first:
                walk_first = False
                self.refresher()
            if file_identity(self.root) != identity:
                return
            touched = self._relative(path for _, path in changes)
            if touched:
                metrics.index_event_refresh()
                self.refresher.refresh_paths(touched)

    def _relative(self, paths) -> list[str]:
        root = str(self.root)
        found = set()
        for path in paths:
            relative = os.path.relpath(path, root)
            if relative != "." and not relative.startswith(".."):
                found.add(Path(relative).as_posix())
        return sorted(found)

    def _give_up(self, problem: str) -> None:
        """Let the full walk poll; said once in the log (the watcher never retries)."""
        if self.problem is None:
            log.warning("file events do not drive the index; polling the folder instead",
                        extra={"folder": str(self.root), "reason": problem})
        self.problem, self._events = problem, False
        metrics.index_follows_events(False)
        self._ready.set()
