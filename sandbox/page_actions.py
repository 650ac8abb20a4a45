"""What the sandbox page's member can do, reaching the app as Slack would send it: signed
HTTP, from the Web API look-alike or from Slack's side (sandbox/signed_requests.py).

- a reaction is a `reactions.add`/`reactions.remove` call with the member's user token;
  the look-alike turns it into the `reaction_added`/`reaction_removed` event, which goes
  to the app as a signed `event_callback` (only the events the app subscribes to in
  deploy/manifest.yml are forwarded, as Slack does: sandbox/runner.py);
- a button click is a signed `block_actions` payload carrying the message as stored;
- `/news ...` is a signed slash command whose response_url is the look-alike's, so the
  answer appears as an ephemeral message only the member sees (typed in a thread's
  reply box it is refused, as Slack refuses an app's slash command there);
- opening the App Home sends `app_home_opened`;
- a modal's submit button is a signed `view_submission` with the inputs' values, and the
  app's answer is carried out as Slack does it (sandbox/modals.py);
- a message with a link to one of `unfurl.domains` (the bundled examples' domains
  unless the config names some) sends `link_shared`, and the app's preview (chat.unfurl)
  shows under the message, its buttons clickable;
- a message's "More actions" menu lists the app's message shortcuts (from its manifest);
  choosing one sends a signed `message_action`; typing in an external select of a modal
  sends `block_suggestion`, whose answer fills the list.

Each action takes `user`, the member the page acts as (None: the sandbox's own user), and
raises ActionRefused where Slack would refuse it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from newsbot.bot.config.settings import Config
from newsbot.handlers.manifest import manifest
from newsbot.sandbox.lookalike import SlackLookalike
from newsbot.sandbox.modals import InvalidSubmissionAnswer, state_values
from newsbot.sandbox.page_server import ActionRefused
from newsbot.sandbox.signed_requests import SignedSlackClient
from newsbot.sandbox.workspace import SlackError, SlackUser, Workspace
from newsbot.storage.db import Store

COMMAND = "/news"
MAX_SUGGESTIONS = 100  # options an external select shows, as Slack does


class PageActions:
    """The page's actions, a part of Sandbox (sandbox/runner.py), which sets these
    attributes when it starts; apart from its life cycle so each reads on its own."""

    config: Config
    user: SlackUser  # who the page acts as unless it names another member
    members: tuple[SlackUser, ...]
    store: Store | None
    slack: SlackLookalike | None
    client: SignedSlackClient | None

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
