"""Story clusters: the copies of one story (a syndicated wire piece, a re-fetched URL) grouped.

Two usable articles belong to the same story when they were published within
`window_hours` of each other and either their `webUrl`s are equal once canonicalised
(`canonical_url`), or their titles plus excerpt ledes are near-duplicates: the mean of
the titles' and the ledes' similarity (`similarity`) at least `similarity`.
Clustering is transitive: a story is a connected group of such pairs. The front matter's
`related` list names other coverage, not copies, and plays no part.

All pairs are never compared. Each article gets blocking keys (its canonical URL, its
normalised title, the title with each one word left out, the first words of its excerpt);
only articles sharing a key and published within the window are compared. A title that
differs by one word, a suffix (`| Reuters`), case or punctuation still shares a key.

The index calls `update_clusters` at the end of each refresh. It works incrementally from
`cluster_items` (each article's content hash when last clustered, and its time): a
changed, added or removed article has its links recomputed against the articles of its
time window, and only the clusters those links touch are rebuilt. A refresh with nothing
changed costs two joins. `cluster_members` holds each member of a cluster of two or more
with its rank in digest order (0: the lead, whose id is the cluster's id).
"""

from __future__ import annotations

import array
import collections
import datetime as dt
import functools
import glob
import hashlib
import heapq
import json
import os
import re
import sqlite3
import threading
import unicodedata
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from newsbot.storage.canonical_urls import canonical_url
from rapidfuzz.fuzz import ratio

if TYPE_CHECKING:
    from newsbot.storage.db import Store

URL = "url"
TEXT = "text"
LEDE_CHARS = 300  # of the normalised excerpt compared: copies share the lede, not the tail
LEDE_MIN = 60  # a lede shorter than this is compared whole against the other's start
LEDE_KEY_WORDS = 8  # the excerpt's first words as a blocking key
CROWDED_KEY = 64  # a key shared by more articles than this within one window blocks nothing
BULK = 2_000  # with this many changes, read every item instead of each one's window
SQL_CHUNK = 500

# An outlet's name after the title: "… | Reuters", "… - AP News", "… — The Circuit".
_SEPARATORS = (" | ", " - ", " – ", " — ")
SUFFIX_CHARS = 40
_NOT_WORD = re.compile(r"[\W_]+")
# ASCII text's bytes lower-cased and punctuation made spaces in one C call: a bytes
# table, where str.translate looks each character up in a dict (4 times the cost). The
# regex above serves other text.
_ASCII_FOLD = bytes(ord(chr(b).lower()) if chr(b).isalnum() or chr(b).isspace() else 32
                    for b in range(128)) + bytes(range(128, 256))


@dataclass(frozen=True)
class ClusterSettings:
    enabled: bool = True
    similarity: float = 0.8
    window_hours: float = 72.0

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)



def normalise(text: str | None) -> str:
    """Case, accents' composed forms and punctuation out of the way: words and spaces."""
    if not text:
        return ""
    if text.isascii():
        return " ".join(text.encode("ascii").translate(_ASCII_FOLD).decode("ascii").split())
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_NOT_WORD.sub(" ", folded).split())


def normalise_title(title: str | None) -> str:
    """The title without an outlet suffix (the part after the last ' | ', ' - ', ' – ' or
    ' — ', when short), normalised."""
    if not title:
        return ""
    title = title.strip()
    if "|" in title or "-" in title or "–" in title or "—" in title:
        cut = max(title.rfind(separator) for separator in _SEPARATORS)
        if cut > 0 and len(title) - cut - 3 <= SUFFIX_CHARS:
            title = title[:cut]
    return normalise(title)


def similarity(a: Item, b: Item, cutoff: float = 0) -> float:
    """How alike two articles' title and excerpt are, 0 to 100: the mean of rapidfuzz's
    normalised Indel similarity of their normalised titles and of their ledes. A lede is
    compared over the shorter one's length (at least LEDE_MIN characters), since a copy
    often carries the lede cut short; without an excerpt on either side, the title alone.
    Below `cutoff` the answer may be any lower figure (it stops early)."""
    if not (a.lede and b.lede):
        return ratio(a.title, b.title, score_cutoff=cutoff)
    title = ratio(a.title, b.title, score_cutoff=max(0, 2 * cutoff - 100))
    if (title + 100) / 2 < cutoff:
        return title / 2
    length = max(min(len(a.lede), len(b.lede)), LEDE_MIN)
    return (title + ratio(a.lede[:length], b.lede[:length])) / 2


