"""Shared test helpers: article files in the newsroom's exact format, and the CLI.

Articles are written the way the newsroom stores them (see shared/example-article.txt):
keys in editorial order, blank lines between groups, double-quoted strings, an unquoted
`publishedDateTime`. Any field can be overridden, left out (`OMIT`) or written verbatim
(`Raw`), so one helper makes both valid and broken files.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from newsbot.bot.app.runtime import Runtime
from newsbot.bot.app.slack_client import web_client
from newsbot.bot.app.web_server import WebServer
from newsbot.bot.cli.main import main
from newsbot.bot.config.settings import BUNDLED_ARTICLES, Config
from newsbot.bot.newsroom.digest import DigestOptions, plan_digest
from newsbot.handlers.posting.digest_post import post_digest
from newsbot.handlers.posting.redrawer import Redrawer
from newsbot.sandbox import SignedSlackClient, SlackLookalike
from newsbot.sandbox.fault_site import fill_disk
from newsbot.sandbox.fault_site import small_filesystem as mounted_tmpfs
from newsbot.storage.db import Store
from newsbot.storage.index import refresh

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = REPO_ROOT / "examples" / "articles"

OMIT = object()  # leave the key out of the front matter


@dataclass(frozen=True)
class Raw:
    """A value written into the YAML exactly as given (e.g. `quality: high`)."""

    text: str


DEFAULTS: dict[str, Any] = {
    "category": Raw("news"),
    "title": "CBP’s Outgoing Biometrics Lead on Law Enforcement Use of Facial Recognition",
    "excerpt": "Law enforcement should be careful using facial recognition in public spaces.",
    "publishedDateTime": Raw("2020-07-02T19:21:00Z"),
    "webUrl": "https://www.nextgov.com/cio-briefing/2020/07/cbps-outgoing-biometrics-lead/166629/",
    "type": Raw("article"),
    "quality": 37,
    "heat": 37,
    "published": False,
    "provider": {"name": Raw("Nextgov"), "domain": Raw("nextgov.com")},
    "topics": [Raw("Computer Vision"), Raw("AI")],
    "images": [{"url": "https://cdn.nextgov.com/media/img/open-graph.jpg", "width": 400,
                "height": 400, "isCached": True}],
    "related": Raw(
        "\n  - title: \"Alarm systems upgraded with Facewatch biometric facial recognition\""
        "\n    publishedDateTime: 2020-07-06T15:08:00Z"
        "\n    type: article"
        "\n    provider:\n      name: Biometric Companies\n      domain: biometricupdate.com"
        "\n    quality: 30"
    ),
    "secured": "J4gpCRArL2xkBYO2F020collFTiuMSpJapLO0efBwe63yN4+GrlCm==;DBreKKY7CRykmPTTk5Vj4A==",
}
# Blank lines go before these keys, as in the example.
_GROUP_STARTS = {"provider", "topics", "images", "related", "secured"}


def _scalar(value: Any) -> str:
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)  # a valid YAML double-quoted string


def _render(key: str, value: Any) -> list[str]:
    if isinstance(value, dict):
        return [f"{key}:"] + [f"  {k}: {_scalar(v)}" for k, v in value.items()]
    if isinstance(value, list):
        lines = [f"{key}:"]
        for item in value:
            if isinstance(item, dict):
                first, *rest = item.items()
                lines.append(f"  - {first[0]}: {_scalar(first[1])}")
                lines += [f"    {k}: {_scalar(v)}" for k, v in rest]
            else:
                lines.append(f"  - {_scalar(item)}")
        return lines
    text = _scalar(value)
    return [f"{key}:{text}" if text.startswith("\n") else f"{key}: {text}"]


def article_text(body: str = "", **fields: Any) -> str:
    """An article in the newsroom's format; `fields` override the defaults (OMIT drops one)."""
    values = {**DEFAULTS, **fields}
    lines = ["---"]
    for key, value in values.items():
        if value is OMIT:
            continue
        if key in _GROUP_STARTS:
            lines.append("")
        lines += _render(key, value)
    lines.append("---")
    return "\n".join(lines) + "\n" + body


def write_article(
    folder: Path,
    rel_path: str,
    body: str = "",
    *,
    crlf: bool = False,
    bom: bool = False,
    mtime_ns: int | None = None,
    **fields: Any,
) -> Path:
    """Write an article file (creating folders); returns its path."""
    text = article_text(body, **fields)
    return write_raw(folder, rel_path, text, crlf=crlf, bom=bom, mtime_ns=mtime_ns)


