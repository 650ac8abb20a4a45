"""The incremental article index: the articles folder mirrored into SQLite.

A refresh stats every matching file and re-reads only those whose size or mtime changed;
of those, only files whose bytes changed are parsed again (a `git checkout` that touches
mtimes costs a read and a hash, not a YAML parse). Large batches are parsed in worker
processes, one per core, while this process writes. A broken file is stored with its
reason and never stops the run.

Only regular files inside the folder are read: a symbolic link (to a file or a folder) is
never followed and anything else (a FIFO, a device, a folder named like an article) never
opened; each is recorded as failed with its reason. A file larger than `max_file_bytes`
is recorded as failed without being read, so one huge file cannot exhaust memory.

This module is the only writer of `articles`, `article_topics` and `topic_counts`, and
keeps them in step in each write transaction (see schema.topic_order). The figures that
shaped it (100,000 files) are in benchmarks/README.md.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import errno
import fnmatch
import hashlib
import itertools
import json
import multiprocessing
import os
import re
import stat
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from newsbot.storage.article_file import BrokenArticle, parse_article
from newsbot.storage.canonical_urls import canonical_url
from newsbot.storage.story_clusters import (
    ClusterRecord,
    ClusterSettings,
    ColdClusters,
    cluster_record,
    update_clusters,
)

if TYPE_CHECKING:  # workers import this module: keep sqlite_utils out of them
    from newsbot.storage.db import Store

DEFAULT_PATTERNS = ("*.md", "*.txt")
PARALLEL_THRESHOLD = 2_000  # below this many files, worker start-up costs more than it saves
BATCH_SIZE = 250
IN_FLIGHT_PER_WORKER = 8  # batches queued ahead per worker: busy while a write runs; bounded
COMMIT_EVERY = 5_000  # rows per write transaction, so other writers are not held up long
WRITE_CACHE_KIB = 32 * 1024  # SQLite page cache while a big refresh writes
TAIL_CACHE_KIB = 16 * 1024  # and while a cold build sorts its indexes (_bulk_load)
DEFAULT_MAX_FILE_BYTES = 1 << 20  # larger files are recorded as failed, never read whole
# What the walk found instead of a regular file, stored in place of its size: a stored
# row with such a size is compared like any other, so it is not looked at again until
# the entry changes.
SYMLINK, NOT_REGULAR = -1, -2
REFUSED = {SYMLINK: "symbolic link", NOT_REGULAR: "not a regular file"}
_OPEN_FLAGS = (os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
               | getattr(os, "O_CLOEXEC", 0))

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


FileStat = tuple[int, int]  # (size, mtime_ns): plain tuples, 100,000 of them per walk


def too_large(size: int, limit: int) -> str:
    return f"too large: {size} bytes (limit {limit})"


def compile_patterns(patterns: Iterable[str]) -> Callable[[str, str], bool]:
    """A matcher for (file name, relative path): patterns with a '/' match the path."""
    by_name = [p for p in patterns if "/" not in p]
    by_path = [p for p in patterns if "/" in p]
    name_re = re.compile("|".join(fnmatch.translate(p) for p in by_name)) if by_name else None
    path_re = re.compile("|".join(fnmatch.translate(p) for p in by_path)) if by_path else None
    if path_re is None and name_re is not None:  # the usual case: names only, one regex call
        match_name = name_re.match
        return lambda name, rel_path: match_name(name) is not None

    def matches(name: str, rel_path: str) -> bool:
        return bool(
            (name_re is not None and name_re.match(name))
            or (path_re is not None and path_re.match(rel_path))
        )

    return matches


_STAT_IN_FOLDER = os.stat in os.supports_dir_fd


def scan_folder(root: Path, patterns: Iterable[str] = DEFAULT_PATTERNS) -> dict[str, FileStat]:
    """Every matching file below root, by article id (POSIX path relative to root); see
    walk_folder."""
    return dict(walk_folder(root, patterns))  # type: ignore[arg-type]  # stat_files


def walk_folder(root: Path, patterns: Iterable[str] = DEFAULT_PATTERNS,
                stat_files: bool = True) -> Iterator[tuple[str, FileStat | None]]:
    """Every matching file below root, with its article id (POSIX path relative to root),
    as the walk finds it: a cold build streams it, and holds no dict of the folder.
    Without `stat_files`, a regular file comes with None for its stat: a cold build's
    workers fstat what they open anyway (and refuse what is too large), so the walk
    need not lstat it first (a third of the walk's cost).

    Hidden folders (`.git`, ...) are skipped and no symbolic link is followed, so a link
    cannot make the walk loop or leave the folder. A matching entry that is not a regular
    file, and a link to a folder, are returned with SYMLINK or NOT_REGULAR as their size
    (and the entry's own mtime). This walk is most of what an unchanged refresh costs: the
    entry types come from the directory listing itself (d_type), and files are lstat'ed
    relative to their open folder, which spares the kernel resolving the whole path
    100,000 times.
    """
    matches = compile_patterns(patterns)
    stack = [(str(root), "")]
    while stack:
        folder, prefix = stack.pop()
        try:
            entries = list(os.scandir(folder))
            folder_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY) if _STAT_IN_FOLDER else None
        except OSError:
            continue
        try:
            for entry in entries:
                name = entry.name
                if name[0] == ".":
                    continue
                try:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append((entry.path, f"{prefix}{name}/"))
                        if not matches(name, prefix + name):
                            continue
                        kind = NOT_REGULAR
                    elif not matches(name, prefix + name):
                        if not (entry.is_symlink() and entry.is_dir()):
                            continue
                        kind = SYMLINK  # a linked folder: listed, never walked
                    elif entry.is_file(follow_symlinks=False):
                        if not stat_files:
                            yield prefix + name, None
                            continue
                        kind = 0
                    else:
                        kind = SYMLINK if entry.is_symlink() else NOT_REGULAR
                    st = (os.stat(name, dir_fd=folder_fd, follow_symlinks=False)
                          if _STAT_IN_FOLDER else entry.stat(follow_symlinks=False))
                except OSError:
                    continue  # vanished or unreadable between listing and stat
                yield prefix + name, (kind or st.st_size, st.st_mtime_ns)
        finally:
            if folder_fd is not None:
                os.close(folder_fd)


# The indexed columns a worker fills, in the order of its row tuples.
ARTICLE_COLUMNS = (
    "id", "title", "excerpt", "web_url", "provider_name", "provider_domain", "topics",
    "quality", "heat", "published", "skipped", "published_at", "category", "type",
    "image_url", "size", "mtime_ns", "content_hash", "canonical_url",
)
# A row as staged: the article's columns, then its topics' keys (a JSON list beside
# `topics`, or NULL when every topic is ASCII and its key is SQLite's lower()): the
# article_topics rows are made from it in SQL, not sent as tuples of their own.
STAGED_COLUMNS = (*ARTICLE_COLUMNS, "topic_keys")


def read_and_parse(root: str, article_id: str, known_hash: str | None,
                   max_bytes: int = DEFAULT_MAX_FILE_BYTES, clusters: bool = False,
                   root_fd: int | None = None) -> tuple:
    """Read one file and parse it unless its bytes are the ones already indexed.

    Returns (status, id, size, mtime_ns, hash, payload), status one of "same", "ok",
    "broken" or "gone". For "ok" the payload is the row ready to stage (STAGED_COLUMNS)
    and, with `clusters`, its story_clusters.cluster_record (else None); for "broken" it
    is the reason. Runs in worker processes, so it takes and returns plain values.
    `root_fd`: the folder `root` open, which the file is opened relative to.
    """
    try:
        st, data = _read_file(os.path.join(root, article_id), max_bytes, root_fd, article_id)
    except FileNotFoundError:
        return ("gone", article_id, 0, 0, "", None)
    except _Refused as refused:
        size, mtime_ns, reason = refused.args
        return ("broken", article_id, size, mtime_ns, "", reason)
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
    topics = fields["topics"]
    joined = "".join(topics)  # one check over all of them, not one call per topic
    topic_keys = (None if joined.isascii()
                  else json.dumps([topic.casefold() for topic in topics], ensure_ascii=False))
    url = canonical_url(fields["web_url"])
    row = (
        article_id, fields["title"], fields["excerpt"], fields["web_url"],
        fields["provider_name"], fields["provider_domain"], topics_json(topics, joined),
        fields["quality"], fields["heat"],
        fields["published"], fields["skipped"], fields["published_at"], fields["category"],
        fields["type"], fields["image_url"], st.st_size, st.st_mtime_ns, content_hash, url,
        topic_keys,
    )
    record = (cluster_record(article_id, content_hash, fields["title"], fields["excerpt"],
                             fields["web_url"], fields["published_at"], fields["quality"],
                             fields["heat"], url) if clusters else None)
    return ("ok", article_id, st.st_size, st.st_mtime_ns, content_hash, (row, record))


def topics_json(topics: list[str], joined: str | None = None) -> str:
    """`json.dumps(topics, ensure_ascii=False)`, built directly when no topic holds a
    character JSON escapes (a quote, a backslash, a control character): a third of the
    cost, paid for every file of a cold build. `joined`: the topics joined with nothing
    between them, when the caller has it (the check is made on it once)."""
    if joined is None:
        joined = "".join(topics)
    if joined.isprintable() and '"' not in joined and "\\" not in joined:
        return '["' + '", "'.join(topics) + '"]' if topics else "[]"
    return json.dumps(topics, ensure_ascii=False)


class _Refused(Exception):
    """Not read: (size to store, mtime_ns, reason)."""


def _read_file(path: str, max_bytes: int, root_fd: int | None = None,
               relative: str = "") -> tuple[os.stat_result, bytes]:
    """The file's stat and bytes in four system calls (open() and read() make seven).

    Never through a symbolic link, never anything but a regular file (the walk checked,
    but the folder may change meanwhile), never more than max_bytes. With `root_fd`,
    the file is opened as `relative` to that folder: the kernel does not resolve the
    folder's own path again for every file (about 1 us of a file's 7).
    """
    try:
        fd = (os.open(path, _OPEN_FLAGS) if root_fd is None
              else os.open(relative, _OPEN_FLAGS, dir_fd=root_fd))
    except OSError as error:
        if error.errno == errno.ELOOP:  # O_NOFOLLOW met a link
            raise _Refused(SYMLINK, os.lstat(path).st_mtime_ns, REFUSED[SYMLINK]) from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _Refused(NOT_REGULAR, st.st_mtime_ns, REFUSED[NOT_REGULAR])
        if st.st_size > max_bytes:
            raise _Refused(st.st_size, st.st_mtime_ns, too_large(st.st_size, max_bytes))
        data = os.read(fd, st.st_size + 1)
        if len(data) > st.st_size:  # grew since the fstat: read on, up to the limit
            chunks, total = [data], len(data)
            while total <= max_bytes and (chunk := os.read(fd, 1 << 16)):
                chunks.append(chunk)
                total += len(chunk)
            if total > max_bytes:
                raise _Refused(total, st.st_mtime_ns, too_large(total, max_bytes))
            data = b"".join(chunks)
    finally:
        os.close(fd)
    return st, data


@dataclass
class Parsed:
    """Parse results in the shapes the write takes, sorted by outcome in the worker: the
    main process pickles, loops over and reshapes nothing per file."""

    articles: list[tuple] = field(default_factory=list)  # STAGED_COLUMNS
    broken: list[tuple] = field(default_factory=list)  # (id, size, mtime_ns, hash, reason)
    same: list[tuple] = field(default_factory=list)  # (size, mtime_ns, id): bytes as stored
    gone: list[str] = field(default_factory=list)  # listed by the walk, gone when read
    clusters: list[ClusterRecord] = field(default_factory=list)  # when asked for

    def __len__(self) -> int:
        return len(self.articles) + len(self.broken) + len(self.same) + len(self.gone)

    def extend(self, other: Parsed) -> None:
        self.articles += other.articles
        self.broken += other.broken
        self.same += other.same
        self.gone += other.gone
        self.clusters += other.clusters

    def add(self, result: tuple) -> None:
        """One read_and_parse result."""
        status, article_id, size, mtime_ns, content_hash, payload = result
        if status == "ok":
            row, record = payload
            self.articles.append(row)
            if record is not None:
                self.clusters.append(record)
        elif status == "broken":
            self.broken.append((article_id, size, mtime_ns, content_hash, payload))
        elif status == "same":
            self.same.append((size, mtime_ns, article_id))
        else:
            self.gone.append(article_id)


def _parse_batch(root: str, batch: list[tuple[str, str | None]], max_bytes: int,
                 clusters: bool = False) -> Parsed:
    parsed = Parsed()
    add = parsed.add
    try:
        root_fd: int | None = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:  # e.g. gone: each file says so itself
        root_fd = None
    try:
        for article_id, known in batch:
            add(read_and_parse(root, article_id, known, max_bytes, clusters, root_fd))
    finally:
        if root_fd is not None:
            os.close(root_fd)
    return parsed


def _batches(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def _parse_all(root: Path, todo: Iterable[tuple[str, str | None]], parallel: bool,
               workers: int | None, max_bytes: int, clusters: bool = False
               ) -> Iterator[Parsed]:
    """Parsed results in batches, in order; in worker processes when `parallel` (there
    is enough to do). `todo` may be a stream: it is read a batch at a time.

    Only a few batches per worker are queued ahead, so results never pile up in
    memory faster than they are written.
    """
    workers = workers or len(os.sched_getaffinity(0))
    if workers <= 1 or not parallel:
        for batch in _batches(todo, BATCH_SIZE):
            yield _parse_batch(str(root), batch, max_bytes, clusters)
        return
    from concurrent.futures import ProcessPoolExecutor  # only a big refresh pays for it

    context = _worker_context()
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        in_flight: collections.deque = collections.deque()
        for batch in _batches(todo, BATCH_SIZE):
            in_flight.append(pool.submit(_parse_batch, str(root), batch, max_bytes, clusters))
            if len(in_flight) >= workers * IN_FLIGHT_PER_WORKER:
                yield in_flight.popleft().result()
        while in_flight:
            yield in_flight.popleft().result()


def _worker_context() -> multiprocessing.context.BaseContext:
    """How the workers start. Forking a threaded process (`serve`: Bolt, APScheduler) is
    unsafe, so they come from a fork server that imported this module once. A process
    with no other thread (`newsbot index`) forks them itself: no fresh interpreter to
    start and import (about 0.2 s before the first file is parsed). The pool forks its
    workers before starting its own threads, and they never touch the parent's SQLite
    connection (they return plain values and leave with os._exit)."""
    if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    context = multiprocessing.get_context("forkserver")
    # imported once by the fork server, not by every worker (only before it first starts)
    context.set_forkserver_preload(["newsbot.storage.index"])
    return context


# Rows are staged in a temporary table and moved with one INSERT ... SELECT: the FTS5
# triggers then run inside a single statement. Row by row (executemany), every
# statement makes FTS5 flush its pending terms, which cost five times the whole insert.
_STAGING = "temp.newsbot_staged_articles"
_CREATE_STAGING = (
    f"CREATE TEMP TABLE IF NOT EXISTS newsbot_staged_articles ({', '.join(STAGED_COLUMNS)})"
)
_STAGE_ARTICLE = f"INSERT INTO {_STAGING} VALUES ({', '.join('?' * len(STAGED_COLUMNS))})"
_ON_CONFLICT = """
ON CONFLICT (id) DO UPDATE SET title = excluded.title, excerpt = excluded.excerpt,
    web_url = excluded.web_url, provider_name = excluded.provider_name,
    provider_domain = excluded.provider_domain, topics = excluded.topics,
    quality = excluded.quality, heat = excluded.heat, published = excluded.published,
    skipped = excluded.skipped,
    published_at = excluded.published_at, category = excluded.category, type = excluded.type,
    image_url = excluded.image_url, size = excluded.size, mtime_ns = excluded.mtime_ns,
    content_hash = excluded.content_hash, canonical_url = excluded.canonical_url, error = NULL,
    indexed_at = excluded.indexed_at
"""
_UPSERT_STAGED = f"""
INSERT INTO articles ({', '.join(ARTICLE_COLUMNS)}, error, indexed_at)
SELECT {', '.join(ARTICLE_COLUMNS)}, NULL, ? FROM {_STAGING} WHERE true {_ON_CONFLICT}"""
# A cold build (no full-text trigger, no topic rows yet) inserts rows as they come, and
# makes the topic rows and counts once the load is done (_COLD_TOPICS, _COLD_COUNTS).
_UPSERT_ROW = f"""
INSERT INTO articles ({', '.join(ARTICLE_COLUMNS)}, error, indexed_at)
VALUES ({', '.join('?' * len(ARTICLE_COLUMNS))}, NULL, ?) {_ON_CONFLICT}"""
_TOPIC_KEYS = "temp.newsbot_topic_keys"  # the topic keys of a cold build, where not lower()
_CREATE_TOPIC_KEYS = ("CREATE TEMP TABLE IF NOT EXISTS newsbot_topic_keys"
                      " (id TEXT PRIMARY KEY, topic_keys TEXT)")
_COLD_TOPICS = f"""
INSERT OR IGNORE INTO article_topics
    (article_id, topic, topic_key, published, skipped, quality, heat, published_at)
SELECT a.id, t.value, coalesce(json_extract(k.topic_keys, '$[' || t.key || ']'), lower(t.value)),
    a.published, a.skipped, a.quality, a.heat, a.published_at
FROM articles a JOIN json_each(a.topics) t LEFT JOIN {_TOPIC_KEYS} k ON k.id = a.id
WHERE a.error IS NULL ORDER BY a.id
"""
_COLD_COUNTS = """
INSERT INTO topic_counts (topic_key, topic, to_review, total)
SELECT topic_key, topic, sum(published = 0 AND skipped = 0), count(*)
FROM article_topics WHERE true GROUP BY topic_key, topic
ON CONFLICT (topic_key, topic) DO UPDATE SET
    to_review = to_review + excluded.to_review, total = total + excluded.total
"""
_UPSERT_BROKEN = """
INSERT INTO articles (id, size, mtime_ns, content_hash, error, indexed_at)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns,
    content_hash = excluded.content_hash, error = excluded.error,
    indexed_at = excluded.indexed_at
"""
# Topic rows carry the article's digest-order keys (see schema.topic_order). Where two
# topics share a key, the first listed is kept (json_each goes in list order).
_INSERT_STAGED_TOPICS = f"""
INSERT OR IGNORE INTO article_topics
    (article_id, topic, topic_key, published, skipped, quality, heat, published_at)
SELECT s.id, t.value, coalesce(json_extract(s.topic_keys, '$[' || t.key || ']'), lower(t.value)),
    s.published, s.skipped, s.quality, s.heat, s.published_at
FROM {_STAGING} s, json_each(s.topics) t
"""
# The articles whose topic rows a write replaces or deletes.
_IDS = "temp.newsbot_article_ids"
_CREATE_IDS = "CREATE TEMP TABLE IF NOT EXISTS newsbot_article_ids (id TEXT PRIMARY KEY)"
# topic_counts follows article_topics (schema.topic_order): the topic rows of the
# articles in _IDS are counted out (sign -1) before they go and in (+1) once written,
# one grouped statement per write instead of a trigger per row.
_COUNT_TOPICS = f"""
INSERT INTO topic_counts (topic_key, topic, to_review, total)
SELECT topic_key, topic, ? * sum(published = 0 AND skipped = 0), ? * count(*)
FROM article_topics
WHERE article_id IN (SELECT id FROM {_IDS}) GROUP BY topic_key, topic
ON CONFLICT (topic_key, topic) DO UPDATE SET
    to_review = to_review + excluded.to_review, total = total + excluded.total
"""


def refresh(
    store: Store,
    root: Path,
    patterns: Iterable[str] = DEFAULT_PATTERNS,
    progress: Progress | None = None,
    workers: int | None = None,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    clusters: ClusterSettings | None = None,
) -> IndexReport:
    """Bring the index in line with the folder, then the story clusters (storage/story_clusters.py)
    in line with the index (`clusters`: the settings; None leaves them as they are); see
    the module docstring.

    Raises NotADirectoryError when `root` is not a folder: an unmounted share must not
    look like a folder whose every article was deleted.
    """
    if not Path(root).is_dir():
        raise NotADirectoryError(f"the articles folder {root} is not a folder (not mounted?)")
    if _is_empty(store):
        walk = walk_folder(root, patterns, stat_files=False)
        first = list(itertools.islice(walk, PARALLEL_THRESHOLD))
        if len(first) == PARALLEL_THRESHOLD:
            return _cold_build(store, root, itertools.chain(first, walk), progress, workers,
                               max_file_bytes, clusters)
        on_disk = {article_id: found for article_id, entry in first
                   if (found := entry or _lstat(root, article_id)) is not None}
    else:
        on_disk = scan_folder(root, patterns)
    stored = store.db.execute(STORED_STATS)
    return _reconcile(store, root, on_disk, stored, progress, workers, max_file_bytes, clusters)


def refresh_paths(
    store: Store,
    root: Path,
    touched: Iterable[str],
    patterns: Iterable[str] = DEFAULT_PATTERNS,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    clusters: ClusterSettings | None = None,
) -> IndexReport:
    """`refresh` for the given paths only (relative to root, as file events name them): a
    file created, changed or deleted, or a folder moved in or out. Everything else is
    taken to be as indexed, so the cost follows the change, not the folder. The same
    rules apply (patterns, hidden folders, links, the size limit, clusters), and an empty
    index given thousands of files is built as `refresh` builds one (`_cold_build`)."""
    if not Path(root).is_dir():
        raise NotADirectoryError(f"the articles folder {root} is not a folder (not mounted?)")
    touched = sorted({t.strip("/") for t in touched if t.strip("/")})
    on_disk = scan_paths(root, touched, patterns)
    if len(on_disk) >= PARALLEL_THRESHOLD and _is_empty(store):  # a folder moved into it
        return _cold_build(store, root, on_disk.items(), None, None, max_file_bytes, clusters)
    stored = [row for chunk in _batches(touched, 200) for row in store.db.execute(
        STORED_STATS + " WHERE " + " OR ".join(["id = ? OR (id >= ? AND id < ?)"] * len(chunk)),
        [value for path in chunk for value in (path, path + "/", path + "0")])]  # "0" follows "/"
    return _reconcile(store, root, on_disk, stored, None, None, max_file_bytes, clusters,
                      partial=True)


# a file recorded as too large is looked at again when the limit changes, and back
STORED_STATS = "SELECT id, size, mtime_ns, coalesce(error LIKE 'too large:%', 0) FROM articles"


def scan_paths(root: Path, touched: Iterable[str],
               patterns: Iterable[str] = DEFAULT_PATTERNS) -> dict[str, FileStat]:
    """What `scan_folder` would find at these paths: a file as itself, a folder with
    everything below it; a path under a hidden folder, or gone, finds nothing."""
    matches = compile_patterns(patterns)
    found: dict[str, FileStat] = {}
    for article_id in touched:
        if any(part.startswith(".") for part in article_id.split("/")):
            continue
        path = Path(root) / article_id
        name = path.name
        try:
            st = os.lstat(path)
        except OSError:
            continue  # deleted, or moved away: its rows are gone
        if stat.S_ISDIR(st.st_mode):
            found.update({f"{article_id}/{below}": entry
                          for below, entry in scan_folder(path, patterns).items()})
            if matches(name, article_id):
                found[article_id] = (NOT_REGULAR, st.st_mtime_ns)
        elif not matches(name, article_id):
            if stat.S_ISLNK(st.st_mode) and path.is_dir():
                found[article_id] = (SYMLINK, st.st_mtime_ns)  # a linked folder: never walked
        elif stat.S_ISREG(st.st_mode):
            found[article_id] = (st.st_size, st.st_mtime_ns)
        else:
            found[article_id] = (SYMLINK if stat.S_ISLNK(st.st_mode) else NOT_REGULAR,
                                 st.st_mtime_ns)
    return found


def _reconcile(store: Store, root: Path, on_disk: dict[str, FileStat], stored: Iterable,
               progress: Progress | None, workers: int | None, max_file_bytes: int,
               clusters: ClusterSettings | None, partial: bool = False) -> IndexReport:
    """Bring the stored rows given in line with the files found for the same paths
    (`partial`: only some paths were looked at, so only their clusters are)."""
    misnamed = _misnamed(on_disk)
    new = dict(on_disk)  # what is left once the stored rows are ticked off
    changed: list[str] = []  # stored, but size or mtime differ
    gone: list[str] = []  # stored, no longer on disk
    for article_id, size, mtime_ns, was_too_large in stored:
        on_disk_stat = new.pop(article_id, None)
        if on_disk_stat is None:
            gone.append(article_id)
        elif (on_disk_stat[0] != size or on_disk_stat[1] != mtime_ns
              or (size > max_file_bytes) != was_too_large):
            changed.append(article_id)
    hashes = _known_hashes(store, changed)
    todo = [(article_id, hashes.get(article_id)) for article_id in changed]
    todo += [(article_id, None) for article_id in new]
    # recorded as failed without being opened: refused entries, files over the limit
    unread = [(a, on_disk[a][0]) for a, _ in todo
              if a not in misnamed and not 0 <= on_disk[a][0] <= max_file_bytes]
    todo = [item for item in todo if item[0] not in misnamed
            and 0 <= on_disk[item[0]][0] <= max_file_bytes]
    vanished: list[str] = []  # listed by the walk, gone when read

    report = IndexReport(total=len(on_disk))
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    done = 0
    # recorded as broken without being read: their ids cannot be stored, nor opened again
    pending = Parsed(broken=[
        (article_id, *on_disk[article_id], "", MISNAMED)
        for article_id in misnamed if article_id in new or article_id in changed
    ] + [
        (article_id, *on_disk[article_id], "", REFUSED.get(size) or too_large(size, max_file_bytes))
        for article_id, size in unread
    ])
    big = len(todo) >= PARALLEL_THRESHOLD
    with _page_cache(store, WRITE_CACHE_KIB if big else 0):
        for parsed in _parse_all(root, todo, big, workers, max_file_bytes):
            pending.extend(parsed)
            done += len(parsed)
            if len(pending) >= COMMIT_EVERY:
                report.indexed += _write(store, pending, now, vanished)
                pending = Parsed()
            if progress:
                progress(done, len(todo))
        report.indexed += _write(store, pending, now, vanished)
    was_stored = set(changed)
    report.removed = _forget(store, gone + [a for a in vanished if a in was_stored])
    return _finish(store, report, clusters,
                   only=set(on_disk) | set(gone) if partial else None)


def _lstat(root: Path, article_id: str) -> FileStat | None:
    """What the walk finds for a regular file it did not stat; None once it is gone."""
    try:
        st = os.lstat(os.path.join(root, article_id))
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def _cold_build(store: Store, root: Path, walk: Iterable[tuple[str, FileStat | None]],
                progress: Progress | None, workers: int | None, max_file_bytes: int,
                clusters: ClusterSettings | None) -> IndexReport:
    """An empty index given thousands of files: by `refresh`, whose walk is streamed
    (each file goes from the walk to a worker to the write without a dict of the folder,
    so memory does not grow with it: the walk's dict was most of 1 MB per 1,000 files),
    or by `refresh_paths` (a folder moved in: the files it found). The load is one
    transaction (`_bulk_load`), and the clusters are made from the workers' records
    (story_clusters.ColdClusters). Both are written with a rollback journal when nothing
    else has the file open (`Store.written_once`: each page once, not twice as in WAL):
    `newsbot index`, and the first refresh of `serve`, which runs before anything else
    of it opens the file. Once `serve` runs, the connection its start used stays open,
    so a build from file events or the periodic walk writes in WAL, and readers go on
    reading the empty index meanwhile. `progress` gets (done, walked so far)."""
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    report = IndexReport()
    refused: list[tuple] = []  # recorded as broken without being read, as _reconcile does
    walked = done = 0

    def readable() -> Iterator[tuple[str, str | None]]:
        nonlocal walked
        for article_id, found in walk:
            walked += 1
            if found is None:  # a regular file, not stat'ed: the worker checks its size
                if _is_utf8(article_id):
                    yield article_id, None
                    continue
                found = _lstat(root, article_id)
                if found is None:
                    continue
            size, mtime_ns = found
            if not _is_utf8(article_id):
                refused.append((_printable(article_id), size, mtime_ns, "", MISNAMED))
            elif not 0 <= size <= max_file_bytes:
                refused.append((article_id, size, mtime_ns, "",
                                REFUSED.get(size) or too_large(size, max_file_bytes)))
            else:
                yield article_id, None

    matching = clusters is not None and clusters.enabled
    vanished: list[str] = []  # nothing was stored: a file gone when read is just not there
    side = ColdClusters.side_path(store.path)
    with store.written_once(), (
            ColdClusters(clusters, side) if matching else contextlib.nullcontext()) as cold:
        with _page_cache(store, WRITE_CACHE_KIB), _bulk_load(
                store, before_tail=cold.start_matching if cold else None):
            for parsed in _parse_all(root, readable(), True, workers, max_file_bytes,
                                     matching):
                if cold:
                    cold.add(parsed.clusters)
                    parsed.clusters = []
                done += len(parsed)
                parsed.broken += refused
                refused.clear()
                # each batch as it comes (one transaction holds them all): what is left
                # to write once the workers are done is one batch, not a lot of them
                report.indexed += _write(store, parsed, now, vanished, cold=True)
                if progress:
                    progress(done, max(walked, done))
            report.indexed += _write(store, Parsed(broken=refused), now, vanished, cold=True)
        return _finish(store, report, clusters, cold)


def _finish(store: Store, report: IndexReport, clusters: ClusterSettings | None,
            cold: ColdClusters | None = None, only: set[str] | None = None) -> IndexReport:
    """The report's counts from the index as written, then the clusters (`only`: of
    these articles, after a refresh of some paths)."""
    report.failed = store.db.execute(
        "SELECT count(*) FROM articles WHERE error IS NOT NULL"
    ).fetchone()[0]
    report.total = store.db.execute("SELECT count(*) FROM articles").fetchone()[0]
    report.unchanged = report.total - report.indexed - report.failed
    if clusters is not None:
        update_clusters(store, clusters, quiet=not (report.indexed or report.removed),
                        cold=cold, only=only)
    return report


def _is_empty(store: Store) -> bool:
    return store.db.execute("SELECT 1 FROM articles LIMIT 1").fetchone() is None


# Built after a cold load instead of row by row: the index articles_fts is rebuilt whole.
_BULK_DEFERRED = ("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND ("
                  "(type = 'index' AND tbl_name IN ('articles', 'article_topics'))"
                  " OR (type = 'trigger' AND name = 'articles_ai'))")


@contextlib.contextmanager
def _bulk_load(store: Store, before_tail: Callable[[], None] | None = None) -> Iterator[None]:
    """For a cold build (an empty index, thousands of files): one transaction in which
    the secondary indexes of articles and article_topics and the full-text trigger are
    dropped, the rows loaded, then the indexes created again from their own stored SQL
    and articles_fts rebuilt in one pass. Sorted index builds cost a fraction of
    row-by-row inserts into them. Killed half way, the transaction rolls back whole:
    the schema is never left without its indexes, and the next run starts cold again.
    The lots written inside become savepoints; other writers wait for the commit.
    `before_tail` runs once the rows are in, before the indexes are built: work that
    can overlap that tail (it runs in SQLite, without the GIL) starts there."""
    with store.write() as db:
        conn = db.conn
        deferred = conn.execute(_BULK_DEFERRED).fetchall()
        for kind, name, _ in deferred:
            conn.execute(f'DROP {kind.upper()} "{name}"')
        yield
        if before_tail is not None:
            before_tail()
        # the sorter of CREATE INDEX may hold as much as the page cache: half of it keeps
        # the tail's memory from growing with the folder (the load's cache is the peak)
        conn.execute(f"PRAGMA cache_size = {-TAIL_CACHE_KIB}")
        # the topic rows in article_topics' key order, then their counts, in one go each
        conn.execute(_CREATE_TOPIC_KEYS)
        conn.execute(_COLD_TOPICS)
        conn.execute(_COLD_COUNTS)
        conn.execute(f"DROP TABLE {_TOPIC_KEYS}")
        for kind, _, sql in deferred:
            if kind == "index":
                conn.execute(sql)
        conn.execute("INSERT INTO articles_fts (articles_fts) VALUES ('rebuild')")
        for kind, _, sql in deferred:
            if kind == "trigger":
                conn.execute(sql)


MISNAMED = "the file name is not valid UTF-8: rename the file"


def _misnamed(on_disk: dict[str, tuple[int, int]]) -> set[str]:
    """File names that are not UTF-8 (a Latin-1 `café.md` from an old system) reach us
    with surrogates SQLite cannot store. They are given printable ids (`caf\\xe9.md`),
    in place in `on_disk`, and returned so the refresh records them as broken."""
    misnamed = set()
    for article_id in [a for a in on_disk if not _is_utf8(a)]:
        printable = _printable(article_id)
        on_disk[printable] = on_disk.pop(article_id)
        misnamed.add(printable)
    return misnamed


def _printable(article_id: str) -> str:
    return article_id.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@contextlib.contextmanager
def _page_cache(store: Store, kib: int) -> Iterator[None]:
    """A larger SQLite page cache for a big write, then the connection's own again.

    Topic rows land all over their indexes; with the default 2 MB cache every insert
    read and spilled pages, a third of the writing time at 100,000 articles.
    """
    if not kib:
        yield
        return
    previous = store.db.execute("PRAGMA cache_size").fetchone()[0]
    store.db.execute(f"PRAGMA cache_size = {-kib}")
    try:
        yield
    finally:
        store.db.execute(f"PRAGMA cache_size = {int(previous)}")


def _known_hashes(store: Store, article_ids: list[str]) -> dict[str, str]:
    """The stored content hash of these articles (files whose size or mtime changed)."""
    if len(article_ids) > 1_000:  # e.g. a checkout touched every file: one pass is cheaper
        wanted = set(article_ids)
        rows = store.db.execute("SELECT id, content_hash FROM articles")
        return {article_id: digest for article_id, digest in rows if article_id in wanted}
    hashes = {}
    for article_id in article_ids:
        row = store.db.execute(
            "SELECT content_hash FROM articles WHERE id = ?", (article_id,)
        ).fetchone()
        if row is not None:
            hashes[article_id] = row[0]
    return hashes


def _write(store: Store, parsed: Parsed, now: str, vanished: list[str],
           cold: bool = False) -> int:
    """Store one lot of parse results; returns how many usable articles it (re)indexed.
    `cold`: inside _bulk_load's cold transaction, where the topic rows are made at the
    end (no staging: without the full-text trigger, rows go straight in)."""
    vanished += parsed.gone  # gone between the scan and the read
    if not (parsed.articles or parsed.broken or parsed.same):
        return 0
    broken = [(*row, now) for row in parsed.broken]
    if cold:
        with store.write() as db:
            conn = db.conn
            conn.executemany(_UPSERT_ROW, [(*row[:-1], now) for row in parsed.articles])
            conn.execute(_CREATE_TOPIC_KEYS)
            conn.executemany(f"INSERT OR REPLACE INTO {_TOPIC_KEYS} VALUES (?, ?)",
                             [(row[0], row[-1]) for row in parsed.articles
                              if row[-1] is not None])
            conn.executemany(_UPSERT_BROKEN, broken)
        return len(parsed.articles)
    with store.write() as db:
        conn = db.conn
        conn.execute(_CREATE_STAGING)
        conn.execute(_CREATE_IDS)
        conn.executemany(_STAGE_ARTICLE, parsed.articles)
        conn.execute(_UPSERT_STAGED, (now,))
        conn.executemany(_UPSERT_BROKEN, broken)
        conn.executemany("UPDATE articles SET size = ?, mtime_ns = ? WHERE id = ?", parsed.same)
        # the topics of re-indexed and broken articles are replaced
        conn.execute(f"INSERT INTO {_IDS} SELECT id FROM {_STAGING}")
        conn.executemany(f"INSERT OR IGNORE INTO {_IDS} VALUES (?)", [(r[0],) for r in broken])
        conn.execute(_COUNT_TOPICS, (-1, -1))
        conn.execute(f"DELETE FROM article_topics WHERE article_id IN (SELECT id FROM {_IDS})")
        conn.execute(_INSERT_STAGED_TOPICS)
        conn.execute(_COUNT_TOPICS, (1, 1))
        conn.execute("DELETE FROM topic_counts WHERE total <= 0")
        conn.execute(f"DELETE FROM {_STAGING}")
        conn.execute(f"DELETE FROM {_IDS}")
    return len(parsed.articles)


def _forget(store: Store, article_ids: list[str]) -> int:
    """Delete these articles (their topics go by cascade) in one statement, for FTS5's sake."""
    if not article_ids:
        return 0
    with store.write() as db:
        conn = db.conn
        conn.execute(_CREATE_IDS)
        conn.executemany(f"INSERT OR IGNORE INTO {_IDS} VALUES (?)", [(a,) for a in article_ids])
        conn.execute(_COUNT_TOPICS, (-1, -1))
        conn.execute(f"DELETE FROM articles WHERE id IN (SELECT id FROM {_IDS})")
        conn.execute("DELETE FROM topic_counts WHERE total <= 0")
        conn.execute(f"DELETE FROM {_IDS}")
    return len(article_ids)


def failures(store: Store) -> list[dict[str, str]]:
    """Every file that cannot be used, with its reason, by id."""
    return store.query(
        "SELECT id, error AS reason FROM articles WHERE error IS NOT NULL ORDER BY id"
    )