class Item(NamedTuple):
    """An article as clustering sees it, made from its `articles` row."""

    id: str
    moment: float | None  # publishedDateTime in seconds since the epoch
    url: str | None  # canonical
    title: str  # normalised, outlet suffix dropped
    lede: str  # normalised excerpt, first LEDE_CHARS characters

    @classmethod
    def of(cls, article_id: str, title: str | None, excerpt: str | None, web_url: str | None,
           published_at: str | None, url: str | None | bool = False) -> Item:
        """`url`: the canonical URL when the caller has it already (False: make it)."""
        lede = normalise(excerpt[: LEDE_CHARS * 2] if excerpt else excerpt)[:LEDE_CHARS]
        return cls(article_id, _seconds(published_at),
                   canonical_url(web_url) if url is False else url,  # type: ignore[arg-type]
                   normalise_title(title), lede)

    def blocking_keys(self) -> list[int]:
        """Blocking keys, as 64-bit hashes: the canonical URL, the title, the title less
        each one of its words (so one word changed, added or dropped still shares a key;
        word order aside) and the excerpt's first words. Stable across processes (unlike
        hash()), so index workers can compute them for the process that matches."""
        keys = [stable_hash("u\0" + self.url)] if self.url else []
        words = self.title.split()
        if words:
            hashes = [stable_hash(word) for word in words]
            total = sum(hashes)
            keys.append(total & KEY_MASK)
            if len(words) >= 3:
                keys += [(total - h) & KEY_MASK for h in hashes]
        lede = self.lede.split(" ", LEDE_KEY_WORDS)
        if len(lede) > LEDE_KEY_WORDS:
            keys.append(stable_hash("l\0" + " ".join(lede[:LEDE_KEY_WORDS])))
        return keys


KEY_MASK = (1 << 64) - 1


