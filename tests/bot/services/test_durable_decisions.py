"""Acknowledged means on disk: a decision's commit is fsynced before the listener returns
(WAL with synchronous=FULL), counted with strace in a separate process, so that a power
cut cannot take back what Slack was told was recorded."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT, clean_env, write_article

DECISIONS = 20
SCRIPT = """
import sys
from newsbot.bot.newsroom.decisions import decide
from newsbot.storage.db import Store
from newsbot.storage.index import refresh
store = Store(sys.argv[1])
refresh(store, sys.argv[2])
print("ready", flush=True)
sys.stdin.readline()  # strace counts from here on
for n in range(int(sys.argv[3])):
    decide(store, "a.md", "publish" if n % 2 else "skip", "U1", source="cli",
           event_key=f"Ev{n}")
"""


def syncs_during_decisions(tmp_path: Path, count: int) -> int:
    """fsync/fdatasync calls made while `count` decisions are recorded."""
    articles = tmp_path / "articles"
    write_article(articles, "a.md")
    log = tmp_path / "strace.log"
    process = subprocess.Popen(
        ["strace", "-f", "-qq", "-e", "trace=fsync,fdatasync", "-o", str(log),
         sys.executable, "-c", SCRIPT, str(tmp_path / "n.db"), str(articles), str(count)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT,
        env=clean_env())
    assert process.stdout.readline().strip() == "ready"
    before = len(re.findall(r"\b(fsync|fdatasync)\(", log.read_text()))
    process.communicate("go\n", timeout=60)
    assert process.returncode == 0
    return len(re.findall(r"\b(fsync|fdatasync)\(", log.read_text())) - before


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace (.ci/run installs it)")
def test_every_decision_is_fsynced_before_it_is_acknowledged(tmp_path: Path):
    assert syncs_during_decisions(tmp_path, DECISIONS) >= DECISIONS
