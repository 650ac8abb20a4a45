"""Threads carry their names to the operating system (what `top -H` and the benchmarks read)."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest
from newsbot.bot.services.workers import Workers

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")


def os_name(native_id: int) -> str:
    return Path(f"/proc/self/task/{native_id}/comm").read_text().strip()


def test_a_pool_thread_is_named_in_the_operating_system():
    pool = Workers(1, "decisions")
    try:
        native = pool.submit(threading.get_native_id).result(timeout=5)
        assert os_name(native) == "decisions_0"
    finally:
        pool.drain(5)