@functools.lru_cache(maxsize=1 << 16)  # title words repeat: most hashes are looked up
def stable_hash(text: str) -> int:
    """A 64-bit hash of the text, the same in every process and every run."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8", "surrogatepass"),
                                          digest_size=8).digest(), "little")


# What an index worker sends for each usable article, so that the matching process
# neither normalises nor hashes nor reads the index back: (id, content_hash, moment, url,
# title, lede, keys, quality, heat, published_at), the keys packed as unsigned 64-bit
# integers, the last three the article's digest-order key.
ClusterRecord = tuple
_RECORD_COLUMNS = ("id", "content_hash", "moment", "url", "title", "lede", "keys", "quality",
                   "heat", "published_at")


def cluster_record(article_id: str, content_hash: str, title: str | None, excerpt: str | None,
                   web_url: str | None, published_at: str | None, quality: object,
                   heat: object, url: str | None | bool = False) -> ClusterRecord:
    """`url`: the canonical URL of `web_url` when the caller has it (False: made here)."""
    item = Item.of(article_id, title, excerpt, web_url, published_at, url)
    keys = array.array("Q", set(item.blocking_keys())).tobytes()
    return (article_id, content_hash, item.moment, item.url, item.title, item.lede, keys,
            quality, heat, published_at)


def _seconds(published_at: str | None) -> float | None:
    if not published_at:
        return None
    try:
        return dt.datetime.fromisoformat(published_at.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def find_links(items: Iterable[Item], focus: set[str] | None,
               settings: ClusterSettings) -> dict[tuple[str, str], str]:
    """Pairs (a < b) of the same story among `items`, given oldest first, with why: URL or
    TEXT. With a `focus`, only pairs with at least one article in it."""
    links: dict[tuple[str, str], str] = {}
    for later, earlier, reason in sweep(((item, item.blocking_keys()) for item in items),
                                        focus, settings):
        links[(later.id, earlier.id) if later.id < earlier.id else (earlier.id, later.id)] = (
            reason)
    return links


def sweep(keyed: Iterable[tuple[Item, Sequence[int]]], focus: set[str] | None,
          settings: ClusterSettings) -> Iterator[tuple[Item, Item, str]]:
    """The links of `find_links` as they are found, (later, earlier, reason), for items
    that come with their blocking keys (computed elsewhere), oldest first.

    One pass in time order: only the articles of the last `window_hours` are kept, each
    under its blocking keys, so memory holds one window, not the folder. A key shared by
    more than CROWDED_KEY articles within a window pairs nothing (it tells nothing apart).
    """
    window = settings.window_hours * 3600
    cutoff = settings.similarity * 100
    live: dict[int, collections.deque[Item]] = {}  # key -> its articles in the window
    expiry: collections.deque[tuple[Item, list[int]]] = collections.deque()
    for item, item_keys in keyed:
        moment = item.moment
        if moment is None:
            continue
        while expiry and expiry[0][0].moment < moment - window:
            _, old_keys = expiry.popleft()
            for key in old_keys:  # the oldest article is first under each of its keys
                queue = live[key]
                queue.popleft()
                if not queue:
                    del live[key]
        keys = list(set(item_keys))
        seen: set[str] = set()
        mine = focus is None or item.id in focus
        for key in keys:
            queue = live.get(key)
            if queue is None:
                live[key] = collections.deque((item,))
                continue
            if len(queue) < CROWDED_KEY:
                for other in queue:
                    if other.id in seen or other.id == item.id:
                        continue
                    seen.add(other.id)
                    if mine or other.id in focus:  # type: ignore[operator]
                        reason = _link(item, other, cutoff)
                        if reason:
                            yield item, other, reason
            queue.append(item)
        expiry.append((item, keys))


def _link(a: Item, b: Item, cutoff: float) -> str | None:
    if a.url is not None and a.url == b.url:
        return URL
    return TEXT if similarity(a, b, cutoff) >= cutoff else None


# --- keeping the clusters in step with the index


_CHANGED = """
SELECT a.id, a.content_hash, a.published_at
FROM articles a LEFT JOIN cluster_items c ON c.article_id = a.id
WHERE a.error IS NULL AND c.content_hash IS NOT a.content_hash
"""
_REMOVED = """
SELECT c.article_id FROM cluster_items c LEFT JOIN articles a ON a.id = c.article_id
WHERE (a.id IS NULL OR a.error IS NOT NULL)
"""
# What Item.of takes, of usable articles; only an excerpt's start is ever compared
_ITEM_SOURCE = (f"SELECT a.id, a.title, substr(a.excerpt, 1, 2 * {LEDE_CHARS}), a.web_url,"
                " a.published_at FROM articles a")
# The state of the index a clustering saw: its articles, broken ones, latest write.
_FINGERPRINT = "SELECT count(*), count(error), max(indexed_at) FROM articles"


def update_clusters(store: Store, settings: ClusterSettings, quiet: bool = False,
                    cold: ColdClusters | None = None,
                    only: Collection[str] | None = None) -> None:
    """Bring the clusters in line with the index; see the module docstring.

    `quiet`: the refresh indexed and removed nothing. Then, if the index is also as the
    last clustering left it (its fingerprint: a file that broke, or a refresh killed
    before it clustered, changes it), nothing is compared at all.
    `cold`: the index was empty before this refresh and every usable article's record
    is in `cold`: the clusters are made from it instead of read back from the index.

    `only`: the articles a refresh of some paths looked at (file events). Only they are
    checked, so the cost follows the change, not the folder (every file event at 100,000
    articles paid 0.4 s for scanning all of them), and the fingerprint is cleared: the
    next full refresh checks everything once more.
    """
    db = store.db
    stored = db.execute("SELECT settings, fingerprint FROM cluster_settings"
                        " WHERE id = 1").fetchone()
    if only is not None and stored is not None and stored[0] == settings.to_json():
        if quiet:
            return
        if settings.enabled:
            _recluster(store, settings, only)
        with store.write() as tx:
            tx.execute("UPDATE cluster_settings SET fingerprint = NULL WHERE id = 1")
        return
    fingerprint = json.dumps(db.execute(_FINGERPRINT).fetchone())
    if stored is None or stored[0] != settings.to_json():
        with store.write() as tx:  # other settings: every link may differ, start over
            for table in ("cluster_items", "cluster_links", "cluster_members"):
                tx.execute(f"DELETE FROM {table}")
            tx.execute("INSERT INTO cluster_settings (id, settings) VALUES (1, ?) ON CONFLICT"
                       " (id) DO UPDATE SET settings = excluded.settings, fingerprint = NULL",
                       [settings.to_json()])
    elif quiet and stored[1] == fingerprint:
        return
    if settings.enabled and cold is not None:
        _cluster_cold(store, cold)
    elif settings.enabled:
        _recluster(store, settings)
    with store.write() as tx:
        tx.execute("UPDATE cluster_settings SET fingerprint = ? WHERE id = 1", [fingerprint])


def _recluster(store: Store, settings: ClusterSettings,
               only: Collection[str] | None = None) -> None:
    db = store.db
    if only is None:
        changed_rows = db.execute(_CHANGED).fetchall()
        removed = [row[0] for row in db.execute(_REMOVED)]
    else:
        changed_rows, removed = [], []
        for chunk in _chunks(only):
            marks = ", ".join("?" * len(chunk))
            changed_rows += db.execute(f"{_CHANGED} AND a.id IN ({marks})", chunk).fetchall()
            removed += [row[0] for row in db.execute(
                f"{_REMOVED} AND c.article_id IN ({marks})", chunk)]
    if not changed_rows and not removed:
        return
    changed = {row[0]: _seconds(row[2]) for row in changed_rows}
    touched = set(changed) | set(removed)
    # what may need another cluster: what was linked to or clustered with a changed or
    # removed article (themselves included), and what is linked now; an article with
    # neither stood alone and still does
    seeds = _neighbours(store, touched) | _cluster_mates(store, touched)
    seeds -= set(removed)
    links = find_links(_region(store, changed, set(removed), settings), set(changed), settings)
    with store.write() as tx:
        conn = tx.conn
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS newsbot_cluster_ids (id TEXT PRIMARY KEY)")
        conn.executemany("INSERT OR IGNORE INTO temp.newsbot_cluster_ids VALUES (?)",
                         [(i,) for i in touched])
        conn.execute("DELETE FROM cluster_links WHERE a IN (SELECT id FROM"
                     " temp.newsbot_cluster_ids) OR b IN (SELECT id FROM temp.newsbot_cluster_ids)")
        conn.execute("DELETE FROM cluster_items WHERE article_id IN (SELECT id FROM"
                     " temp.newsbot_cluster_ids)")
        conn.execute("DELETE FROM temp.newsbot_cluster_ids")
        conn.executemany(
            "INSERT INTO cluster_items (article_id, content_hash, moment) VALUES (?, ?, ?)",
            [(row[0], row[1], changed[row[0]]) for row in changed_rows])
        conn.executemany("INSERT OR REPLACE INTO cluster_links (a, b, reason) VALUES (?, ?, ?)",
                         [(a, b, reason) for (a, b), reason in links.items()])
        seeds.update(node for pair in links for node in pair)
        _rebuild(store, seeds)


class ColdClusters:
    """The clustering of a cold build, fed with the workers' records while it parses.

    A cold build clusters every article, and used to do it after the load: read every
    row back, normalise, hash and match, serially, while the other cores idled, then
    hold every link and clustered article in memory to make the clusters. Here the
    workers normalise and hash (`cluster_record`); the records wait in a scratch SQLite
    file beside the index (no journal, no sync: a crash only leaves it for the next cold
    build to delete, while the index's own transaction rolls back; on disk past a 2 MB
    cache), which the index attaches at the end; the matching runs in a thread
    (`start_matching`) over them in time order while the index builds its indexes and
    full-text search, which run in SQLite without the GIL; and each cluster is ranked
    and set down in that database as soon as no later article can join it (`_Clusters`).
    Memory holds one time window, however big the folder. The result is what
    `_recluster` makes from the index itself (tests/storage/test_cold_clusters.py).
    """

    def __init__(self, settings: ClusterSettings, path: Path) -> None:
        """`path`: the side database's file (see `side_path`); the index attaches it to
        copy the clusters in SQL."""
        self.settings = settings
        self.path = path
        path.unlink(missing_ok=True)
        # only the matching thread uses it once the parse (this thread) is done with it
        self._side = sqlite3.connect(path, check_same_thread=False)
        self._side.executescript(f"""
            PRAGMA journal_mode = OFF;
            PRAGMA synchronous = OFF;
            CREATE TABLE items ({', '.join(_RECORD_COLUMNS)});
            CREATE TABLE links (a, b, reason);
            CREATE TABLE members (article_id, cluster_id, rank, reason);
        """)
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None

    @staticmethod
    def side_path(database: Path) -> Path:
        """The side database's file for a cold build of `database`: beside it, named for
        this process, so two processes building the same index never share one. Files
        that builds killed half way left, named for processes no longer running, go."""
        prefix = f"{database.name}-cold-clusters-"
        for stale in database.parent.glob(glob.escape(prefix) + "*"):
            pid = stale.name[len(prefix):]
            if pid.isdigit() and int(pid) != os.getpid() and not _running(int(pid)):
                stale.unlink(missing_ok=True)
        return database.with_name(f"{prefix}{os.getpid()}")

    def __enter__(self) -> ColdClusters:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._thread is not None:
            self._thread.join()
        self._side.close()
        self.path.unlink(missing_ok=True)

    def add(self, records: Iterable[ClusterRecord]) -> None:
        marks = ", ".join("?" * len(_RECORD_COLUMNS))
        self._side.executemany(f"INSERT INTO items VALUES ({marks})", records)

    def start_matching(self) -> None:
        """Match in a thread of its own; `wait` waits for it."""
        self._thread = threading.Thread(target=self._match, name="cold-clusters", daemon=True)
        self._thread.start()

    def _match(self) -> None:
        try:
            self._cluster()
        except BaseException as error:  # handed to the thread that waits (`wait`)
            self._failure = error

    def _cluster(self) -> None:
        window = self.settings.window_hours * 3600
        rows = self._side.execute(
            "SELECT id, moment, url, title, lede, keys, quality, heat, published_at FROM items"
            " WHERE moment IS NOT NULL ORDER BY moment, id")
        order: dict[str, OrderKey] = {}  # the articles of the window: who may be linked
        recent: collections.deque[tuple[float, str]] = collections.deque()

        def keyed() -> Iterator[tuple[Item, array.array]]:
            for article_id, moment, url, title, lede, keys, *order_key in rows:
                while recent and recent[0][0] < moment - window:
                    order.pop(recent.popleft()[1], None)
                order[article_id] = tuple(order_key)
                recent.append((moment, article_id))
                yield Item(article_id, moment, url, title, lede), array.array("Q", keys)

        clusters = _Clusters(self._side)
        links: list[tuple[str, str, str]] = []
        for later, earlier, reason in sweep(keyed(), None, self.settings):
            a, b = sorted((later.id, earlier.id))
            links.append((a, b, reason))
            clusters.link(later, earlier, reason, order)
            if len(links) >= SQL_CHUNK:
                self._side.executemany("INSERT INTO links VALUES (?, ?, ?)", links)
                links.clear()
                clusters.settle(later.moment - window)
        self._side.executemany("INSERT INTO links VALUES (?, ?, ?)", links)
        clusters.settle(float("inf"))
        self._side.commit()  # for the index's connection, which attaches the file

    def wait(self) -> None:
        """Until the matching is done (in this thread, if it never started); its error."""
        if self._thread is None:
            self._match()
        else:
            self._thread.join()
        if self._failure is not None:
            raise self._failure


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # someone else's process: running
        return True
    return True


class _Cluster:
    __slots__ = ("members", "kinds", "newest")

    def __init__(self) -> None:
        self.members: dict[str, OrderKey] = {}
        self.kinds: set[str] = set()
        self.newest = float("-inf")


class _Clusters:
    """Connected groups of links as a sweep finds them (union by size). A group whose
    newest member is older than the window before the sweep's current article can grow
    no more: `settle` ranks it (digest_order, as `_rebuild` does) into `members`."""

    def __init__(self, side: sqlite3.Connection) -> None:
        self.side = side
        self.of: dict[str, _Cluster] = {}
        self.by_newest: list[tuple[float, int, _Cluster]] = []  # a heap; stale entries too
        self.pushed = 0

    def link(self, later: Item, earlier: Item, reason: str,
             order: dict[str, OrderKey]) -> None:
        ours, theirs = self.of.get(later.id), self.of.get(earlier.id)
        if ours is None and theirs is None:
            ours = _Cluster()
        elif ours is None or (theirs is not None and len(theirs.members) > len(ours.members)):
            ours, theirs = theirs, ours
        assert ours is not None
        if theirs is not None and theirs is not ours:
            ours.members.update(theirs.members)
            ours.kinds |= theirs.kinds
            ours.newest = max(ours.newest, theirs.newest)
            for member in theirs.members:
                self.of[member] = ours
        for item in (later, earlier):
            if item.id not in ours.members:
                ours.members[item.id] = order[item.id]
                self.of[item.id] = ours
        ours.kinds.add(reason)
        ours.newest = max(ours.newest, later.moment or 0, earlier.moment or 0)
        self.pushed += 1
        heapq.heappush(self.by_newest, (ours.newest, self.pushed, ours))

    def settle(self, before: float) -> None:
        rows = []
        while self.by_newest and self.by_newest[0][0] < before:
            newest, _, cluster = heapq.heappop(self.by_newest)
            first = next(iter(cluster.members))
            if cluster.newest != newest or self.of.get(first) is not cluster:
                continue  # merged into another since, or grown: a later entry stands for it
            ranked = digest_order(cluster.members, cluster.members)
            reason = URL if cluster.kinds == {URL} else TEXT
            rows += [(article_id, ranked[0], rank, reason)
                     for rank, article_id in enumerate(ranked)]
            for member in cluster.members:
                del self.of[member]
        self.side.executemany("INSERT INTO members VALUES (?, ?, ?, ?)", rows)


def _cluster_cold(store: Store, cold: ColdClusters) -> None:
    """Every cluster made anew from the records of a cold build: whatever the cluster
    tables held named articles the empty index no longer had. The side database is
    attached and copied in SQL (row by row through Python, a third of a second at 50,000
    articles, on the build's serial tail)."""
    cold.wait()
    conn = store.db.conn
    conn.execute("ATTACH DATABASE ? AS newsbot_cold", [str(cold.path)])
    try:
        with store.write() as tx:
            for table in ("cluster_items", "cluster_links", "cluster_members"):
                tx.execute(f"DELETE FROM {table}")
            tx.execute("INSERT INTO cluster_items (article_id, content_hash, moment)"
                       " SELECT id, content_hash, moment FROM newsbot_cold.items")
            tx.execute("INSERT INTO cluster_links (a, b, reason)"
                       " SELECT a, b, reason FROM newsbot_cold.links")
            tx.execute("INSERT INTO cluster_members (article_id, cluster_id, rank, reason)"
                       " SELECT article_id, cluster_id, rank, reason FROM newsbot_cold.members")
    finally:
        conn.execute("DETACH DATABASE newsbot_cold")


def _chunks(values: Iterable[str]) -> Iterator[list[str]]:
    values = list(values)
    for start in range(0, len(values), SQL_CHUNK):
        yield values[start : start + SQL_CHUNK]


def _neighbours(store: Store, ids: set[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(ids):
        marks = ", ".join("?" * len(chunk))
        for a, b in store.db.execute(
            f"SELECT a, b FROM cluster_links WHERE a IN ({marks}) UNION ALL"
            f" SELECT a, b FROM cluster_links WHERE b IN ({marks})", chunk + chunk
        ):
            found.update((a, b))
    return found


def _cluster_mates(store: Store, ids: set[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(ids):
        marks = ", ".join("?" * len(chunk))
        found.update(row[0] for row in store.db.execute(
            "SELECT m.article_id FROM cluster_members m WHERE m.cluster_id IN (SELECT"
            f" cluster_id FROM cluster_members WHERE article_id IN ({marks}))", chunk))
    return found


def _region(store: Store, changed: dict[str, float | None], removed: set[str],
            settings: ClusterSettings) -> Iterator[Item]:
    """The changed articles and those they may link to (the articles of their time
    windows), oldest first. With many changes, every dated usable article, streamed."""
    moments = sorted(moment for moment in changed.values() if moment is not None)
    if not moments:
        return iter(())
    if len(moments) >= BULK:  # publishedDateTime as stored sorts as time does
        rows = store.db.execute(f"{_ITEM_SOURCE} WHERE a.error IS NULL AND a.published_at"
                                " IS NOT NULL ORDER BY a.published_at, a.id")  # as ColdClusters
        return (Item.of(*row) for row in rows)
    window = settings.window_hours * 3600
    spans: list[list[float]] = []  # overlapping windows merged
    for moment in moments:
        if spans and moment - window <= spans[-1][1]:
            spans[-1][1] = moment + window
        else:
            spans.append([moment - window, moment + window])
    found: dict[str, Item] = {}
    for low, high in spans:
        for row in store.db.execute(
            f"{_ITEM_SOURCE} JOIN cluster_items c ON c.article_id = a.id"
            " WHERE c.moment BETWEEN ? AND ? AND a.error IS NULL", [low, high]
        ):
            if row[0] not in removed:
                found[row[0]] = Item.of(*row)
    for chunk in _chunks(changed):
        marks = ", ".join("?" * len(chunk))
        for row in store.db.execute(f"{_ITEM_SOURCE} WHERE a.id IN ({marks})", chunk):
            found[row[0]] = Item.of(*row)
    return iter(sorted((item for item in found.values() if item.moment is not None),
                       key=lambda item: (item.moment, item.id)))


def _rebuild(store: Store, seeds: set[str]) -> None:
    """Recompute the clusters of these articles from the stored links (inside a write)."""
    db = store.db
    adjacency: dict[str, dict[str, str]] = {}  # article -> linked article -> reason
    known, frontier = set(seeds), set(seeds)
    while frontier:  # load the links around the seeds, layer by layer
        reached: set[str] = set()
        for chunk in _chunks(frontier):
            marks = ", ".join("?" * len(chunk))
            for a, b, reason in db.execute(
                f"SELECT a, b, reason FROM cluster_links WHERE a IN ({marks}) UNION"
                f" SELECT a, b, reason FROM cluster_links WHERE b IN ({marks})", chunk + chunk
            ):
                adjacency.setdefault(a, {})[b] = reason
                adjacency.setdefault(b, {})[a] = reason
                reached.update((a, b))
        frontier = reached - known
        known |= frontier
    components: list[tuple[set[str], str]] = []
    placed: set[str] = set()
    for start in sorted(known):
        if start in placed or start not in adjacency:
            continue
        component, stack, kinds = {start}, [start], set()
        while stack:
            for other, reason in adjacency[stack.pop()].items():
                kinds.add(reason)
                if other not in component:
                    component.add(other)
                    stack.append(other)
        placed |= component
        components.append((component, URL if kinds == {URL} else TEXT))
    known_list = sorted(known)
    old: set[str] = set()
    for chunk in _chunks(known_list):
        marks = ", ".join("?" * len(chunk))
        old.update(row[0] for row in db.execute(
            f"SELECT DISTINCT cluster_id FROM cluster_members WHERE article_id IN ({marks})",
            chunk))
    for chunk in _chunks(sorted(old)):
        marks = ", ".join("?" * len(chunk))
        db.execute(f"DELETE FROM cluster_members WHERE cluster_id IN ({marks})", chunk)
    for chunk in _chunks(known_list):
        marks = ", ".join("?" * len(chunk))
        db.execute(f"DELETE FROM cluster_members WHERE article_id IN ({marks})", chunk)
    order = _order_keys(store, placed)
    rows = []
    for component, reason in components:
        ranked = digest_order(component, order)
        rows += [(article_id, ranked[0], rank, reason) for rank, article_id in enumerate(ranked)]
    db.conn.executemany("INSERT INTO cluster_members (article_id, cluster_id, rank, reason)"
                        " VALUES (?, ?, ?, ?)", rows)


OrderKey = tuple  # (quality, heat, published_at) as stored


def _order_keys(store: Store, ids: set[str]) -> dict[str, OrderKey]:
    keys: dict[str, OrderKey] = {}
    for chunk in _chunks(sorted(ids)):
        marks = ", ".join("?" * len(chunk))
        for article_id, *key in store.db.execute(
            f"SELECT id, quality, heat, published_at FROM articles WHERE id IN ({marks})", chunk
        ):
            keys[article_id] = tuple(key)
    return keys


def digest_order(ids: Iterable[str], keys: dict[str, OrderKey]) -> list[str]:
    """Digest order (quality, heat, newest: highest first, missing last; then id), as
    `ORDER BY quality DESC, heat DESC, published_at DESC, id` sorts them in SQLite.
    Stable sorts, least significant key first."""
    ranked = sorted(ids)
    for position in (2, 1, 0):
        ranked.sort(key=lambda i, p=position: (keys[i][p] is not None, keys[i][p] or 0)
                    if p < 2 else keys[i][p] or "", reverse=True)
    return ranked
