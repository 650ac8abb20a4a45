"""The `/news` slash command: topic look-ups, search, topics, a digest preview, help.

The command is acknowledged at once (Slack wants an answer within 3 s) and answered
afterwards by a lazy listener through the response_url, privately (ephemeral), with the
digest's article rendering. Whatever the user typed comes back escaped and cut short
(`shown`), in blocks and in the notification text alike.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

from newsbot.bot.config.settings import Config
from newsbot.bot.newsroom.decisions import standing_decisions_of
from newsbot.bot.newsroom.digest import DigestOptions, select_digest
from newsbot.bot.newsroom.lookup import list_topics, lookup_topic, search
from newsbot.bot.newsroom.schedule_command import run_schedule_command
from newsbot.bot.newsroom.stories import also_covered
from newsbot.bot.newsroom.subscription_command import run_follow_command, run_subscription_command
from newsbot.bot.newsroom.wording import plural
from newsbot.bot.services.admins import AdminCheck
from newsbot.bot.services.sync import SyncError, sync_decisions
from newsbot.handlers.blocks import (
    FALLBACK_LIMIT,
    MAX_MESSAGE_BLOCKS,
    article_list_blocks,
    escape,
    linked,
    marked_channel,
    marked_time,
    marked_user,
    shown,
    text_blocks,
    unmarked,
)
from newsbot.handlers.channels import channel_id_by_name, dm_channel_id, posting_problem
from newsbot.handlers.listeners.schedule_modal import ScheduleModal, wants_modal
from newsbot.handlers.listeners.subscription_modal import SubscriptionModal, wanted_modal
from newsbot.handlers.posting.report_post import report_answer
from newsbot.handlers.slack_text import slack_unescape
from newsbot.storage.db import Store
from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)

HELP = """*newsbot* answers privately. Decide on an article with a PUBLISH_EMOJI (publish) or \
SKIP_EMOJI (skip) reaction on its message, or its Publish/Skip buttons; remove your \
reaction or click Undo to withdraw your vote. Try:
• `/news topic <name>`: unpublished articles on a topic, best first
• `/news search <words>`: search titles and excerpts
• `/news topics`: every topic with its unpublished and total counts
• `/news digest`: a preview of the digest that would be posted now
• `/news schedule list` and `/news schedule preview "0 9 * * 1-5" [tz=Europe/London]`
• `/news schedule add #channel "<cron>" [tz=Zone] [top=N] [topics=A,B] [min_quality=Q] \
[kind=digest|report|gaps]`, \
`/news schedule remove|pause|resume <id>` (admins)
• `/news subscriptions`: the channel subscriptions
• `/news subscribe [#channel] [topics=A,B] [providers=X,Y] [words="some words"] \
[exclude_topics=A,B] [exclude_words="some words"] [min_quality=Q] [min_heat=H] \
[quiet=HH:MM-HH:MM] [tz=Zone]` (this channel if none is named), `/news unsubscribe <id>` (admins); \
`/news subscribe` alone opens a form
• `/news follow [topics=A,B] [words="some words"] [min_quality=Q] [quiet=HH:MM-HH:MM] \
[until=YYYY-MM-DD]`: new articles for you alone, by direct message; `/news following`, \
`/news unfollow <id>` (anyone, up to 20 follows); `/news follow` alone opens a form
• `/news sync`: write the decisions into the article files (admins)
• `/news report [days]`: the editorial report with its chart (default: the last 7 days)
• `/news help`: this message"""


def help_text(config: Config) -> str:
    """The help, naming the reactions that decide here (`reactions.publish`/`.skip`)."""
    return (HELP.replace("PUBLISH_EMOJI", f":{config.publish_emoji[0]}:")
            .replace("SKIP_EMOJI", f":{config.skip_emoji[0]}:"))


MISSING = {  # a look-up typed with nothing after it
    "topic": "Which topic? Type one after it: `/news topic AI` (`/news topics` lists them).",
    "search": "Search for what? Type words after it: `/news search facial recognition`.",
}


@dataclass(frozen=True)
class Answer:
    text: str  # the notification / screen-reader text, plain: escaped when sent
    blocks: list[dict]

    def payload(self) -> dict:
        """What goes to Slack: the text escaped, everything within Block Kit's limits."""
        return {"text": shown(self.text, FALLBACK_LIMIT),
                "blocks": self.blocks[:MAX_MESSAGE_BLOCKS]}


