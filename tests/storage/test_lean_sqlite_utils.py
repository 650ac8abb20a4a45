"""Commands start without numpy (sqlite_utils would import it for nothing), and numpy stays
importable for those that need it (the report chart's matplotlib)."""

from __future__ import annotations

import subprocess
import sys


def imported_by(code: str) -> list[str]:
    """The modules a fresh interpreter imports to run `code` (-X importtime)."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", code],
                          capture_output=True, text=True, check=True)
    return [line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines()
            if line.startswith("import time:") and "|" in line]


def test_a_command_starts_without_numpy():
    modules = imported_by("import newsbot.bot.cli.main")
    assert "sqlite_utils" in modules
    assert not [name for name in modules if name.split(".")[0] == "numpy"]


def test_numpy_still_imports_after_sqlite_utils():
    modules = imported_by("import newsbot.storage.db, numpy, sqlite_utils.db as d;"
                          " assert d.np is None and numpy.zeros(2).sum() == 0")
    assert "numpy" in modules
