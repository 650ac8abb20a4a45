"""The command line's way to Slack: a client when SLACK_BOT_TOKEN is set, channel
names looked up, and `digest --post` / `report --post`. Slack's refusals become one line
naming what to check. slack_sdk loads only here, and only when a command needs it.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from newsbot.bot.cli.context import Context, UsageError
from newsbot.bot.newsroom.digest import DigestBusy, DigestOptions, plan_digest


def post_current_digest(ctx: Context, options: DigestOptions) -> int:
    """Post the digest to Slack through the same code the scheduler uses."""
    from newsbot.bot.app.slack_client import web_client
    from newsbot.bot.app.startup import AUTH_ERRORS, explain_slack_failure, slack_error_code
    from newsbot.bot.config.slack_credentials import credentials_from_env
    from newsbot.handlers.posting.digest_post import DigestPostError, post_digest

    if not ctx.args.channel:
        raise UsageError("--post needs --channel C (a channel id such as C0123456789, or #name)")
    credentials = credentials_from_env(os.environ, "post")
    client = web_client(credentials.bot_token, credentials.api_url)
    channel = channel_argument(ctx.args.channel, "--channel", client)
    config = ctx.config
    today = dt.datetime.now(ZoneInfo(config.timezone)).date()
    plan = plan_digest(ctx.store, channel, options, in_thread=not ctx.args.no_thread
                       and config.digest_in_thread,
                       repost_after_days=config.digest_repost_after_days, day=today)
    try:
        plan = post_digest(client, ctx.store, plan, post_when_empty=config.digest_nothing_new)
    except DigestBusy as error:
        raise UsageError(str(error)) from None
    except (DigestPostError, OSError) as error:  # OSError: urllib could not reach the API
        cause = error.__cause__ or error
        if isinstance(cause, OSError) or slack_error_code(cause) in AUTH_ERRORS:
            hint = explain_slack_failure(cause, "SLACK_BOT_TOKEN", client.base_url)
            raise UsageError(f"posting the digest to {channel} failed: {hint}; "
                             "run it again to post what is missing") from None
        raise UsageError(str(error)) from None
    document = {
        "channel": plan.channel, "digest": plan.id, "title": plan.title,
        "headerTs": plan.header_ts,
        "articles": [dict(m.article.to_json(), ts=m.ts) for m in plan.posted],
        "leftOut": [{"id": m.article.id, "reason": m.skipped} for m in plan.messages
                    if m.skipped],
    }
    ctx.emit(document, f"Posted to {plan.channel}: {plan.title}")
    return 0


def slack_client_if_token():
    """A Web API client when SLACK_BOT_TOKEN is set (names resolved, channels checked)."""
    from newsbot.bot.app.slack_client import web_client
    from newsbot.bot.config.slack_credentials import credentials_from_env

    if not os.environ.get("SLACK_BOT_TOKEN", "").strip():
        return None
    credentials = credentials_from_env(os.environ, "post")
    return web_client(credentials.bot_token, credentials.api_url)


def slack_check(client, doing: str) -> Callable[[str], str | None]:
    """posting_problem with Slack's failures as a UsageError naming what to check."""
    from newsbot.handlers.channels import posting_problem

    def check(channel: str) -> str | None:
        return slack_call(client, doing, lambda: posting_problem(client, channel))

    return check


def slack_call(client, doing: str, call: Callable[[], Any]) -> Any:
    from newsbot.bot.app.startup import explain_slack_failure
    from slack_sdk.errors import SlackApiError

    try:
        return call()
    except (SlackApiError, OSError) as error:
        hint = explain_slack_failure(error, "SLACK_BOT_TOKEN", client.base_url) or str(error)
        raise UsageError(f"{doing} failed: {hint}") from None


def channel_argument(text: str, where: str, client) -> str:
    """A channel id from `C0123ABCD`, `<#C0123ABCD|name>` or `#name` (looked up in Slack
    when a token is set)."""
    from newsbot.bot.newsroom.schedules import ScheduleError, normalize_channel
    from newsbot.handlers.channels import channel_id_by_name

    resolve = None
    if client is not None:
        def resolve(name: str) -> str | None:
            return slack_call(client, f"looking up #{name}",
                               lambda: channel_id_by_name(client, name))
    try:
        return normalize_channel(text, resolve)
    except ScheduleError as error:
        hint = (" (or set SLACK_BOT_TOKEN and newsbot looks the name up)"
                if client is None and text.strip().startswith("#") else "")
        raise UsageError(f"{where}: {error}{hint}") from None


def upload_report(ctx: Context, report) -> None:
    from newsbot.bot.app.slack_client import web_client
    from newsbot.bot.app.startup import explain_slack_failure
    from newsbot.bot.config.slack_credentials import credentials_from_env
    from newsbot.bot.newsroom.schedules import ScheduleError, normalize_channel
    from newsbot.handlers.posting.report_post import ReportPostError, post_report

    try:
        channel = normalize_channel(ctx.args.channel)
    except ScheduleError as error:
        raise UsageError(f"--channel: {error}") from None
    credentials = credentials_from_env(os.environ, "post")
    client = web_client(credentials.bot_token, credentials.api_url)
    try:
        post_report(client, report, channel)
    except ReportPostError as error:
        cause = error.__cause__ or error
        hint = explain_slack_failure(cause, "SLACK_BOT_TOKEN", client.base_url) or str(error)
        raise UsageError(f"posting the report to {channel} failed: {hint}") from None
