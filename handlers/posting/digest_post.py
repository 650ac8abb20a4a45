"""Posting a planned digest to Slack: a header, then one message per article.

Each message's ts is stored the moment Slack returns it, and each message carries
metadata naming its digest and position. A digest interrupted half way (Slack error,
crash) is resumed by posting only what is missing; before that, the channel is read
back so a message that reached Slack but not our database is adopted, not posted twice.

A post whose answer leaves it unknown whether Slack stored it (5xx, Slack's internal
errors, a timeout, a connection broken after sending) is never simply sent again: before
the next message, the digest's thread (or the channel, for the header) is read back; what
is there is adopted and only what is not is posted again, so the thread keeps the digest's
order. A read back costs one Tier 3 call per such failure (rare on a healthy Slack) and
waits out its own rate limits.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable
from typing import Any

from newsbot.bot.config.settings import Config
from newsbot.bot.newsroom.decisions import slack_ts_us, standing_decision
from newsbot.bot.newsroom.digest import (
    DigestBusy,
    DigestMessage,
    DigestOptions,
    PlannedDigest,
    claim_digest,
    finish_digest,
    load_digest,
    plan_digest,
    record_header,
    record_message,
    skip_message,
    start_posting,
    why_not_post,
)
from newsbot.bot.newsroom.fires import fire_key
from newsbot.bot.newsroom.schedules import Schedule
from newsbot.bot.newsroom.stories import also_covered
from newsbot.bot.services import metrics
from newsbot.handlers.blocks import (
    article_blocks,
    article_fallback,
    header_blocks,
    with_also_covered,
)
from newsbot.handlers.slack_retry import effect_unknown, slack_reason
from newsbot.storage.db import Store
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

log = logging.getLogger(__name__)

DIGEST_EVENT = "newsbot_digest"
ARTICLE_EVENT = "newsbot_article"
HEADER = -1  # the header's place among a digest's messages (articles count from 0)
READ_BACKS = 3  # rounds of read back and re-post before a digest is left for a rerun
CLOCK_SKEW = dt.timedelta(minutes=10)  # how far back before the plan a header may be
POSTED, LEFT_OUT, UNSURE = "posted", "left out", "unsure"  # what became of one post


# Who posts, in a digest's claim: host, process id, and a token of this process's own, so
# that a restarted process given the same pid (pid 1 in a container) is not the dead one.
PROCESS = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def claim_holder_died(owner: str) -> bool:
    """Whether the poster that claimed a digest is certainly dead: a process of this host
    that no longer runs, or ran with our pid before us. Another host's claim, or one
    whose process still runs, is left to its lease."""
    host, pid, token = (owner.split(":") + ["", "", ""])[:3]
    me_host, me_pid, me_token = PROCESS.split(":")
    if host != me_host or not pid.isdigit():
        return False
    if pid == me_pid:
        return token != me_token
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # it runs, as another user
    return False


class DigestPostError(RuntimeError):
    """Slack refused the digest; what was posted is kept and a rerun resumes."""


class Unsettled(RuntimeError):
    """Posts whose fate is still unknown after every read back; a rerun reads again."""


# Slack errors about one message's content: that article is left out, the digest goes on.
MESSAGE_REFUSALS = {"invalid_blocks", "invalid_blocks_format", "msg_too_long",
                    "invalid_metadata_format", "invalid_metadata_schema", "metadata_too_large"}


# Refusals about the channel itself: running again cannot help, this can.
CHANNEL_ADVICE = {
    "channel_not_found": "check the channel id (in the channel's details); if the channel is "
                         "private, invite newsbot first with /invite @newsbot",
    "not_in_channel": "invite newsbot with /invite @newsbot in that channel, then run it again",
    "is_archived": "the channel is archived: unarchive it or post to another channel",
}


Pace = Callable[[str], None]  # called with the channel before each post: waits its turn


def post_digest(
    client: WebClient, store: Store, plan: PlannedDigest, *, post_when_empty: bool = True,
    owner: str | None = None, pace: Pace | None = None,
) -> PlannedDigest:
    """Post what is missing of a planned digest; returns it as stored afterwards.

    Raises DigestBusy when another process is posting it, DigestPostError when Slack
    refuses it (a rerun resumes). `pace` keeps to a rate per channel (the alerts' one post
    a second).
    """
    if plan.status == "done":
        return plan
    owner = owner or f"{PROCESS}:{threading.get_ident()}"
    if not claim_digest(store, plan.id, owner):
        raise DigestBusy(f"digest {plan.id} for {plan.channel} is being posted by another "
                         "process right now")
    plan = load_digest(store, plan.id)  # as stored now, not as the caller last saw it
    if not plan.messages and not post_when_empty:
        finish_digest(store, plan.id)
        log.info("digest empty, staying quiet", extra={"digest": plan.id, "channel": plan.channel})
        return load_digest(store, plan.id)
    try:
        if plan.status in ("posting", "failed"):
            _adopt(store, plan, read_back(client, plan), set(_unposted(plan)))
            plan = load_digest(store, plan.id)
        start_posting(store, plan.id)
        if plan.header and plan.header_ts is None:
            if not _post_header(client, store, plan, pace):
                _settle(client, store, plan, {HEADER}, pace)
            plan = load_digest(store, plan.id)
        for message in plan.pending:
            if _post_article(client, store, plan, message, pace) == UNSURE:
                # settled before the next article, so the thread keeps the digest's order
                _settle(client, store, plan, {message.position}, pace)
    except (SlackClientError, OSError, Unsettled) as error:  # refusals; unreachable API
        reason = slack_reason(error)
        finish_digest(store, plan.id, error=f"Slack said {reason}")
        log.warning("digest posting failed", extra={"digest": plan.id, "error": reason})
        advice = CHANNEL_ADVICE.get(reason, "run it again to post what is missing")
        raise DigestPostError(
            f"posting the digest to {plan.channel} failed ({reason}); {advice}"
        ) from error
    finish_digest(store, plan.id)
    metrics.digest_posted()
    plan = load_digest(store, plan.id)
    log.info("digest posted", extra={"digest": plan.id, "channel": plan.channel,
                                     "articles": len(plan.posted)})
    return plan


def _post(client: WebClient, plan: PlannedDigest, place: int, pace: Pace | None,
          **message: Any) -> str | None:
    """chat.postMessage once: the new message's ts, or None when Slack may or may not
    have stored it (logged). Other failures raise."""
    if pace is not None:
        pace(plan.channel)
    try:
        return client.chat_postMessage(channel=plan.channel, **message)["ts"]
    except (SlackClientError, OSError) as error:
        if not effect_unknown(error):
            raise
        log.warning("ambiguous failure posting a digest message: it may be in Slack; the "
                    "channel is read back before it is posted again",
                    extra={"digest": plan.id, "post": _name(place),
                           "error": slack_reason(error)})
        return None


def _post_header(client: WebClient, store: Store, plan: PlannedDigest,
                 pace: Pace | None = None) -> bool:
    """Post the header; False if it may or may not be in Slack (UNSURE)."""
    ts = _post(client, plan, HEADER, pace, text=plan.title, blocks=header_blocks(plan.title),
               metadata={"event_type": DIGEST_EVENT,
                         "event_payload": {"digest_id": plan.id, "digest_key": plan.key}},
               unfurl_links=False)
    if ts is not None:
        record_header(store, plan.id, ts)
    return ts is not None


def _post_article(client: WebClient, store: Store, plan: PlannedDigest,
                  message: DigestMessage, pace: Pace | None = None) -> str:
    """Post one article message, unless it is no longer one to post: POSTED, LEFT_OUT,
    or UNSURE when it may or may not be in Slack."""
    reason = why_not_post(store, plan, message)
    if reason:
        skip_message(store, plan.id, message.position, reason)
        log.info("article left out of the digest", extra={
            "digest": plan.id, "article": message.article.id, "reason": reason})
        return LEFT_OUT
    article = message.article
    try:
        ts = _post(
            client, plan, message.position, pace,
            thread_ts=plan.header_ts if plan.in_thread else None,
            text=article_fallback(article),
            blocks=with_also_covered(
                article_blocks(article, standing_decision(store, article.id), plan.buttons),
                also_covered(store, [article]).get(article.id, [])),
            metadata={
                "event_type": ARTICLE_EVENT,
                "event_payload": {"digest_id": plan.id, "digest_key": plan.key,
                                  "position": message.position, "article_id": article.id},
            },
            unfurl_links=False, unfurl_media=False,
        )
    except SlackApiError as error:
        reason = slack_reason(error)
        if reason not in MESSAGE_REFUSALS:
            raise
        skip_message(store, plan.id, message.position, f"Slack refused the message: {reason}")
        log.warning("Slack refused an article message", extra={
            "digest": plan.id, "article": article.id, "error": reason})
        return LEFT_OUT
    if ts is None:
        return UNSURE
    record_message(store, plan.id, message.position, ts)
    return POSTED


def _settle(client: WebClient, store: Store, plan: PlannedDigest, unsure: set[int],
            pace: Pace | None = None) -> None:
    """Find out about posts whose fate is unknown: one read back of the digest's thread
    (or channel) per round; adopt what Slack has, post the rest again."""
    for _ in range(READ_BACKS):
        if not unsure:
            return
        found = read_back(client, plan)
        _adopt(store, plan, found, unsure)
        plan = load_digest(store, plan.id)
        by_position = {m.position: m for m in plan.messages}
        still = set()
        for place in sorted(unsure - set(found)):
            if place == HEADER:
                outcome = POSTED if _post_header(client, store, plan, pace) else UNSURE
            else:
                outcome = _post_article(client, store, plan, by_position[place], pace)
            if outcome == POSTED:
                log.warning("ambiguous post resolved: not in Slack, posted again",
                         extra={"digest": plan.id, "post": _name(place),
                                "resolution": "re-posted"})
            elif outcome == UNSURE:
                still.add(place)
        unsure = still
    if unsure:
        raise Unsettled(f"{len(unsure)} message(s) may or may not have reached Slack after "
                        f"{READ_BACKS} read backs")


def _adopt(store: Store, plan: PlannedDigest, found: dict[int, str], places: set[int]) -> None:
    """Record the ts of messages Slack has but our database missed."""
    for place in sorted(places & set(found)):
        if place == HEADER:
            record_header(store, plan.id, found[place])
        else:
            record_message(store, plan.id, place, found[place])
        log.warning("ambiguous post resolved: found in Slack, not posted again",
                 extra={"digest": plan.id, "post": _name(place), "resolution": "found"})


def _unposted(plan: PlannedDigest) -> list[int]:
    header = [HEADER] if plan.header and plan.header_ts is None else []
    return header + [m.position for m in plan.pending]


def read_back(client: WebClient, plan: PlannedDigest) -> dict[int, str]:
    """This digest's messages in Slack, by place (HEADER or position) -> ts: one read of
    the digest's thread (conversations.replies), or of the channel since the digest
    began when there is no thread yet. Rate limits are waited out by the client."""
    if plan.header_ts and plan.in_thread:
        messages = _all_pages(client.conversations_replies, channel=plan.channel,
                              ts=plan.header_ts, include_all_metadata=True)
    else:
        created = dt.datetime.fromisoformat(plan.created_at.replace("Z", "+00:00"))
        oldest = plan.header_ts or f"{(created - CLOCK_SKEW).timestamp():.6f}"
        messages = _all_pages(client.conversations_history, channel=plan.channel,
                              oldest=oldest, include_all_metadata=True, inclusive=True)
    found: dict[int, str] = {}
    for message in messages:
        metadata = message.get("metadata") or {}
        payload = metadata.get("event_payload") or {}
        if payload.get("digest_id") != plan.id or payload.get("digest_key",
                                                              plan.key) != plan.key:
            continue
        if metadata.get("event_type") == DIGEST_EVENT:
            place = HEADER
        elif metadata.get("event_type") == ARTICLE_EVENT and isinstance(
                payload.get("position"), int):
            place = payload["position"]
        else:
            continue
        if place not in found or (slack_ts_us(message["ts"]) or 0) < (
                slack_ts_us(found[place]) or 0):
            found[place] = message["ts"]  # the first, should there be two
    return found


def _name(place: int) -> str:
    return "header" if place == HEADER else f"article {place + 1}"


def _all_pages(method: Any, **params: Any) -> list[dict]:
    """Every page; a read cut short proves nothing, so more than 20 pages is an error."""
    messages: list[dict] = []
    cursor = None
    for _ in range(20):  # a digest is a few dozen messages: 20 pages is plenty
        response = method(cursor=cursor, limit=200, **params) if cursor else method(
            limit=200, **params)
        messages.extend(response.get("messages", []))
        cursor = (response.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            return messages
    raise Unsettled("the channel has too many messages since the digest began to read "
                    "them all back")


def scheduled_poster(
    client: WebClient, store: Store, config: Config
) -> Callable[[Schedule, dt.datetime], None]:
    """What the scheduler calls at each fire time: plan the digest under a key made of
    the schedule and fire time, then post it. A retry of a failed run therefore resumes
    the same digest instead of starting another."""

    def post_scheduled(schedule: Schedule, fire_time: dt.datetime) -> None:
        options = DigestOptions(top=schedule.top or config.digest_top, topics=schedule.topics,
                                min_quality=schedule.min_quality)
        plan = plan_digest(
            store, schedule.channel, options,
            key=f"schedule:{schedule.id}:{fire_key(fire_time)}",
            in_thread=config.digest_in_thread,
            repost_after_days=config.digest_repost_after_days, day=fire_time.date(),
        )
        post_digest(client, store, plan, post_when_empty=config.digest_nothing_new)

    return post_scheduled
