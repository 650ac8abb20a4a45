"""The commands that record decisions and write them into the files: decide,
decisions, sync.
"""

from __future__ import annotations

import sys
from typing import Any

from newsbot.bot.cli.context import Context, UsageError
from newsbot.bot.newsroom.decisions import (
    RETRACTED,
    UnknownArticle,
    UnusableArticle,
    decide,
    decision_history,
    standing_decisions,
    written_at,
)
from newsbot.bot.newsroom.rejections import rejected_decisions
from newsbot.bot.newsroom.stories import cluster_of


def cmd_decide(ctx: Context) -> int:
    ctx.refresh()
    args = ctx.args
    try:
        result = decide(ctx.store, args.article_id, args.action, args.user, source="cli")
    except UnknownArticle as error:
        raise UsageError(f"{error} (see: newsbot search WORDS)") from None
    except UnusableArticle as error:
        raise UsageError(f"{error} (see: newsbot index --failed)") from None
    standing = result.standing
    cluster = cluster_of(ctx.store, args.article_id)
    document: dict[str, Any] = {"id": args.article_id, "outcome": result.outcome,
                                "standing": standing.to_json() if standing else None}
    if cluster:
        document["cluster"] = cluster.to_json()
    summary = f"{standing.decision}, by {standing.user_id}" if standing else "no decision"
    said = "withdrawn" if result.outcome == RETRACTED else result.outcome  # one word for it
    text = f"{args.article_id}: {said}; standing: {summary}"
    if cluster:
        role = "its lead" if cluster.lead == args.article_id else f"lead {cluster.lead}"
        text += (f"\nOne story with {len(cluster.members) - 1} other article(s) ({role}; "
                 f"same {'URL' if cluster.reason == 'url' else 'text'}): "
                 + ", ".join(cluster.members)
                 + "\nA decision on any of them keeps the whole story out of digests; "
                 "sync writes it into this article's file only.")
    ctx.emit(document, text)
    return 0


def cmd_decisions(ctx: Context) -> int:
    """The standing decisions with whether their file shows them yet; `--log`: every
    event with what it amounts to now (recorded, withdrawn, superseded, written to file);
    `--rejected`: the spooled decisions that could not be applied."""
    if ctx.args.rejected:
        return _rejected(ctx)
    if ctx.args.log:
        events = decision_history(ctx.store, limit=ctx.args.limit)
        lines = [f"{e['created_at'][:19]}  {e['action']:<7} {e['article_id']}  by {e['user_id']}"
                 f" via {e['source']}: {e['status']}" for e in events]
        ctx.emit({"events": [{"id": e["article_id"], "action": e["action"], "user": e["user_id"],
                              "source": e["source"], "at": e["created_at"],
                              "status": e["status"]} for e in events]},
                 "\n".join(lines) or "No decisions yet.")
        return 0
    decisions = standing_decisions(ctx.store)
    in_file = {d.article_id: written_at(ctx.store, d) is not None for d in decisions}
    lines = [f"{d.decision:<8} {d.article_id}  by {d.user_id} at {d.decided_at} via {d.source}:"
             f" {'written to file' if in_file[d.article_id] else 'waiting for sync'}"
             for d in decisions]
    ctx.emit({"decisions": [dict(d.to_json(), writtenToFile=in_file[d.article_id])
                            for d in decisions]},
             "\n".join(lines) or "No standing decisions.")
    return 0


REPORTED = {"pending": "not told yet", "sending": "being told (or the bot stopped while "
            "telling)", "sent": "told", "unsure": "maybe told (Slack's answer was lost)",
            "failed": "could not be told"}


def _rejected(ctx: Context) -> int:
    rows = rejected_decisions(ctx.store, limit=ctx.args.limit)
    lines = [f"{r['rejected_at'][:19]}  {r['action']:<7} {r['article_id'] or '?'}  by "
             f"{r['user_id']} via {r['source']}: {r['reason']} ({r['detail']}); "
             f"{REPORTED[r['report_state']]}"
             + (f": {r['report_error']}" if r['report_error'] else "") for r in rows]
    ctx.emit({"rejected": [{
        "key": r["event_key"], "id": r["article_id"], "title": r["title"],
        "action": r["action"], "user": r["user_id"], "source": r["source"],
        "channel": r["channel"], "messageTs": r["message_ts"], "reason": r["reason"],
        "detail": r["detail"], "rejectedAt": r["rejected_at"], "report": r["report_state"],
        "reportedAt": r["reported_at"], "reportError": r["report_error"],
    } for r in rows]}, "\n".join(lines) or "No rejected decisions.")
    return 0


def cmd_sync(ctx: Context) -> int:
    """Exit 1 when a file was left alone (a conflict) or the commit failed: cron notices."""
    from newsbot.bot.services.sync import (  # here: `newsbot index` starts faster
        SyncError,
        sync_decisions,
    )

    args = ctx.args
    try:
        report = sync_decisions(ctx.store, ctx.config, dry_run=args.dry_run,
                                git_commit=args.git_commit)
    except SyncError as error:
        raise UsageError(str(error)) from None
    if args.dry_run and not ctx.json:
        sys.stdout.write(report.diff)
    ctx.emit(report.to_json(), report.summary())
    return 0 if report.ok else 1
