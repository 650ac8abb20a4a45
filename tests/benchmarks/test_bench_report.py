"""The report benchmark builds its database through the index's own writer: a column
added to the index must not leave the benchmark broken unnoticed (it was, for a while)."""

from __future__ import annotations

from pathlib import Path

import bench_report
from newsbot.bot.newsroom.report import build_report
from newsbot.storage.db import Store


def test_the_benchmark_database_builds_and_reports(tmp_path: Path):
    counts = bench_report.build(tmp_path / "report.db", articles=600, decisions=300)
    assert counts["articles"] == 600
    assert counts["decision_log"] == 300
    assert 0 < counts["votes"] <= 300
    assert counts["article_topics"] >= 600  # one to three topics each
    store = Store(tmp_path / "report.db")
    report = build_report(store, 60)
    assert 0 < report.decided <= 300
    assert len(report.editors) == len(bench_report.EDITORS)
    assert store.db.execute("SELECT count(*) FROM articles WHERE canonical_url IS NULL"
                            ).fetchone()[0] == 0
