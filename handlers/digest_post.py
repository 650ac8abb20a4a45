"""Posting a planned digest to Slack: a header, then one message per article.

Each message's ts is stored the moment Slack returns it, and each message carries
metadata naming its digest and position. A digest interrupted half way (Slack error,
crash) is resumed by posting only what is missing; before that, the channel is read
back so a message that reached Slack but not our database is adopted, not posted twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.clusters import also_covered
from bot.config import Config
from bot.decisions import standing_decision
from bot.digest import (
    DigestBusy,
    DigestMessage,
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
from bot.schedule_runs import fire_key
from bot.schedules import Schedule
from handlers.blocks import article_blocks, article_fallback, header_blocks, with_also_covered
from storage.db import Store

log = logging.getLogger(__name__)

DIGEST_EVENT = "newsbot_digest"
ARTICLE_EVENT = "newsbot_article"


class DigestPostError(RuntimeError):
    """Slack refused the digest; what was posted is kept and a rerun resumes."""


# Slack errors about one message's content: that article is left out, the digest goes on.
MESSAGE_REFUSALS = {"invalid_blocks", "invalid_blocks_format", "msg_too_long",
                    "invalid_metadata_format", "invalid_metadata_schema", "metadata_too_large"}


def post_digest(
    client: WebClient, store: Store, plan: PlannedDigest, *, post_when_empty: bool = True,
    owner: str | None = None,
) -> PlannedDigest:
    """Post what is missing of a planned digest; returns it as stored afterwards.

    Raises DigestBusy when another process is posting it, DigestPostError when Slack
    refuses it (a rerun resumes).
    """
    if plan.status == "done":
        return plan
    owner = owner or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
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
            _adopt_posted(client, store, plan)
            plan = load_digest(store, plan.id)
        start_posting(store, plan.id)
        if plan.header_ts is None:
            response = client.chat_postMessage(
                channel=plan.channel, text=plan.title, blocks=header_blocks(plan.title),
                metadata={"event_type": DIGEST_EVENT, "event_payload": {"digest_id": plan.id}},
                unfurl_links=False,
            )
            record_header(store, plan.id, response["ts"])
            plan = load_digest(store, plan.id)
        for message in plan.pending:
            _post_article(client, store, plan, message)
    except (SlackClientError, OSError) as error:  # Slack's refusals; unreachable API (URLError)
        reason = _slack_reason(error)
        finish_digest(store, plan.id, error=f"Slack said {reason}")
        log.warning("digest posting failed", extra={"digest": plan.id, "error": reason})
        raise DigestPostError(
            f"posting the digest to {plan.channel} failed ({reason}); "
            "run it again to post what is missing"
        ) from error
    finish_digest(store, plan.id)
    plan = load_digest(store, plan.id)
    log.info("digest posted", extra={"digest": plan.id, "channel": plan.channel,
                                     "articles": len(plan.posted)})
    return plan


def _post_article(client: WebClient, store: Store, plan: PlannedDigest,
                  message: DigestMessage) -> None:
    """Post one article message, unless it is no longer one to post."""
    reason = why_not_post(store, plan, message)
    if reason:
        skip_message(store, plan.id, message.position, reason)
        log.info("article left out of the digest", extra={
            "digest": plan.id, "article": message.article.id, "reason": reason})
        return
    article = message.article
    try:
        response = client.chat_postMessage(
            channel=plan.channel,
            thread_ts=plan.header_ts if plan.in_thread else None,
            text=article_fallback(article),
            blocks=with_also_covered(article_blocks(article, standing_decision(store, article.id)),
                                     also_covered(store, [article]).get(article.id, [])),
            metadata={
                "event_type": ARTICLE_EVENT,
                "event_payload": {"digest_id": plan.id, "position": message.position,
                                  "article_id": article.id},
            },
            unfurl_links=False, unfurl_media=False,
        )
    except SlackApiError as error:
        reason = _slack_reason(error)
        if reason not in MESSAGE_REFUSALS:
            raise
        skip_message(store, plan.id, message.position, f"Slack refused the message: {reason}")
        log.warning("Slack refused an article message", extra={
            "digest": plan.id, "article": article.id, "error": reason})
        return
    record_message(store, plan.id, message.position, response["ts"])


def _slack_reason(error: Exception) -> str:
    response = getattr(error, "response", None)
    if response is not None:
        return str(response.get("error", "unknown"))
    return f"{type(error).__name__}: {error}"


def _adopt_posted(client: WebClient, store: Store, plan: PlannedDigest) -> None:
    """Record messages of this digest that Slack has but our database missed (a crash
    between Slack's answer and our write). Best effort: if reading fails we post anyway."""
    try:
        if plan.header_ts and plan.in_thread:
            messages = _all_pages(client.conversations_replies, channel=plan.channel,
                                  ts=plan.header_ts, include_all_metadata=True)
        else:
            oldest = plan.header_ts or str(
                dt.datetime.fromisoformat(plan.created_at.replace("Z", "+00:00")).timestamp())
            messages = _all_pages(client.conversations_history, channel=plan.channel,
                                  oldest=oldest, include_all_metadata=True, inclusive=True)
    except (SlackClientError, OSError) as error:
        log.warning("could not read back the channel", extra={"digest": plan.id,
                                                               "error": str(error)})
        return
    pending = {m.position for m in plan.pending}
    for message in messages:
        payload = (message.get("metadata") or {}).get("event_payload") or {}
        event_type = (message.get("metadata") or {}).get("event_type")
        if payload.get("digest_id") != plan.id:
            continue
        if event_type == DIGEST_EVENT and plan.header_ts is None:
            record_header(store, plan.id, message["ts"])
        elif event_type == ARTICLE_EVENT and payload.get("position") in pending:
            record_message(store, plan.id, payload["position"], message["ts"])


def _all_pages(method: Any, **params: Any) -> list[dict]:
    messages: list[dict] = []
    cursor = None
    for _ in range(20):  # a digest is a few dozen messages: 20 pages is plenty
        response = method(cursor=cursor, limit=200, **params) if cursor else method(
            limit=200, **params)
        messages.extend(response.get("messages", []))
        cursor = (response.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            break
    return messages


def scheduled_poster(
    client: WebClient, store: Store, config: Config
) -> Callable[[Schedule, dt.datetime], None]:
    """What the scheduler calls at each fire time: plan the digest under a key made of
    the schedule and fire time, then post it. A retry of a failed run therefore resumes
    the same digest instead of starting another."""

    def post_scheduled(schedule: Schedule, fire_time: dt.datetime) -> None:
        plan = plan_digest(
            store, schedule.channel, schedule.digest_options(config.digest_top),
            key=f"schedule:{schedule.id}:{fire_key(fire_time)}",
            in_thread=config.digest_in_thread,
            repost_after_days=config.digest_repost_after_days, day=fire_time.date(),
        )
        post_digest(client, store, plan, post_when_empty=config.digest_nothing_new)

    return post_scheduled
