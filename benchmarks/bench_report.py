"""Benchmark: the editorial report at 100,000 articles and 50,000 decisions.

    python benchmarks/bench_report.py [--articles 100000] [--decisions 50000]

Builds a database (in a temporary folder) through the index's own writer (storage/index.py
._write, the code `newsbot index` stores parse results with) from generated article rows:
publishedDateTime spread over the last 365 days, 1 to 3 of 50 topics, 1% published and
1% skipped in their files. Then 50,000 decision events by 12 editors over the last 60
days, with the outcomes `decide` gives (about one in ten withdraws a vote, one in eight
adds a second editor's vote), and 1,000 posted digests of 30 articles each before their
decisions. The report reads only the database, so no article files are needed.

Measured in one run, each the best of 5 (other processes on a shared machine only add):
- baseline: reading the rows the report cannot avoid, once, in Python (every
  decision_log row and every article's id and publishedDateTime);
- `newsbot report --json --no-refresh` in-process (`bot.cli.main`, output captured), for
  7 days and for 60 days (every decision in the period); goal < 1 s;
- the chart: `chart_png(report)` with matplotlib already imported, and matplotlib's import
  in a fresh process; goal < 2 s for the two together;
- `newsbot gaps --json --no-refresh` in-process, every topic watched.
Like every command that reads articles, `newsbot report` refreshes the index first unless
`--no-refresh`; that walk is measured by bench_index.py (no-change refresh).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from newsbot.bot.cli.main import main as newsbot
from newsbot.bot.newsroom.report import build_report
from newsbot.storage.canonical_urls import canonical_url
from newsbot.storage.db import Store
from newsbot.storage.index import STAGED_COLUMNS, Parsed, _write

ROOT = Path(__file__).resolve().parent.parent

TOPICS = [f"Topic {n:02d}" for n in range(50)]
EDITORS = [f"U0EDITOR{n:02d}" for n in range(12)]
ROUNDS = 5


def iso(moment: dt.datetime, ms: bool = False) -> str:
    text = moment.isoformat(timespec="milliseconds" if ms else "seconds")
    return text.replace("+00:00", "Z")


def build(db_path: Path, articles: int, decisions: int, seed: int = 1) -> dict[str, int]:
    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC)
    store = Store(db_path)
    results, published = [], {}
    for n in range(articles):
        article_id = f"{n // 1000:03d}/{n % 1000:03d}.txt"
        when = now - dt.timedelta(seconds=rng.randrange(365 * 86400))
        published[article_id] = when
        topics = rng.sample(TOPICS, rng.randint(1, 3))
        quality, heat = rng.randint(0, 100), rng.randint(0, 100)
        is_published, skipped = int(n % 100 == 1), int(n % 100 == 2)
        url = f"https://example.com/{n}"
        row = {"id": article_id, "title": f"Article {n}", "excerpt": "An excerpt.",
               "web_url": url, "provider_name": "Provider", "provider_domain": "example.com",
               "topics": json.dumps(topics), "quality": quality, "heat": heat,
               "published": is_published, "skipped": skipped, "published_at": iso(when),
               "category": "news", "type": "article", "image_url": None, "size": 1000,
               "mtime_ns": n, "content_hash": f"{n:032x}", "canonical_url": canonical_url(url),
               "topic_keys": None}  # topics are ASCII: no topic_keys
        # in the index's order, by name: a column added to the index fails here by name
        results.append(tuple(row[column] for column in STAGED_COLUMNS))
    for start in range(0, len(results), 10_000):
        _write(store, Parsed(articles=results[start:start + 10_000]), iso(now), [])

    # decision events, in time order over the last 60 days, with decide()'s outcomes
    open_ids = [a for a in published if not a.endswith(("01.txt", "02.txt"))]
    rng.shuffle(open_ids)
    votes: dict[str, dict[str, tuple[str, int, str]]] = {}
    log, first_post, decided = [], {}, []
    start = now - dt.timedelta(days=60)
    step = dt.timedelta(days=60) / decisions
    targets = iter(open_ids)
    for seq in range(1, decisions + 1):
        created = iso(start + step * seq, ms=True)
        pick = rng.choice(decided) if decided else None
        held = pick if pick in votes else None
        roll = rng.random()
        if held and roll < 0.1:  # withdraw a vote
            article_id = held
            user = next(iter(votes[article_id]))
            del votes[article_id][user]
            if not votes[article_id]:
                del votes[article_id]
            log.append((seq, article_id, user, "undo", "reaction", "retracted", created))
            continue
        if held and roll < 0.225:  # a second editor's vote on an article decided already
            article_id = held
        else:
            article_id = next(targets)
            decided.append(article_id)
        user = rng.choice(EDITORS)
        action = "publish" if rng.random() < 2 / 3 else "skip"
        votes.setdefault(article_id, {})[user] = (action, seq, created)
        log.append((seq, article_id, user, action, "reaction", "recorded", created))
        if article_id not in first_post and rng.random() < 0.6:
            first_post[article_id] = iso(start + step * seq - dt.timedelta(hours=rng.randint(
                1, 72)))
    with store.write() as db:
        db.conn.executemany(
            "INSERT INTO decision_log (id, event_key, article_id, user_id, action, source,"
            " channel, message_ts, outcome, created_at) VALUES (?, 'Ev' || ?, ?, ?, ?, ?,"
            " 'C0NEWSDESK', NULL, ?, ?)",
            [(seq, seq, a, u, action, source, outcome, created)
             for seq, a, u, action, source, outcome, created in log])
        db.conn.executemany(
            "INSERT INTO votes (article_id, user_id, decision, decided_at, seq, source, channel,"
            " message_ts) VALUES (?, ?, ?, ?, ?, 'reaction', 'C0NEWSDESK', NULL)",
            [(a, u, action, created, seq) for a, users in votes.items()
             for u, (action, seq, created) in users.items()])
        posted = list(first_post.items())[:30_000]
        for digest in range(len(posted) // 30 + 1):
            chunk = posted[digest * 30:(digest + 1) * 30]
            if not chunk:
                break
            db.execute("INSERT INTO digests (id, key, channel, title, options, in_thread, status,"
                       " created_at) VALUES (?, ?, 'C0NEWSDESK', 't', '{}', 1, 'done', ?)",
                       [digest + 1, f"bench:{digest}", chunk[0][1]])
            db.conn.executemany(
                "INSERT INTO digest_messages (digest_id, position, article_id, channel, ts,"
                " posted_at) VALUES (?, ?, ?, 'C0NEWSDESK', ?, ?)",
                [(digest + 1, p, a, f"{digest}.{p:06d}", when)
                 for p, (a, when) in enumerate(chunk)])
    counts = {name: store.db.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
              for name in ("articles", "article_topics", "decision_log", "votes",
                           "digest_messages")}
    store.close()
    return counts


def best_of(function, rounds: int = ROUNDS) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(rounds):
        started = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - started)
    return best, result


def cli(*args: str) -> dict:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = newsbot(list(args))
    assert code == 0, f"newsbot {' '.join(args)} exited {code}"
    return json.loads(out.getvalue())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--decisions", type=int, default=50_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-report-") as folder:
        db = Path(folder) / "report.db"
        started = time.perf_counter()
        counts = build(db, args.articles, args.decisions)
        print(f"built in {time.perf_counter() - started:.1f} s: {counts}")
        print(f"load average before measuring: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        store = Store(db)

        def baseline() -> int:
            rows = store.db.execute("SELECT * FROM decision_log").fetchall()
            rows += store.db.execute("SELECT id, published_at FROM articles").fetchall()
            return len(rows)

        base, _ = best_of(baseline)
        week, document = best_of(lambda: cli("report", "--json", "--no-refresh", "--db",
                                             str(db)))
        months, wide = best_of(lambda: cli("report", "--days", "60", "--json", "--no-refresh",
                                           "--db", str(db)))
        import_time = min(float(subprocess.run(
            [sys.executable, "-c", "import time; t = time.perf_counter(); "
             "import newsbot.bot.services.report_chart; print(time.perf_counter() - t)"],
            cwd=ROOT, capture_output=True, text=True, check=True).stdout) for _ in range(3))
        from newsbot.bot.services.report_chart import chart_png

        report = build_report(store, 7)
        chart, png = best_of(lambda: chart_png(report))
        gaps, found = best_of(lambda: cli("gaps", "--json", "--no-refresh", "--db", str(db)))
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"report (7 days): decided {document['decided']}, {len(document['topics'])} topics, "
          f"{len(document['editors'])} editors, median {document['medianHoursToDecision']} h, "
          f"queue {document['queue'][0]['pending']}..{document['queue'][-1]['pending']}; "
          f"60 days: decided {wide['decided']}; chart {len(png)} bytes; "
          f"{len(found['gaps'])} gaps")
    rows = [
        ("baseline: read decision_log + articles (id, date)", base, "1.00x", ""),
        ("`newsbot report --json` (7 days), in-process", week, f"{week / base:.2f}x", "< 1 s"),
        ("`newsbot report --json --days 60`, in-process", months, f"{months / base:.2f}x",
         "< 1 s"),
        ("chart: import matplotlib (fresh process, best of 3)", import_time, "", ""),
        ("chart: chart_png(report), matplotlib imported", chart, "", ""),
        ("chart: import + render", import_time + chart, "", "< 2 s"),
        ("`newsbot gaps --json` (every topic), in-process", gaps, f"{gaps / base:.2f}x", ""),
    ]
    goals = {"< 1 s": 1.0, "< 2 s": 2.0}
    print(f"\n{'measure':<54} {'figure':>8}  {'vs baseline':<11}  {'goal':<6}  result")
    for name, seconds, ratio, goal in rows:
        result = ("PASS" if seconds < goals[goal] else "FAIL") if goal else ""
        print(f"{name:<54} {seconds * 1000:>6.0f} ms  {ratio:<11}  {goal:<6}  {result}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
