"""The `/news` slash command: topic look-ups, search, topics, a digest preview, help.

The command is acknowledged at once (Slack wants an answer within 3 s) and answered
afterwards by a lazy listener through the response_url, privately (ephemeral), with the
digest's article rendering.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.admins import AdminCheck
from bot.config import Config
from bot.digest import DigestOptions, select_digest
from bot.lookup import list_topics, lookup_topic, search
from bot.schedule_command import run_schedule_command
from bot.sync import SyncError, sync_decisions
from handlers.blocks import article_list_blocks, escape, text_blocks
from storage.db import Store

log = logging.getLogger(__name__)

HELP = """*newsbot* answers privately. Try:
• `/news topic <name>`: unpublished articles on a topic, best first
• `/news search <words>`: search titles and excerpts
• `/news topics`: every topic with its unpublished and total counts
• `/news digest`: a preview of the digest that would be posted now
• `/news schedule list` and `/news schedule preview "0 9 * * 1-5" [tz=Europe/London]`
• `/news schedule add <#channel> "<cron>" [tz=Zone] [top=N] [topics=A,B] [min_quality=Q]`, \
`/news schedule remove|pause|resume <id>` (admins)
• `/news sync`: write the decisions into the article files (admins)
• `/news help`: this message"""


@dataclass(frozen=True)
class Answer:
    text: str  # the notification / screen-reader text
    blocks: list[dict]


class NewsCommand:
    """Answers `/news <text>`. Look-ups are for everyone; changing schedules and running
    a sync are for admins (config `admins`, plus workspace admins and owners)."""

    def __init__(self, store: Store, config: Config, client: WebClient,
                 admins: AdminCheck) -> None:
        self.store, self.config, self.client, self.admins = store, config, client, admins

    def answer(self, text: str, user_id: str) -> Answer:
        """Anything unexpected gets the help, never an error."""
        words = (text or "").strip()
        sub, _, rest = words.partition(" ")
        sub, rest = sub.lower(), rest.strip()
        if sub == "topic" and rest:
            return _topic(self.store, rest)
        if sub == "search" and rest:
            return _search(self.store, rest)
        if sub == "topics":
            return _topics(self.store)
        if sub == "digest":
            return _digest(self.store, self.config)
        if sub == "schedule":
            return self._schedule(rest, user_id)
        if sub == "sync":
            return self._sync(user_id)
        intro = "" if sub in ("", "help") else f"I don't know `{escape(words[:100])}`.\n\n"
        return Answer("newsbot help", text_blocks(intro + HELP))

    def _schedule(self, text: str, user_id: str) -> Answer:
        reply = run_schedule_command(
            self.store, text, user_id=user_id, is_admin=self.admins.is_admin,
            user_zone=self.admins.time_zone, fallback_zone=self.config.timezone,
            channel_known=self._channel_known, channel_format=lambda c: f"<#{c}>",
            origin="slack",
        )
        log.info("/news schedule", extra={"user": user_id, "ok": reply.ok,
                                          "changed": reply.changed})
        return Answer(reply.text.splitlines()[0] if reply.text else "schedules",
                      text_blocks(reply.text))

    def _sync(self, user_id: str) -> Answer:
        if not self.admins.is_admin(user_id):
            return Answer("Only admins can sync",
                          text_blocks("Only newsbot admins can run a sync; nothing was written."))
        try:
            report = sync_decisions(self.store, self.config,
                                    git_commit=self.config.sync_git_commit, lock_timeout=10)
        except SyncError as error:  # SyncBusy included: another sync holds the lock
            reason = f"Sync did not run: {escape(str(error))}"
            return Answer("Sync did not run", text_blocks(reason))
        log.info("/news sync", extra={"user": user_id, "written": len(report.written),
                                      "conflicts": len(report.conflicts)})
        summary = report.summary()
        return Answer(summary.splitlines()[0], text_blocks(f"```{escape(summary)}```"))

    def _channel_known(self, channel: str) -> bool:
        try:
            return bool(self.client.conversations_info(channel=channel).get("ok"))
        except SlackApiError:
            return False


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
                                               f"No article matches *{escape(words)}*.",
                                               buttons=True))


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


def register(app: App, news: NewsCommand) -> None:
    def acknowledge(ack: Ack) -> None:
        ack()

    def on_news(command: dict, respond: Respond) -> None:
        """Lazy: the app answers Slack after listeners return (for durable decisions), so
        the acknowledgement comes first and the answer follows through the response_url."""
        reply = news.answer(command.get("text", ""), command.get("user_id", ""))
        respond(text=reply.text, blocks=reply.blocks, response_type="ephemeral")
        log.info("/news answered", extra={"user": command.get("user_id"),
                                          "subcommand": (command.get("text") or "").split(" ")[0]})

    app.command("/news")(ack=acknowledge, lazy=[on_news])
