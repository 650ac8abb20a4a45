"""The local sandbox: the real bot, a Slack look-alike and a web page, on 127.0.0.1 only.

`newsbot sandbox` (and `newsbot serve` without any Slack credentials) lets an editor try
the whole loop on a laptop before IT installs the Slack app. Nothing is simulated on
the bot's side: it is the runtime `newsbot serve --http` runs (bot/app/runtime.py), with
every job (schedules fire here too), served by the production server on 127.0.0.1 with
a signing secret made up for this run, and talking to the Web API look-alike
(sandbox/lookalike.py) instead of slack.com. The first digest is posted through
`post_digest`, as the scheduler and `newsbot digest --post` do. Beside `#newsroom` the
workspace has an empty `#newsdesk` and the user's DM with the bot, where the alerts of a
subscription or a follow land (file events index what is dropped into the folder).

What the page's user does reaches the app as Slack would send it, as signed HTTP
(sandbox/page_actions.py: reactions, clicks, `/news`, App Home, modals, link previews,
message shortcuts); what the page draws is sandbox/page_state.py's.

The page acts as one of `members` at a time: the sandbox's own user (a workspace admin)
or Sam, who is not one; every request is signed as the member the page names.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import secrets
import threading
import uuid
from collections.abc import MutableMapping
from typing import Any

from newsbot.bot.app.runtime import Runtime
from newsbot.bot.app.slack_client import web_client
from newsbot.bot.config.settings import Config, articles_folder_problem
from newsbot.bot.newsroom.digest import DigestOptions, PlannedDigest, plan_digest
from newsbot.handlers.posting.digest_post import post_digest
from newsbot.sandbox.bundled_images import BundledImages
from newsbot.sandbox.lookalike import SlackLookalike
from newsbot.sandbox.page_actions import PageActions
from newsbot.sandbox.page_server import PageServer
from newsbot.sandbox.page_state import page_state
from newsbot.sandbox.signed_requests import SignedSlackClient
from newsbot.sandbox.workspace import SlackUser
from newsbot.storage.db import Store

log = logging.getLogger(__name__)

HOST = "127.0.0.1"  # always: the sandbox has no authentication of its own
DEFAULT_PORT = 8765
CHANNEL_ID = "C0NEWSROOM"
CHANNEL_NAME = "newsroom"
# A second channel, empty at start: subscribe it (`/news subscribe topics=AI`) and drop a
# file into the articles folder to see an alert land there.
DESK_CHANNEL_ID = "C0NEWSDESK"
DESK_CHANNEL_NAME = "newsdesk"
SANDBOX_USER = SlackUser("U0YOU", "you", "You (sandbox editor)", is_admin=True, is_owner=True)
# A second member, neither a workspace admin nor in the config's lists: switched to on the
# page, everything the page sends comes signed as them, so admin checks refuse them and
# App Home shows them no admin buttons, as for any reporter in a real workspace.
SANDBOX_MEMBER = SlackUser("U0SAM", "sam", "Sam (reporter, not an admin)", tz="Europe/Lisbon")
# The bot events deploy/manifest.yml subscribes to: Slack sends an app no others.
SUBSCRIBED_EVENTS = frozenset({"app_home_opened", "reaction_added", "reaction_removed",
                               "link_shared"})
# The domains of the bundled examples' links (their webUrl; a domain covers its
# subdomains, as in Slack): `unfurl.domains` here when the config names none, so a pasted
# example link is previewed out of the box. `serve` keeps the config's (none by default):
# a real app's manifest names the newsroom's own domains. Five, the most Slack allows.
EXAMPLE_UNFURL_DOMAINS = ("example-news.org", "example.org", "example.com", "example.net",
                          "healthwire.example")


class SandboxError(Exception):
    """The sandbox cannot start (e.g. no articles folder); the message says why."""


class Sandbox(PageActions):
    """The look-alike, the app and the page, started together and stopped together."""

    def __init__(self, config: Config, *, port: int = DEFAULT_PORT,
                 user: SlackUser = SANDBOX_USER,
                 others: tuple[SlackUser, ...] = (SANDBOX_MEMBER,)) -> None:
        self.config = _with_example_domains(_with_sandbox_user(config, user.id))
        self.port = port
        self.user = user  # who the page acts as unless it names another member
        self.members = (user, *(o for o in others if o.id != user.id))
        self.digest: PlannedDigest | None = None  # the digest posted at start
        self.store: Store | None = None
        self.slack: SlackLookalike | None = None
        self.client: SignedSlackClient | None = None
        self.runtime: Runtime | None = None
        self._page: PageServer | None = None
        self.images = BundledImages()
        self.stopping = threading.Event()

    # ---- life cycle

    def start(self) -> Sandbox:
        """Index, start everything, post the first digest; then the page is ready."""
        problem = articles_folder_problem(self.config.articles)
        if problem:
            raise SandboxError(problem)
        _keep_loopback_off_proxies(os.environ)
        try:
            self._start_parts()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_parts(self) -> None:
        self._page = PageServer(self, HOST, self.port)  # first: a busy port fails at once
        self.slack = SlackLookalike(
            channels={CHANNEL_ID: CHANNEL_NAME, DESK_CHANNEL_ID: DESK_CHANNEL_NAME},
            users=self.members, host=HOST,
            unfurl_domains=self.config.unfurl_domains).start()
        # the DM with the bot is on the page from the start, as in Slack's sidebar; the
        # bot's conversations.open for a follow's alert finds this one
        for member in self.members:
            self.slack.workspace.open_dm(member.id)
        signing_secret = secrets.token_urlsafe(24)  # made up per run, known to both sides
        bot_client = web_client(self.slack.bot_token, self.slack.base_url)
        self.runtime = Runtime(self.config, bot_client, signing_secret).start()
        self.store = self.runtime.store
        app_server = self.runtime.open_http(HOST, 0)
        app_server.start_in_thread()
        self.client = SignedSlackClient(
            f"{app_server.url}/slack/events", signing_secret,
            team_id=self.slack.workspace.team_id, team_domain=self.slack.workspace.team_domain,
            api_app_id=self.slack.workspace.app_id, bot_user_id=self.slack.bot_user_id,
            response_url_factory=self.slack.new_response_url,
            trigger_id_factory=self.slack.new_trigger_id,
        )
        self.slack.event_sink = self._forward_event
        self.runtime.start_jobs()
        self.digest = self._post_first_digest()
        self._page.start_in_thread()

    def stop(self) -> None:
        self.stopping.set()
        if self._page is not None:
            self._page.stop()
            self._page = None
        if self.runtime is not None:
            self.runtime.stop()
            self.runtime = None
        if self.slack is not None:
            self.slack.stop()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The page: http://127.0.0.1:PORT/ (only while started)."""
        if self._page is None:
            raise RuntimeError("the sandbox is not running: call start() first")
        return self._page.url

    def _post_first_digest(self) -> PlannedDigest:
        """The digest production would post, so the page shows the real thing at once.

        The look-alike starts empty on every run, so articles an earlier run posted may
        be posted again (repost_after_days=0), and each run's digest has its own key.
        """
        assert self.store is not None and self.runtime is not None
        plan = plan_digest(self.store, CHANNEL_ID, DigestOptions(top=self.config.digest_top),
                           key=f"sandbox:{uuid.uuid4().hex}",
                           in_thread=self.config.digest_in_thread, repost_after_days=0)
        return post_digest(self.runtime.client, self.store, plan,
                           post_when_empty=self.config.digest_nothing_new)

    def _forward_event(self, event: dict[str, Any]) -> object:
        """The look-alike's event sink: what Slack would deliver, signed, to the app."""
        if event.get("type") not in SUBSCRIBED_EVENTS or self.stopping.is_set():
            return None
        assert self.client is not None
        return self.client.send_event(event)

    # ---- what the page shows

    @property
    def version(self) -> int:
        assert self.slack is not None
        return self.slack.version

    def wait_for_change(self, since: int, timeout: float) -> int:
        """Wait until the workspace changed after `since` (or timeout, or stop)."""
        assert self.slack is not None
        version = self.slack.version
        remaining = timeout
        while version <= since and remaining > 0 and not self.stopping.is_set():
            step = min(0.5, remaining)
            version = self.slack.wait_for_change(since, timeout=step)
            remaining -= step
        return version

    def state(self, user: str | None = None) -> dict[str, Any]:
        """Everything the page draws for the member it acts as (sandbox/page_state.py)."""
        assert self.slack is not None
        return page_state(self.slack, self.member(user), members=self.members,
                          config=self.config, images=self.images,
                          shortcuts=self.shortcuts(), page_url=self.url)


def _with_sandbox_user(config: Config, user_id: str) -> Config:
    """The sandbox user may decide and administer even when the config lists who may."""
    editors = config.editors + (user_id,) if config.editors else ()
    admins = config.admins + (user_id,) if config.admins else ()
    return dataclasses.replace(config, editors=editors, admins=admins)


def _with_example_domains(config: Config) -> Config:
    """The config's `unfurl.domains`, or the bundled examples' when it names none."""
    if config.unfurl_domains:
        return config
    return dataclasses.replace(config, unfurl_domains=EXAMPLE_UNFURL_DOMAINS)


def _keep_loopback_off_proxies(env: MutableMapping[str, str]) -> None:
    """slack_sdk sends every call through HTTP(S)_PROXY when one is set, and a company
    proxy cannot reach this machine's 127.0.0.1; urllib skips hosts listed in no_proxy."""
    if not any(env.get(name) for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy",
                                          "https_proxy")):
        return
    for name in ("no_proxy", "NO_PROXY"):
        entries = [e.strip() for e in env.get(name, "").split(",") if e.strip()]
        for host in (HOST, "localhost"):
            if host not in entries:
                entries.append(host)
        env[name] = ",".join(entries)
