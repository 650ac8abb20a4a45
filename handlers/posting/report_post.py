"""The editorial report in Slack: a short Block Kit summary and the chart as an uploaded PNG.

`newsbot report --post` and report schedules post the summary to a channel, then share
the chart there with `files_upload_v2` (files.getUploadURLExternal, the upload, then
files.completeUploadExternal; the app needs the `files:write` scope). `/news report`
answers privately: the chart is uploaded without a channel (so only the bot holds it)
and the ephemeral answer shows it through an image block's `slack_file`.
"""

from __future__ import annotations

import logging
from typing import Any

from newsbot.bot.config.settings import Config
from newsbot.bot.newsroom.report import DEFAULT_DAYS, MAX_DAYS, Report, build_report
from newsbot.handlers.blocks import escape, text_blocks
from newsbot.handlers.slack_retry import slack_reason
from newsbot.storage.db import Store
from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError

log = logging.getLogger(__name__)

SUMMARY_TOPICS = 5
SUMMARY_EDITORS = 5


class ReportPostError(RuntimeError):
    """Slack refused the report or could not be reached."""


def chart_filename(report: Report) -> str:
    return f"newsbot-report-{report.end:%Y-%m-%d}.png"


def chart_alt_text(report: Report) -> str:
    return (f"Chart: decisions per day (published and skipped) with the queue of articles "
            f"waiting, and new against decided articles per topic. {report.headline()}")


def report_blocks(report: Report, file_id: str | None = None) -> list[dict[str, Any]]:
    """The summary: headline, the busiest topics and editors, and the chart if given."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "emoji": True,
                                    "text": f"Editorial report, last {report.period_days:g} days"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": escape(report.headline())}},
    ]
    fields = []
    if report.topics:
        lines = [f"• *{escape(t.topic)}*: {t.new} new, {t.published} published, "
                 f"{t.skipped} skipped, {t.pending} waiting"
                 for t in report.topics[:SUMMARY_TOPICS]]
        fields.append({"type": "mrkdwn", "text": "*Topics*\n" + "\n".join(lines)})
    if report.editors:
        lines = [f"• <@{e.user}>: {e.publish} publish, {e.skip} skip"
                 + (f", {e.withdrawn} withdrawn" if e.withdrawn else "")
                 for e in report.editors[:SUMMARY_EDITORS]]
        fields.append({"type": "mrkdwn", "text": "*Editors*\n" + "\n".join(lines)})
    if fields:
        blocks.append({"type": "section", "fields": fields})
    if file_id:
        blocks.append({"type": "image", "slack_file": {"id": file_id},
                       "alt_text": chart_alt_text(report)[:2000],
                       "title": {"type": "plain_text", "text": "Decisions, queue and topics"}})
    return blocks


def upload_chart(client: WebClient, report: Report, *, channel: str | None = None,
                 thread_ts: str | None = None) -> dict[str, Any]:
    """Upload the chart (shared to `channel` if given); returns Slack's file object."""
    from newsbot.bot.services.report_chart import (
        chart_png,  # matplotlib: only when a chart is drawn
    )

    try:
        response = client.files_upload_v2(
            channel=channel, thread_ts=thread_ts, content=chart_png(report),
            filename=chart_filename(report), title=f"Editorial report {report.end:%Y-%m-%d}",
            alt_txt=chart_alt_text(report)[:1000],
        )
    except (SlackClientError, OSError) as error:
        raise ReportPostError(f"uploading the chart failed: {slack_reason(error)}") from error
    return response["file"]


def post_report(client: WebClient, report: Report, channel: str) -> dict[str, Any]:
    """Post the summary to `channel`, then share the chart right below it."""
    try:
        message = client.chat_postMessage(channel=channel, text=report.headline(),
                                          blocks=report_blocks(report), unfurl_links=False)
    except (SlackClientError, OSError) as error:
        raise ReportPostError(f"posting the summary failed: {slack_reason(error)}") from error
    chart = upload_chart(client, report, channel=channel)
    log.info("report posted", extra={"channel": channel, "file": chart.get("id")})
    return {"channel": channel, "ts": message["ts"], "file": chart.get("id")}


def parse_days(text: str) -> int:
    """`/news report [days]`: ValueError with a message for people."""
    words = (text or "").split()
    if not words:
        return DEFAULT_DAYS
    if len(words) > 1 or not words[0].isdigit() or not 1 <= int(words[0]) <= MAX_DAYS:
        raise ValueError(f"`/news report` takes a number of days from 1 to {MAX_DAYS}, "
                         "e.g. `/news report 30` (default 7)")
    return int(words[0])


def report_answer(store: Store, config: Config, client: WebClient,
                  text: str) -> tuple[str, list[dict[str, Any]]]:
    """The private answer to `/news report [days]`: (notification text, blocks)."""
    try:
        days = parse_days(text)
    except ValueError as error:
        return "report: bad number of days", text_blocks(str(error))
    report = build_report(store, days, tz=config.timezone)
    try:
        chart = upload_chart(client, report)
    except ReportPostError as error:
        log.warning("report chart upload failed", extra={"error": str(error)})
        blocks = report_blocks(report)
        blocks.append({"type": "context", "elements": [
            {"type": "mrkdwn", "text": f"The chart could not be uploaded: {escape(str(error))}"}]})
        return report.headline(), blocks
    return report.headline(), report_blocks(report, chart.get("id"))