class NewsCommand:
    """Answers `/news <text>`. Look-ups are for everyone; changing schedules and running
    a sync are for admins (config `admins`, plus workspace admins and owners)."""

    def __init__(self, store: Store, config: Config, client: WebClient,
                 admins: AdminCheck) -> None:
        self.store, self.config, self.client, self.admins = store, config, client, admins

    def answer(self, text: str, user_id: str, channel_id: str | None = None) -> Answer:
        """Anything unexpected gets the help, never an error. `channel_id`: where the
        command was typed (the channel `/news subscribe` subscribes when none is named)."""
        words = (text or "").strip()
        sub, _, rest = words.partition(" ")
        sub, rest = sub.lower(), rest.strip()
        if sub in MISSING and not rest:
            return Answer(MISSING[sub], text_blocks(MISSING[sub]))
        if sub == "topic":  # Slack sends a typed &, < or > as &amp;, &lt;, &gt;
            return _topic(self.store, slack_unescape(rest))
        if sub == "search":
            return _search(self.store, slack_unescape(rest))
        if sub == "topics":
            return _topics(self.store)
        if sub == "digest":
            return _digest(self.store, self.config)
        if sub == "schedule":
            return self._schedule(rest, user_id)
        if sub in ("subscribe", "subscriptions", "unsubscribe"):
            return self._subscription(sub, rest, user_id, channel_id)
        if sub in ("follow", "following", "unfollow"):
            return self._follow(sub, rest, user_id, channel_id)
        if sub == "sync":
            return self._sync(user_id)
        if sub == "report":
            return Answer(*report_answer(self.store, self.config, self.client, rest))
        intro = "" if sub in ("", "help") else f"I don't know `{shown(words, 100)}`.\n\n"
        return Answer("newsbot help", text_blocks(intro + help_text(self.config)))

    def _schedule(self, text: str, user_id: str) -> Answer:
        reply = run_schedule_command(
            self.store, unmarked(text),
            user_id=user_id, is_admin=self.admins.is_admin, user_zone=self.admins.time_zone,
            fallback_zone=self.config.timezone, channel_format=marked_channel,
            user_format=marked_user, origin="slack", time_format=marked_time,
            resolve_channel=self._channel_by_name,
            channel_problem=lambda c: posting_problem(self.client, c, marked_channel),
            unescape=slack_unescape,
        )
        log.info("/news schedule", extra={"user": user_id, "ok": reply.ok,
                                          "changed": reply.changed})
        first = reply.text.splitlines()[0] if reply.text else "schedules"
        return Answer(unmarked(first), text_blocks(linked(reply.text)))

    def _subscription(self, action: str, text: str, user_id: str,
                      channel_id: str | None) -> Answer:
        reply = run_subscription_command(
            self.store, action, unmarked(text), user_id=user_id, current_channel=channel_id,
            is_admin=self.admins.is_admin, user_zone=self.admins.time_zone,
            fallback_zone=self.config.timezone, channel_format=marked_channel,
            user_format=marked_user, resolve_channel=self._channel_by_name,
            channel_problem=lambda c: posting_problem(self.client, c, marked_channel),
            unescape=slack_unescape,
        )
        log.info(f"/news {action}", extra={"user": user_id, "ok": reply.ok,
                                           "changed": reply.changed})
        first = reply.text.splitlines()[0] if reply.text else "subscriptions"
        return Answer(unmarked(first), text_blocks(linked(reply.text)))

    def _follow(self, action: str, text: str, user_id: str, channel_id: str | None) -> Answer:
        try:
            reply = run_follow_command(
                self.store, action, unmarked(text), user_id=user_id,
                dm_channel=functools.partial(dm_channel_id, self.client),
                user_zone=self.admins.time_zone, fallback_zone=self.config.timezone,
                shown_in=channel_id, unescape=slack_unescape)
        except SlackApiError as error:
            log.warning("could not open a direct message", extra={"error": str(error)})
            return Answer("Not followed", text_blocks(
                "newsbot could not open a direct message with you, so nothing was followed "
                f"(Slack said {escape(str(error.response.get('error')))})."))
        log.info(f"/news {action}", extra={"user": user_id, "ok": reply.ok,
                                           "changed": reply.changed})
        first = reply.text.splitlines()[0] if reply.text else "follows"
        return Answer(unmarked(first), text_blocks(linked(reply.text)))

    def _sync(self, user_id: str) -> Answer:
        return sync_answer(self.store, self.config, self.admins, user_id)

    def _channel_by_name(self, name: str) -> str | None:
        """A channel typed as a plain `#name` (not picked from Slack's menu)."""
        try:
            return channel_id_by_name(self.client, name)
        except SlackApiError as error:
            log.warning("could not look up a channel name", extra={"error": str(error)})
            return None


