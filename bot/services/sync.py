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
import difflib
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from newsbot.bot.config.settings import Config, articles_folder_problem
from newsbot.bot.newsroom.article import stamp
from newsbot.bot.newsroom.decisions import PUBLISH, Decision, standing_decisions
from newsbot.bot.services import metrics
from newsbot.bot.services.refresh import refresh_index
from newsbot.storage.article_file import BrokenArticle, load_front_matter
from newsbot.storage.atomic_file import (
    fsync_folder,
    read_bytes,
    remove_leftover,
    replace_if_unchanged,
)
from newsbot.storage.db import Store
from newsbot.storage.front_matter_edit import (
    ABSENT,
    EDITABLE_KEYS,
    PUBLISHED,
    SKIPPED,
    YAML_SYNTAX,
    EditRefused,
    Syntax,
    key_lines,
    set_key_lines,
    syntax_of,
)
from newsbot.storage.git_repo import GitError, GitRepo

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: the rest of newsbot still works
    fcntl = None  # type: ignore[assignment]

REVERT = "revert"  # the decision newsbot wrote was withdrawn: put the former lines back
MAX_ROUNDS = 3  # a file that keeps changing under us is retried this often, then a conflict
DEFAULT_LOCK_TIMEOUT = 60.0

Lines = dict[str, str | None]  # published / skipped line of a front matter; None: absent


class SyncError(Exception):
    """Sync cannot run at all (no articles folder); nothing was written."""


class SyncBusy(SyncError):
    """Another sync held the lock for longer than we were willing to wait."""


@dataclass(frozen=True)
class Written:
    id: str
    action: str  # publish, skip or revert
    title: str
    user: str | None  # who decided (for a revert: who withdrew the decision)
    decision: str  # for a revert, the decision that was withdrawn

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "action": self.action, "title": self.title, "user": self.user}


@dataclass(frozen=True)
class Conflict:
    id: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"id": self.id, "reason": self.reason}


@dataclass
class SyncReport:
    """What one sync did (or, with dry_run, would do)."""

    dry_run: bool = False
    written: list[Written] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    diff: str = ""  # with dry_run: the unified diff of the intended writes
    commit: str | None = None  # the git commit id with --git-commit
    notes: list[str] = field(default_factory=list)  # e.g. why nothing was committed
    errors: list[str] = field(default_factory=list)  # e.g. a failed git commit

    @property
    def ok(self) -> bool:
        return not self.conflicts and not self.errors

    def summary(self) -> str:
        """The report for people: counts, then each written file and each conflict."""
        verb = "Would write" if self.dry_run else "Wrote"
        lines = [f"{verb} {len(self.written)} file(s), {len(self.unchanged)} unchanged, "
                 f"{len(self.conflicts)} conflict(s)."]
        lines += [f"  {w.action:<8} {w.id}  ({w.title})" for w in self.written]
        if self.conflicts:
            lines.append("Conflicts (files left as they are):")
            lines += [f"  {c.id}: {c.reason}" for c in self.conflicts]
        if self.commit:
            lines.append(f"Committed {self.commit[:12]}.")
        lines += [f"Note: {note}" for note in self.notes]
        lines += [f"Error: {error}" for error in self.errors]
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "written": [w.id for w in self.written],
            "unchanged": self.unchanged,
            "conflicts": [c.to_json() for c in self.conflicts],
        }
        if self.dry_run:
            document["dryRun"] = True
            document["diff"] = self.diff
        if self.commit:
            document["commit"] = self.commit
        if self.notes:
            document["notes"] = self.notes
        if self.errors:
            document["errors"] = self.errors
        return document


@dataclass(frozen=True)
class State:
    """A `sync_state` row: what newsbot wrote into one file."""

    decision: str
    former: Lines
    written: Lines
    pending: Lines | None  # lines of a write started but not confirmed

    @classmethod
    def from_row(cls, row: dict) -> State:
        pending = None
        if row["pending"]:
            pending = {PUBLISHED: row["pending_published"], SKIPPED: row["pending_skipped"]}
        return cls(
            decision=row["decision"],
            former={PUBLISHED: row["former_published"], SKIPPED: row["former_skipped"]},
            written={PUBLISHED: row["written_published"], SKIPPED: row["written_skipped"]},
            pending=pending,
        )


