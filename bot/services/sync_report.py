"""Sync, step three: what a sync did, for people (`summary`), for scripts (`to_json`),
as a diff (`--dry-run`) and as a git commit (`--git-commit`).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any

from newsbot.bot.config.settings import Config
from newsbot.bot.services.sync_plan import REVERT, Plan
from newsbot.storage.git_repo import GitError, GitRepo


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


def report_of(plans: list[Plan], dry_run: bool) -> SyncReport:
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


def committable_ids(repo: GitRepo, plans: list[Plan]) -> set[str]:
    """Ids whose files git tracks with no uncommitted change before this sync writes."""
    paths = {repo.relative(p.path): p.id for p in plans if p.after is not None and p.path}
    try:
        clean = repo.clean_tracked(paths)
    except GitError:
        return set()
    return {paths[path] for path in clean}


def commit_written(report: SyncReport, repo: GitRepo | None, plans: list[Plan],
                   committable: set[str], config: Config) -> None:
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
