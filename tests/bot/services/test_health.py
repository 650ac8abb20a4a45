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
from newsbot.bot.services.intake import DecisionEvent
from newsbot.bot.services.refresh import IndexRefresher
from newsbot.bot.services.spool_apply import apply_spool
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


def unhealthy(reason: str) -> tuple[bool, dict]:
    """What /healthz answers when `reason` is the one that holds."""
    return False, {"ok": False, "reason": reason, "reasons": [reason]}


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
        assert health_of(store, refresher)() == unhealthy("database is read-only")
    finally:
        target.chmod(mode)
    assert health_of(store, refresher)()[0] is True


def test_a_deleted_database_is_unhealthy_and_not_recreated(served):
    store, refresher, _ = served
    health = health_of(store, refresher)
    store.path.unlink()
    assert health() == unhealthy("database file missing")
    assert not store.path.exists()  # the probe never creates an empty file


def test_a_replaced_database_is_unhealthy(served, tmp_path: Path):
    store, refresher, _ = served
    health = health_of(store, refresher)
    other = tmp_path / "other.db"
    Store(other).close()
    os.replace(other, store.path)
    assert health() == unhealthy("database file replaced")


def test_a_database_locked_by_another_process_is_unhealthy_while_it_lasts(served):
    store, refresher, _ = served
    health = health_of(store, refresher)
    holder = sqlite3.connect(store.path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        assert health() == unhealthy("database cannot be written")
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
    assert health() == unhealthy("index not refreshed for three refresh periods")
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
    assert health() == unhealthy("spool holds events older than a minute")


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
    assert health() == unhealthy("spool holds events older than a minute")
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
    assert json.loads(refused.value.read()) == unhealthy("database file missing")[1]


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
        assert health() == unhealthy("disk full")
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
    assert health() == unhealthy("database corrupt or failing")


# --- health that sees (issue 21, item 3): a real write, a scheduled quick_check, a floor


def heartbeat(store: Store) -> str | None:
    row = store.db.execute("SELECT beat_at FROM health_heartbeat").fetchone()
    return row[0] if row else None


def test_the_probe_writes_a_heartbeat_at_most_every_few_seconds(served):
    store, refresher, clock = served
    health = health_of(store, refresher, clock=clock)
    assert heartbeat(store) is None
    assert health()[0] is True
    first = heartbeat(store)
    assert first is not None
    clock.now += 4.9
    assert health()[0] is True and heartbeat(store) == first  # throttled: the lock only
    clock.now += 0.1
    time.sleep(0.002)  # beat_at has milliseconds
    assert health()[0] is True and heartbeat(store) > first


def test_a_write_the_disk_refuses_is_unhealthy_even_below_the_free_space_floor(tmp_path: Path):
    """With the floor at 0 only a real write can see the full disk: taking the write lock
    and rolling back (what the probe did) answered 200."""
    from conftest import fill, small_filesystem

    with small_filesystem(tmp_path / "disk", "8m") as disk:
        store = Store(disk / "newsbot.db")
        clock = Clock()
        health = Health(store, min_free_bytes=0, clock=clock)
        assert health()[0] is True
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the next write needs new pages
        filler = fill(disk)
        clock.now += 5  # the heartbeat is due
        try:
            assert health() == (False, {"ok": False, "reason": "disk full",
                                        "reasons": ["disk full"]})
        finally:
            filler.unlink()
        assert health()[0] is True


def corrupt_votes_page(store: Store) -> tuple[int, bytes]:
    """Overwrite the (empty) votes table's root page in the file: nothing the bot does
    without a vote reads it. Returns (offset, the original bytes) to repair it."""
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page_size = store.db.execute("PRAGMA page_size").fetchone()[0]
    root = store.db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'votes'"
                            ).fetchone()[0]
    offset = (root - 1) * page_size
    with open(store.path, "r+b") as file:
        file.seek(offset)
        original = file.read(page_size)
        file.seek(offset)
        file.write(b"\xff" * page_size)
    return offset, original


