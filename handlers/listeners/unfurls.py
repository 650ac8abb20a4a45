"""Article link previews: a link to an indexed article, pasted in a channel, is unfurled.

Slack sends `link_shared` only for links to the domains of the manifest's
`features.unfurl_domains` (config `unfurl.domains`); newsbot answers with `chat.unfurl`,
one preview per link that is an indexed article (bot/newsroom/lookup.article_by_url). Any
other link gets no preview from newsbot. The preview's Publish/Skip buttons are those of
every other surface (handlers/listeners/buttons.py, which unfurls the link again after a
click: a second chat.unfurl for a message replaces its preview).

Nothing is recorded here, so Slack is answered first (a lazy listener).
"""

from __future__ import annotations

import logging

from newsbot.bot.config.settings import Config
from newsbot.bot.newsroom.article import Article
from newsbot.bot.newsroom.decisions import standing_decision, written_at
from newsbot.bot.newsroom.lookup import article_by_url
from newsbot.bot.newsroom.stories import also_covered
from newsbot.handlers.blocks import article_blocks, article_fallback, with_also_covered
from newsbot.handlers.listeners.reactions import mapping, text
from newsbot.storage.db import Store
from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)

MAX_PREVIEWS = 5  # links unfurled in one message; Slack shows a handful at most
TO_REVIEW = ":hourglass_flowing_sand: *To review*: no decision yet"


def preview_blocks(store: Store, article: Article, buttons: bool = True) -> list[dict]:
    """An article as a preview: linked title and excerpt; provider, quality and heat; the
    standing decision or "to review"; Publish/Skip; the story's "Also:" line."""
    decision = standing_decision(store, article.id)
    blocks = article_blocks(article, decision, buttons=buttons,
                            written_at=written_at(store, decision) if decision else None)
    if decision is None:  # before the buttons, where a decision would show
        at = len(blocks) - 1 if buttons else len(blocks)
        blocks.insert(at, {"type": "context",
                           "elements": [{"type": "mrkdwn", "text": TO_REVIEW}]})
    return with_also_covered(blocks, also_covered(store, [article]).get(article.id, ()))


def in_domains(url: str, domains: tuple[str, ...]) -> bool:
    """Slack unfurls a domain and its subdomains alike (www.example.org for example.org)."""
    host = url.partition("://")[2].split("/", 1)[0].split("?", 1)[0].split(":", 1)[0].lower()
    return any(host == d or host.endswith("." + d) for d in domains)


def previews(store: Store, config: Config, urls: list[str]) -> dict[str, dict]:
    """`chat.unfurl`'s `unfurls`: each link that is an indexed article -> its preview."""
    found: dict[str, dict] = {}
    for url in urls:
        if len(found) == MAX_PREVIEWS:
            break
        if url in found or not in_domains(url, config.unfurl_domains):
            continue
        article = article_by_url(store, url)
        if article is not None:
            found[url] = {"blocks": preview_blocks(store, article),
                          "fallback": article_fallback(article)}
    return found


def unfurl(client: WebClient, store: Store, config: Config, event: dict) -> bool:
    """Answer one `link_shared` event; True when a preview went out. Slack refusing it
    (the message deleted, a missing scope) is logged, never raised."""
    links = event.get("links")
    urls = [u for link in (links if isinstance(links, list) else [])
            if (u := text(mapping(link).get("url")))]
    unfurls = previews(store, config, urls)
    if not unfurls:
        log.debug("link_shared: no indexed article", extra={"links": len(urls)})
        return False
    where: dict = {"channel": text(event.get("channel")), "ts": text(event.get("message_ts"))}
    if event.get("source") == "composer" or not (where["channel"] and where["ts"]):
        where = {"unfurl_id": text(event.get("unfurl_id")), "source": text(event.get("source"))}
    try:
        client.chat_unfurl(**where, unfurls=unfurls)
    except SlackApiError as error:
        log.warning("could not unfurl", extra={"error": str(error), **where})
        return False
    log.info("unfurled", extra={"previews": len(unfurls), **where})
    return True


def unfurl_again(client: WebClient, store: Store, config: Config, channel: str | None,
                 ts: str | None, url: str | None) -> None:
    """Redraw one preview after a decision on it (the new one replaces the old)."""
    if channel and ts and url:
        unfurl(client, store, config, {"channel": channel, "message_ts": ts,
                                       "links": [{"url": url}]})


def register(app: App, store: Store, config: Config) -> None:
    def acknowledge(ack: Ack) -> None:
        ack()

    def on_link_shared(event: dict, client: WebClient) -> None:
        unfurl(client, store, config, event)

    app.event("link_shared")(ack=acknowledge, lazy=[on_link_shared])