def sync_answer(store: Store, config: Config, admins: AdminCheck, user_id: str) -> Answer:
    """`/news sync` (and App Home's Sync now): admins only."""
    if not admins.is_admin(user_id):
        return Answer("Only admins can sync",
                      text_blocks("Only newsbot admins can run a sync; nothing was written."))
    try:
        report = sync_decisions(store, config,
                                git_commit=config.sync_git_commit, lock_timeout=10)
    except SyncError as error:  # SyncBusy included: another sync holds the lock
        reason = f"Sync did not run: {escape(str(error))}"
        return Answer("Sync did not run", text_blocks(reason))
    log.info("/news sync", extra={"user": user_id, "written": len(report.written),
                                  "conflicts": len(report.conflicts)})
    summary = report.summary()
    return Answer(summary.splitlines()[0], text_blocks(f"```{escape(summary)}```"))


def _topic(store: Store, name: str) -> Answer:
    result = lookup_topic(store, name, limit=10)
    if not result.known:
        close = ", ".join(f"`{shown(s, 100)}`" for s in result.suggestions)
        hint = f" Did you mean {close}?" if close else " See `/news topics`."
        reply = f"No topic named *{shown(name)}*.{hint}"
        return Answer(f"No topic named {name}", text_blocks(reply))
    heading = f"*{shown(result.topic)}*: top {len(result.articles)} unpublished"
    if result.waiting:
        heading += (f" ({plural(result.waiting, 'more article')} with a decision waiting for "
                    "the next sync left out)")
    return Answer(
        f"{result.topic}: {plural(len(result.articles), 'unpublished article')}",
        article_list_blocks(heading, result.articles,
                            f"Nothing unpublished on *{shown(result.topic)}*.", buttons=True,
                            also=also_covered(store, result.articles)),
    )


def _search(store: Store, words: str) -> Answer:
    articles = search(store, words, limit=10)
    count = "The best match" if len(articles) == 1 else f"{len(articles)} best matches"
    heading = f"{count} for *{shown(words)}*"
    decisions = standing_decisions_of(store, [a.id for a in articles])
    return Answer(heading, article_list_blocks(heading, articles,
                                               f"No article matches *{shown(words)}*.",
                                               buttons=True, decisions=decisions,
                                               also=also_covered(store, articles)))


def _topics(store: Store) -> Answer:
    topics = list_topics(store)
    if not topics:
        return Answer("No topics yet", text_blocks("No topics yet: the index is empty."))
    lines = [
        f"• *{shown(t.topic)}*: {t.unpublished} unpublished of {t.total}" for t in topics[:60]
    ]
    more = f"\n…and {len(topics) - 60} more" if len(topics) > 60 else ""
    return Answer(f"{len(topics)} topics", text_blocks("\n".join(lines) + more))


def _digest(store: Store, config: Config) -> Answer:
    articles = select_digest(store, DigestOptions(top=config.digest_top))
    heading = f"*Preview:* the top {plural(len(articles), 'unpublished article')} right now"
    return Answer(heading, article_list_blocks(heading, articles,
                                               "Nothing to review: no eligible articles.",
                                               buttons=True,
                                               also=also_covered(store, articles)))


def register(app: App, news: NewsCommand, modal: ScheduleModal,
             subscription_modal: SubscriptionModal) -> None:
    def acknowledge(ack: Ack) -> None:
        ack()

    def on_news(command: dict, respond: Respond, client: WebClient) -> None:
        """Lazy: the app answers Slack after listeners return (for durable decisions), so
        the acknowledgement comes first and the answer follows through the response_url.
        `/news schedule add`, `/news subscribe` and `/news follow` alone open their modal,
        first thing: the trigger_id expires within seconds."""
        text, user = command.get("text", ""), command.get("user_id", "")
        trigger, channel = command.get("trigger_id") or "", command.get("channel_id")
        form = wanted_modal(text)
        if form or wants_modal(text):
            problem = (subscription_modal.open(client, trigger, user, channel=channel,
                                               follow=form == "follow") if form
                       else modal.open(client, trigger, user, channel=channel))
            if problem:
                respond(**Answer(problem, text_blocks(escape(problem))).payload(),
                        response_type="ephemeral")
            return
        reply = news.answer(text, user, command.get("channel_id"))
        respond(**reply.payload(), response_type="ephemeral")
        log.info("/news answered", extra={"user": command.get("user_id"),
                                          "subcommand": (command.get("text") or "").split(" ")[0]})

    app.command("/news")(ack=acknowledge, lazy=[on_news])
