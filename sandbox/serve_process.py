"""`newsbot serve --http` as a process of its own, for tests and fault benchmarks.

Starts it with a given environment on a loopback port, waits for its "serving HTTP" log
line, keeps every log line (stderr is drained on a thread, so a chatty server never blocks
on a full pipe), and stops it with SIGTERM or kills it with SIGKILL.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ServeProcess:
    def __init__(self, env: dict[str, str], cwd: Path, port: int | None = None) -> None:
        self.env, self.cwd = env, cwd
        self.port = port or free_port()  # kept across restarts: Slack has one Request URL
        self.url = f"http://127.0.0.1:{self.port}"
        self.lines: list[str] = []
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> ServeProcess:
        """Start and wait until it serves; RuntimeError with its log if it exits first."""
        self.process = subprocess.Popen(
            [sys.executable, "-m", "newsbot.bot", "serve", "--http", "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", "INFO"],
            cwd=self.cwd, env=self.env, stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL, text=True, encoding="utf-8",
        )
        serving = threading.Event()
        threading.Thread(target=self._drain, args=(self.process, serving), daemon=True).start()
        deadline = time.monotonic() + timeout
        while not serving.wait(0.05):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError("newsbot serve did not start:\n" + "".join(self.lines))
        return self

    def _drain(self, process: subprocess.Popen, serving: threading.Event) -> None:
        for line in process.stderr:
            self.lines.append(line)
            if '"serving HTTP"' in line:
                serving.set()

    def records(self) -> list[dict]:
        """The log lines as JSON objects (lines that are not JSON are skipped)."""
        found = []
        for line in list(self.lines):
            try:
                found.append(json.loads(line))
            except ValueError:
                continue
        return found

    def stop(self) -> int:
        """SIGTERM, then wait; returns the exit code."""
        if self.process is None:
            return 0
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=30)
        self.process = None
        return code

    def kill(self) -> None:
        """SIGKILL: no clean-up at all, as a crash or the OOM killer."""
        if self.process is not None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
            self.process = None
