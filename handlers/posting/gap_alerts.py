"""Coverage-gap alerts in Slack.

A `kind: gaps` schedule posts one message listing its watched topics that have a gap,
only when there is at least one, and each topic at most once per channel and day: the
topics are claimed in the database (claim_alerts, bot/newsroom/gaps.py) before the post, and given
back if Slack refuses it so the scheduler's retry can post them.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

from newsbot.bot.newsroom.gaps import Gap, claim_alerts, release_alerts
from newsbot.handlers.blocks import escape, text_blocks
from newsbot.storage.db import Store
from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError

log = logging.getLogger(__name__)


def _slack_time(moment: dt.datetime) -> str:
    """A time every reader sees in their own zone (the ISO text where Slack cannot)."""
    fallback = moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def gap_alert_blocks(gaps: Sequence[Gap], *, hours: float, min_quality: float | None,
                     now: dt.datetime) -> tuple[str, list[dict[str, Any]]]:
    quality = "" if min_quality is None else f" of quality {min_quality:g} or more"
    heading = (f":warning: Coverage gaps: {len(gaps)} topic{'s' if len(gaps) != 1 else ''} "
               f"with no new article{quality} in the last {hours:g} hours")
    lines = []
    for gap in gaps:
        opened = gap.opened_at(hours, now)
        if opened is not None:
            since = f"gap open since {_slack_time(opened)}"
        elif gap.last_article is not None:
            last = dt.datetime.fromisoformat(gap.last_article.replace("Z", "+00:00"))
            since = f"every recent article was decided (the last from {_slack_time(last)})"
        else:
            since = f"no article{quality} on record"
        best = (f"best still open: `{escape(gap.best_id)}` (quality {gap.best_quality:g})"
                if gap.best_id is not None and gap.best_quality is not None
                else f"best still open: `{escape(gap.best_id)}`" if gap.best_id
                else "nothing left to review")
        lines.append(f"• *{escape(gap.topic)}*: {since}; {best}")
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": heading}},
              *text_blocks("\n".join(lines))]  # cut without splitting an entity or a date
    return heading.removeprefix(":warning: "), blocks


def post_gap_alerts(client: WebClient, store: Store, channel: str, gaps: Sequence[Gap], *,
                    hours: float, min_quality: float | None, day: dt.date,
                    schedule_id: str | None = None,
                    now: dt.datetime | None = None) -> list[Gap]:
    """Alert the gaps not alerted in `channel` on `day` yet; returns those posted."""
    now = now or dt.datetime.now(dt.UTC)
    claimed = claim_alerts(store, channel, gaps, day, hours=hours, schedule_id=schedule_id,
                           now=now)
    if not claimed:
        return []
    text, blocks = gap_alert_blocks(claimed, hours=hours, min_quality=min_quality, now=now)
    try:
        client.chat_postMessage(channel=channel, text=text, blocks=blocks, unfurl_links=False)
    except (SlackClientError, OSError):
        release_alerts(store, channel, claimed, day)
        raise
    log.info("gap alerts posted", extra={"channel": channel,
                                         "topics": [g.topic for g in claimed]})
    return claimed
