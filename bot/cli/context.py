"""What every command gets (the configuration, the store, how to print) and how an
error a person can fix is printed: one line on stderr, and with `--json` also one JSON
document on stdout; exit 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from newsbot.bot.config.settings import Config, articles_folder_problem, load_config
from newsbot.bot.services.refresh import refresh_index
from newsbot.storage.db import Store
from newsbot.storage.index import IndexReport


class UsageError(Exception):
    """Something the person running the command can fix; printed without a traceback."""


class Context:
    """What every command gets: the configuration, the store and how to print."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.json = bool(getattr(args, "json", False))
        flags = {"articles": getattr(args, "articles", None), "db": getattr(args, "db", None)}
        self.config: Config = load_config(getattr(args, "config", None), flags=flags)
        self._store: Store | None = None

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = self._open_store()
        return self._store

    def _open_store(self) -> Store:
        db = self.config.db
        if db.exists() and not os.access(db, os.W_OK):
            # SQLite would open it read-only without a word, and the command's first write
            # would end in a traceback: a reading command opens it read-only, others stop
            return self._read_only_store(PermissionError("this user may not write it"))
        try:
            return Store(db, self.config.busy_timeout_ms)
        except Exception as error:  # sqlite3 errors: not a database, read-only folder, ...
            return self._read_only_store(error)

    @property
    def only_reads(self) -> bool:
        """This command, as given, writes nothing to the database: a reading command (the
        parser marks them) that does not refresh (--no-refresh, or it never does) and
        has no --post."""
        args = self.args
        no_refresh = getattr(args, "no_refresh", False) or not getattr(args, "refreshes", True)
        return (getattr(args, "only_reads", False) and no_refresh
                and not getattr(args, "post", False))

    def _read_only_store(self, error: Exception) -> Store:
        """A database that cannot be opened for writing still answers a command that only
        reads; any other command gets the first error."""
        failure = UsageError(f"cannot open the database {self.config.db}: {error}")
        if not self.only_reads or not self.config.db.exists():
            raise failure from None
        try:
            return Store(self.config.db, self.config.busy_timeout_ms, read_only=True)
        except Exception as read_error:
            raise UsageError(f"cannot open the database {self.config.db}: "
                             f"{read_error}") from None

    def refresh(self, force: bool = False) -> IndexReport | None:
        """Refresh the index unless --no-refresh was given."""
        if getattr(self.args, "no_refresh", False) and not force:
            return None
        problem = articles_folder_problem(self.config.articles)
        if problem:
            raise UsageError(problem)
        progress = None if self.json or not sys.stderr.isatty() else _progress_bar
        report = refresh_index(self.store, self.config, progress)
        if progress:
            sys.stderr.write("\r\033[K")
        return report

    def emit(self, document: dict[str, Any], text: str) -> None:
        if self.json:
            json.dump(document, sys.stdout, ensure_ascii=False, indent=2)
            sys.stdout.write("\n")
        else:
            print(text)


def _progress_bar(done: int, total: int) -> None:
    if total < 500:
        return
    width = 30
    filled = width * done // total
    sys.stderr.write(f"\rIndexing [{'#' * filled}{'.' * (width - filled)}] {done}/{total} files")
    sys.stderr.flush()


def report_error(error: Exception, as_json: bool) -> int:
    """One line on stderr; with --json also one JSON document on stdout. Exit 2."""
    print(f"newsbot: error: {error}", file=sys.stderr)
    if as_json:
        json.dump({"ok": False, "error": str(error)}, sys.stdout, ensure_ascii=False)
        sys.stdout.write("\n")
    return 2
