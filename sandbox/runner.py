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

What the page's user does reaches the app as Slack would send it, as signed HTTP:
- a reaction is a `reactions.add`/`reactions.remove` call with the sandbox user's token;
  the look-alike turns it into the `reaction_added`/`reaction_removed` event, which goes
  to the app as a signed `event_callback` (only the events the app subscribes to in
  deploy/manifest.yml are forwarded, as Slack does);
- a button click is a signed `block_actions` payload carrying the message as stored;
- `/news ...` is a signed slash command whose response_url is the look-alike's, so the
  answer appears as an ephemeral message only the sandbox user sees (typed in a thread's
  reply box it is refused, as Slack refuses an app's slash command there);
- opening the App Home sends `app_home_opened`;
- a modal's submit button is a signed `view_submission` with the inputs' values, and the
  app's answer is carried out as Slack does it (sandbox/modals.py).
- a message with a link to one of `unfurl.domains` (the bundled examples' domains
  unless the config names some) sends `link_shared`, and the app's preview (chat.unfurl)
  shows under the message, its buttons clickable;
- a message's "More actions" menu lists the app's message shortcuts (from its manifest);
  choosing one sends a signed `message_action`; typing in an external select of a modal
  sends `block_suggestion`, whose answer fills the list.

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
from collections.abc import Callable, Mapping, MutableMapping
from pathlib import Path
from typing import Any

from newsbot.bot.app.runtime import Runtime
from newsbot.bot.app.slack_client import web_client
from newsbot.bot.config.settings import Config, articles_folder_problem
from newsbot.bot.newsroom.digest import DigestOptions, PlannedDigest, plan_digest
from newsbot.handlers.manifest import manifest
from newsbot.handlers.posting.digest_post import post_digest
from newsbot.sandbox.bundled_images import BundledImages
from newsbot.sandbox.lookalike import SlackLookalike
from newsbot.sandbox.modals import InvalidSubmissionAnswer, state_values
from newsbot.sandbox.page_server import ActionRefused, PageServer
from newsbot.sandbox.signed_requests import SignedSlackClient
from newsbot.sandbox.workspace import SlackError, SlackUser, Workspace
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
COMMAND = "/news"
# The domains of the bundled examples' links (their webUrl; a domain covers its
# subdomains, as in Slack): `unfurl.domains` here when the config names none, so a pasted
# example link is previewed out of the box. `serve` keeps the config's (none by default):
# a real app's manifest names the newsroom's own domains. Five, the most Slack allows.
EXAMPLE_UNFURL_DOMAINS = ("example-news.org", "example.org", "example.com", "example.net",
                          "healthwire.example")
MAX_SUGGESTIONS = 100  # options an external select shows, as Slack does


class SandboxError(Exception):
    """The sandbox cannot start (e.g. no articles folder); the message says why."""


class Sandbox:
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

    # ---- what the page's user can do (`user`: the member the page acts as, default `user`)

    def member(self, user_id: str | None) -> SlackUser:
        """The member the page acts as: `user_id`, one of `members` (None: `user`)."""
        if not user_id:
            return self.user
        found = next((m for m in self.members if m.id == user_id), None)
        if found is None:
            raise ActionRefused("user_not_found", status=404)
        return found

    def react(self, channel: str, ts: str, name: str, add: bool = True,
              user: str | None = None) -> None:
        """Add or remove the user's reaction, through the Web API as their Slack client."""
        method = "reactions.add" if add else "reactions.remove"
        self._call_as_user(self.member(user), method, channel=channel, timestamp=ts, name=name)

    def post_message(self, channel: str, text: str, thread_ts: str | None = None,
                     user: str | None = None) -> None:
        params = {"channel": channel, "text": text}
        if thread_ts:
            params["thread_ts"] = thread_ts
        self._call_as_user(self.member(user), "chat.postMessage", **params)

    def command(self, channel: str, text: str, thread_ts: str | None = None,
                user: str | None = None) -> None:
        """What typing `text` in a message box does (the channel's, or a thread's with
        `thread_ts`): `/news ...` goes to the app as a slash command, anything else is
        posted as the user's message. In a thread's reply box Slack's clients refuse an
        app's slash command ("/news is not supported in threads. Sorry!") and send the app
        nothing (a slash command's payload has no thread: api.slack.com/slash-commands),
        so the page is refused the same way."""
        member = self.member(user)
        text = text.strip()
        if not text:
            raise ActionRefused("no_text")
        if not text.startswith("/"):
            # as Slack's own clients send it
            self.post_message(channel, _escape(text), thread_ts, user=member.id)
            return
        command, _, rest = text.partition(" ")
        if command != COMMAND:
            raise ActionRefused(f"{command} is not a valid command here: try {COMMAND} help")
        if thread_ts:
            raise ActionRefused(f"{command} is not supported in threads. Sorry!")
        channel_info = self._workspace_call(lambda ws: ws.channel(channel))
        assert self.client is not None
        answer = self.client.slash_command(
            COMMAND, rest.strip(), user_id=member.id, user_name=member.name,
            channel_id=channel_info["id"], channel_name=channel_info.get("name", ""))
        _check_answer(answer.status)

    def click(self, *, action_id: str, block_id: str, channel: str | None = None,
              ts: str | None = None, ephemeral: bool = False, home: bool = False,
              unfurl: str | None = None, modal: bool = False, user: str | None = None) -> None:
        """Click the button `action_id` in block `block_id` of a message, of the app's
        preview of the link `unfurl` on a message, of the Home tab, or of the modal on
        top of the user's stack."""
        assert self.slack is not None and self.client is not None
        ws = self.slack.workspace
        member = self.member(user)
        if unfurl and channel and ts:
            message = self._workspace_call(lambda w: w.message(channel, ts))
            previews = [a for a in message.get("attachments", [])
                        if a.get("is_app_unfurl") and a.get("app_unfurl_url") == unfurl]
            button = _button(previews[0]["blocks"] if previews else [], block_id, action_id)
            answer = self.client.unfurl_action(
                user_id=member.id, action_id=action_id, value=button.get("value") or "",
                channel_id=self._workspace_call(lambda w: w.channel(channel))["id"],
                message=message, url=unfurl)
            _check_answer(answer.status)
            return
        if home or modal:  # a view's button: the payload carries the view, no channel
            view = ws.home_view(member.id) if home else ws.modals.top(member.id)
            if view is None:
                raise ActionRefused("view_not_found", status=404)
            button = _button(view.get("blocks", []), block_id, action_id)
            answer = self.client.block_action(
                user_id=member.id, user_name=member.name, action_id=action_id,
                block_id=block_id, value=button.get("value"), view=view,
                button_text=_label(button))
            _check_answer(answer.status)
            return
        if not channel or not ts:
            raise ActionRefused("channel_and_ts_required")
        if ephemeral:
            message = next((m for m in ws.ephemeral_messages(member.id) if m["ts"] == ts),
                           None)
            if message is None:
                raise ActionRefused("message_not_found", status=404)
            channel = message["channel"]
        else:
            message = self._workspace_call(lambda w: w.message(channel, ts))
            channel = self._workspace_call(lambda w: w.channel(channel))["id"]
        button = _button(message.get("blocks", []), block_id, action_id)
        answer = self.client.block_action(
            user_id=member.id, user_name=member.name, action_id=action_id,
            block_id=block_id, value=button.get("value"), channel_id=channel, message=message,
            ephemeral=ephemeral, button_text=_label(button))
        _check_answer(answer.status)

    def shortcut(self, callback_id: str, channel: str, ts: str,
                 user: str | None = None) -> None:
        """Choose the app's message shortcut `callback_id` in a message's "More actions"
        menu: a signed `message_action` payload with the message as stored (and a fresh
        trigger_id, which the app exchanges for a modal)."""
        assert self.client is not None
        if callback_id not in {s["callback_id"] for s in self.shortcuts()}:
            raise ActionRefused("shortcut_not_found", status=404)
        member = self.member(user)
        message = self._workspace_call(lambda w: w.message(channel, ts))
        channel_id = self._workspace_call(lambda w: w.channel(channel))["id"]
        answer = self.client.message_shortcut(user_id=member.id, callback_id=callback_id,
                                              channel_id=channel_id, message=message)
        _check_answer(answer.status)

    def shortcuts(self) -> list[dict[str, str]]:
        """The app's message shortcuts, as its manifest declares them (Slack lists those)."""
        declared = manifest(self.config, socket_mode=True)["features"].get("shortcuts", [])
        return [{"name": s["name"], "callback_id": s["callback_id"],
                 "description": s.get("description", "")}
                for s in declared if s.get("type") == "message"]

    def open_home(self, user: str | None = None) -> None:
        """The user opened the app's Home tab: Slack sends app_home_opened every time."""
        assert self.slack is not None and self.client is not None
        member = self.member(user)
        answer = self.client.app_home_opened(user_id=member.id,
                                             view=self.slack.workspace.home_view(member.id))
        _check_answer(answer.status)

    def submit_view(self, values: Mapping[str, Any], user: str | None = None) -> None:
        """Press the submit button of the modal on top, with what the page's inputs hold
        (`values`: block_id -> text, or a list of option values): a signed view_submission;
        what the app answers is done as Slack does it (errors shown beside the inputs)."""
        assert self.slack is not None and self.client is not None
        member = self.member(user)
        modals = self.slack.workspace.modals
        view = modals.top(member.id)
        if view is None:
            raise ActionRefused("no_modal_open", status=404)
        try:
            submitted = modals.submitting(member.id, state_values(view, values))
        except ValueError as error:
            raise ActionRefused(str(error)) from None
        answer = self.client.view_submission(user_id=member.id, user_name=member.name,
                                             view=submitted)
        _check_answer(answer.status)
        try:
            modals.apply_answer(member.id, answer.body or None)
        except InvalidSubmissionAnswer as error:  # Slack shows "We had some trouble..."
            raise ActionRefused(f"Slack would refuse the app's answer: {error}",
                                status=502) from None

    def suggest(self, block_id: str, action_id: str, value: str,
                user: str | None = None) -> dict[str, Any]:
        """What an external select of the modal on top offers for `value` typed in it:
        a signed block_suggestion once `min_query_length` characters are typed (Slack's
        default is 3), and the options the app answers, groups flattened."""
        assert self.slack is not None and self.client is not None
        member = self.member(user)
        view = self.slack.workspace.modals.top(member.id)
        if view is None:
            raise ActionRefused("no_modal_open", status=404)
        block = next((b for b in view.get("blocks", []) if b.get("block_id") == block_id), {})
        element = block.get("element") or {}
        if element.get("action_id") != action_id or not str(element.get("type", "")).endswith(
                "external_select"):
            raise ActionRefused("action_not_found", status=404)
        if len(value) < int(element.get("min_query_length", 3)):
            return {"options": []}
        answer = self.client.block_suggestion(user_id=member.id, view=view,
                                              action_id=action_id, block_id=block_id,
                                              value=value)
        _check_answer(answer.status)
        body = answer.body if isinstance(answer.body, dict) else {}
        options = list(body.get("options") or [])
        for group in body.get("option_groups") or []:
            options += group.get("options") or []
        return {"options": [{"text": o["text"]["text"], "value": o["value"]} for o in options
                            if isinstance(o, dict) and isinstance(o.get("text"), dict)
                            and isinstance(o.get("value"), str)][:MAX_SUGGESTIONS]}

    def close_view(self, user: str | None = None) -> None:
        """Cancel (or ×) on the modal on top; view_closed goes to the app if it asked."""
        assert self.slack is not None and self.client is not None
        member = self.member(user)
        closed = self.slack.workspace.modals.close(member.id)
        if closed is not None and closed.get("notify_on_close"):
            _check_answer(self.client.view_closed(user_id=member.id, view=closed).status)

    def sync(self, dry_run: bool) -> dict[str, Any]:
        """What `newsbot sync [--dry-run]` would do or did, for the page's sync panel."""
        from newsbot.bot.services.sync import SyncBusy, SyncError, sync_decisions

        assert self.store is not None
        try:
            report = sync_decisions(self.store, self.config, dry_run=dry_run)
        except SyncBusy as error:
            raise ActionRefused(str(error), status=409) from None
        except SyncError as error:
            raise ActionRefused(str(error)) from None
        return {
            "dryRun": dry_run,
            "diff": report.diff,
            "written": [w.to_json() for w in report.written],
            "unchanged": len(report.unchanged),
            "conflicts": [c.to_json() for c in report.conflicts],
            "notes": report.notes,
            "errors": report.errors,
        }

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
        """Everything the page draws for the member it acts as: channels with their
        messages (thread replies included), the member's DM with the bot, ephemeral
        messages, Home tab and modal, users by id, the members to switch between."""
        assert self.slack is not None
        ws = self.slack.workspace
        me = self.member(user)
        version = ws.version  # read first: a change while collecting is shown next time
        conversations = ws.channels()
        channels = [c for c in conversations if not c.get("is_im")]
        dms = [c for c in conversations if c.get("is_im") and c.get("user") == me.id]
        return {
            "version": version,
            # a ts above every message and ephemeral message so far: a page loaded now
            # shows only ephemeral messages newer than this, as Slack forgets them on reload
            "now": ws.next_ts(),
            "team": {"id": ws.team_id, "name": ws.team_name},
            "me": {"id": me.id, "name": me.name},
            "members": [{"id": m.id, "name": m.name, "realName": m.real_name or m.name}
                        for m in self.members],
            "bot": {"id": ws.bot_user.id, "name": ws.bot_user.name},
            "users": {u.id: {"name": u.name, "realName": u.real_name or u.name,
                             "isBot": u.is_bot} for u in ws.users()},
            "channels": [{"id": c["id"], "name": c["name"]} for c in channels],
            # the member's DM with the bot, named after the bot as Slack's sidebar does
            "dms": [{"id": c["id"], "name": ws.bot_user.name} for c in dms],
            "messages": {c["id"]: [_shown(m) for m in ws.messages(c["id"])]
                         for c in channels + dms},
            "ephemeral": [_shown(m) for m in ws.ephemeral_messages(me.id)],
            "home": ws.home_view(me.id),
            "modal": _modal_shown(ws, me.id),
            "shortcuts": self.shortcuts(),
            "emoji": {"publish": list(self.config.publish_emoji),
                      "skip": list(self.config.skip_emoji)},
            "articles": _shown_path(self.config.articles),
            "images": self.images.page_urls(),
            # uploaded files by id, served by the page's own server: image blocks name
            # them (slack_file) and the page shows them
            "files": {f.id: {**f.to_json(self.slack.uploads.base_url),
                             "url_private": f"{self.url.rstrip('/')}/files/{f.id}/{f.name}"}
                      for f in self.slack.uploads.all()},
        }

    # ---- helpers

    def _call_as_user(self, member: SlackUser, method: str, **params: Any) -> dict[str, Any]:
        assert self.slack is not None
        answer = self.slack.call(method, token=self.slack.user_token(member.id), **params)
        if not answer.get("ok"):
            raise ActionRefused(str(answer.get("error", "unknown_error")))
        return answer

    def _workspace_call(self, read: Callable[[Workspace], Any]) -> Any:
        assert self.slack is not None
        try:
            return read(self.slack.workspace)
        except SlackError as error:
            raise ActionRefused(error.error, status=404) from None


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


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _check_answer(status: int) -> None:
    if status != 200:
        raise ActionRefused(f"the app answered HTTP {status}", status=502)


def _button(blocks: list[dict[str, Any]], block_id: str, action_id: str) -> Mapping[str, Any]:
    for block in blocks:
        if block.get("block_id") != block_id:
            continue
        elements = list(block.get("elements") or [])
        if isinstance(block.get("accessory"), dict):
            elements.append(block["accessory"])
        for element in elements:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return element
    raise ActionRefused("action_not_found", status=404)


def _label(button: Mapping[str, Any]) -> str:
    text = button.get("text")
    return text.get("text", "") if isinstance(text, dict) else ""


def _shown_path(path: Path) -> str:
    """The path as the person typed or sees it: relative to the working folder if inside."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)


def _modal_shown(ws: Workspace, user_id: str) -> dict[str, Any] | None:
    """The modal on top of the user's stack, with the errors the app answered, if any."""
    view = ws.modals.top(user_id)
    if view is None:
        return None
    return {"view": view, "errors": ws.modals.errors(view["id"]),
            "depth": len(ws.modals.stack(user_id))}


def _shown(message: dict[str, Any]) -> dict[str, Any]:
    """A message as the page needs it (metadata is for apps, not people)."""
    message.pop("metadata", None)
    return message
