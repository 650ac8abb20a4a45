"""What the sandbox page draws for the member it acts as, read from the look-alike's
workspace: one JSON document, which the page long-polls (sandbox/page_server.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from newsbot.bot.config.settings import Config
from newsbot.sandbox.bundled_images import BundledImages
from newsbot.sandbox.lookalike import SlackLookalike
from newsbot.sandbox.workspace import SlackUser, Workspace


def page_state(slack: SlackLookalike, me: SlackUser, *, members: tuple[SlackUser, ...],
               config: Config, images: BundledImages, shortcuts: list[dict[str, str]],
               page_url: str) -> dict[str, Any]:
    """Everything the page draws for member `me`: channels with their messages (thread
    replies included), the member's DM with the bot, ephemeral messages, Home tab and
    modal, users by id, the members to switch between."""
    ws = slack.workspace
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
                    for m in members],
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
        "shortcuts": shortcuts,
        "emoji": {"publish": list(config.publish_emoji), "skip": list(config.skip_emoji)},
        "articles": _shown_path(config.articles),
        "images": images.page_urls(),
        # uploaded files by id, served by the page's own server: image blocks name
        # them (slack_file) and the page shows them
        "files": {f.id: {**f.to_json(slack.uploads.base_url),
                         "url_private": f"{page_url.rstrip('/')}/files/{f.id}/{f.name}"}
                  for f in slack.uploads.all()},
    }


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
