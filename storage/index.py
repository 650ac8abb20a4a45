"""The incremental article index: the articles folder mirrored into SQLite.

A refresh stats every matching file and re-reads only those whose size or mtime changed;
of those, only files whose bytes changed are parsed again (a `git checkout` that touches
mtimes costs a read and a hash, not a YAML parse). Large batches are parsed in worker
processes, one per core, while this process writes. A broken file is stored with its
reason and never stops the run.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import hashlib
import json
import multiprocessing
import os
import re
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from storage.article_file import BrokenArticle, parse_article
from storage.db import Store

DEFAULT_PATTERNS = ("*.md", "*.txt")
PARALLEL_THRESHOLD = 2_000  # below this many files, worker start-up costs more than it saves
BATCH_SIZE = 250
COMMIT_EVERY = 5_000  # rows per write transaction, so other writers are not held up long

Progress = Callable[[int, int], None]


@dataclass
class IndexReport:
    """What one refresh did. total = indexed + unchanged + failed."""

    total: int = 0
    indexed: int = 0
    unchanged: int = 0
    failed: int = 0
    removed: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class FileStat:
    size: int
    mtime_ns: int


def compile_patterns(patterns: Iterable[str]) -> Callable[[str, str], bool]:
    """A matcher for (file name, relative path): patterns with a '/' match the path."""
    by_name = [p for p in patterns if "/" not in p]
    by_path = [p for p in patterns if "/" in p]
    name_re = re.compile("|".join(fnmatch.translate(p) for p in by_name)) if by_name else None
    path_re = re.compile("|".join(fnmatch.translate(p) for p in by_path)) if by_path else None

    def matches(name: str, rel_path: str) -> bool:
        return bool(
            (name_re is not None and name_re.match(name))
            or (path_re is not None and path_re.match(rel_path))
        )

    return matches


def scan_folder(root: Path, patterns: Iterable[str] = DEFAULT_PATTERNS) -> dict[str, FileStat]:
    """Every matching file below root, by article id (POSIX path relative to root).

    Hidden folders (`.git`, ...) are skipped and symlinked folders are not followed,
    so a link cannot make the walk loop or leave the folder.
    """
    matches = compile_patterns(patterns)
    found: dict[str, FileStat] = {}
    stack = [(str(root), "")]
    while stack:
        folder, prefix = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                continue
            rel = prefix + name
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append((entry.path, rel + "/"))
                elif matches(name, rel) and entry.is_file():
                    st = entry.stat()
                    found[rel] = FileStat(st.st_size, st.st_mtime_ns)
            except OSError:
                continue  # vanished or unreadable between listing and stat
    return found


def read_and_parse(root: str, article_id: str, known_hash: str | None) -> tuple:
    """Read one file and parse it unless its bytes are the ones already indexed.

    Returns ("same" | "ok" | "broken" | "gone", id, size, mtime_ns, hash, fields-or-reason).
    Runs in worker processes, so it takes and returns plain values.
    """
    try:
        with open(os.path.join(root, article_id), "rb") as handle:
            st = os.fstat(handle.fileno())
            data = handle.read()
    except FileNotFoundError:
        return ("gone", article_id, 0, 0, "", None)
    except OSError as error:
        return ("broken", article_id, 0, 0, "", f"cannot read the file: {error.strerror}")
    content_hash = hashlib.blake2b(data, digest_size=16).hexdigest()
    if content_hash == known_hash:
        return ("same", article_id, st.st_size, st.st_mtime_ns, content_hash, None)
    try:
        fields = parse_article(data)
    except BrokenArticle as error:
        return ("broken", article_id, st.st_size, st.st_mtime_ns, content_hash, str(error))
    except Exception as error:  # a parser bug must not stop the run either
        reason = f"could not be parsed: {type(error).__name__}: {error}"
        return ("broken", article_id, st.st_size, st.st_mtime_ns, content_hash, reason)
    return ("ok", article_id, st.st_size, st.st_mtime_ns, content_hash, fields)


def _parse_batch(root: str, batch: list[tuple[str, str | None]]) -> list[tuple]:
    return [read_and_parse(root, article_id, known) for article_id, known in batch]


def _batches(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _parse_all(
    root: Path, todo: list[tuple[str, str | None]], workers: int | None
) -> Iterator[list[tuple]]:
    """Parsed results in batches; in worker processes when there is enough to do."""
    workers = workers or len(os.sched_getaffinity(0))
    if workers <= 1 or len(todo) < PARALLEL_THRESHOLD:
        for batch in _batches(todo, BATCH_SIZE):
            yield _parse_batch(str(root), batch)
        return
    # forkserver: forking a threaded process (Bolt, APScheduler) is unsafe
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = [pool.submit(_parse_batch, str(root), b) for b in _batches(todo, BATCH_SIZE)]
        for future in futures:
            yield future.result()


_UPSERT_ARTICLE = """
INSERT INTO articles (id, title, excerpt, web_url, provider_name, provider_domain, topics,
    quality, heat, published, skipped, published_at, category, type, image_url,
    size, mtime_ns, content_hash, error, indexed_at)