def write_raw(
    folder: Path,
    rel_path: str,
    content: str | bytes,
    *,
    crlf: bool = False,
    bom: bool = False,
    mtime_ns: int | None = None,
) -> Path:
    """Write any bytes as a file under `folder`, e.g. a broken article."""
    if isinstance(content, str):
        if crlf:
            content = content.replace("\n", "\r\n")
        content = (("\ufeff" if bom else "") + content).encode("utf-8")
    path = folder / rel_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    if mtime_ns is not None:
        os.utime(path, ns=(mtime_ns, mtime_ns))
    return path


def bump_mtime(path: Path, by_ns: int = 5_000_000_000) -> None:
    """Move a file's mtime forward, as an edit would (without sleeping past the clock tick)."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + by_ns))


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        """stdout as exactly one JSON document (json.loads rejects anything more)."""
        return json.loads(self.stdout)


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment without any NEWSBOT_* setting of the machine, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")}
    env["PYTHONIOENCODING"] = "utf-8"
    env.update(extra or {})
    return env


def run_cli(*args: str, cwd: Path, env: dict[str, str] | None = None, **kwargs) -> CliResult:
    """Run `python -m bot ARGS` as its own process (the way people and scripts run it)."""
    done = subprocess.run(
        [sys.executable, "-m", "newsbot.bot", *args],
        cwd=cwd, env=clean_env(env), capture_output=True, text=True, encoding="utf-8",
        timeout=60, **kwargs,
    )
    return CliResult(done.returncode, done.stdout, done.stderr)


@contextlib.contextmanager
def read_only_even_for_root(*paths: Path) -> Iterator[None]:
    """`chattr +i` for the block: not even root may write, create or delete there (chmod
    does not stop root, and the tests may run as root). Skips where it is refused."""
    done = subprocess.run(["chattr", "+i", *map(str, paths)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"chattr +i is not allowed here: {done.stderr.decode().strip()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", *map(str, paths)], check=True)


@pytest.fixture
def indexed(store: Store, articles: Path) -> Store:
    """Two usable articles, a.md (quality 2) and b.md (quality 1), indexed."""
    write_article(articles, "a.md", quality=2)
    write_article(articles, "b.md", quality=1)
    refresh(store, articles)
    return store


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean working folder with no NEWSBOT_* variables, for in-process CLI runs."""
    for key in list(os.environ):
        if key.startswith("NEWSBOT_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def articles(tmp_path: Path) -> Path:
    folder = tmp_path / "articles"
    folder.mkdir()
    return folder


@pytest.fixture(scope="session")
def empty_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated database made once; each test's store is a copy (migrating costs ~50 ms)."""
    path = tmp_path_factory.mktemp("template") / "empty.db"
    Store(path).close()
    return path


@pytest.fixture
def store(tmp_path: Path, empty_db: Path) -> Store:
    shutil.copyfile(empty_db, tmp_path / "index.db")
    store = Store(tmp_path / "index.db")
    yield store
    store.close()


@pytest.fixture
def newsbot(workdir: Path):
    """`newsbot ARGS` in this process (fast): returns a CliResult."""

    def run(*args: str) -> CliResult:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as stop:  # --help
                code = stop.code if isinstance(stop.code, int) else 1
        return CliResult(code, out.getvalue(), err.getvalue())

    return run


# --- the Slack app end to end: the look-alike, signed requests, real HTTP

SECRET = "test-signing-secret"
CHANNEL = "C0NEWSDESK"
EDITOR = "U0EDITOR"
CHIEF = "U0CHIEF"


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test talks to servers on 127.0.0.1; slack_sdk's WebClient honours
    HTTP(S)_PROXY even for loopback, so clear them for all tests."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)


@dataclass
class Newsroom:
    slack: SlackLookalike
    client: SignedSlackClient
    store: Store
    config: Config
    server: WebServer
    redrawer: Redrawer | None = None  # with manual_redraw: the test runs each redraw pass
    runtime: Runtime | None = None

    def post_digest(self, top: int = 3, **kwargs) -> object:
        plan = plan_digest(self.store, CHANNEL, DigestOptions(top=top), **kwargs)
        return post_digest(web_client(self.slack.bot_token, self.slack.base_url), self.store,
                           plan)

    def log_rows(self) -> list[dict]:
        return self.store.query("SELECT * FROM decision_log ORDER BY id")

    def votes(self) -> list[dict]:
        return self.store.query("SELECT article_id, user_id, decision FROM votes")

    def redraw_on_two_servers(self) -> list[int]:
        """Two redrawers on their own connections to this database, as two `serve`
        processes have, each running one pass at the same moment: how many each drew."""
        client = web_client(self.slack.bot_token, self.slack.base_url)
        servers = [Redrawer(client, Store(self.store.path)) for _ in range(2)]
        start, drawn = threading.Barrier(2), [0, 0]

        def poll(n: int) -> None:
            start.wait()
            drawn[n] = servers[n].redraw_now()

        threads = [threading.Thread(target=poll, args=(n,)) for n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return drawn


@contextlib.contextmanager
def start_newsroom(tmp_path: Path, manual_redraw: bool = False,
                   **config_overrides) -> Iterator[Newsroom]:
    """The bundled articles indexed, the look-alike, and the runtime `newsbot serve --http`
    runs (bot/app/runtime.py), served over HTTP on loopback.

    With `manual_redraw`, no thread polls the redraw queue: the test calls
    `newsroom.redrawer.redraw_now()` and knows exactly which redraws ran."""
    articles = tmp_path / "articles"
    shutil.copytree(BUNDLED_ARTICLES, articles)
    # Each article on its own unless a test asks for story clusters: these tests count and
    # order articles one by one (tests/storage/test_clusters.py covers the stories).
    config_overrides.setdefault("clusters_enabled", False)
    db = config_overrides.pop("db", tmp_path / "newsbot.db")
    config = Config(articles=articles, db=db, **config_overrides)
    # Slack sends link_shared for the manifest's unfurl domains: newsbot manifest's, the config's
    with SlackLookalike(unfurl_domains=config.unfurl_domains) as slack:
        runtime = Runtime(config, web_client(slack.bot_token, slack.base_url), SECRET,
                          redraw_thread=not manual_redraw)
        try:
            runtime.start()
            server = runtime.open_http("127.0.0.1", 0)
            server.start_in_thread()
            runtime.start_jobs()
            assert runtime.store is not None and runtime.redrawer is not None
            client = SignedSlackClient(f"{server.url}/slack/events", SECRET,
                                       response_url_factory=slack.new_response_url,
                                       trigger_id_factory=slack.new_trigger_id)
            yield Newsroom(slack, client, runtime.store, config, server,
                           runtime.redrawer if manual_redraw else None, runtime)
        finally:
            runtime.stop()


@pytest.fixture
def newsroom(tmp_path: Path) -> Iterator[Newsroom]:
    with start_newsroom(tmp_path) as started:
        yield started


def texts(blocks: list[dict] | str) -> str:
    return blocks if isinstance(blocks, str) else json.dumps(blocks, ensure_ascii=False)


def parsed(value: object) -> object:
    """A JSON parameter as the app sent it (form-encoded JSON text, or already parsed)."""
    return json.loads(value) if isinstance(value, str) else value


def digest_message(newsroom: Newsroom, position: int = 0):
    plan = newsroom.post_digest(top=3)
    return plan.messages[position]


def private_answer(newsroom: Newsroom, text: str, user: str, channel: str = CHANNEL):
    """The ephemeral response_url post answering `/news <text>` typed by `user`."""
    before = len(newsroom.slack.response_posts())
    answer = newsroom.client.slash_command("/news", text, user_id=user, channel_id=channel)
    assert answer.status == 200
    newsroom.slack.wait_until(lambda: len(newsroom.slack.response_posts()) > before)
    post = newsroom.slack.response_posts()[before]
    assert post.response_type == "ephemeral"
    return post


def wait_for_log(newsroom: Newsroom, count: int) -> list[dict]:
    newsroom.slack.wait_until(lambda: len(newsroom.log_rows()) >= count)
    return newsroom.log_rows()


# --- a small real file system, for full-disk faults (CI runs as root, so it can mount)

fill = fill_disk


def in_ci() -> bool:
    """CI is set (`.ci/run` sets it): what a developer's machine may skip must run here.
    `CI=0`, `false` or `no` count as unset."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@contextlib.contextmanager
def small_filesystem(mount: Path, size: str) -> Iterator[Path]:
    """sandbox/fault_site.py's tmpfs; skipped where mounting is not allowed, except under
    CI, where it fails."""
    with contextlib.ExitStack() as stack:
        try:
            disk = stack.enter_context(mounted_tmpfs(mount, size))
        except PermissionError as error:
            if in_ci():
                pytest.fail(f"CI runs as root and must mount a small tmpfs: {error}")
            pytest.skip(str(error))
        yield disk
