"""The message shortcut "Decide on this article": any message holding a link to an indexed
article opens a modal with the article and its Publish/Skip/Undo buttons.

The shortcut carries a `trigger_id` that Slack accepts for about 3 s, once, so the modal is
opened first thing (a lazy listener: Slack is answered at once, nothing is recorded). The
buttons are those of every other surface (handlers/listeners/buttons.py); a click in the
modal is answered by redrawing it (`views.update`) with the decision and a note, since a
modal has neither a channel nor a response_url. The modal remembers its articles in
`private_metadata`.
"""

from __future__ import annotations

import json
import logging
import re

from newsbot.bot.config.settings import Config
from newsbot.bot.newsroom.lookup import article_by_id, article_by_url
from newsbot.handlers.blocks import text_blocks
from newsbot.handlers.link_preview import preview_blocks
from newsbot.handlers.listeners.reactions import mapping, text
from newsbot.handlers.slack_text import slack_unescape
from newsbot.storage.db import Store
from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)

DECIDE_SHORTCUT = "newsbot_decide_shortcut"
DECIDE_VIEW = "newsbot_decide_view"
MAX_ARTICLES = 3  # articles of one message shown in the modal
NO_ARTICLE = ("This message holds no link to an article newsbot has indexed, so there is "
              "nothing to decide here.")
NOT_AN_EDITOR = "Only the newsroom's editors can publish or skip articles."
# A link as Slack writes it in a message's text (`<https://...|label>`), or bare.
_LINK = re.compile(r"<(https?://[^>|\s]+)(?:\|[^>]*)?>|(https?://[^\s<>|]+)")
_URL_KEYS = ("url", "from_url", "original_url", "app_unfurl_url", "title_link")


def message_urls(message: dict) -> list[str]:
    """Every link of a message, in order: in its text, its blocks (rich text links) and
    its attachments (unfurls)."""
    urls = [m[1] or m[2] for m in _LINK.finditer(text(message.get("text")) or "")]

    def walk(value: object) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key in _URL_KEYS and isinstance(item, str) and item.startswith("http"):
                    urls.append(item)
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk([message.get("blocks"), message.get("attachments")])
    return list(dict.fromkeys(urls))


def articles_of(store: Store, message: dict) -> list[str]:
    """The ids of the indexed articles a message links to (at most MAX_ARTICLES). A link
    read from the message's text has its `&` escaped as `&amp;`: looked up as typed."""
    ids: list[str] = []
    for url in message_urls(message):
        article = article_by_url(store, slack_unescape(url))
        if article is not None and article.id not in ids:
            ids.append(article.id)
    return ids[:MAX_ARTICLES]


def decide_view(store: Store, config: Config, article_ids: list[str], user: str | None,
                note: str | None = None) -> dict:
    """The modal: a note first (what a click did), then each article as its preview."""
    editor = not config.editors or user in config.editors
    blocks = text_blocks(note) if note else []
    if not editor:
        blocks += text_blocks(NOT_AN_EDITOR)
    articles = [a for a in (article_by_id(store, i) for i in article_ids) if a is not None]
    for position, article in enumerate(articles):
        if position:
            blocks.append({"type": "divider"})
        blocks += preview_blocks(store, article, buttons=editor)
    if not articles:
        blocks += text_blocks(NO_ARTICLE)
    return {
        "type": "modal", "callback_id": DECIDE_VIEW,
        "title": {"type": "plain_text", "text": "Decide on this article"},
        "close": {"type": "plain_text", "text": "Close"},
        "private_metadata": json.dumps({"articles": article_ids}),  # a few ids: far below 3,000
        "blocks": blocks[:100],
    }


def in_modal(body: dict) -> bool:
    view = mapping(body.get("view"))
    return view.get("type") == "modal" and view.get("callback_id") == DECIDE_VIEW


def redraw_modal(client: WebClient, store: Store, config: Config, body: dict, user: str,
                 note: str | None) -> None:
    """Answer a click in the modal: the modal again, with the decision and `note`. A view
    changed meanwhile (hash_conflict) or closed is only logged."""
    view = mapping(body.get("view"))
    try:
        ids = json.loads(view.get("private_metadata") or "{}").get("articles", [])
    except (ValueError, AttributeError):
        ids = []
    try:
        client.views_update(view_id=view.get("id"), hash=view.get("hash"),
                            view=decide_view(store, config, ids, user, note))
    except SlackApiError as error:
        log.warning("could not update the decide modal", extra={"error": str(error)})


def open_decide_modal(client: WebClient, store: Store, config: Config, body: dict) -> None:
    user = text(mapping(body.get("user")).get("id"))
    ids = articles_of(store, mapping(body.get("message")))
    log.info("decide shortcut", extra={"user": user, "articles": len(ids)})
    try:
        client.views_open(trigger_id=body.get("trigger_id"),
                          view=decide_view(store, config, ids, user))
    except SlackApiError as error:  # expired_trigger_id: Slack took more than 3 s
        log.warning("could not open the decide modal", extra={"error": str(error)})


def register(app: App, store: Store, config: Config) -> None:
    def acknowledge(ack: Ack) -> None:
        ack()

    def on_shortcut(body: dict, client: WebClient) -> None:
        open_decide_modal(client, store, config, body)

    app.shortcut(DECIDE_SHORTCUT)(ack=acknowledge, lazy=[on_shortcut])
