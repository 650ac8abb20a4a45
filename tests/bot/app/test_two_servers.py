"""Two servers are safe (issue 21): two `newsbot serve --http` processes on one database
and one articles folder, as during a rolling deploy or with a second replica.

- Every change to an article message is drawn at most once and the last one drawn is the
  article's final decision, with reactions and clicks spread over both servers (each
  server claims what it redraws: bot/newsroom/redraw_queue.py).
- The periodic sync runs in one of them only (a lease in the database); after kill -9 of
  the holder the other takes over, once the lease has expired.

Real processes, the look-alike for Slack, signed requests, the real SQLite file.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from newsbot.handlers.blocks import PUBLISH_ACTION, SKIP_ACTION
from newsbot.sandbox import SignedSlackClient, SlackLookalike
from newsbot.sandbox.fault_site import (
    CHANNEL,
    FaultSite,
    drawn_texts,
    eventually,
    second_server,
    start_site,
)
from newsbot.sandbox.serve_process import ServeProcess

STEPS = 8  # decisions per article, each by another editor, so each one changes the message
DECIDER = re.compile(r"(?:published|skipped) by (\S+)$")


@pytest.fixture
def slack():
    with SlackLookalike() as lookalike:
        yield lookalike


def decider(text: str) -> str | None:
    """Whose decision a drawn message shows (None: no decision)."""
    found = DECIDER.search(text)
    return found.group(1) if found else None


def decide_in_turn(site: FaultSite, clients: list[SignedSlackClient], message: dict,
                   number: int, wait_for_draw: bool) -> list[str]:
    """STEPS decisions on one message, each by a new editor and answered 200 before the
    next: reactions and clicks alternate, and so do the two servers. With `wait_for_draw`
    each decision is drawn before the next is sent. Returns the editors in order."""
    stored = site.slack.workspace.message(CHANNEL, message["ts"])
    editors = []
    for step in range(STEPS):
        editor = f"UTWO{number:02d}S{step:02d}{'P' if wait_for_draw else 'B'}"
        client = clients[(step + number) % 2]
        if step % 2:
            answer = client.block_action(
                user_id=editor, action_id=PUBLISH_ACTION if step % 4 == 1 else SKIP_ACTION,
                value=message["id"], channel_id=CHANNEL, message=stored)
        else:
            answer = client.send_event(
                {"type": "reaction_added", "user": editor,
                 "reaction": "white_check_mark" if step % 4 == 0 else "x",
                 "item": {"type": "message", "channel": CHANNEL, "ts": message["ts"]},
                 "event_ts": f"{time.time():.6f}"},
                event_id=f"EvTwo{editor}")
        assert answer.status == 200, answer
        editors.append(editor)
        if wait_for_draw:
            eventually(lambda editor=editor: decider(
                site.slack.workspace.message(CHANNEL, message["ts"])["text"]) == editor,
                what=lambda: str(drawn_texts(site.slack, message["ts"])))
    return editors


def redraws_settled(site: FaultSite) -> bool:
    with sqlite3.connect(f"file:{site.db}?mode=ro", uri=True) as connection:
        return connection.execute("SELECT count(*) FROM redraw_queue").fetchone()[0] == 0


@pytest.mark.parametrize("wait_for_draw", [True, False], ids=["paced", "burst"])
def test_two_servers_draw_each_change_once_and_end_on_the_final_decision(
        slack: SlackLookalike, tmp_path: Path, wait_for_draw: bool) -> None:
    site = start_site(slack, tmp_path)
    other, other_client = second_server(site)
    try:
        before = {m["ts"]: len(drawn_texts(slack, m["ts"])) for m in site.messages}
        with ThreadPoolExecutor(len(site.messages)) as pool:
            editors = list(pool.map(
                lambda pair: decide_in_turn(site, [site.client, other_client], pair[1],
                                            pair[0], wait_for_draw),
                enumerate(site.messages)))
        eventually(lambda: redraws_settled(site))
    finally:
        for serve in (site.serve, other):  # a clean stop draws what is left, then nothing
            if serve.process is not None:
                serve.stop()
    for message, in_order in zip(site.messages, editors, strict=True):
        drawn = [decider(text)
                 for text in drawn_texts(slack, message["ts"])[before[message["ts"]]:]]
        assert drawn and drawn[-1] == in_order[-1], (message["id"], drawn)  # the final decision
        assert decider(slack.workspace.message(CHANNEL, message["ts"])["text"]) == in_order[-1]
        # each change drawn at most once, in the order made: never twice, never going back
        positions = [in_order.index(user) for user in drawn]
        assert positions == sorted(set(positions)), (message["id"], drawn)
        if wait_for_draw:  # exactly one chat.update per change
            assert drawn == in_order, (message["id"], drawn)


# ---- the periodic sync, under a lease in the database

SYNC_MINUTES = 0.01  # 0.6 s; the lease lasts three intervals (bot/services/leased_job.py)


def lease(site: FaultSite) -> dict | None:
    with sqlite3.connect(f"file:{site.db}?mode=ro", uri=True) as connection:
        connection.row_factory = sqlite3.Row
        row = connection.execute("SELECT * FROM job_leases WHERE job = 'sync'").fetchone()
        return dict(row) if row else None


def written_at(site: FaultSite, article_id: str) -> dt.datetime | None:
    """When a sync wrote the article's standing decision into its file (None: not yet)."""
    with sqlite3.connect(f"file:{site.db}?mode=ro", uri=True) as connection:
        row = connection.execute("SELECT written_at FROM sync_state WHERE article_id = ?"
                                 " AND pending = 0", [article_id]).fetchone()
    return dt.datetime.fromisoformat(row[0]) if row else None


