"""Benchmark: `newsbot sync` against rewriting the same files with python-frontmatter.

    python benchmarks/bench_sync.py [--count 1000]

Builds a folder of COUNT articles from the bundled examples (one in 20 with CRLF line
endings, one in 20 with a BOM), records a decision for every one (two publish for one
skip), then applies the decisions to two copies of the folder in the same run:

- newsbot: `sync_decisions` (read, edit one line, verify by parsing again, temporary file,
  fsync, rename, folder fsync, state in SQLite, index refresh of the written files);
- python-frontmatter: load, set `published` (and `skipped`), `frontmatter.dumps`, write
  in place (no fsync), the naive rewrite NOTES.md warns about;
- python-frontmatter + the same atomic replacement (fsync and rename) newsbot uses, to
  show how much of newsbot's time is the durability both could pay for.

It reports the time of each, and what each did to the files: lines and bytes changed per
file (a line diff: bytes of removed plus added lines) and how many files changed outside
the `published`/`skipped` lines. Ratios are against python-frontmatter in place.
"""

from __future__ import annotations

import argparse
import difflib
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import frontmatter
from newsbot.bot.config.settings import Config
from newsbot.bot.newsroom.decisions import decide
from newsbot.bot.services.sync import sync_decisions
from newsbot.storage.atomic_file import replace_if_unchanged
from newsbot.storage.db import Store
from newsbot.storage.index import refresh

ROOT = Path(__file__).resolve().parent.parent

EXAMPLES = ROOT / "examples" / "articles"
EDITED_KEYS = ("published", "skipped")


def make_folder(folder: Path, count: int) -> dict[str, str]:
    """COUNT unpublished articles; returns id -> decision."""
    templates = sorted(p.read_text(encoding="utf-8") for p in EXAMPLES.rglob("*.*"))
    decisions = {}
    for number in range(count):
        text = templates[number % len(templates)]
        text = text.replace("published: true\n", "published: false\n", 1)
        text = text.replace('title: "', f'title: "#{number} ', 1)
        if number % 20 == 7:
            text = text.replace("\n", "\r\n")
        data = text.encode("utf-8")
        if number % 20 == 13:
            data = "\ufeff".encode() + data
        article_id = f"{number // 250:02d}/{number:05d}.txt"
        (folder / article_id).parent.mkdir(parents=True, exist_ok=True)
        (folder / article_id).write_bytes(data)
        decisions[article_id] = "skip" if number % 3 == 2 else "publish"
    return decisions


class Timer:
    """Wall time, and this process's CPU time (which leaves out waiting for fsync)."""

    def __enter__(self) -> Timer:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


def run_newsbot(folder: Path, db: Path, decisions: dict[str, str]) -> tuple[Timer, Timer]:
    store = Store(db)
    refresh(store, folder)
    for article_id, action in decisions.items():
        decide(store, article_id, action, "U_BENCH", source="cli")  # type: ignore[arg-type]
    config = Config(articles=folder, db=db)
    with Timer() as first:
        report = sync_decisions(store, config)
    assert len(report.written) == len(decisions) and not report.conflicts, report.conflicts
    with Timer() as second:
        again = sync_decisions(store, config)
    assert not again.written and len(again.unchanged) == len(decisions)
    return first, second


def rewrite(path: Path, action: str) -> bytes:
    post = frontmatter.load(path)
    post["published"] = action == "publish"
    if action == "skip":
        post["skipped"] = True
    return frontmatter.dumps(post).encode("utf-8")


def run_frontmatter(folder: Path, decisions: dict[str, str], atomic: bool) -> Timer:
    with Timer() as timer:
        for article_id, action in decisions.items():
            path = folder / article_id
            if atomic:
                before = path.read_bytes()
                replace_if_unchanged(path, before, rewrite(path, action), 0o644, settle=0)
            else:
                path.write_bytes(rewrite(path, action))
    return timer


_KEY = re.compile(rb'\s*"?([A-Za-z_][\w-]*)"?\s*[:=]')  # YAML, TOML (=) or JSON ("key":)


def _key(line: bytes) -> bytes:
    match = _KEY.match(line.lstrip(b"\xef\xbb\xbf"))
    return match.group(1) if match else line


def changes(original: Path, edited: Path, ids: list[str]) -> dict[str, float]:
    """Per-file line diff figures, and files changed beyond the edited keys."""
    lines_changed, bytes_changed, beyond = [], [], 0
    for article_id in ids:
        old = (original / article_id).read_bytes().splitlines(keepends=True)
        new = (edited / article_id).read_bytes().splitlines(keepends=True)
        removed, added = [], []
        for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new,
                                                           autojunk=False).get_opcodes():
            if tag != "equal":
                removed += old[i1:i2]
                added += new[j1:j2]
        lines_changed.append(len(removed) + len(added))
        bytes_changed.append(sum(map(len, removed)) + sum(map(len, added)))
        touched = {_key(line) for line in removed + added}
        if not touched <= {k.encode() for k in EDITED_KEYS}:
            beyond += 1
    return {
        "lines": statistics.mean(lines_changed), "lines_max": max(lines_changed),
        "bytes": statistics.mean(bytes_changed), "bytes_max": max(bytes_changed),
        "beyond": beyond,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1000, metavar="N")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as tmp:
        work = Path(tmp)
        original = work / "original"
        original.mkdir()
        decisions = make_folder(original, args.count)
        copies = {name: work / name for name in ("newsbot", "frontmatter", "fm_atomic")}
        for copy in copies.values():
            shutil.copytree(original, copy)
        ids = sorted(decisions)

        newsbot, second = run_newsbot(copies["newsbot"], work / "n.db", decisions)
        in_place = run_frontmatter(copies["frontmatter"], decisions, atomic=False)
        atomic = run_frontmatter(copies["fm_atomic"], decisions, atomic=True)
        rows = [
            ("newsbot sync", newsbot, changes(original, copies["newsbot"], ids)),
            ("python-frontmatter, in place", in_place,
             changes(original, copies["frontmatter"], ids)),
            ("python-frontmatter + fsync+rename", atomic,
             changes(original, copies["fm_atomic"], ids)),
        ]
    n = args.count
    print(f"{n} decisions ({sum(d == 'publish' for d in decisions.values())} publish, "
          f"{sum(d == 'skip' for d in decisions.values())} skip), files from examples/, "
          f"1 in 20 CRLF, 1 in 20 BOM")
    print(f"{'method':<34} {'wall s':>7} {'cpu s':>6} {'lines/file':>10} {'bytes/file':>10} "
          f"{'max bytes':>9}  files changed beyond published/skipped")
    for name, timer, c in rows:
        print(f"{name:<34} {timer.wall:>7.3f} {timer.cpu:>6.3f} {c['lines']:>10.2f} "
              f"{c['bytes']:>10.1f} {c['bytes_max']:>9}  {c['beyond']}")
    ours, base, base_atomic = rows[0], rows[1], rows[2]
    print(f"wall time: newsbot / frontmatter in place = {ours[1].wall / base[1].wall:.2f}x, "
          f"newsbot / frontmatter+fsync+rename = {ours[1].wall / base_atomic[1].wall:.2f}x")
    print(f"cpu time:  newsbot / frontmatter in place = {ours[1].cpu / base[1].cpu:.2f}x")
    print(f"bytes changed per file: frontmatter / newsbot = "
          f"{base[2]['bytes'] / ours[2]['bytes']:.0f}x")
    print(f"second newsbot sync (nothing to write): wall {second.wall:.3f} s, "
          f"cpu {second.cpu:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
