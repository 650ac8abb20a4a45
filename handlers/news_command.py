"""The `/news` slash command: topic look-ups, search, topics, a digest preview, help.

The listener acks at once (Slack wants an answer within 3 s) and answers afterwards
through the response_url, privately (ephemeral), with the digest's article rendering.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from slack_bolt import Ack, App, Respond

from bot.config import Config
from bot.digest import DigestOptions, select_digest
from bot.lookup import list_topics, lookup_topic, search
from handlers.blocks import article_list_blocks, escape, text_blocks
from storage.db import Store

log = logging.getLogger(__name__)

HELP = """*newsbot* answers privately. Try:
• `/news topic <name>`: unpublished articles on a topic, best first
• `/news search <words>`: search titles and excerpts
• `/news topics`: every topic with its unpublished and total counts
• `/news digest`: a preview of the digest that would be posted now
• `/news help`: this message"""


@dataclass(frozen=True)
class Answer:
    text: str  # the notification / screen-reader text
    blocks: list[dict]


def answer(store: Store, config: Config, text: str) -> Answer:
    """What `/news <text>` answers. Anything unexpected gets the help, never an error."""
    words = (text or "").strip()
    sub, _, rest = words.partition(" ")
    sub, rest = sub.lower(), rest.strip()
    if sub == "topic" and rest:
        return _topic(store, rest)
    if sub == "search" and rest:
        return _search(store, rest)
    if sub == "topics":
        return _topics(store)
    if sub == "digest":
        return _digest(store, config)
    intro = "" if sub in ("", "help") else f"I don't know `{escape(words[:100])}`.\n\n"
    return Answer("newsbot help", text_blocks(intro + HELP))


def _topic(store: Store, name: str) -> Answer:
    result = lookup_topic(store, name, limit=10)
    if not result.known:
        close = ", ".join(f"`{escape(s)}`" for s in result.suggestions)
        hint = f" Did you mean {close}?" if close else " See `/news topics`."
        reply = f"No topic named *{escape(name)}*.{hint}"
        return Answer(f"No topic named {name}", text_blocks(reply))
    heading = f"*{escape(result.topic)}*: top {len(result.articles)} unpublished"
    return Answer(
        f"{result.topic}: {len(result.articles)} unpublished articles",
        article_list_blocks(heading, result.articles,
                            f"Nothing unpublished on *{escape(result.topic)}*.", buttons=True),
    )


def _search(store: Store, words: str) -> Answer:
    articles = search(store, words, limit=10)
    heading = f"{len(articles)} best matches for *{escape(words)}*"
    return Answer(heading, article_list_blocks(heading, articles,
                                               f"No article matches *{escape(words)}*."))


def _topics(store: Store) -> Answer:
    topics = list_topics(store)
    if not topics:
        return Answer("No topics yet", text_blocks("No topics yet: the index is empty."))
    lines = [
        f"• *{escape(t.topic)}*: {t.unpublished} unpublished of {t.total}" for t in topics[:60]
    ]
    more = f"\n…and {len(topics) - 60} more" if len(topics) > 60 else ""
    return Answer(f"{len(topics)} topics", text_blocks("\n".join(lines) + more))


def _digest(store: Store, config: Config) -> Answer:
    articles = select_digest(store, DigestOptions(top=config.digest_top))
    heading = f"*Preview:* the top {len(articles)} unpublished articles right now"
    return Answer(heading, article_list_blocks(heading, articles,
                                               "Nothing to review: no eligible articles.",
                                               buttons=True))


def register(app: App, store: Store, config: Config) -> None:
    @app.command("/news")
    def on_news(ack: Ack, command: dict, respond: Respond) -> None:
        ack()
        reply = answer(store, config, command.get("text", ""))
        respond(text=reply.text, blocks=reply.blocks, response_type="ephemeral")
        log.info("/news answered", extra={"user": command.get("user_id"),
                                          "subcommand": (command.get("text") or "").split(" ")[0]})
