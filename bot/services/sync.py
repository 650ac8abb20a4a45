"""Sync: the editors' standing decisions written back into the article files.

The files are the newsroom's source of truth, so every write is the smallest possible
edit (storage.front_matter_edit), made atomically (storage.atomic_file), applied to the
file as it is now, and refused with a recorded conflict when the file contradicts the
decision. For each article with a standing decision, or with an earlier write of ours:

- publish: `published: true`;  skip: `published` false and `skipped: true`;
- no decision any more: the lines newsbot changed go back to exactly what they were.

`sync_state` remembers the lines before newsbot's first edit ("former") and the lines it
wrote, so a later sync can revert exactly its own edit and can tell when someone else has
changed a line since. Only one sync runs at a time (a lock file next to the database);
a write is recorded as pending before the rename and confirmed after, and the next sync
finishes a run that was killed in between.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import time
from collections.abc import Iterator
from pathlib import Path

from newsbot.bot.config.settings import Config, articles_folder_problem, is_bundled_examples
from newsbot.bot.newsroom.article import stamp
from newsbot.bot.services import metrics
from newsbot.bot.services.refresh import refresh_index
from newsbot.bot.services.sync_plan import Plan, plan_all
from newsbot.bot.services.sync_report import (
    Conflict,
    SyncReport,
    commit_written,
    committable_ids,
    report_of,
)
from newsbot.bot.services.sync_write import finish_interrupted, record_conflicts, write_all
from newsbot.storage.db import Store
from newsbot.storage.git_repo import GitRepo

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: the rest of newsbot still works
    fcntl = None  # type: ignore[assignment]

DEFAULT_LOCK_TIMEOUT = 60.0
BUNDLED_REFUSED = (
    "the articles folder is newsbot's bundled examples, which sync never writes: point "
    "--articles, NEWSBOT_ARTICLES or 'articles:' in newsbot.yaml at a folder of your own "
    "(`newsbot sandbox` tries sync on a copy of the examples)")
BUNDLED_FILE_REFUSED = (
    "the file is one of newsbot's bundled examples, which sync never writes; "
    "keep your articles in a folder of your own")


class SyncError(Exception):
    """Sync cannot run at all (no articles folder); nothing was written."""


class SyncBusy(SyncError):
    """Another sync held the lock for longer than we were willing to wait."""


def sync_decisions(
    store: Store,
    config: Config,
    *,
    dry_run: bool = False,
    git_commit: bool = False,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    now: dt.datetime | None = None,
) -> SyncReport:
    """Write every standing decision its file does not show yet; see the module docstring.

    With `dry_run` nothing is written or recorded: the report's diff shows the edits.
    Raises SyncError when the articles folder is missing or is the bundled examples
    (shown, never written; a folder holding them gets a conflict for each), SyncBusy
    when another sync holds the lock past `lock_timeout` seconds.
    """
    root = Path(config.articles)
    problem = articles_folder_problem(root)
    if problem:
        raise SyncError(problem)
    real_root = root.resolve()
    if dry_run:
        report = report_of(plan_all(store, real_root), dry_run=True)
        if git_commit:
            report.notes.append("dry run: nothing committed")
        return report
    if is_bundled_examples(real_root):
        raise SyncError(BUNDLED_REFUSED)
    with _sync_lock(lock_path(store), lock_timeout):
        finish_interrupted(store, real_root)
        plans = plan_all(store, real_root)
        leave_bundled_examples(plans)
        repo = GitRepo.containing(real_root) if git_commit else None
        committable = committable_ids(repo, plans) if repo else set()
        written_at = stamp(now or dt.datetime.now(dt.UTC))
        write_all(store, plans, written_at)
        record_conflicts(store, plans, written_at)
        report = report_of(plans, dry_run=False)
        metrics.sync_done(len(report.written), len(report.conflicts))
        if report.written:
            refresh_index(store, config)
        if git_commit:
            commit_written(report, repo, plans, committable, config)
    return report


def leave_bundled_examples(plans: list[Plan]) -> None:
    """An articles folder that holds the bundled examples (a checkout's `bot/examples`,
    its root) still never writes them: each such edit becomes a conflict instead."""
    for plan in plans:
        if plan.after is not None and plan.path is not None and is_bundled_examples(plan.path):
            plan.after = None
            plan.conflict = BUNDLED_FILE_REFUSED


def lock_path(store: Store) -> Path:
    return store.path.with_name(store.path.name + ".sync-lock")


def open_conflicts(store: Store) -> list[Conflict]:
    """The conflicts the last sync left, by id (for `/news sync` and the App Home)."""
    rows = store.query("SELECT article_id, reason FROM sync_conflicts ORDER BY article_id")
    return [Conflict(row["article_id"], row["reason"]) for row in rows]


@contextlib.contextmanager
def _sync_lock(path: Path, timeout: float) -> Iterator[None]:
    """One sync at a time, across threads and processes; released if the process dies."""
    if fcntl is None:  # pragma: no cover
        raise SyncError("sync needs POSIX file locks (Linux, macOS, BSD)")
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise SyncBusy(f"another sync is running (lock {path})") from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)
