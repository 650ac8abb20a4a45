"""Where a cold `newsbot index` spends its CPU, stage by stage (bench_index.py prints it).

    python benchmarks/index_stages.py FOLDER DB   # one cold build; prints JSON

Runs in a fresh process, as `newsbot index` does: the start-up imports are timed first,
then one cold build of FOLDER into DB (deleted first) with story clusters on. The index
code is wrapped, not changed: each stage's CPU is the calling thread's own
(`time.thread_time`), the matching thread's is taken inside it, and the workers' CPU is
what was reaped of them once the pool is gone (this process's children when it forks
them itself, else the fork server's: cutime and cstime in /proc). Then a sample of the
folder's files is read, scanned and turned into rows again in this process, step by
step, to split the workers' CPU per file.

The stages do not add up to the wall time: the workers run beside the main thread, and
the matching beside the index build. The main process's other threads (the pool's
manager and queue feeder) are its CPU less the two measured threads.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path

SAMPLE_FILES = 5_000


def _forkserver_cpu() -> tuple[float, float]:
    """(its own CPU, its reaped children's CPU) of this process's fork server child."""
    tick = os.sysconf("SC_CLK_TCK")
    own = reaped = 0.0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid():
            own += (int(fields[11]) + int(fields[12])) / tick
            reaped += (int(fields[13]) + int(fields[14])) / tick
    return own, reaped


def measure(folder: Path, db: Path) -> dict[str, float]:
    started, cpu_started = time.perf_counter(), time.process_time()
    from newsbot.bot.cli import main  # noqa: F401  (what `newsbot index` imports)
    from newsbot.storage import index, story_clusters
    from newsbot.storage.db import Store
    from newsbot.storage.story_clusters import ClusterSettings

    stages: dict[str, float] = {"start-up imports": time.process_time() - cpu_started}
    marks: dict[str, float] = {}

    def charge(stage: str, seconds: float) -> None:
        stages[stage] = stages.get(stage, 0.0) + seconds

    def timed(stage: str, function):
        def wrapper(*args, **kwargs):
            before = time.thread_time()
            try:
                return function(*args, **kwargs)
            finally:
                charge(stage, time.thread_time() - before)
        return wrapper

    def timed_stream(stage: str, function):
        """A generator's own CPU, less what its `inner` stages took meanwhile."""
        def wrapper(*args, **kwargs):
            iterator = function(*args, **kwargs)
            while True:
                inner = sum(stages.get(s, 0.0) for s in ("walk", "writes during the load",
                                                           "cluster records, side database"))
                before = time.thread_time()
                try:
                    item = next(iterator)
                except StopIteration:
                    return
                finally:
                    inner = sum(stages.get(s, 0.0) for s in (
                        "walk", "writes during the load", "cluster records, side database"
                    )) - inner
                    charge(stage, time.thread_time() - before - inner)
                yield item
        return wrapper

    original_match = story_clusters.ColdClusters._match

    def match(self) -> None:
        before = time.thread_time()
        try:
            original_match(self)
        finally:
            charge("matching (its own thread)", time.thread_time() - before)

    original_start = story_clusters.ColdClusters.start_matching

    def start_matching(self) -> None:
        marks["rows in"] = time.perf_counter()
        marks["tail cpu"] = time.thread_time()
        original_start(self)

    original_finish = index._finish

    def finish(*args, **kwargs):
        marks["tail done"] = time.perf_counter()
        charge("topic rows, indexes, full-text, commit", time.thread_time() - marks["tail cpu"])
        return timed("clusters stored (main thread)", original_finish)(*args, **kwargs)

    index.walk_folder = timed_stream("walk", index.walk_folder)
    index._parse_all = timed_stream("dispatch and results (main thread)", index._parse_all)
    index._write = timed("writes during the load", index._write)
    index._finish = finish
    story_clusters.ColdClusters.add = timed("cluster records, side database",
                                            story_clusters.ColdClusters.add)
    story_clusters.ColdClusters._match = match
    story_clusters.ColdClusters.start_matching = start_matching

    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    store = Store(db)
    build_started, process_before = time.perf_counter(), time.process_time()
    main_before = time.thread_time()
    report = index.refresh(store, folder, clusters=ClusterSettings())
    build_wall = time.perf_counter() - build_started
    main_thread = time.thread_time() - main_before
    process_cpu = time.process_time() - process_before
    store.close()
    time.sleep(0.3)  # a fork server reaps its last worker
    server_own, workers = _forkserver_cpu()
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)  # workers forked from here
    workers += reaped.ru_utime + reaped.ru_stime
    stages["workers (read, parse, rows, cluster records)"] = workers
    stages["fork server"] = server_own
    stages["other threads of the main process (pool manager, feeder)"] = max(
        0.0, process_cpu - main_thread - stages.get("matching (its own thread)", 0.0))
    stages["main thread, unaccounted"] = max(0.0, main_thread - sum(
        stages.get(s, 0.0) for s in ("walk", "dispatch and results (main thread)",
                                     "writes during the load", "cluster records, side database",
                                     "topic rows, indexes, full-text, commit",
                                     "clusters stored (main thread)")))
    return {
        "stages": stages,
        "walls": {"process": time.perf_counter() - started, "build": build_wall,
                  "all rows in": marks.get("rows in", build_started) - build_started,
                  "tail": marks.get("tail done", 0.0) - marks.get("rows in", 0.0)},
        "indexed": report.indexed,
        "per_file_us": per_file(folder),
    }


def per_file(folder: Path) -> dict[str, float]:
    """A worker's CPU per file by step, in this process, over SAMPLE_FILES usable files."""
    import hashlib

    from newsbot.storage import index
    from newsbot.storage.article_file import BOM, parse_article, split_front_matter
    from newsbot.storage.front_matter_scan import scan_front_matter

    paths = []
    for article_id, _ in index.walk_folder(folder):
        paths.append(os.path.join(folder, article_id))
        if len(paths) >= SAMPLE_FILES:
            break
    steps: dict[str, float] = {}

    def step(name: str, function, items: list) -> list:
        before = time.process_time()
        out = [function(item) for item in items]
        steps[name] = (time.process_time() - before) / len(items) * 1e6
        return out

    data = step("open, fstat, read", lambda p: index._read_file(p, 1 << 20)[1], paths)
    step("content hash", lambda d: hashlib.blake2b(d, digest_size=16).hexdigest(), data)
    texts = step("decode, split front matter", lambda d: _front(d, BOM, split_front_matter),
                 data)
    step("front matter scan", lambda t: t is not None and scan_front_matter(t), texts)
    step("scan + field checks (parse_article)", lambda d: _safe(parse_article, d), data)
    root = str(folder)
    ids = [os.path.relpath(p, root) for p in paths]
    step("whole file, rows and cluster record (read_and_parse)",
         lambda a: index.read_and_parse(root, a, None, clusters=True), ids)
    return steps


def _front(data: bytes, bom: str, split) -> str | None:
    try:
        return split(data.decode("utf-8").removeprefix(bom))[0]
    except Exception:
        return None


def _safe(function, value):
    try:
        return function(value)
    except Exception:
        return None


if __name__ == "__main__":
    print(json.dumps(measure(Path(sys.argv[1]), Path(sys.argv[2]))))