VALUES (:id, :title, :excerpt, :web_url, :provider_name, :provider_domain, :topics,
    :quality, :heat, :published, :skipped, :published_at, :category, :type, :image_url,
    :size, :mtime_ns, :content_hash, NULL, :indexed_at)
ON CONFLICT (id) DO UPDATE SET title = excluded.title, excerpt = excluded.excerpt,
    web_url = excluded.web_url, provider_name = excluded.provider_name,
    provider_domain = excluded.provider_domain, topics = excluded.topics,
    quality = excluded.quality, heat = excluded.heat, published = excluded.published,
    skipped = excluded.skipped,
    published_at = excluded.published_at, category = excluded.category, type = excluded.type,
    image_url = excluded.image_url, size = excluded.size, mtime_ns = excluded.mtime_ns,
    content_hash = excluded.content_hash, error = NULL, indexed_at = excluded.indexed_at
"""
_UPSERT_BROKEN = """
INSERT INTO articles (id, size, mtime_ns, content_hash, error, indexed_at)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns,
    content_hash = excluded.content_hash, error = excluded.error,
    indexed_at = excluded.indexed_at
"""


def refresh(
    store: Store,
    root: Path,
    patterns: Iterable[str] = DEFAULT_PATTERNS,
    progress: Progress | None = None,
    workers: int | None = None,
) -> IndexReport:
    """Bring the index in line with the folder; see the module docstring."""
    on_disk = scan_folder(root, patterns)
    known = {
        row[0]: (row[1], row[2], row[3])
        for row in store.db.execute("SELECT id, size, mtime_ns, content_hash FROM articles")
    }
    todo = []
    for article_id, stat in on_disk.items():
        previous = known.get(article_id)
        if previous is None or previous[0] != stat.size or previous[1] != stat.mtime_ns:
            todo.append((article_id, previous[2] if previous else None))
    gone = [article_id for article_id in known if article_id not in on_disk]

    report = IndexReport(total=len(on_disk))
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    done = 0
    pending: list[tuple] = []
    for results in _parse_all(root, todo, workers):
        pending.extend(results)
        done += len(results)
        if len(pending) >= COMMIT_EVERY:
            report.indexed += _write(store, pending, now, gone)
            pending = []
        if progress:
            progress(done, len(todo))
    report.indexed += _write(store, pending, now, gone)
    forgotten = [(article_id,) for article_id in gone if article_id in known]
    if forgotten:
        with store.write() as db:
            db.conn.executemany("DELETE FROM articles WHERE id = ?", forgotten)
    report.removed = len(forgotten)
    report.failed = store.db.execute(
        "SELECT count(*) FROM articles WHERE error IS NOT NULL"
    ).fetchone()[0]
    report.total = store.db.execute("SELECT count(*) FROM articles").fetchone()[0]
    report.unchanged = report.total - report.indexed - report.failed
    return report


def _write(store: Store, results: list[tuple], now: str, gone: list[str]) -> int:
    """Store one lot of parse results; returns how many usable articles it (re)indexed."""
    articles: list[dict[str, Any]] = []
    topics: list[tuple[str, str, str]] = []
    broken: list[tuple] = []
    touched: list[tuple] = []
    for status, article_id, size, mtime_ns, content_hash, payload in results:
        if status == "ok":
            row = dict(payload, id=article_id, size=size, mtime_ns=mtime_ns,
                       content_hash=content_hash, indexed_at=now)
            row["topics"] = json.dumps(payload["topics"], ensure_ascii=False)
            articles.append(row)
            topics.extend((article_id, t, t.casefold()) for t in payload["topics"])
        elif status == "broken":
            broken.append((article_id, size, mtime_ns, content_hash, payload, now))
        elif status == "same":
            touched.append((size, mtime_ns, article_id))
        else:  # gone between the scan and the read
            gone.append(article_id)
    if not (articles or broken or touched):
        return 0
    changed_ids = [(row["id"],) for row in articles] + [(row[0],) for row in broken]
    with store.write() as db:
        conn = db.conn
        conn.executemany(_UPSERT_ARTICLE, articles)
        conn.executemany(_UPSERT_BROKEN, broken)
        conn.executemany("UPDATE articles SET size = ?, mtime_ns = ? WHERE id = ?", touched)
        conn.executemany("DELETE FROM article_topics WHERE article_id = ?", changed_ids)
        conn.executemany(
            "INSERT OR IGNORE INTO article_topics (article_id, topic, topic_key) VALUES (?, ?, ?)",
            topics,
        )
    return len(articles)


def failures(store: Store) -> list[dict[str, str]]:
    """Every file that cannot be used, with its reason, by id."""
    return store.query(
        "SELECT id, error AS reason FROM articles WHERE error IS NOT NULL ORDER BY id"
    )
