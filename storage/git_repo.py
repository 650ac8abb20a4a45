"""The git repository the articles folder may live in, driven through the `git` command.

Sync commits only the files it wrote, and only files that had no other uncommitted change
before it wrote them: a commit then holds exactly newsbot's lines, and the newsroom's own
staged or unstaged work is neither committed nor unstaged.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path

_IDENTITY = re.compile(r"^\s*(?P<name>[^<>]*?)\s*<(?P<email>[^<>]*)>\s*$")


class GitError(Exception):
    """A git command failed; the message carries git's own words."""


def parse_identity(text: str) -> tuple[str, str]:
    """'Name <email>' -> (name, email); ValueError otherwise."""
    match = _IDENTITY.match(text)
    if match is None or not match.group("name"):
        raise ValueError(f"{text!r} is not of the form 'Name <email>'")
    return match.group("name"), match.group("email")


class GitRepo:
    """A work tree, found from any folder inside it."""

    def __init__(self, top: Path) -> None:
        self.top = top

    @classmethod
    def containing(cls, folder: Path) -> GitRepo | None:
        """The repository `folder` is in, or None (not in one, or git missing)."""
        try:
            result = subprocess.run(
                ["git", "-C", str(folder), "rev-parse", "--show-toplevel"],
                capture_output=True, text=True, check=False,
            )
        except OSError:
            return None
        if result.returncode != 0:
            return None
        return cls(Path(result.stdout.strip()).resolve())

    def _git(self, args: Sequence[str], env: dict[str, str] | None = None,
             stdin: str | None = None) -> str:
        result = subprocess.run(
            ["git", "-C", str(self.top), "--literal-pathspecs", *args],
            input=None if stdin is None else stdin.encode("utf-8"),
            capture_output=True, env=env, check=False,
        )
        if result.returncode != 0:
            message = result.stderr.decode("utf-8", "replace").strip()
            raise GitError(f"git {args[0]} failed: {message or result.returncode}")
        return result.stdout.decode("utf-8", "replace")

    def relative(self, path: Path) -> str:
        return path.resolve().relative_to(self.top).as_posix()

    def clean_tracked(self, paths: Iterable[str]) -> set[str]:
        """Of these paths (relative to the top), those tracked and without any change."""
        paths = list(paths)
        if not paths:
            return set()
        tracked = set(filter(None, self._git(["ls-files", "-z", "--", *paths]).split("\0")))
        status = self._git(["status", "--porcelain=v1", "-z", "--untracked-files=all",
                            "--", *paths])
        dirty = {entry[3:] for entry in status.split("\0") if len(entry) > 3}
        return tracked - dirty

    def commit(self, paths: Sequence[str], message: str, author: str,
               committer: str | None = None) -> str:
        """Commit the working tree contents of exactly `paths`; returns the commit id.

        `git commit --only -- paths` leaves whatever else is staged staged, uncommitted.
        """
        author_name, author_email = parse_identity(author)
        committer_name, committer_email = parse_identity(committer or author)
        env = dict(os.environ, GIT_AUTHOR_NAME=author_name, GIT_AUTHOR_EMAIL=author_email,
                   GIT_COMMITTER_NAME=committer_name, GIT_COMMITTER_EMAIL=committer_email)
        self._git(["commit", "--only", "--quiet", "--file=-", "--", *paths], env=env,
                  stdin=message)
        return self._git(["rev-parse", "HEAD"]).strip()
