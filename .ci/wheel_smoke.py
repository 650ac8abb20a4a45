"""Smoke test of an installed wheel, run by .ci/wheel_smoke from an empty folder.

newsbot must work there exactly as in a checkout: `index` and `digest` on the bundled
examples, `sandbox` serving its page, and `serve` without credentials refusing (exit 2).
The wheel itself holds one top-level import package, `newsbot`, and every module of the
checkout's folders under it.
Only the standard library: this runs in the fresh venv the wheel was installed into.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

NEWSBOT, WHEEL = sys.argv[1], sys.argv[2]
REPO = Path(__file__).resolve().parent.parent
FOLDERS = ("bot", "handlers", "sandbox", "storage")
ENV = {k: v for k, v in os.environ.items()
       if not k.startswith(("NEWSBOT_", "SLACK_", "PYTHONPATH"))
       and k.lower() not in ("http_proxy", "https_proxy")}
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
# every article of the checkout's bundled folder must be in the wheel
BUNDLED = sum(1 for p in (REPO / "bot" / "examples" / "articles").rglob("*")
              if p.suffix in (".md", ".txt"))


def run(*args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([NEWSBOT, *args], env=ENV, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=120)
    print(f"$ newsbot {' '.join(args)} -> {done.returncode}")
    return done


def check(condition: object, what: str, detail: object = "") -> None:
    if not condition:
        sys.exit(f"wheel smoke test FAILED: {what}\n{detail}")


def check_wheel() -> None:
    with zipfile.ZipFile(WHEEL) as wheel:
        names = set(wheel.namelist())
        top_level = next(wheel.read(n).decode() for n in names if n.endswith("/top_level.txt"))
    check(top_level.split() == ["newsbot"], "top_level.txt lists only newsbot", top_level)
    modules = {"newsbot/" + str(p.relative_to(REPO)) for folder in FOLDERS
               for p in (REPO / folder).rglob("*.py") if "__pycache__" not in p.parts}
    check(modules <= names, "every module of the checkout is in the wheel",
          sorted(modules - names))
    outside = sorted(n for n in names if not n.startswith(("newsbot/", "newsbot-")))
    check(not outside, "nothing outside newsbot/ and its dist-info", outside)
    print(f"wheel: top_level.txt lists newsbot; {len(modules)} modules under newsbot/")


def main() -> None:
    check_wheel()
    check(not any(Path.cwd().iterdir()), "the folder is not empty", list(Path.cwd().iterdir()))
    index = run("index", "--json")
    check(index.returncode == 0, "newsbot index", index.stderr)
    check(json.loads(index.stdout)["indexed"] == BUNDLED,
          f"all {BUNDLED} bundled articles indexed", index.stdout)
    digest = run("digest", "--json")
    check(digest.returncode == 0 and len(json.loads(digest.stdout)["articles"]) == 10,
          "newsbot digest lists 10 articles", digest.stdout + digest.stderr)
    serve = run("serve")
    check(serve.returncode == 2 and "newsbot sandbox" in serve.stderr,
          "serve without credentials exits 2 pointing at the sandbox", serve.stderr)
    sandbox = subprocess.Popen([NEWSBOT, "sandbox", "--port", "0"], env=ENV, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL)
    try:
        url = None
        for line in sandbox.stdout:
            if line.startswith("Open http://"):
                url = line.split()[1]
                break
        if url is None:
            check(False, "the sandbox printed its URL", sandbox.stderr.read())
        with OPENER.open(url, timeout=10) as response:
            check("newsbot sandbox" in response.read().decode(), "the page is served")
        with OPENER.open(url + "app.js", timeout=10) as response:
            check(response.status == 200, "the page's static files are served")
        with OPENER.open(url + "api/state", timeout=10) as response:
            state = json.loads(response.read())
        check(any(state["messages"].values()), "the first digest was posted", state)
    finally:
        sandbox.send_signal(signal.SIGTERM)
        out, err = sandbox.communicate(timeout=30)
    check(sandbox.returncode == 0 and "Sandbox stopped." in out, "the sandbox stops", err)
    check((Path("newsbot-sandbox") / "articles").is_dir(), "the sandbox copied the examples")
    print("wheel smoke test passed")


if __name__ == "__main__":
    main()
