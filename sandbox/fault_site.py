"""A newsroom on disk with a posted digest and `newsbot serve --http` running, for the
fault tests (tests/test_durability.py) and the fault benchmark (benchmarks/faults.py).
`second_server` starts another `serve` on the same database and articles folder, as a
rolling deploy or a second replica does; `drawn_texts` reads back what each message was
redrawn to, in the order Slack applied it.

The database is read as another process would (`mode=ro`, never creating the file); the
spool is read as the file it is. Events are signed reactions with chosen `event_ts`.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from newsbot.bot.config.settings import BUNDLED_ARTICLES
from newsbot.sandbox.lookalike import SlackLookalike
from newsbot.sandbox.serve_process import ServeProcess
from newsbot.sandbox.signed_requests import AppResponse, Delivery, SignedSlackClient
from newsbot.storage.spool import Spool

SECRET = "fault-site-signing-secret"
CHANNEL = "C0NEWSDESK"
EXAMPLES = BUNDLED_ARTICLES

Sender = Callable[[Delivery | None], AppResponse]


@dataclass
class FaultSite:
    slack: SlackLookalike
    folder: Path
    env: dict[str, str]
    messages: list[dict]  # the digest's article messages: id, ts
    serve: ServeProcess
    client: SignedSlackClient

    @property
    def db(self) -> Path:
        return self.folder / "newsbot.db"

    @property
    def spool(self) -> Path:
        return Spool.path_beside(self.db)

    def restart(self) -> None:
        self.serve.start()

    def log_rows(self) -> list[dict]:
        """decision_log as another process reads it (never creating the file)."""
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True) as connection:
            connection.row_factory = sqlite3.Row
            return [dict(r) for r in connection.execute(
                "SELECT * FROM decision_log ORDER BY id")]

    def votes(self) -> dict[tuple[str, str], str]:
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True) as connection:
            rows = connection.execute("SELECT article_id, user_id, decision FROM votes")
            return {(a, u): d for a, u, d in rows}

    def spooled(self) -> list[dict]:
        """The spool's whole lines: serve may be appending one as it is read, and a line
        counts once its newline is written (as the spool's own reader takes it)."""
        if not self.spool.exists():
            return []
        whole, _, _being_written = self.spool.read_text().rpartition("\n")
        return [json.loads(line) for line in whole.splitlines() if line]

    def logged(self, message: str) -> list[dict]:
        return [r for r in self.serve.records() if r.get("msg") == message]

    def reaction(self, kind: str, user: str, message: dict, event_ts: str, event_id: str,
                 emoji: str = "white_check_mark") -> Sender:
        """A sender of one reaction event: the same event on every delivery."""
        event = {"type": f"reaction_{kind}", "user": user, "reaction": emoji,
                 "item": {"type": "message", "channel": CHANNEL, "ts": message["ts"]},
                 "event_ts": event_ts}

        def send(delivery: Delivery | None) -> AppResponse:
            return self.client.send_event(event, event_id=event_id,
                                          event_time=int(float(event_ts)), delivery=delivery)

        return send


def start_site(slack: SlackLookalike, folder: Path, top: int = 5, **env: str) -> FaultSite:
    """Copy the example articles into `folder`, post a digest of `top` articles with
    `newsbot digest --post`, and start `newsbot serve --http` (busy timeout 300 ms)."""
    articles = folder / "articles"
    shutil.copytree(EXAMPLES, articles)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")}
    environment.update({
        "SLACK_BOT_TOKEN": slack.bot_token, "SLACK_API_URL": slack.base_url,
        "SLACK_SIGNING_SECRET": SECRET, "NEWSBOT_ARTICLES": str(articles),
        "NEWSBOT_DB": str(folder / "newsbot.db"), "NEWSBOT_BUSY_TIMEOUT_MS": "300",
        "PYTHONIOENCODING": "utf-8",
        "HTTP_PROXY": "", "HTTPS_PROXY": "", "http_proxy": "", "https_proxy": "", **env,
    })
    posted = subprocess.run(
        [sys.executable, "-m", "newsbot.bot", "digest", "--post", "--channel", CHANNEL, "--top",
         str(top), "--json"], cwd=folder, env=environment, capture_output=True, text=True,
        timeout=120)
    if posted.returncode != 0:
        raise RuntimeError(f"digest --post failed: {posted.stderr}")
    serve = ServeProcess(environment, folder).start()
    client = SignedSlackClient(f"{serve.url}/slack/events", SECRET,
                               response_url_factory=slack.new_response_url)
    return FaultSite(slack, folder, environment, json.loads(posted.stdout)["articles"], serve,
                     client)


def second_server(site: FaultSite) -> tuple[ServeProcess, SignedSlackClient]:
    """Another `newsbot serve --http` on the site's database and folder, with its own port,
    and a client that signs Slack's requests to it."""
    serve = ServeProcess(site.env, site.folder).start()
    return serve, SignedSlackClient(f"{serve.url}/slack/events", SECRET,
                                    response_url_factory=site.slack.new_response_url)


def drawn_texts(slack: SlackLookalike, ts: str) -> list[str]:
    """The text of every chat.update Slack applied to the message `ts`, in the order it
    applied them: the last one is what readers see."""
    return [call.params.get("text", "") for call in slack.calls("chat.update")
            if call.ok and call.params.get("ts") == ts]


def eventually(predicate: Callable[[], object], timeout: float = 30,
               what: Callable[[], str] = str) -> None:
    """Wait until `predicate()` holds; AssertionError with `what()` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what()}")
        time.sleep(0.05)


def hold_database(path: Path, seconds: float) -> threading.Thread:
    """Another process's long transaction (a backup, an admin's sqlite3 session): BEGIN
    EXCLUSIVE held for `seconds` on its own connection; returns once it holds the lock."""
    locked = threading.Event()

    def hold() -> None:
        connection = sqlite3.connect(path, isolation_level=None, timeout=30)
        connection.execute("BEGIN EXCLUSIVE")
        locked.set()
        time.sleep(seconds)
        connection.execute("ROLLBACK")
        connection.close()

    thread = threading.Thread(target=hold)
    thread.start()
    locked.wait(30)
    return thread


# --- a small real file system, for full-disk faults (root may mount one, as CI runs)

PAGE = 4096


@contextlib.contextmanager
def small_filesystem(mount: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` (e.g. "64k") mounted at `mount` for the block; OSError with
    mount's own words where mounting is not allowed."""
    mount.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise OSError(errno.EPERM, f"cannot mount a tmpfs: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill_disk(disk: Path, leave_pages: int = 0) -> Path:
    """Fill the file system at `disk` with one file, then free `leave_pages` pages of it
    again (room for part of a write: a short write). Returns the file, to delete."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        while True:
            os.write(fd, b"x" * PAGE)
    except OSError as error:
        if error.errno != errno.ENOSPC:
            raise
    finally:
        os.close(fd)
    if leave_pages:
        os.truncate(filler, max(0, filler.stat().st_size - leave_pages * PAGE))
    return filler
