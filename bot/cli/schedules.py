"""`newsbot schedule ...`: the schedules table, as `/news schedule` in Slack."""

from __future__ import annotations

import datetime as dt
from typing import Any

from newsbot.bot.cli.context import Context, UsageError
from newsbot.bot.cli.slack_access import channel_argument, slack_check, slack_client_if_token


def cmd_schedule(ctx: Context) -> int:
    """`newsbot schedule list|add|remove|pause|resume|preview`: the same table and answers
    as `/news schedule` in Slack. No admin check: the command line already has the database."""
    # here, not at the top: apscheduler costs every other command (`newsbot index`) 50 ms
    from newsbot.bot.newsroom.schedule_command import ScheduleCommand, execute_schedule_command
    from newsbot.bot.newsroom.schedules import ScheduleError, ScheduleSpec

    args = ctx.args
    problem = None
    note = ""
    try:
        if args.schedule_action == "preview":
            return schedule_preview(ctx)
        command = ScheduleCommand(args.schedule_action, schedule_id=getattr(args, "id", None))
        if args.schedule_action == "add":
            client = slack_client_if_token()
            channel = channel_argument(args.channel, "CHANNEL", client)
            spec = ScheduleSpec(channel=channel, cron=args.cron, tz=args.tz, top=args.top,
                                topics=tuple(args.topic or ()), min_quality=args.min_quality,
                                kind=args.kind)
            command = ScheduleCommand("add", spec=spec)
            if client is not None:
                problem = slack_check(client, "checking the channel")
            else:
                note = ("\nNot checked whether newsbot can post there (no SLACK_BOT_TOKEN): "
                        "invite it with /invite @newsbot in the channel.")
        reply = execute_schedule_command(
            ctx.store, command, user_id=args.user if args.schedule_action == "add" else None,
            default_zone=lambda: ctx.config.timezone, origin="cli", channel_problem=problem,
        )
    except ScheduleError as error:
        raise UsageError(str(error)) from None
    if reply.schedule is not None:
        document: dict[str, Any] = {"schedule": reply.schedule.to_json()}
        if args.schedule_action != "add":
            document["changed"] = reply.changed
    else:
        document = {"schedules": [schedule.to_json() for schedule in reply.schedules]}
    ctx.emit(document, reply.text + note)
    return 0


def schedule_preview(ctx: Context) -> int:
    from newsbot.bot.newsroom.cron import next_fire_times
    from newsbot.bot.newsroom.schedules import check_cron

    args = ctx.args
    zone_name = args.tz or ctx.config.timezone
    start = args.from_ or dt.datetime.now(dt.UTC)
    fires = next_fire_times(check_cron(args.cron), zone_name, start, args.count)
    iso = [fire.isoformat() for fire in fires]
    ctx.emit({"fires": iso}, "\n".join(iso) or "No fire times.")
    return 0
