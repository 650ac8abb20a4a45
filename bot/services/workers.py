"""A thread pool its owner can drain: wait, up to a bound, for the work in flight, then
join the threads.

`ThreadPoolExecutor.shutdown(wait=True)` has no time-out, and waiting for it on a helper
thread leaves that thread behind when the bound runs out. This pool keeps its futures,
so the wait itself is bounded, and the threads are joined only once nothing runs on
them any more (then the join is immediate).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

log = logging.getLogger(__name__)


def name_os_thread(thread: threading.Thread | None = None) -> None:
    """Give the thread's Python name to the operating system too (Linux: its `comm`, at
    most 15 bytes), so `top -H`, `ps -L` and /proc show which of newsbot's threads uses
    the CPU (benchmarks/bench_slack.py reads it); Python before 3.14 does not. Elsewhere,
    or where /proc refuses, nothing happens."""
    thread = thread or threading.current_thread()
    if thread.native_id is None:
        return
    path = f"/proc/self/task/{thread.native_id}/comm"
    with contextlib.suppress(OSError), open(path, "w") as comm:
        comm.write(thread.name.encode()[:15].decode(errors="ignore"))


class Workers(ThreadPoolExecutor):
    """A ThreadPoolExecutor with `drain(timeout)`; `name` prefixes its threads' names
    (in the operating system's thread list too)."""

    def __init__(self, max_workers: int, name: str) -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix=name,
                         initializer=name_os_thread)
        self.name = name
        self._in_flight: set[Future] = set()
        self._in_flight_lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        future = super().submit(fn, *args, **kwargs)
        with self._in_flight_lock:
            self._in_flight.add(future)
        future.add_done_callback(self._finished)
        return future

    def _finished(self, future: Future) -> None:
        with self._in_flight_lock:
            self._in_flight.discard(future)

    def in_flight(self) -> int:
        with self._in_flight_lock:
            return len(self._in_flight)

    def drain(self, timeout: float) -> bool:
        """Take no more work, let what was submitted finish (up to `timeout` seconds),
        then join the threads. False when work was still running at the bound: what had
        not started is cancelled and the running threads are left to the process exit."""
        self.shutdown(wait=False)
        with self._in_flight_lock:
            in_flight = set(self._in_flight)
        _, unfinished = wait(in_flight, timeout)
        if unfinished:
            self.shutdown(wait=False, cancel_futures=True)
            log.warning("work still running at shutdown", extra={
                "pool": self.name, "unfinished": len(unfinished), "waited_seconds": timeout})
            return False
        self.shutdown(wait=True)  # every thread is idle: they end at once
        return True
