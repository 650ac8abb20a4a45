"""A cold build clusters from its workers' records (normalised and hashed in the worker
processes, matched while the indexes are built), and must find exactly the clusters the
incremental path finds from the index itself: same items, links and members."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import corpus
import pytest
from conftest import Raw, write_article
from newsbot.storage import index as index_module
from newsbot.storage import story_clusters
from newsbot.storage.db import Store
from newsbot.storage.index import refresh
from newsbot.storage.story_clusters import CROWDED_KEY, ClusterSettings

CLUSTER_TABLES = {
    "cluster_items": "SELECT article_id, content_hash, moment FROM cluster_items"
                     " ORDER BY article_id",
    "cluster_links": "SELECT a, b, reason FROM cluster_links ORDER BY a, b",
    "cluster_members": "SELECT article_id, cluster_id, rank, reason FROM cluster_members"
                       " ORDER BY article_id",
    "article_topics": "SELECT * FROM article_topics ORDER BY article_id, topic_key",
    "topic_counts": "SELECT * FROM topic_counts ORDER BY topic_key, topic",
}
SAME_TITLE = "Harbour cranes stall as port strike enters its second week"


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """The benchmark corpus (planted copies by URL and by text, awkward and broken files),
    plus what stresses the matching's order: a title shared by more articles than
    CROWDED_KEY within one window, several at the very same second, undated copies,
    and topics that only Unicode case-folding makes one."""
    folder = tmp_path_factory.mktemp("articles")
    corpus.generate(folder, 1_200, seed=7)
    for n in range(CROWDED_KEY + 6):
        write_article(folder, f"crowd/{n:03}.md", title=f"{SAME_TITLE} | Outlet {n % 9}",
                      excerpt=f"Dockworkers in port {n} walked out on Monday over pay.",
                      webUrl=f"https://outlet{n}.example/strike",
                      publishedDateTime=Raw(f"2024-03-0{1 + n % 3}T10:00:00Z"),
                      quality=n % 50, topics=["Labor", "Énergie", "ÉNERGIE", "Straße"])
    for n in range(3):
        write_article(folder, f"undated/{n}.md", title=SAME_TITLE,
                      publishedDateTime=Raw("null"), webUrl="https://same.example/strike")
    for n, day in enumerate((1, 3, 5, 7)):  # a chain: each within the window of the next only
        write_article(folder, f"chain/{n}.md", title="Tidal barrage wins final approval",
                      webUrl=f"https://chain{n}.example/barrage", quality=10 * n,
                      publishedDateTime=Raw(f"2019-05-0{day}T08:00:00Z"))
    return folder


def build(path: Path, folder: Path, monkeypatch: pytest.MonkeyPatch, cold: bool) -> Store:
    """A cold build with two worker processes, or a row-by-row build that clusters from
    the index as every later refresh does."""
    monkeypatch.setattr(index_module, "PARALLEL_THRESHOLD", 1 if cold else 10**9)
    monkeypatch.setattr(story_clusters, "SQL_CHUNK", 1)  # settle clusters after every link
    store = Store(path)
    refresh(store, folder, workers=2, clusters=ClusterSettings())
    return store


def dump(store: Store) -> dict[str, list]:
    return {name: store.db.execute(sql).fetchall() for name, sql in CLUSTER_TABLES.items()}


def alone_in_the_process(seconds: float = 10.0) -> None:
    """Wait for threads an earlier test left finishing (a server's last connection, a
    pool winding down): `newsbot index` forks its workers only when no other thread runs,
    and the suite's own threads must not turn this case into the fork-server one."""
    deadline = time.monotonic() + seconds
    while threading.active_count() > 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    others = [t.name for t in threading.enumerate() if t is not threading.current_thread()]
    assert not others, f"threads still running after {seconds} s: {others}"


@pytest.mark.parametrize("threaded", [False, True], ids=["forked", "fork-server"])
def test_a_cold_build_clusters_as_the_index_path_does(tmp_path, folder, monkeypatch, threaded):
    """Workers forked by a process with no other thread (`newsbot index`), or started by
    the fork server when another thread runs (`serve`): the same database either way."""
    running = threading.Event()
    if threaded:
        threading.Thread(target=running.wait, daemon=True).start()
    else:
        alone_in_the_process()
    used: list[str] = []
    context = index_module._worker_context
    monkeypatch.setattr(index_module, "_worker_context",
                        lambda: used.append(context().get_start_method()) or context())
    # the matching's file, beside the index: named for its process; one that a killed
    # build left goes, one of a build still running stays
    dead = tmp_path / f"cold.db-cold-clusters-{10**7}"  # above Linux's largest pid
    dead.write_bytes(b"left by a build killed half way")
    alive = tmp_path / f"cold.db-cold-clusters-{os.getppid()}"
    alive.write_bytes(b"another process's build")
    side = tmp_path / f"cold.db-cold-clusters-{os.getpid()}"
    side.write_bytes(b"this process's, from a build it abandoned")
    try:
        from_records = dump(build(tmp_path / "cold.db", folder, monkeypatch, cold=True))
    finally:
        running.set()
    assert used == ["forkserver" if threaded else "fork"]
    assert not side.exists() and not dead.exists() and alive.exists()
    from_index = dump(build(tmp_path / "rows.db", folder, monkeypatch, cold=False))
    assert from_records == from_index
    links = from_records["cluster_links"]
    assert len(links) > 100 and {reason for *_, reason in links} == {"url", "text"}
    crowd = {row[0] for row in from_records["cluster_members"] if row[0].startswith("crowd/")}
    assert 0 < len(crowd) < CROWDED_KEY + 6  # linked, yet not every pair: a crowded key
    chain = [row for row in from_records["cluster_members"] if row[0].startswith("chain/")]
    assert {row[1] for row in chain} == {"chain/3.md"} and len(chain) == 4  # 6 days, 1 story
    topics = {row[1:3] for row in from_records["article_topics"]
              if row[0] == "crowd/000.md"}
    assert topics == {("Labor", "labor"), ("Énergie", "énergie"), ("Straße", "strasse")}


def test_a_cold_build_whose_matching_failed_is_clustered_by_the_next_refresh(
        tmp_path, folder, monkeypatch):
    def broken_matching(*args, **kwargs):
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patched:
        patched.setattr(story_clusters, "sweep", broken_matching)
        with pytest.raises(OSError, match="No space left"):
            build(tmp_path / "cold.db", folder, monkeypatch, cold=True)
    store = Store(tmp_path / "cold.db")
    assert store.db.execute("SELECT count(*) FROM cluster_members").fetchone()[0] == 0
    again = refresh(store, folder, workers=1, clusters=ClusterSettings())
    assert again.indexed == 0  # the articles were loaded; only the clusters were missing
    assert dump(store) == dump(build(tmp_path / "rows.db", folder, monkeypatch, cold=False))
