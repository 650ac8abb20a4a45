"""Article link previews: a link to an indexed article, pasted in a channel, is unfurled.

Slack sends `link_shared` only for links to the domains of the manifest's
`features.unfurl_domains` (config `unfurl.domains`); newsbot answers with `chat.unfurl`,
one preview per link that is an indexed article (bot/newsroom/lookup.article_by_url). Any
other link gets no preview from newsbot. The preview's Publish/Skip buttons are those of
every other surface (handlers/listeners/buttons.py). Each preview made under a posted message
is remembered (bot/newsroom/link_previews.py), and the redrawer re-issues chat.unfurl for it
whenever the article's standing decision changes, wherever it was made (a second
chat.unfurl for a message's link replaces its preview).

No decision is recorded here, so Slack is answered first (a lazy listener).
"""

from __future__ import annotations

import logging

from newsbot.bot.config.settings import Config
from newsbot.bot.newsroom.article import Article
from newsbot.bot.newsroom.link_previews import remember_previews
from newsbot.bot.newsroom.lookup import article_by_url
from newsbot.bot.newsroom.redraw_queue import queue_redraw
from newsbot.handlers.blocks import article_fallback
from newsbot.handlers.link_preview import preview_blocks
from newsbot.handlers.listeners.reactions import mapping, text
from newsbot.handlers.slack_text import slack_unescape
from newsbot.storage.db import Store
from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)

MAX_PREVIEWS = 5  # links unfurled in one message; Slack shows a handful at most


def in_domains(url: str, domains: tuple[str, ...]) -> bool:
    """Slack unfurls a domain and its subdomains alike (www.example.org for example.org)."""
    host = url.partition("://")[2].split("/", 1)[0].split("?", 1)[0].split(":", 1)[0].lower()
    return any(host == d or host.endswith("." + d) for d in domains)


def indexed_links(store: Store, config: Config, urls: list[str]) -> dict[str, Article]:
    """Each link that is an indexed article (at most MAX_PREVIEWS) -> that article.

    Slack lists each link as the message's text holds it, with `&` escaped as `&amp;`
    (`?id=5&amp;page=2`): the article is looked up by the link as typed, while the answer
    keeps Slack's spelling, by which chat.unfurl finds the link in the message."""
    found: dict[str, Article] = {}
    for url in urls:
        if len(found) == MAX_PREVIEWS:
            break
        if url in found or not in_domains(url, config.unfurl_domains):
            continue
        article = article_by_url(store, slack_unescape(url))
        if article is not None:
            found[url] = article
    return found


def unfurl(client: WebClient, store: Store, config: Config, event: dict) -> bool:
    """Answer one `link_shared` event; True when a preview went out. Slack refusing it
    (the message deleted, a missing scope) is logged, never raised. A preview under a
    posted message is remembered, so that decisions made elsewhere redraw it
    (handlers/posting/preview_redraw.py); one in the composer has no message to redraw yet
    (Slack sends link_shared again once it is posted)."""
    links = event.get("links")
    urls = [u for link in (links if isinstance(links, list) else [])
            if (u := text(mapping(link).get("url")))]
    found = indexed_links(store, config, urls)
    if not found:
        log.debug("link_shared: no indexed article", extra={"links": len(urls)})
        return False
    unfurls = drawn_now(store, found)
    where: dict = {"channel": text(event.get("channel")), "ts": text(event.get("message_ts"))}
    if event.get("source") == "composer" or not (where["channel"] and where["ts"]):
        where = {"unfurl_id": text(event.get("unfurl_id")), "source": text(event.get("source"))}
    try:
        client.chat_unfurl(**where, unfurls=unfurls)
    except SlackApiError as error:
        log.warning("could not unfurl", extra={"error": str(error), **where})
        return False
    log.info("unfurled", extra={"previews": len(unfurls), **where})
    if "ts" in where and remember(store, where["channel"], where["ts"],
                                  {url: article.id for url, article in found.items()}):
        # A decision recorded while the preview was on its way, before it was remembered,
        # was redrawn without it: have it redrawn now (then Slack's last preview is right).
        now = drawn_now(store, found)
        stale = {article.id for url, article in found.items() if now[url] != unfurls[url]}
        for article_id in sorted(stale):
            queue_redraw(store, article_id)
    return True


def drawn_now(store: Store, found: dict[str, Article]) -> dict[str, dict]:
    """`chat.unfurl`'s `unfurls` for the links found, read as one snapshot."""
    with store.snapshot():
        return {url: {"blocks": preview_blocks(store, article),
                      "fallback": article_fallback(article)} for url, article in found.items()}


def remember(store: Store, channel: str, ts: str, articles: dict[str, str],
             redraw: bool = False) -> bool:
    """Remember previews for their redraws (`redraw`: and redraw them at the next pass);
    False when the database failed, which costs only those redraws (the preview is out
    already), so it is logged, never raised."""
    try:
        remember_previews(store, channel, ts, articles, redraw=redraw)
    except Exception:
        log.exception("could not remember a link preview", extra={"channel": channel, "ts": ts})
        return False
    return True


def register(app: App, store: Store, config: Config) -> None:
    def acknowledge(ack: Ack) -> None:
        ack()

    def on_link_shared(event: dict, client: WebClient) -> None:
        unfurl(client, store, config, event)

    app.event("link_shared")(ack=acknowledge, lazy=[on_link_shared])
