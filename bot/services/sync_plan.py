"""Sync, step one: what each file needs. For every article with a standing decision, or
with an earlier write of ours, read the file as it is now and work out the published and
skipped lines it should have, or the conflict that stops it (bot/services/sync.py says
why each rule is there).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from newsbot.bot.newsroom.decisions import PUBLISH, Decision, standing_decisions
from newsbot.storage.article_file import BrokenArticle, load_front_matter
from newsbot.storage.atomic_file import read_bytes
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

REVERT = "revert"  # the decision newsbot wrote was withdrawn: put the former lines back

Lines = dict[str, str | None]  # published / skipped line of a front matter; None: absent


class Refused(Exception):
    """This article cannot be synced now; the message is the conflict's reason."""


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


def plan_all(store: Store, real_root: Path) -> list[Plan]:
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
            plan.path = resolve_article(real_root, article_id)
            if not _already_shown(plan, indexed.get(article_id)):
                plan_edit(plan)
        except Refused as refused:
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


def resolve_article(real_root: Path, article_id: str) -> Path:
    """The real path of an article inside the folder; refuses anything leading outside."""
    relative = Path(article_id)
    if relative.is_absolute() or ".." in relative.parts:
        raise Refused("the id is not a path inside the articles folder")
    path = real_root / relative
    real = Path(os.path.realpath(path))
    if not real.is_relative_to(real_root):
        raise Refused("the path leads outside the articles folder (a symbolic link?)")
    if real != path:  # a link inside the folder: the decision is about this file, not another
        raise Refused("the path is a symbolic link; sync only edits the file itself")
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


def plan_edit(plan: Plan) -> None:
    """Read the file as it is now and work out the lines it should have."""
    assert plan.path is not None
    try:
        plan.before, st = read_bytes(plan.path)
    except FileNotFoundError:
        if _nothing_left_to_do(plan):
            return
        raise Refused("the file is gone") from None
    except OSError as error:
        raise Refused(f"cannot read the file: {error.strerror}") from None
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
        raise Refused(f"the file no longer parses: {error}") from None
    except EditRefused as error:
        raise Refused(str(error)) from None


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
            raise Refused(f"'{key}' must be true or false, not {value!r}")
        if not _same(syntax.line_value(current[key]), value):
            raise Refused(f"cannot find the top-level '{key}:' line")


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
            raise Refused(f"'{key}' was changed in the file since newsbot wrote it "
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
            raise Refused("the file says 'skipped: true' (set outside newsbot) "
                           "but the decision is publish")
        keep = published is True
        return {PUBLISHED: base[PUBLISHED] if keep else with_value(base[PUBLISHED], PUBLISHED,
                                                                   "true"),
                SKIPPED: base[SKIPPED]}
    if published is True:
        raise Refused("the file says 'published: true' (published outside newsbot) "
                       "but the decision is skip")
    return {PUBLISHED: base[PUBLISHED] if base[PUBLISHED] is not None
            else syntax.new_line(PUBLISHED, "false"),
            SKIPPED: base[SKIPPED] if skipped is True else with_value(base[SKIPPED], SKIPPED,
                                                                    "true")}


def _describe(line: str | None) -> str:
    return "no such line" if line is None else repr(line)


def _one_line(value: Any) -> str:
    return re.sub(r"\s+", " ", str(value)).strip() if value is not None else ""
