"""Redrawing an article's link previews when its standing decision changes.

The redrawer (handlers/posting/redrawer.py) draws each queued article once across servers;
for an article with previews (bot/newsroom/link_previews.py) it reads their content here, in
the same snapshot as the messages', and then re-issues chat.unfurl for each message that
shows one: a second chat.unfurl for a message's link replaces its preview. A refusal is
logged and the decision stands. When it means the preview can never be drawn again (`GONE`:
the message deleted, the link edited out, the channel gone or archived), the preview is
forgotten; a 429 leaves the article queued, to be drawn again once Slack allows
(handlers/posting/call_budget.py); any other (Slack's own errors past the retries) leaves
it for the next change to draw again.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict

from newsbot.bot.newsroom.link_previews import article_previews, forget_previews
from newsbot.bot.newsroom.lookup import article_by_id
from newsbot.handlers.blocks import article_fallback
from newsbot.handlers.link_preview import preview_blocks
from newsbot.handlers.posting.call_budget import raise_if_rate_limited
from newsbot.storage.db import Store
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)

# (channel, message_ts) -> chat.unfurl's `unfurls` for that message
PreviewRedraws = dict[tuple[str, str], dict[str, dict]]
# chat.unfurl's errors for a preview gone for good: cannot_find_message (the message
# deleted), cannot_unfurl_message (the link no longer in it), cannot_find_channel (as
# chat.unfurl documents it) or channel_not_found and is_archived (as the Web API answers
# for a channel deleted or archived).
GONE = frozenset({"cannot_find_message", "cannot_unfurl_message", "cannot_find_channel",
                  "channel_not_found", "is_archived"})


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


def redraw_previews(client: WebClient, store: Store, redraws: PreviewRedraws) -> int:
    """Re-issue chat.unfurl for each message; how many calls Slack accepted. A message's
    previews refused for good are forgotten; a 429 raises RateLimited."""
    drawn = 0
    for (channel, ts), unfurls in redraws.items():
        asked_at = dt.datetime.now(dt.UTC)
        try:
            client.chat_unfurl(channel=channel, ts=ts, unfurls=unfurls)
        except SlackApiError as error:
            raise_if_rate_limited(error, "chat.unfurl")  # the pass ends; the article stays queued
            gone = error.response.get("error") in GONE
            log.warning("could not redraw a link preview" + (": forgotten" if gone else ""),
                        extra={"channel": channel, "ts": ts, "error": str(error)})
            if gone:
                forget(store, channel, ts, list(unfurls), asked_at)
            continue
        drawn += 1
    return drawn


def forget(store: Store, channel: str, ts: str, urls: list[str], asked_at: dt.datetime) -> None:
    """Forget previews gone for good; a database failure costs only a few more refused
    calls until they age out, so it is logged, never raised (the redraw pass goes on)."""
    try:
        forget_previews(store, channel, ts, urls, asked_at)
    except Exception:
        log.exception("could not forget a link preview", extra={"channel": channel, "ts": ts})
