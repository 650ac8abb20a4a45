"""Benchmark: the Slack app over real HTTP with a 100,000-article index.

The app runs as deployed, `newsbot serve --http` in its own process, against the Slack
Web API look-alike in this process; the signed reaction events come from a sending
process of their own (4 at a time), so that the look-alike's work for each chat.update,
Slack's side of it, does not hold the senders' interpreter lock. Measured in one run:
- signed reaction events per second the app records (each one a decision in SQLite and
  a redraw of the message through chat.update), next to a baseline: a process serving a
  Bolt app with the same HTTP server and signature checks whose listener records
  nothing, so the ratio shows what our own work costs;
- the redraws deferred past the burst: the redrawer keeps to Slack's rate for
  chat.update, so the articles still queued when the last event is recorded, and how
  long after it the last chat.update lands (the work is not hidden, only paced);
- where the CPU goes meanwhile: each server's threads by kind (newsbot names its
  threads in the operating system), the sending process and the look-alike;
- the latency of `/news topic <name>`: the ack (the HTTP answer Slack waits 3 s for) and
  the full answer (until the ephemeral reply reaches the response_url), p50 and p99.

Goals (issues 3 and 20): 300 events/s or more, and 0.8x the baseline with decisions
fsynced before they are acknowledged; p99 of `/news topic` under 200 ms.

    python benchmarks/bench_slack.py [--count 100000] [--events 3000] [--lookups 300]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench_index import ensure_corpus
from newsbot.bot.app.slack_client import web_client
from newsbot.bot.newsroom.digest import DigestOptions, plan_digest
from newsbot.bot.newsroom.lookup import list_topics
from newsbot.handlers.posting.digest_post import post_digest
from newsbot.sandbox import SignedSlackClient, SlackLookalike
from newsbot.storage.db import Store
from newsbot.storage.index import refresh

ROOT = Path(__file__).resolve().parent.parent

SECRET = "bench-signing-secret"
CHANNEL = "C0NEWSDESK"
EDITORS = [f"U0ED{n:04d}" for n in range(40)]
SENDERS = 4  # concurrent connections, as Slack delivers events in parallel
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
DRAIN_SECONDS = 180  # how long the run waits for the redraws left after the last event


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def health(url: str) -> dict:
    with OPENER.open(f"{url}/healthz", timeout=5) as response:
        return json.loads(response.read())


def start(command: list[str], env: dict[str, str], port: int) -> tuple[subprocess.Popen, str]:
    """Start a server process and wait until its /healthz answers."""
    process = subprocess.Popen(command, env={**os.environ, **env}, cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            health(url)
            return process, url
        except OSError:
            if process.poll() is not None:
                raise SystemExit(f"{command} exited with {process.returncode}") from None
            time.sleep(0.1)
    raise SystemExit(f"{command} did not start")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(timeout=30)


def sender(url: str, targets: list[str], events: int) -> None:
    """The sending process: plans the events, says `ready`, sends them all once told
    `go` on stdin (SENDERS at a time), then says `sent` and how many answered 200."""
    client = SignedSlackClient(url, SECRET)
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

    print("ready", flush=True)
    sys.stdin.readline()
    with ThreadPoolExecutor(SENDERS) as pool:
        statuses = list(pool.map(one, plan))
    print("sent", sum(status == 200 for status in statuses), sorted(set(statuses)), flush=True)


def send_reactions(url: str, targets: list[str], events: int, done,
                   server: subprocess.Popen) -> tuple[float, dict, float, float, float]:
    """Send `events` signed reaction events from a process of their own: seconds until
    `done()` says all are handled, the server's CPU by kind of thread meanwhile, the
    sending process's CPU seconds, this process's (the Web API look-alike's), and the
    whole machine's busy CPU seconds meanwhile.

    The senders have a process of their own so that the look-alike (Slack's side of
    every chat.update the app makes) does not hold their interpreter lock: in Slack,
    that work is done on Slack's servers, not by whoever delivers the events."""
    child = subprocess.Popen(
        [sys.executable, __file__, "--sender", url, "--events", str(events),
         "--targets", ",".join(targets)],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdin is not None and child.stdout is not None
    if child.stdout.readline().strip() != "ready":
        raise SystemExit("the sending process did not start")
    threads_before, own_before = thread_cpu(server.pid), time.process_time()
    busy_before = machine_busy()
    started = time.perf_counter()
    child.stdin.write("go\n")
    child.stdin.flush()
    sent = child.stdout.readline().split(maxsplit=2)
    child_cpu = process_cpu(child.pid)
    child.wait(timeout=60)
    if sent[:2] != ["sent", str(events)]:
        raise SystemExit(f"not every event was answered 200: {sent}")
    while not done():
        time.sleep(0.01)
    seconds = time.perf_counter() - started
    own, busy = time.process_time() - own_before, machine_busy() - busy_before
    return (seconds, cpu_by_kind(server.pid, threads_before, thread_cpu(server.pid)),
            child_cpu, own, busy)


def process_cpu(pid: int) -> float:
    """CPU seconds (user and system) a live process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def print_cpu(title: str, kinds: dict[str, tuple[float, float]], events: int) -> None:
    total = sum(user + system for user, system in kinds.values())
    print(f"  {title}: {total:.2f} s CPU, {total / events * 1e6:.0f} us per event")
    for kind, (user, system) in sorted(kinds.items(), key=lambda kv: -sum(kv[1])):
        print(f"    {kind:38s} {user:5.2f} s + {system:4.2f} s sys "
              f"{(user + system) / events * 1e6:6.0f} us/event")


TICKS = os.sysconf("SC_CLK_TCK")


def machine_busy() -> float:
    """CPU seconds the whole machine has spent busy (every process: ours, the helpers',
    anyone's), from /proc/stat: all but idle and iowait."""
    with open("/proc/stat") as stat:
        fields = [int(n) for n in stat.readline().split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / TICKS


def thread_cpu(pid: int) -> dict[int, tuple[str, float, float]]:
    """CPU seconds (user, system) of each thread of the process, by thread id, with the
    thread's name (newsbot names its threads: workers.name_os_thread)."""
    threads = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:  # the thread ended meanwhile
            continue
        name, _, rest = stat[stat.index("(") + 1:].rpartition(")")
        fields = rest.split()
        threads[int(task.name)] = (name, int(fields[11]) / TICKS, int(fields[12]) / TICKS)
    return threads


THREAD_KINDS = [  # (name prefix, what the thread does), the first that matches
    ("waitress", "waitress workers (Bolt, listeners)"),
    ("decisions", "decisions (the writer)"),
    ("redraw", "redraw"),
    ("listener", "listener pool (lazy listeners)"),
    ("after-ack", "after-ack replies"),
]


def cpu_by_kind(pid: int, before: dict, after: dict) -> dict[str, tuple[float, float]]:
    """Where a process spent its CPU between two thread_cpu() readings, by kind of thread;
    a thread that ended between them is not counted."""
    kinds: dict[str, list[float]] = {}
    for tid, (name, user, system) in after.items():
        _, user0, system0 = before.get(tid, (name, 0.0, 0.0))
        if tid == pid:
            kind = "main (waitress's loop)"
        else:
            kind = next((k for prefix, k in THREAD_KINDS if name.startswith(prefix)), "other")
        total = kinds.setdefault(kind, [0.0, 0.0])
        total[0] += user - user0
        total[1] += system - system0
    return {kind: (user, system) for kind, (user, system) in kinds.items()}


def queued_redraws(store: Store) -> int:
    return store.db.execute("SELECT count(*) FROM redraw_queue").fetchone()[0]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def baseline_server(port: int) -> None:
    """The baseline process: Bolt behind the same production server (waitress, the same
    checks before Bolt), a listener that only counts."""
    from newsbot.bot.app.web_server import Routes, SlackEvents, WebServer
    from slack_bolt import App

    counted: list[int] = []
    client = web_client(os.environ["SLACK_BOT_TOKEN"], os.environ["SLACK_API_URL"])
    app = App(client=client, signing_secret=SECRET)
    for event in ("reaction_added", "reaction_removed"):
        app.event(event)(lambda: counted.append(1))
    routes = Routes(lambda: (True, {"events": len(counted)}), SlackEvents(app, SECRET))
    WebServer(routes, "127.0.0.1", port).serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=3_000)
    parser.add_argument("--lookups", type=int, default=300)
    parser.add_argument("--dir", type=Path, default=ROOT / "bench-data")
    parser.add_argument("--baseline-server", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--sender", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--targets", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.baseline_server:
        baseline_server(args.baseline_server)
        return 0
    if args.sender:
        sender(args.sender, args.targets.split(","), args.events)
        return 0
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        os.environ.pop(name, None)

    articles = (args.dir / f"corpus-{args.count}-s1").resolve()
    ensure_corpus(articles, args.count, 1)
    db = Path(tempfile.mkdtemp(prefix="bench-slack-")) / "newsbot.db"
    store = Store(db)
    started = time.perf_counter()
    refresh(store, articles)
    print(f"indexed {args.count} files in {time.perf_counter() - started:.1f} s "
          f"(load average {os.getloadavg()[0]:.2f})")

    with SlackLookalike() as slack:
        plan = post_digest(web_client(slack.bot_token, slack.base_url), store,
                           plan_digest(store, CHANNEL, DigestOptions(top=50)))
        targets = [m.ts for m in plan.messages if m.ts]

        load = os.getloadavg()[0]
        port = free_port()
        slack_env = {"SLACK_BOT_TOKEN": slack.bot_token, "SLACK_API_URL": slack.base_url}
        process, url = start([sys.executable, __file__, "--baseline-server", str(port)],
                             slack_env, port)
        try:
            base_seconds, base_cpu, base_sender, base_own, base_busy = send_reactions(
                f"{url}/slack/events", targets, args.events,
                lambda: health(url)["events"] >= args.events, process)
        finally:
            stop(process)

        port = free_port()
        env = {**slack_env, "SLACK_SIGNING_SECRET": SECRET,
               "NEWSBOT_ARTICLES": str(articles), "NEWSBOT_DB": str(db)}
        process, url = start([sys.executable, "-m", "newsbot.bot", "serve", "--http", "--host",
                              "127.0.0.1", "--port", str(port), "--log-level", "WARNING"],
                             env, port)
        try:
            client = SignedSlackClient(f"{url}/slack/events", SECRET,
                                       response_url_factory=slack.new_response_url)

            def recorded() -> int:
                return store.db.execute("SELECT count(*) FROM decision_log").fetchone()[0]

            ours_seconds, ours_cpu, ours_sender, ours_own, ours_busy = send_reactions(
                f"{url}/slack/events", targets, args.events, lambda: recorded() >= args.events,
                process)
            recorded_at = time.monotonic()  # the last event's decision is in
            backlog = queued_redraws(store)
            updates_by_then = len(slack.calls("chat.update"))

            topics = [t.topic for t in list_topics(store)]
            rng = random.Random(3)
            acks, answers = [], []
            for _ in range(args.lookups):
                before = len(slack.response_posts())
                sent = time.perf_counter()
                status = client.slash_command("/news", f"topic {rng.choice(topics)}",
                                              user_id=EDITORS[0], channel_id=CHANNEL).status
                acked = time.perf_counter()
                # polled every millisecond: an ephemeral reply changes no workspace state,
                # so slack.wait_until would only notice it at its 50 ms poll
                while len(slack.response_posts()) <= before:
                    if time.perf_counter() - sent > 10:
                        raise SystemExit("/news was not answered within 10 s")
                    time.sleep(0.001)
                answered = time.perf_counter()
                if status != 200:
                    raise SystemExit(f"/news answered {status}")
                acks.append((acked - sent) * 1000)
                answers.append((answered - sent) * 1000)
            # (the look-ups ran while those redraws went out, as main's run right after the
            # events) count once the last redraws went out: the queue empty (the redrawer keeps to
            # Slack's rate, so it may take a minute), and 0.2 s for the chat.update of the
            # rows that pass just forgot
            while queued_redraws(store) and time.monotonic() - recorded_at < DRAIN_SECONDS:
                time.sleep(0.05)
            time.sleep(0.2)
            left = queued_redraws(store)
            update_calls = slack.calls("chat.update")
            updates = len(update_calls)
            lag = max(call.at for call in update_calls) - recorded_at
        finally:
            stop(process)

    ours = args.events / ours_seconds
    base = args.events / base_seconds
    p99 = percentile(answers, 0.99)
    print(f"\nreaction events ({args.events}, {SENDERS} senders, {args.count} articles):")
    print(f"  baseline: Bolt, no-op listener  {base:8.0f} events/s")
    print(f"  newsbot serve --http            {ours:8.0f} events/s   ratio {ours / base:.2f}x"
          f"   goal >= 300/s: {'PASS' if ours >= 300 else 'FAIL'}")
    print(f"  decisions recorded {recorded()}, chat.update calls {updates} per {args.events}"
          f" events on {len(targets)} messages (redraws coalesce; "
          f"{updates_by_then} by the last event)")
    print(f"  when the last event was recorded {backlog} articles waited to be redrawn (the"
          f" budget keeps to Slack's rate); the last chat.update {lag:.1f} s after it,"
          f" {left} still queued {DRAIN_SECONDS:.0f} s after it")
    print(f"\nwhere the CPU goes while the {args.events} events arrive (the threads of each "
          f"server; {len(os.sched_getaffinity(0))} cores, load average {load:.2f} before):")
    print_cpu("baseline server", base_cpu, args.events)
    print_cpu("newsbot serve", ours_cpu, args.events)
    print(f"  sending process: {base_sender:.2f} s with the baseline, {ours_sender:.2f} s with "
          f"newsbot; Web API look-alike (this process): {base_own:.2f} s, {ours_own:.2f} s")
    cores = len(os.sched_getaffinity(0))
    base_all = (sum(map(sum, base_cpu.values())) + base_sender + base_own) / args.events
    ours_all = (sum(map(sum, ours_cpu.values())) + ours_sender + ours_own) / args.events
    print(f"  CPU an event, server + sender + look-alike: baseline {base_all * 1e6:.0f} us, "
          f"newsbot {ours_all * 1e6:.0f} us; where the cores are what limits, newsbot runs "
          f"at most {base_all / ours_all:.2f}x the baseline's rate")
    print(f"  the machine was busy {base_busy / base_seconds:.2f} of {cores} cores during the "
          f"baseline's run, {ours_busy / ours_seconds:.2f} during newsbot's (every process)")
    print(f"\n/news topic ({args.lookups} look-ups, one at a time):")
    print(f"  ack      p50 {statistics.median(acks):6.1f} ms   "
          f"p99 {percentile(acks, 0.99):6.1f} ms")
    print(f"  answer   p50 {statistics.median(answers):6.1f} ms   p99 {p99:6.1f} ms   "
          f"goal p99 < 200 ms: {'PASS' if p99 < 200 else 'FAIL'}")
    print(f"(load average {os.getloadavg()[0]:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
