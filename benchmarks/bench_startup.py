"""Benchmark: how long `newsbot topics` takes, start-up included, against an earlier commit.

    python benchmarks/bench_startup.py [--baseline b3fb7ad] [--runs 15]

The baseline is the given commit's tree (`git archive`, into a temporary folder), run
the way it was run then: `python -m bot` with that tree on PYTHONPATH before the one
import package (`newsbot`) existed, `python -m newsbot.bot` after (its folders linked
into a `newsbot` folder on PYTHONPATH, ahead of this checkout's editable install). Both run in this
venv, on the same copy of the bundled examples with an index already built, so what is
measured is start-up (imports, configuration) plus one refresh that finds nothing
changed and the answer. Runs alternate between the two so that the shared machine's
noise falls on both alike. Prints each one's median and minimum and the ratio.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from newsbot.bot.config.settings import BUNDLED_ARTICLES

REPO = Path(__file__).resolve().parent.parent


FOLDERS = ("bot", "handlers", "sandbox", "storage")  # newsbot.bot is bot/, and so on


def baseline_command(tree: Path) -> tuple[list[str], dict[str, str]]:
    """How the commit in `tree` starts its CLI, and the environment it needs."""
    if (tree / "bot" / "__main__.py").exists() and not (tree / "bot" / "cli").is_dir():
        env = {**os.environ, "PYTHONPATH": str(tree)}
        return [sys.executable, "-m", "bot"], env  # before the one import package
    if (tree / "bot" / "cli" / "main.py").exists():
        # one import package: a `newsbot` folder of links to the tree's folders, ahead of
        # this venv's editable install on sys.path (as package-dir maps them)
        package = tree.parent / "baseline-import" / "newsbot"
        package.mkdir(parents=True)
        for folder in FOLDERS:
            (package / folder).symlink_to(tree / folder, target_is_directory=True)
        env = {**os.environ, "PYTHONPATH": str(package.parent)}
        where = subprocess.run([sys.executable, "-c", "import newsbot.bot.cli.main as m; "
                                "print(m.__file__)"], env=env, check=True, text=True,
                               capture_output=True).stdout.strip()
        if not where.startswith(str(package)):
            raise SystemExit(f"the baseline's newsbot.bot loads from {where}, not its tree")
        return [sys.executable, "-m", "newsbot.bot"], env
    raise SystemExit("the baseline commit is not one this benchmark knows how to start")


def timed(command: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="b3fb7ad", help="commit to compare with")
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        tree = work / "baseline"
        tree.mkdir()
        archive = subprocess.run(["git", "-C", str(REPO), "archive", args.baseline],
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
        articles = work / "articles"
        shutil.copytree(BUNDLED_ARTICLES, articles)
        flags = ["--articles", str(articles), "topics"]
        old_command, old_env = baseline_command(tree)
        clean_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        contenders = {
            f"baseline {args.baseline}": ([*old_command, "--db", str(work / "old.db"), *flags],
                                          old_env),
            "now": ([sys.executable, "-m", "newsbot.bot", "--db", str(work / "new.db"), *flags],
                    clean_env),
        }
        for command, env in contenders.values():  # build each index once, untimed
            timed(command, env, work)
        times: dict[str, list[float]] = {name: [] for name in contenders}
        for _ in range(args.runs):
            for name, (command, env) in contenders.items():
                times[name].append(timed(command, env, work))
    base = statistics.median(times[f"baseline {args.baseline}"])
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:>18}: median {median:.3f} s, min {min(values):.3f} s "
              f"({median / base:.2f}x the baseline)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
