"""Redrawing an article's link previews when its standing decision changes.

The redrawer (handlers/posting/redrawer.py) draws each queued article once across servers;
for an article with previews (bot/newsroom/link_previews.py) it reads their content here, in
the same snapshot as the messages', and then re-issues chat.unfurl for each message that
shows one: a second chat.unfurl for a message's link replaces its preview. A refusal (the
message deleted, the link edited out) is logged; the decision stands and the next change
draws again.
"""

from __future__ import annotations

import logging
from collections import defaultdict

from newsbot.bot.newsroom.link_previews import article_previews
from newsbot.bot.newsroom.lookup import article_by_id
from newsbot.handlers.blocks import article_fallback
from newsbot.handlers.link_preview import preview_blocks
from newsbot.storage.db import Store
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)

# (channel, message_ts) -> chat.unfurl's `unfurls` for that message
PreviewRedraws = dict[tuple[str, str], dict[str, dict]]


def preview_redraws(store: Store, article_id: str) -> PreviewRedraws:
    """What to send to redraw the article's previews; empty when it has none (one indexed
    read, the common case) or is gone."""
    places = article_previews(store, article_id)
    article = article_by_id(store, article_id) if places else None
    if article is None:
        return {}
    preview = {"blocks": preview_blocks(store, article), "fallback": article_fallback(article)}
    redraws: PreviewRedraws = defaultdict(dict)
    for channel, ts, url in places:
        redraws[channel, ts][url] = preview
    return dict(redraws)


def redraw_previews(client: WebClient, redraws: PreviewRedraws) -> int:
    """Re-issue chat.unfurl for each message; how many calls Slack accepted."""
    drawn = 0
    for (channel, ts), unfurls in redraws.items():
        try:
            client.chat_unfurl(channel=channel, ts=ts, unfurls=unfurls)
        except SlackApiError as error:
            log.warning("could not redraw a link preview",
                        extra={"channel": channel, "ts": ts, "error": str(error)})
            continue
        drawn += 1
    return drawn
