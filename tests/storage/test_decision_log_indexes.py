"""decision_log's indexes: every event Slack sends writes a row into each of them, so it
keeps the ones its readers need and no more, and each look-up by article still searches
an index rather than scanning the log (storage/schema.py, v20)."""

from __future__ import annotations

import sqlite_utils
from newsbot.bot.newsroom.decisions import decide, standing_decision
from newsbot.storage import schema
from newsbot.storage.db import Store, migrate

# decision_log's readers that pick rows by article (bot/newsroom/decisions.py, the
# sync's last withdrawal in bot/services/sync_plan.py, the report's recent articles)
BY_ARTICLE = [
    "SELECT max(event_us) FROM decision_log WHERE article_id = ? AND received_at <= ?"
    " AND source != ?",
    "SELECT id, action, only_if, toggle, event_us FROM decision_log"
    " WHERE article_id = ? AND user_id = ? ORDER BY event_us, id",
    "SELECT user_id FROM decision_log WHERE article_id = ? AND outcome = 'retracted'"
    " ORDER BY id DESC LIMIT 1",
]


def indexes(db: sqlite_utils.Database) -> set[str]:
    return {row[0] for row in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'decision_log'")}


def test_the_log_has_one_index_leading_with_the_article(store: Store):
    assert indexes(store.db) == {"sqlite_autoindex_decision_log_1", "decision_log_replay"}


def test_each_look_up_by_article_searches_an_index(store: Store):
    for sql in BY_ARTICLE:
        plan = [row[3] for row in store.db.execute(f"EXPLAIN QUERY PLAN {sql}",
                                                   [None] * sql.count("?"))]
        assert any(step.startswith("SEARCH decision_log USING INDEX") for step in plan), (
            sql, plan)
        assert not any(step.startswith("SCAN decision_log") for step in plan), (sql, plan)


def test_a_database_from_before_keeps_its_log_and_decides_on(tmp_path):
    db = sqlite_utils.Database(tmp_path / "old.db")
    migrate(db, schema.MIGRATIONS[: schema.MIGRATIONS.index(
        schema.decision_log_one_article_index)])
    assert "decision_log_article" in indexes(db)
    db.execute("INSERT INTO articles (id, size, mtime_ns, content_hash, indexed_at)"
               " VALUES ('a.md', 1, 1, 'h', 'now')")
    db.conn.commit()
    db.close()
    store = Store(tmp_path / "old.db")  # migrates
    decide(store, "a.md", "publish", "U1", source="cli", event_us=1)
    decide(store, "a.md", "skip", "U2", source="cli", event_us=2)
    decide(store, "a.md", "undo", "U2", source="cli", event_us=3)
    assert "decision_log_article" not in indexes(store.db)
    assert standing_decision(store, "a.md").decision == "publish"
    assert len(store.query("SELECT * FROM decision_log")) == 3