def synced(serve: ServeProcess) -> list[str]:
    """The articles this process's syncs wrote, by its log."""
    return [article for record in serve.records() if record.get("msg") == "sync"
            for article in record.get("written", [])]


def lease_taken_at(serve: ServeProcess) -> list[float]:
    """When this process took the sync's lease (epoch seconds, by its log's local time;
    the log keeps milliseconds, truncated)."""
    return [dt.datetime.strptime(r["time"], "%Y-%m-%dT%H:%M:%S.%f").timestamp()
            for r in serve.records() if r.get("msg") == "job lease taken"]


def publish(site: FaultSite, client: SignedSlackClient, message: dict, editor: str) -> None:
    answer = client.send_event(
        {"type": "reaction_added", "user": editor, "reaction": "white_check_mark",
         "item": {"type": "message", "channel": CHANNEL, "ts": message["ts"]},
         "event_ts": f"{time.time():.6f}"}, event_id=f"EvSync{editor}")
    assert answer.status == 200, answer


def test_one_server_runs_the_periodic_sync_and_the_other_takes_over_after_kill_9(
        slack: SlackLookalike, tmp_path: Path) -> None:
    settings = tmp_path / "newsbot.yaml"
    settings.write_text(f"sync:\n  interval_minutes: {SYNC_MINUTES}\n")
    site = start_site(slack, tmp_path, NEWSBOT_CONFIG=str(settings))
    other, other_client = second_server(site)
    try:
        eventually(lambda: lease(site) is not None)
        holder_pid = int(lease(site)["holder"].split(":")[1])
        servers = {site.serve.process.pid: (site.serve, site.client),
                   other.process.pid: (other, other_client)}
        (holder, _), = [v for pid, v in servers.items() if pid == holder_pid]
        (standby, standby_client), = [v for pid, v in servers.items() if pid != holder_pid]
        first = site.messages[:3]
        for number, message in enumerate(first):  # decided on either server
            publish(site, [site.client, other_client][number % 2], message, f"ULEASE{number}")
            eventually(lambda message=message: written_at(site, message["id"]))
        # its log line follows the write: wait for it
        eventually(lambda: sorted(synced(holder)) == sorted(m["id"] for m in first),
                   what=lambda: str(synced(holder)))
        assert synced(standby) == [] and lease_taken_at(standby) == []  # one server syncs

        holder.kill()  # kill -9: the lease is left behind, to expire
        expires = lease(site)["expires_at"]
        late = site.messages[3]
        publish(site, standby_client, late, "ULEASELATE")
        eventually(lambda: synced(standby) == [late["id"]], what=lambda: str(synced(standby)))
        [taken] = lease_taken_at(standby)
        assert taken + 0.001 >= expires  # taken over only after the expiry
        assert written_at(site, late["id"]).timestamp() >= int(expires)  # stamped in seconds
        assert lease(site)["holder"].split(":")[1] == str(standby.process.pid)
        for message in site.messages[:4]:  # every decision in its file, once
            text = (site.folder / "articles" / message["id"]).read_text()
            assert text.count("published: true") == 1, message["id"]
    finally:
        for serve in (site.serve, other):
            if serve.process is not None:
                serve.kill()
