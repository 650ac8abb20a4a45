"""/healthz's verdict (bot.health): the database must be writable, the index fresh, the
spool (when wired) drained; the reason is a short phrase without internal error text."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import EXAMPLES, Newsroom
from newsbot.bot.config.settings import Config
from newsbot.bot.newsroom.decisions import now_text, now_us
from newsbot.bot.services.health import Health
from newsbot.bot.services.intake import DecisionEvent, apply_spool
from newsbot.bot.services.refresh import IndexRefresher
from newsbot.storage.db import Store
from newsbot.storage.spool import Spool


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def served(tmp_path: Path) -> tuple[Store, IndexRefresher, Clock]:
    articles = tmp_path / "articles"
    shutil.copytree(EXAMPLES, articles)
    folder = tmp_path / "data"
    config = Config(articles=articles, db=folder / "newsbot.db", refresh_seconds=60)
    store = Store(config.db)
    clock = Clock()
    refresher = IndexRefresher(store, config, clock=clock)
    refresher()
    return store, refresher, clock


def health_of(store: Store, refresher: IndexRefresher, **hooks) -> Health:
    return Health(store, refresh_seconds=60, index_age_seconds=refresher.seconds_since_success,
                  **hooks)


def test_healthy_reports_the_articles(served):
    store, refresher, _ = served
    assert health_of(store, refresher)() == (True, {"ok": True, "articles": 39})


@pytest.mark.parametrize("what", ["file", "folder"])
def test_a_read_only_database_file_or_folder_is_unhealthy(served, what: str):
    store, refresher, _ = served
    target = store.path if what == "file" else store.path.parent
    mode = target.stat().st_mode
    target.chmod(0o444 if what == "file" else 0o555)
    try:
        assert health_of(store, refresher)() == (
            False, {"ok": False, "reason": "database is read-only"})
    finally:
        target.chmod(mode)
    assert health_of(store, refresher)()[0] is True


def test_a_deleted_database_is_unhealthy_and_not_recreated(served):
    store, refresher, _ = served
    health = health_of(store, refresher)
    store.path.unlink()
    assert health() == (False, {"ok": False, "reason": "database file missing"})
    assert not store.path.exists()  # the probe never creates an empty file


def test_a_replaced_database_is_unhealthy(served, tmp_path: Path):
    store, refresher, _ = served
    health = health_of(store, refresher)
    other = tmp_path / "other.db"
    Store(other).close()
    os.replace(other, store.path)
    assert health() == (False, {"ok": False, "reason": "database file replaced"})


def test_a_database_locked_by_another_process_is_unhealthy_while_it_lasts(served):
    store, refresher, _ = served
    health = health_of(store, refresher)
    holder = sqlite3.connect(store.path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        assert health() == (False, {"ok": False, "reason": "database cannot be written"})
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert health()[0] is True


def test_an_index_not_refreshed_for_three_periods_is_unhealthy(served):
    store, refresher, clock = served
    health = health_of(store, refresher)
    clock.now += 3 * 60
    assert health()[0] is True
    clock.now += 1
    assert health() == (False, {"ok": False,
                                "reason": "index not refreshed for three refresh periods"})
    shutil.rmtree(refresher.config.articles)  # refreshing fails: still stale
    refresher()
    assert health()[0] is False
    shutil.copytree(EXAMPLES, refresher.config.articles)
    refresher()
    assert health()[0] is True


def test_a_spool_holding_events_older_than_a_minute_is_unhealthy(served):
    store, refresher, _ = served
    age: list[float | None] = [None]
    health = health_of(store, refresher, spool_age_seconds=lambda: age[0])
    assert health()[0] is True
    age[0] = 60.0
    assert health()[0] is True
    age[0] = 61.0
    assert health() == (False, {"ok": False, "reason": "spool holds events older than a minute"})


def test_a_real_spool_with_an_old_event_is_unhealthy_until_applied(served):
    """The spool beside the database, wired as `serve` wires it: an event spooled two
    minutes ago makes /healthz unhealthy, and applying it makes it healthy again."""
    store, refresher, _ = served
    spool = Spool.beside(store.path)
    health = health_of(store, refresher, spool_age_seconds=spool.oldest_age_seconds)
    article = store.db.execute("SELECT id FROM articles WHERE error IS NULL").fetchone()[0]
    event = DecisionEvent(key="Ev-old", action="publish", user_id="U0ED", source="reaction",
                          event_us=now_us(), received_at=now_text(), article_id=article)
    assert spool.append({**event.to_json(), "spooled_at": time.time() - 120})
    assert health() == (False, {"ok": False, "reason": "spool holds events older than a minute"})
    assert apply_spool(store, spool) == 1 and spool.depth() == 0
    assert health()[0] is True
    assert store.db.execute("SELECT decision FROM votes WHERE article_id = ?",
                            [article]).fetchone()[0] == "publish"


def test_healthz_over_http_answers_503_with_only_the_reason(newsroom: Newsroom):
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"{newsroom.server.url}/healthz") as response:
        assert response.status == 200
    newsroom.store.path.unlink()
    with pytest.raises(urllib.error.HTTPError) as refused:
        opener.open(f"{newsroom.server.url}/healthz")
    assert refused.value.code == 503
    assert json.loads(refused.value.read()) == {"ok": False, "reason": "database file missing"}


def test_a_full_disk_under_the_database_is_unhealthy(tmp_path: Path):
    from conftest import fill, small_filesystem

    with small_filesystem(tmp_path / "disk", "8m") as disk:
        articles = tmp_path / "articles"
        shutil.copytree(EXAMPLES, articles)
        config = Config(articles=articles, db=disk / "newsbot.db", refresh_seconds=60)
        store = Store(config.db)
        refresher = IndexRefresher(store, config)
        refresher()
        health = health_of(store, refresher)
        assert health()[0] is True
        filler = fill(disk)
        assert health() == (False, {"ok": False, "reason": "disk full"})
        filler.unlink()
        assert health()[0] is True


def test_a_corrupt_table_page_the_probe_never_reads_is_unhealthy(served):
    """The probe takes the write lock and counts articles; a corrupt `votes` page is only
    met by the bot's own writes, and /healthz reports what they met."""
    store, refresher, _ = served
    health = health_of(store, refresher)
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page_size = store.db.execute("PRAGMA page_size").fetchone()[0]
    root = store.db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'votes'"
                            ).fetchone()[0]
    store.close()
    with open(store.path, "r+b") as file:
        file.seek((root - 1) * page_size)
        file.write(b"\xff" * page_size)
    assert health()[0] is True  # what the probe alone sees
    article_id = store.query("SELECT id FROM articles LIMIT 1")[0]["id"]
    from newsbot.bot.newsroom.decisions import decide

    with pytest.raises(sqlite3.DatabaseError):
        decide(store, article_id, "publish", "U1", source="cli")
    assert health() == (False, {"ok": False, "reason": "database corrupt or failing"})