def repair(store: Store, damage: tuple[int, bytes]) -> None:
    with open(store.path, "r+b") as file:
        file.seek(damage[0])
        file.write(damage[1])


def failing_metric(reason: str) -> float | None:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value("newsbot_health_failing", {"reason": reason})


def test_quick_check_finds_a_corrupt_page_and_healthz_fails_until_it_is_repaired(served):
    store, refresher, _ = served
    health = health_of(store, refresher)
    damage = corrupt_votes_page(store)
    assert health()[0] is True  # nothing the probe or the index touch reads that page
    assert health.check_integrity() is False
    corrupt = "database corrupt (quick_check)"
    assert health() == (False, {"ok": False, "reason": corrupt, "reasons": [corrupt]})
    assert failing_metric(corrupt) == 1.0
    repair(store, damage)
    assert health()[0] is False  # until the next check says otherwise
    assert health.check_integrity() is True
    assert health()[0] is True and failing_metric(corrupt) == 0.0


def test_every_reason_that_holds_is_in_the_body_and_the_metric(served):
    store, refresher, clock = served
    health = health_of(store, refresher, spool_age_seconds=lambda: 120.0,
                       min_free_bytes=1 << 62)  # more than any disk has
    clock.now += 4 * 60  # the index is stale too
    reasons = ["disk full", "index not refreshed for three refresh periods",
               "spool holds events older than a minute"]
    assert health() == (False, {"ok": False, "reason": reasons[0], "reasons": reasons})
    assert [failing_metric(r) for r in reasons] == [1.0, 1.0, 1.0]
    assert failing_metric("database cannot be written") == 0.0


def test_the_floor_holds_for_the_disk_of_the_database_and_of_the_spool(tmp_path: Path):
    from conftest import small_filesystem

    with (small_filesystem(tmp_path / "db-disk", "8m") as db_disk,
          small_filesystem(tmp_path / "spool-disk", "8m") as spool_disk):
        store = Store(db_disk / "newsbot.db")
        health = Health(store, spool_path=spool_disk / "newsbot.db.spool",
                        min_free_bytes=4 << 20)
        assert health()[0] is True
        for disk, reason in ((db_disk, "disk full"), (spool_disk, "spool disk full")):
            big = disk / "big"
            big.write_bytes(b"x" * (5 << 20))
            assert health() == (False, {"ok": False, "reason": reason, "reasons": [reason]})
            big.unlink()
            assert health()[0] is True
        beside = Health(store, spool_path=Spool.path_beside(store.path), min_free_bytes=4 << 20)
        (db_disk / "big").write_bytes(b"x" * (5 << 20))
        assert beside()[1]["reasons"] == ["disk full"]  # one disk: said once


def test_serve_runs_quick_check_on_a_schedule_and_healthz_says_so(tmp_path: Path):
    """The runtime `newsbot serve` runs, over HTTP: the interval job finds the corrupt
    page, /healthz answers 503 with the reason and /metrics shows it; repaired, 200."""
    from conftest import start_newsroom

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def healthz() -> tuple[int, dict]:
        try:
            with opener.open(f"{newsroom.server.url}/healthz") as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def metric_text() -> str:
        with opener.open(f"{newsroom.server.url}/metrics") as response:
            return response.read().decode()

    with start_newsroom(tmp_path, health_quick_check_seconds=0.2) as newsroom:
        assert healthz()[0] == 200
        damage = corrupt_votes_page(newsroom.store)
        newsroom.slack.wait_until(lambda: healthz()[0] == 503, timeout=10)
        assert healthz()[1]["reasons"] == ["database corrupt (quick_check)"]
        assert 'newsbot_health_failing{reason="database corrupt (quick_check)"} 1.0' \
            in metric_text()
        repair(newsroom.store, damage)
        newsroom.slack.wait_until(lambda: healthz()[0] == 200, timeout=10)
        assert 'newsbot_health_failing{reason="database corrupt (quick_check)"} 0.0' \
            in metric_text()
