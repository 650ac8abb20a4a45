"""The editorial report and coverage gaps: report, gaps."""

from __future__ import annotations

from newsbot.bot.cli.context import Context, UsageError
from newsbot.bot.cli.output import number_text
from newsbot.bot.cli.slack_access import upload_report


def cmd_report(ctx: Context) -> int:
    """The editorial report; `--chart` and `--post` load matplotlib, nothing else does."""
    from newsbot.bot.newsroom.report import build_report

    args = ctx.args
    if args.post and not args.channel:
        raise UsageError("--post needs --channel C (a channel id such as C0123456789)")
    ctx.refresh()
    report = build_report(ctx.store, args.days, tz=ctx.config.timezone)
    if args.chart:
        from newsbot.bot.services.report_chart import write_chart

        try:
            write_chart(report, args.chart)
        except OSError as error:
            raise UsageError(f"cannot write the chart {args.chart}: {error}") from None
    if args.post:
        upload_report(ctx, report)
    ctx.emit(report.to_json(), report.text())
    return 0


def cmd_gaps(ctx: Context) -> int:
    """Watched topics with nothing fresh to publish: `--topic`, else `gaps.topics`, else
    every topic seen in the last 30 days."""
    from newsbot.bot.newsroom.gaps import find_gaps, watched_topics

    args = ctx.args
    ctx.refresh()
    topics = watched_topics(ctx.store, args.topic or ctx.config.gap_topics)
    gaps = find_gaps(ctx.store, topics, hours=args.hours, min_quality=args.min_quality)
    quality = "" if args.min_quality is None else f" of quality {args.min_quality:g} or more"
    lines = [f"{len(gaps)} of {len(topics)} watched topics have no new article{quality} "
             f"in the last {args.hours:g} hours"]
    for gap in gaps:
        best = (f"best open: {gap.best_id} (quality {number_text(gap.best_quality)})"
                if gap.best_id else "nothing open")
        lines.append(f"  {gap.topic}: last article {gap.last_article or 'none'}; {best}")
    ctx.emit({"gaps": [gap.to_json() for gap in gaps]}, "\n".join(lines))
    return 0
