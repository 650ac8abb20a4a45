"""Benchmark: the Slack app over real HTTP with a 100,000-article index.

Measures, in one run on this machine:
- signed reaction events per second the HTTP app records (each one a decision in SQLite
  and a chat.update to the Web API look-alike), next to a baseline: the same Bolt app
  stack with a listener that records nothing, so the ratio shows what our work costs;
- the latency of `/news topic <name>`: the ack (the HTTP answer Slack waits 3 s for) and
  the full answer (until the ephemeral reply reaches the response_url), p50 and p99.

Goals (issue 3): 300 events/s or more; p99 of `/news topic` under 200 ms.

    python benchmarks/bench_slack.py [--count 100000] [--events 2000] [--lookups 300]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import corpus  # noqa: E402
from slack_bolt import App  # noqa: E402

from bot.app import build_app, health, web_client  # noqa: E402
from bot.config import Config  # noqa: E402
from bot.digest import DigestOptions, plan_digest  # noqa: E402
from bot.lookup import list_topics  # noqa: E402
from handlers.digest_post import post_digest  # noqa: E402
from handlers.http_server import SlackHTTPServer  # noqa: E402
from sandbox import SignedSlackClient, SlackLookalike  # noqa: E402
from storage.db import Store  # noqa: E402
from storage.index import refresh  # noqa: E402

SECRET = "bench-signing-secret"
CHANNEL = "C0NEWSDESK"
EDITORS = [f"U0ED{n:04d}" for n in range(40)]
SENDERS = 4  # concurrent connections, as Slack delivers events in parallel


def corpus_folder(base: Path, count: int) -> Path:
    folder = base / f"corpus-{count}"
    manifest = corpus.read_manifest(folder)
    if manifest is None or manifest.get("count") != count:
        print(f"writing a corpus of {count} files in {folder} ...", flush=True)
        folder.mkdir(parents=True, exist_ok=True)
        corpus.write_manifest(folder, count, 1, corpus.generate(folder, count, 1))
    return folder


def serve(app: App, store: Store | None) -> tuple[SlackHTTPServer, threading.Thread]:
    server = SlackHTTPServer(app, "127.0.0.1", 0,
                             health=(lambda: health(store)) if store else dict)
    return server, server.start_in_thread(poll_interval=0.05)


def send_reactions(client: SignedSlackClient, targets: list[str], events: int,
                   done: callable) -> float:
    """Send `events` signed reaction events; seconds until `done()` says all are recorded."""
    rng = random.Random(7)
    plan = []
    for n in range(events):
        kind = "added" if n % 3 != 2 else "removed"
        plan.append((kind, rng.choice(EDITORS), rng.choice(["white_check_mark", "x"]),
                     rng.choice(targets), f"EvBench{n:06d}"))

    def one(item) -> int:
        kind, user, reaction, ts, event_id = item
        send = client.reaction_added if kind == "added" else client.reaction_removed
        return send(user_id=user, reaction=reaction, channel_id=CHANNEL, ts=ts,
                    event_id=event_id).status

    started = time.perf_counter()
    with ThreadPoolExecutor(SENDERS) as pool:
        statuses = list(pool.map(one, plan))
    if any(status != 200 for status in statuses):
        raise SystemExit(f"unexpected statuses: {set(statuses)}")
    while not done():
        time.sleep(0.005)
    return time.perf_counter() - started


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=2_000)
    parser.add_argument("--lookups", type=int, default=300)
    parser.add_argument("--dir", type=Path, default=ROOT / "bench-data")
    args = parser.parse_args(argv)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        os.environ.pop(name, None)

    articles = corpus_folder(args.dir, args.count)
    work = Path(tempfile.mkdtemp(prefix="bench-slack-"))
    config = Config(articles=articles, db=work / "newsbot.db")
    store = Store(config.db)
    started = time.perf_counter()
    refresh(store, articles)
    print(f"indexed {args.count} files in {time.perf_counter() - started:.1f} s "
          f"(load average {os.getloadavg()[0]:.2f})")

    with SlackLookalike() as slack:
        bot = web_client(slack.bot_token, slack.base_url)
        plan = post_digest(bot, store, plan_digest(store, CHANNEL, DigestOptions(top=50)))
        targets = [m.ts for m in plan.messages if m.ts]

        # Baseline: the same HTTP server, Bolt and signature checks, a listener doing nothing.
        counted: list[int] = []
        baseline_app = App(client=bot, signing_secret=SECRET)
        baseline_app.event("reaction_added")(lambda: counted.append(1))
        baseline_app.event("reaction_removed")(lambda: counted.append(1))
        server, thread = serve(baseline_app, None)
        client = SignedSlackClient(f"{server.url}/slack/events", SECRET)
        base_seconds = send_reactions(client, targets, args.events,
                                      lambda: len(counted) >= args.events)
        server.shutdown()
        thread.join()

        app = build_app(config, store, bot, SECRET)
        server, thread = serve(app, store)
        client = SignedSlackClient(f"{server.url}/slack/events", SECRET,
                                   response_url_factory=slack.new_response_url)

        def recorded() -> int:
            return store.db.execute("SELECT count(*) FROM decision_log").fetchone()[0]

        ours_seconds = send_reactions(client, targets, args.events,
                                      lambda: recorded() >= args.events)
        updates = len(slack.calls("chat.update"))

        topics = [t.topic for t in list_topics(store)]
        rng = random.Random(3)
        acks, answers = [], []
        for _ in range(args.lookups):
            before = len(slack.response_posts())
            sent = time.perf_counter()
            status = client.slash_command("/news", f"topic {rng.choice(topics)}",
                                          user_id=EDITORS[0], channel_id=CHANNEL).status
            acked = time.perf_counter()
            slack.wait_until(lambda before=before: len(slack.response_posts()) > before,
                             timeout=10)
            answered = time.perf_counter()
            assert status == 200
            acks.append((acked - sent) * 1000)
            answers.append((answered - sent) * 1000)
        server.shutdown()
        thread.join()

    ours = args.events / ours_seconds
    base = args.events / base_seconds
    p99 = percentile(answers, 0.99)
    print(f"\nreaction events ({args.events}, {SENDERS} senders, {args.count} articles):")
    print(f"  baseline Bolt, no-op listener  {base:8.0f} events/s")
    print(f"  newsbot (decision + update)    {ours:8.0f} events/s   "
          f"ratio {ours / base:.2f}x   goal >= 300/s: {'PASS' if ours >= 300 else 'FAIL'}")
    print(f"  decisions recorded {recorded()}, chat.update calls {updates}")
    print(f"\n/news topic ({args.lookups} look-ups):")
    print(f"  ack      p50 {statistics.median(acks):6.1f} ms   "
          f"p99 {percentile(acks, 0.99):6.1f} ms")
    print(f"  answer   p50 {statistics.median(answers):6.1f} ms   p99 {p99:6.1f} ms   "
          f"goal p99 < 200 ms: {'PASS' if p99 < 200 else 'FAIL'}")
    print(f"(load average {os.getloadavg()[0]:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