@dataclass(eq=False)
class Plan:
    """One article's outcome: a write (`after` set), unchanged, or a conflict."""

    id: str
    action: str
    decision: Decision | None
    state: State | None
    user: str | None = None  # who decided; for a revert, who withdrew the decision
    path: Path | None = None
    before: bytes = b""
    mode: int = 0o644
    owner: tuple[int, int] | None = None  # the file's uid and gid, kept on rewrite
    current: Lines | None = None
    syntax: Syntax = YAML_SYNTAX  # the front matter's: YAML, TOML or JSON lines
    wanted: Lines | None = None
    after: bytes | None = None
    title: str = ""
    conflict: str | None = None


class _Refused(Exception):
    """This article cannot be synced now; the message is the conflict's reason."""


# --- the entry point


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
    Raises SyncError when the articles folder is missing, SyncBusy when another sync
    holds the lock past `lock_timeout` seconds.
    """
    root = Path(config.articles)
    problem = articles_folder_problem(root)
    if problem:
        raise SyncError(problem)
    real_root = root.resolve()
    if dry_run:
        report = _report(_plan_all(store, real_root), dry_run=True)
        if git_commit:
            report.notes.append("dry run: nothing committed")
        return report
    with _sync_lock(lock_path(store), lock_timeout):
        _finish_interrupted(store, real_root)
        plans = _plan_all(store, real_root)
        repo = GitRepo.containing(real_root) if git_commit else None
        committable = _committable(repo, plans) if repo else set()
        written_at = stamp(now or dt.datetime.now(dt.UTC))
        _write_all(store, plans, written_at)
        _record_conflicts(store, plans, written_at)
        report = _report(plans, dry_run=False)
        metrics.sync_done(len(report.written), len(report.conflicts))
        if report.written:
            refresh_index(store, config)
        if git_commit:
            _commit(report, repo, plans, committable, config)
    return report


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


# --- deciding what each file needs


def _plan_all(store: Store, real_root: Path) -> list[Plan]:
    decisions = {d.article_id: d for d in standing_decisions(store)}
    states = {row["article_id"]: State.from_row(row)
              for row in store.query("SELECT * FROM sync_state")}
    indexed = _indexed(store)
    plans = []
    for article_id in sorted(decisions.keys() | states.keys()):
        decision = decisions.get(article_id)
        plan = Plan(article_id, decision.decision if decision else REVERT, decision,
                    states.get(article_id))
        plan.user = decision.user_id if decision else _withdrawn_by(store, article_id)
        try:
            plan.path = _resolve(real_root, article_id)
            if not _already_shown(plan, indexed.get(article_id)):
                _plan_edit(plan)
        except _Refused as refused:
            plan.conflict = str(refused)
        plans.append(plan)
    return plans


def _withdrawn_by(store: Store, article_id: str) -> str | None:
    row = store.db.execute(
        "SELECT user_id FROM decision_log WHERE article_id = ? AND outcome = 'retracted'"
        " ORDER BY id DESC LIMIT 1", [article_id]).fetchone()
    return row[0] if row else None


def _indexed(store: Store) -> dict[str, dict]:
    rows = store.query(
        "SELECT a.id, a.size, a.mtime_ns, a.published, a.skipped FROM articles a"
        " JOIN decisions d ON d.article_id = a.id WHERE a.error IS NULL"
    )
    return {row["id"]: row for row in rows}


def _resolve(real_root: Path, article_id: str) -> Path:
    """The real path of an article inside the folder; refuses anything leading outside."""
    relative = Path(article_id)
    if relative.is_absolute() or ".." in relative.parts:
        raise _Refused("the id is not a path inside the articles folder")
    path = real_root / relative
    real = Path(os.path.realpath(path))
    if not real.is_relative_to(real_root):
        raise _Refused("the path leads outside the articles folder (a symbolic link?)")
    if real != path:  # a link inside the folder: the decision is about this file, not another
        raise _Refused("the path is a symbolic link; sync only edits the file itself")
    return real


def _already_shown(plan: Plan, row: dict | None) -> bool:
    """True when the index (still matching the file's size and mtime) shows the decision:
    the file need not even be read. Only for standing decisions without a pending write."""
    if row is None or plan.decision is None or (plan.state and plan.state.pending):
        return False
    target = (1, 0) if plan.action == PUBLISH else (0, 1)
    if (row["published"], row["skipped"]) != target:
        return False
    try:
        st = os.stat(plan.path)
    except OSError:
        return False
    return (st.st_size, st.st_mtime_ns) == (row["size"], row["mtime_ns"])


def _plan_edit(plan: Plan) -> None:
    """Read the file as it is now and work out the lines it should have."""
    assert plan.path is not None
    try:
        plan.before, st = read_bytes(plan.path)
    except FileNotFoundError:
        if _nothing_left_to_do(plan):
            return
        raise _Refused("the file is gone") from None
    except OSError as error:
        raise _Refused(f"cannot read the file: {error.strerror}") from None
    plan.mode = st.st_mode & 0o7777
    plan.owner = (st.st_uid, st.st_gid)
    try:
        meta = load_front_matter(plan.before)
        plan.current = key_lines(plan.before)
        plan.syntax = syntax_of(plan.before)
        _check_lines(plan.current, meta, plan.syntax)
        plan.title = _one_line(meta.get("title"))
        plan.wanted = _wanted(plan.action, plan.state, plan.current, plan.syntax)
        if plan.wanted != plan.current:
            plan.after = set_key_lines(plan.before, plan.wanted, meta)
    except BrokenArticle as error:
        raise _Refused(f"the file no longer parses: {error}") from None
    except EditRefused as error:
        raise _Refused(str(error)) from None


def _nothing_left_to_do(plan: Plan) -> bool:
    """A gone file is no conflict when its decision was withdrawn, or was written before
    the file was deleted (an article removed from the site after publishing)."""
    state = plan.state
    if plan.action == REVERT:
        return True
    return (state is not None and state.pending is None and state.decision == plan.action
            and state.written != state.former)


def _check_lines(current: Lines, meta: dict, syntax: Syntax) -> None:
    """The lines we found must be the keys YAML sees, and hold true/false (or nothing)."""
    for key in EDITABLE_KEYS:
        value = meta.get(key, ABSENT)
        if value is not ABSENT and value is not None and not isinstance(value, bool):
            raise _Refused(f"'{key}' must be true or false, not {value!r}")
        if not _same(syntax.line_value(current[key]), value):
            raise _Refused(f"cannot find the top-level '{key}:' line")


def _same(a: Any, b: Any) -> bool:
    return a is b or (type(a) is type(b) and a == b)


def _wanted(action: str, state: State | None, current: Lines, syntax: Syntax) -> Lines:
    """The published/skipped lines the file should have for this action.

    The target is built from the lines before newsbot's first edit (or the current ones),
    so a change of decision, or a withdrawal, lands on exactly the former bytes. A line
    that already means the target is kept as it is. A line newsbot wrote that someone
    changed since is a conflict when it must change; a line newsbot never changed is
    left to whoever changed it when a decision is withdrawn.
    """
    base = state.former if state else current
    target = _target(action, base, syntax)
    wanted: Lines = {}
    for key in EDITABLE_KEYS:
        line, goal = current[key], target[key]
        if _same(syntax.line_value(line), syntax.line_value(goal)):
            wanted[key] = line
            continue
        ours = state is None or line == state.written[key] or (
            state.pending is not None and line == state.pending[key])
        if not ours:
            if action == REVERT and state is not None and state.written[key] == state.former[key]:
                wanted[key] = line  # never newsbot's line: someone else's to keep
                continue
            consequence = (f"so the withdrawn {state.decision} is not reverted"
                           if action == REVERT and state is not None
                           else f"which contradicts the decision to {action}")
            raise _Refused(f"'{key}' was changed in the file since newsbot wrote it "
                           f"(now {_describe(line)}), {consequence}")
        wanted[key] = goal
    return wanted


def _target(action: str, base: Lines, syntax: Syntax) -> Lines:
    if action == REVERT:
        return dict(base)
    published, skipped = syntax.line_value(base[PUBLISHED]), syntax.line_value(base[SKIPPED])
    with_value = syntax.with_value
    if action == PUBLISH:
        if skipped is True:
            raise _Refused("the file says 'skipped: true' (set outside newsbot) "
                           "but the decision is publish")
        keep = published is True
        return {PUBLISHED: base[PUBLISHED] if keep else with_value(base[PUBLISHED], PUBLISHED,
                                                                   "true"),
                SKIPPED: base[SKIPPED]}
    if published is True:
        raise _Refused("the file says 'published: true' (published outside newsbot) "
                       "but the decision is skip")
    return {PUBLISHED: base[PUBLISHED] if base[PUBLISHED] is not None
            else syntax.new_line(PUBLISHED, "false"),
            SKIPPED: base[SKIPPED] if skipped is True else with_value(base[SKIPPED], SKIPPED,
                                                                    "true")}


def _describe(line: str | None) -> str:
    return "no such line" if line is None else repr(line)


def _one_line(value: Any) -> str:
    return re.sub(r"\s+", " ", str(value)).strip() if value is not None else ""


# --- writing


def _write_all(store: Store, plans: list[Plan], stamp: str) -> None:
    """Write every planned edit; a file that changed under us is planned again."""
    todo = [p for p in plans if p.after is not None]
    for _ in range(MAX_ROUNDS):
        if not todo:
            break
        raced = _write_round(store, todo, stamp)
        for plan in raced:
            _replan(store, plan)
        todo = [p for p in raced if p.after is not None]
    for plan in todo:  # still changing after every round
        plan.after = None
        plan.conflict = "the file kept changing while sync was writing it; try again"
    _forget_reverted(store, plans)


def _write_round(store: Store, todo: list[Plan], stamp: str) -> list[Plan]:
    """Record the writes as pending, replace the files, confirm. Returns those that raced."""
    with _durable(store), store.write() as db:
        for plan in todo:
            _mark_pending(db, plan, stamp)
    done: list[Plan] = []
    raced: list[Plan] = []
    for plan in todo:
        assert plan.path is not None and plan.after is not None
        try:
            replaced = replace_if_unchanged(plan.path, plan.before, plan.after, plan.mode,
                                            plan.owner)
        except OSError as error:
            plan.after = None
            plan.conflict = f"cannot write the file: {error.strerror or error}"
            continue
        (done if replaced else raced).append(plan)
    for folder in {plan.path.parent for plan in done if plan.path}:
        fsync_folder(folder)
    done_ids = {plan.id for plan in done}
    with store.write() as db:
        db.conn.executemany(_CONFIRM, [(plan.id,) for plan in done])
        db.conn.executemany(_ABANDON, [(p.id,) for p in todo if p.id not in done_ids])
    return raced


_CONFIRM = (
    "UPDATE sync_state SET written_published = pending_published,"
    " written_skipped = pending_skipped, pending = 0, pending_published = NULL,"
    " pending_skipped = NULL WHERE article_id = ?"
)
_ABANDON = (
    "UPDATE sync_state SET pending = 0, pending_published = NULL, pending_skipped = NULL"
    " WHERE article_id = ?"
)


def _mark_pending(db: Any, plan: Plan, stamp: str) -> None:
    assert plan.wanted is not None and plan.current is not None
    wanted = plan.wanted
    if plan.state is None:
        decision = plan.decision
        assert decision is not None
        current = plan.current
        db.execute(
            "INSERT INTO sync_state (article_id, decision, decided_by, former_published,"
            " former_skipped, written_published, written_skipped, pending, pending_published,"
            " pending_skipped, written_at) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)",
            [plan.id, decision.decision, decision.user_id, current[PUBLISHED], current[SKIPPED],
             current[PUBLISHED], current[SKIPPED], wanted[PUBLISHED], wanted[SKIPPED], stamp],
        )
        return
    decision_sql, params = "", []
    if plan.decision is not None:
        decision_sql = "decision = ?, decided_by = ?, "
        params = [plan.decision.decision, plan.decision.user_id]
    db.execute(
        f"UPDATE sync_state SET {decision_sql}pending = 1, pending_published = ?,"
        " pending_skipped = ?, written_at = ? WHERE article_id = ?",
        [*params, wanted[PUBLISHED], wanted[SKIPPED], stamp, plan.id],
    )


@contextlib.contextmanager
def _durable(store: Store) -> Iterator[None]:
    """Commit this transaction to disk before any file is replaced (WAL's NORMAL
    setting survives a killed process, but not a power cut)."""
    store.db.execute("PRAGMA synchronous = FULL")
    try:
        yield
    finally:
        store.db.execute("PRAGMA synchronous = NORMAL")


def _replan(store: Store, plan: Plan) -> None:
    """Decide again from the file as it is now, and from the state row as it is now."""
    plan.after = plan.wanted = plan.current = None
    rows = store.query("SELECT * FROM sync_state WHERE article_id = ?", [plan.id])
    plan.state = State.from_row(rows[0]) if rows else None
    try:
        _plan_edit(plan)
    except _Refused as refused:
        plan.conflict = str(refused)


def _forget_reverted(store: Store, plans: list[Plan]) -> None:
    """A withdrawal that is done (written, or nothing of ours left) leaves no state behind."""
    finished = [(p.id,) for p in plans if p.action == REVERT and p.conflict is None]
    if finished:
        with store.write() as db:
            db.conn.executemany("DELETE FROM sync_state WHERE article_id = ?", finished)


def _finish_interrupted(store: Store, real_root: Path) -> None:
    """Settle writes a killed sync left pending: the file tells whether the rename
    happened. Its leftover temporary file is removed; the original was never touched."""
    rows = store.query("SELECT * FROM sync_state WHERE pending = 1")
    if not rows:
        return
    promoted, dropped = [], []
    for row in rows:
        state = State.from_row(row)
        outcome = dropped
        try:
            path = _resolve(real_root, row["article_id"])
            remove_leftover(path)
            data, _ = read_bytes(path)
            if key_lines(data) == state.pending:
                outcome = promoted
        except (_Refused, OSError, BrokenArticle, EditRefused):
            pass
        outcome.append((row["article_id"],))
    with store.write() as db:
        db.conn.executemany(_CONFIRM, promoted)
        db.conn.executemany(_ABANDON, dropped)


def _record_conflicts(store: Store, plans: list[Plan], stamp: str) -> None:
    """`sync_conflicts` holds the conflicts of the latest sync, each with when first seen."""
    conflicts = [(p.id, p.conflict, stamp, stamp) for p in plans if p.conflict]
    with store.write() as db:
        known = {row[0] for row in db.execute("SELECT article_id FROM sync_conflicts")}
        settled = [(i,) for i in known - {c[0] for c in conflicts}]
        db.conn.executemany("DELETE FROM sync_conflicts WHERE article_id = ?", settled)
        db.conn.executemany(
            "INSERT INTO sync_conflicts (article_id, reason, first_seen, last_seen)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (article_id) DO UPDATE SET"
            " reason = excluded.reason, last_seen = excluded.last_seen", conflicts)


# --- reporting and committing


def _report(plans: list[Plan], dry_run: bool) -> SyncReport:
    report = SyncReport(dry_run=dry_run)
    diffs = []
    for plan in plans:
        if plan.conflict:
            report.conflicts.append(Conflict(plan.id, plan.conflict))
        elif plan.after is not None:
            report.written.append(_written(plan))
            if dry_run:
                diffs.append(unified_diff(plan.id, plan.before, plan.after))
        else:
            report.unchanged.append(plan.id)
    report.diff = "".join(diffs)
    return report


def _written(plan: Plan) -> Written:
    if plan.decision is not None:
        return Written(plan.id, plan.action, plan.title, plan.user, plan.decision.decision)
    assert plan.state is not None
    return Written(plan.id, REVERT, plan.title, plan.user, plan.state.decision)


def unified_diff(article_id: str, before: bytes, after: bytes) -> str:
    """A git-style unified diff of one file (lines split on \\n only, endings kept)."""
    def lines(data: bytes) -> list[str]:
        return re.findall(r"[^\n]*\n|[^\n]+\Z", data.decode("utf-8"))
    diff = difflib.unified_diff(lines(before), lines(after), f"a/{article_id}",
                                f"b/{article_id}")
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
                   for line in diff)


def _committable(repo: GitRepo, plans: list[Plan]) -> set[str]:
    """Ids whose files git tracks with no uncommitted change before this sync writes."""
    paths = {repo.relative(p.path): p.id for p in plans if p.after is not None and p.path}
    try:
        clean = repo.clean_tracked(paths)
    except GitError:
        return set()
    return {paths[path] for path in clean}


def _commit(report: SyncReport, repo: GitRepo | None, plans: list[Plan], committable: set[str],
            config: Config) -> None:
    if repo is None:
        report.notes.append("the articles folder is not in a git repository: nothing committed")
        return
    written = [w for w in report.written if w.id in committable]
    left = [w.id for w in report.written if w.id not in committable]
    if left:
        report.notes.append("not committed (the file had other uncommitted changes, or git "
                            "does not track it): " + ", ".join(left))
    if not written:
        return
    by_id = {p.id: p for p in plans}
    paths = [repo.relative(by_id[w.id].path) for w in written]  # type: ignore[arg-type]
    try:
        report.commit = repo.commit(paths, commit_message(written), config.git_author,
                                    config.git_committer)
    except (GitError, ValueError) as error:
        report.errors.append(f"could not commit: {error}")


def commit_message(written: list[Written]) -> str:
    """A summary line, then one line per article: title, decision, who decided."""
    counts: dict[str, int] = {}
    for w in written:
        counts[w.action] = counts.get(w.action, 0) + 1
    kinds = ", ".join(f"{n} {action}" for action, n in sorted(counts.items()))
    noun = "article" if len(written) == 1 else "articles"
    lines = [f"newsbot sync: {len(written)} {noun} ({kinds})", ""]
    for w in written:
        what = w.action if w.action != REVERT else f"{w.decision} withdrawn"
        lines.append(f"- {w.title} ({what}, by {w.user or 'unknown'})")
    return "\n".join(lines) + "\n"
