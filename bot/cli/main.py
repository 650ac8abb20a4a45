"""The `newsbot` command line.

Every command prints a readable answer and, with `--json`, exactly one JSON document on
stdout. Commands that read articles refresh the index first (unless `--no-refresh`), so
answers always match the folder. Errors a person can fix are one line on stderr, exit 2.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from newsbot.bot.config.settings import (
    Config,
    ConfigError,
    articles_folder_problem,
    load_config,
)
from newsbot.bot.newsroom.article import Article
from newsbot.bot.newsroom.checks import MAX_WHOLE_NUMBER
from newsbot.bot.newsroom.decisions import (
    Decision,
    UnknownArticle,
    UnusableArticle,
    decide,
    decision_history,
    standing_decisions,
    standing_decisions_of,
    written_at,
)
from newsbot.bot.newsroom.digest import (
    DigestBusy,
    DigestOptions,
    count_embargoed,
    plan_digest,
    select_digest,
)
from newsbot.bot.newsroom.lookup import list_topics, lookup_topic, search
from newsbot.bot.newsroom.stories import also_covered, cluster_of, list_clusters
from newsbot.bot.newsroom.wording import plural
from newsbot.bot.services.refresh import refresh_index
from newsbot.storage.db import Store
from newsbot.storage.index import IndexReport, failures


class UsageError(Exception):
    """Something the person running the command can fix; printed without a traceback."""


class Context:
    """What every command gets: the configuration, the store and how to print."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.json = bool(getattr(args, "json", False))
        flags = {"articles": getattr(args, "articles", None), "db": getattr(args, "db", None)}
        self.config: Config = load_config(getattr(args, "config", None), flags=flags)
        self._store: Store | None = None

    @property
    def store(self) -> Store:
        if self._store is None:
            try:
                self._store = Store(self.config.db, self.config.busy_timeout_ms)
            except Exception as error:  # sqlite3 errors: not a database, read-only, ...
                raise UsageError(f"cannot open the database {self.config.db}: {error}") from None
        return self._store

    def refresh(self, force: bool = False) -> IndexReport | None:
        """Refresh the index unless --no-refresh was given."""
        if getattr(self.args, "no_refresh", False) and not force:
            return None
        problem = articles_folder_problem(self.config.articles)
        if problem:
            raise UsageError(problem)
        progress = None if self.json or not sys.stderr.isatty() else _progress_bar
        report = refresh_index(self.store, self.config, progress)
        if progress:
            sys.stderr.write("\r\033[K")
        return report

    def emit(self, document: dict[str, Any], text: str) -> None:
        if self.json:
            json.dump(document, sys.stdout, ensure_ascii=False, indent=2)
            sys.stdout.write("\n")
        else:
            print(text)


def _progress_bar(done: int, total: int) -> None:
    if total < 500:
        return
    width = 30
    filled = width * done // total
    sys.stderr.write(f"\rIndexing [{'#' * filled}{'.' * (width - filled)}] {done}/{total} files")
    sys.stderr.flush()


# --- commands


def cmd_index(ctx: Context) -> int:
    report = ctx.refresh(force=True)
    assert report is not None
    if ctx.args.failed:
        broken = failures(ctx.store)
        text = "\n".join(f"{row['id']}: {row['reason']}" for row in broken) or "No broken files."
        ctx.emit({"failed": broken}, text)
        return 0
    counts = report.as_dict()
    ctx.emit(
        counts,
        f"{counts['total']} files: {counts['indexed']} indexed, {counts['unchanged']} unchanged, "
        f"{counts['failed']} failed, {counts['removed']} removed"
        + ("\nSee the failures with: newsbot index --failed" if counts["failed"] else ""),
    )
    return 0


def cmd_digest(ctx: Context) -> int:
    ctx.refresh()
    args = ctx.args
    options = DigestOptions(
        top=args.top or ctx.config.digest_top,
        topics=tuple(args.topic or ()),
        min_quality=args.min_quality,
        max_age_days=args.max_age_days,
        include_embargoed=args.include_embargoed,
    )
    if args.post:
        return _post_digest(ctx, options)
    articles = select_digest(ctx.store, options)
    heading = f"Top {plural(len(articles), 'unpublished article')}"
    also = also_covered(ctx.store, articles, include_embargoed=options.include_embargoed)
    text = _article_list(heading, articles, "Nothing to review: no eligible articles.",
                         also=also)
    held_back = 0 if options.include_embargoed else count_embargoed(ctx.store)
    if held_back:
        many = held_back != 1
        text += (f"\n{plural(held_back, 'embargoed article')} held back until "
                 f"{'their' if many else 'its'} publishedDateTime (--include-embargoed shows "
                 f"{'them' if many else 'it'}).")
    document = [dict(a.to_json(), alsoCovered=[o.id for o in also.get(a.id, [])])
                for a in articles]
    ctx.emit({"articles": document, "embargoed": held_back}, text)
    return 0


def _post_digest(ctx: Context, options: DigestOptions) -> int:
    """Post the digest to Slack through the same code the scheduler uses."""
    from newsbot.bot.app.slack_client import web_client
    from newsbot.bot.app.startup import AUTH_ERRORS, explain_slack_failure, slack_error_code
    from newsbot.bot.config.slack_credentials import credentials_from_env
    from newsbot.handlers.posting.digest_post import DigestPostError, post_digest

    if not ctx.args.channel:
        raise UsageError("--post needs --channel C (a channel id such as C0123456789, or #name)")
    credentials = credentials_from_env(os.environ, "post")
    client = web_client(credentials.bot_token, credentials.api_url)
    channel = _channel_argument(ctx.args.channel, "--channel", client)
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


def cmd_serve(ctx: Context) -> int:
    from newsbot.bot.app.logs import setup_logging
    from newsbot.bot.app.serve import serve
    from newsbot.bot.config.slack_credentials import credentials_from_env, no_slack_credentials

    args = ctx.args
    if no_slack_credentials(os.environ):
        return _offer_sandbox(ctx, args)
    mode = "http" if args.http else "socket"
    credentials = credentials_from_env(os.environ, mode)
    setup_logging(args.log_level, credentials.secrets)
    # SIGTERM (systemd, docker) and Ctrl-C stop it in order: see bot.app.serve
    config = ctx.config
    metrics_port = config.metrics_port if args.metrics_port is None else args.metrics_port
    host = args.host or config.host or ("0.0.0.0" if args.http else "127.0.0.1")
    serve(config, credentials, http=args.http, host=host, port=args.port,
          metrics_port=metrics_port)
    return 0


def _offer_sandbox(ctx: Context, args: argparse.Namespace) -> int:
    """No credentials at all. A service (no terminal) stops: a container or unit started
    without its variables must fail loudly, not run a sandbox nobody sees. A person at a
    terminal is told, then asked whether to start the local sandbox instead."""
    needed = ["SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET" if args.http else "SLACK_APP_TOKEN"]
    missing = f"no Slack credentials: {' and '.join(needed)} are not set"
    if not sys.stdin.isatty():
        raise UsageError(f"{missing} (README: Running it in Slack); to try newsbot without "
                         "Slack, run `newsbot sandbox`")
    print(f"{missing}, so newsbot cannot run in Slack. It can start the local sandbox "
          "instead: a look-alike workspace on this machine, not Slack (the same as "
          "`newsbot sandbox`).", flush=True)
    try:
        answer = input(f"Start the sandbox on port {args.port}? [y/N] ")
    except EOFError:
        answer = ""
    if answer.strip().lower() not in ("y", "yes"):
        raise UsageError(f"{missing}; set them (README: Running it in Slack) or run "
                         "`newsbot sandbox`")
    return _run_sandbox(ctx, args.port)


def cmd_sandbox(ctx: Context) -> int:
    return _run_sandbox(ctx, ctx.args.port)


def _run_sandbox(ctx: Context, port: int) -> int:
    """Start the sandbox on 127.0.0.1:port, print where to open it, run until Ctrl-C."""
    import threading
    from pathlib import Path

    from newsbot.bot.app.logs import setup_logging
    from newsbot.sandbox.runner import Sandbox, SandboxError
    from newsbot.sandbox.working_copy import working_copy

    setup_logging(ctx.args.log_level)
    config = working_copy(ctx.config, Path.cwd())
    sandbox = Sandbox(config, port=port)
    try:
        sandbox.start()
    except SandboxError as error:
        raise UsageError(str(error)) from None
    except OSError as error:
        raise UsageError(f"cannot listen on 127.0.0.1:{port} ({error.strerror or error}): "
                         "choose another port with --port, or --port 0 for any free one") from None
    digest = sandbox.digest
    posted = f"{len(digest.messages)} articles" if digest else "no digest"
    print(f"Articles: {config.articles} | database: {config.db} | "
          f"posted the first digest to #newsroom ({posted})")
    print(f"Open {sandbox.url} in your browser (Ctrl-C stops the sandbox).", flush=True)
    stopped = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        while not stopped.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        sandbox.stop()
    print("Sandbox stopped.")
    return 0


def cmd_lookup(ctx: Context) -> int:
    ctx.refresh()
    result = lookup_topic(ctx.store, ctx.args.topic, include_published=ctx.args.all,
                          limit=ctx.args.limit, include_decided=ctx.args.decided,
                          include_embargoed=ctx.args.include_embargoed)
    decisions = standing_decisions_of(ctx.store, [a.id for a in result.articles])
    document: dict[str, Any] = {
        "topic": result.topic,
        "articles": _articles_json(result.articles, decisions),
    }
    if not result.known:
        document["suggestions"] = result.suggestions
        hint = f" Did you mean: {', '.join(result.suggestions)}?" if result.suggestions else ""
        ctx.emit(document, f"No topic named '{result.topic}'.{hint}")
        return 1
    if result.waiting:
        document["waitingForSync"] = result.waiting
    kind = "article" if ctx.args.all else "unpublished article"
    waiting = (f"\n({plural(result.waiting, 'more article')} with a decision waiting for "
               f"sync: newsbot lookup '{result.topic}' --decided)" if result.waiting else "")
    also = also_covered(ctx.store, result.articles, include_embargoed=ctx.args.include_embargoed)
    ctx.emit(document, _article_list(f"{result.topic}: {plural(len(result.articles), kind)}",
                                     result.articles, f"No {kind}s on {result.topic}.",
                                     _decision_marks(ctx.store, decisions), also) + waiting)
    return 0


def cmd_topics(ctx: Context) -> int:
    ctx.refresh()
    topics = list_topics(ctx.store)
    width = max((len(t.topic) for t in topics), default=5)
    lines = [f"{'topic':<{width}}  unpublished  total"]
    lines += [f"{t.topic:<{width}}  {t.unpublished:>11}  {t.total:>5}" for t in topics]
    ctx.emit({"topics": [t.to_json() for t in topics]}, "\n".join(lines))
    return 0


def cmd_search(ctx: Context) -> int:
    ctx.refresh()
    words = " ".join(ctx.args.words)
    articles = search(ctx.store, words, limit=ctx.args.limit,
                      include_embargoed=ctx.args.include_embargoed)
    decisions = standing_decisions_of(ctx.store, [a.id for a in articles])
    also = also_covered(ctx.store, articles, include_embargoed=ctx.args.include_embargoed)
    ctx.emit(
        {"query": words, "articles": _articles_json(articles, decisions)},
        _article_list(f"{plural(len(articles), 'match', 'matches')} for '{words}'", articles,
                      f"No match for '{words}'.", _decision_marks(ctx.store, decisions), also),
    )
    return 0


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
    text = f"{args.article_id}: {result.outcome}; standing: {summary}"
    if cluster:
        role = "its lead" if cluster.lead == args.article_id else f"lead {cluster.lead}"
        text += (f"\nOne story with {len(cluster.members) - 1} other article(s) ({role}; "
                 f"same {'URL' if cluster.reason == 'url' else 'text'}): "
                 + ", ".join(cluster.members)
                 + "\nA decision on any of them keeps the whole story out of digests; "
                 "sync writes it into this article's file only.")
    ctx.emit(document, text)
    return 0


def cmd_clusters(ctx: Context) -> int:
    ctx.refresh()
    clusters = list_clusters(ctx.store)
    lines = [f"{len(c.members)} articles ({'same URL' if c.reason == 'url' else 'same text'}):"
             f" {c.lead} (lead), {', '.join(c.members[1:])}" for c in clusters]
    ctx.emit({"clusters": [c.to_json() for c in clusters]},
             "\n".join(lines) or "No story clusters: every article stands alone.")
    return 0


def cmd_decisions(ctx: Context) -> int:
    """The standing decisions with whether their file shows them yet; `--log`: every
    event with what it amounts to now (recorded, withdrawn, superseded, written to file)."""
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
            return _schedule_preview(ctx)
        command = ScheduleCommand(args.schedule_action, schedule_id=getattr(args, "id", None))
        if args.schedule_action == "add":
            client = _slack_client()
            channel = _channel_argument(args.channel, "CHANNEL", client)
            spec = ScheduleSpec(channel=channel, cron=args.cron, tz=args.tz, top=args.top,
                                topics=tuple(args.topic or ()), min_quality=args.min_quality,
                                kind=args.kind)
            command = ScheduleCommand("add", spec=spec)
            if client is not None:
                problem = _slack_check(client, "checking the channel")
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


def _slack_client():
    """A Web API client when SLACK_BOT_TOKEN is set (names resolved, channels checked)."""
    from newsbot.bot.app.slack_client import web_client
    from newsbot.bot.config.slack_credentials import credentials_from_env

    if not os.environ.get("SLACK_BOT_TOKEN", "").strip():
        return None
    credentials = credentials_from_env(os.environ, "post")
    return web_client(credentials.bot_token, credentials.api_url)


def _slack_check(client, doing: str) -> Callable[[str], str | None]:
    """posting_problem with Slack's failures as a UsageError naming what to check."""
    from newsbot.handlers.channels import posting_problem

    def check(channel: str) -> str | None:
        return _slack_call(client, doing, lambda: posting_problem(client, channel))

    return check


def _slack_call(client, doing: str, call: Callable[[], Any]) -> Any:
    from newsbot.bot.app.startup import explain_slack_failure
    from slack_sdk.errors import SlackApiError

    try:
        return call()
    except (SlackApiError, OSError) as error:
        hint = explain_slack_failure(error, "SLACK_BOT_TOKEN", client.base_url) or str(error)
        raise UsageError(f"{doing} failed: {hint}") from None


def _channel_argument(text: str, where: str, client) -> str:
    """A channel id from `C0123ABCD`, `<#C0123ABCD|name>` or `#name` (looked up in Slack
    when a token is set)."""
    from newsbot.bot.newsroom.schedules import ScheduleError, normalize_channel
    from newsbot.handlers.channels import channel_id_by_name

    resolve = None
    if client is not None:
        def resolve(name: str) -> str | None:
            return _slack_call(client, f"looking up #{name}",
                               lambda: channel_id_by_name(client, name))
    try:
        return normalize_channel(text, resolve)
    except ScheduleError as error:
        hint = (" (or set SLACK_BOT_TOKEN and newsbot looks the name up)"
                if client is None and text.strip().startswith("#") else "")
        raise UsageError(f"{where}: {error}{hint}") from None


def _schedule_preview(ctx: Context) -> int:
    from newsbot.bot.newsroom.cron import next_fire_times
    from newsbot.bot.newsroom.schedules import check_cron

    args = ctx.args
    zone_name = args.tz or ctx.config.timezone
    start = args.from_ or dt.datetime.now(dt.UTC)
    fires = next_fire_times(check_cron(args.cron), zone_name, start, args.count)
    iso = [fire.isoformat() for fire in fires]
    ctx.emit({"fires": iso}, "\n".join(iso) or "No fire times.")
    return 0


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
        _post_report(ctx, report)
    ctx.emit(report.to_json(), report.text())
    return 0


def _post_report(ctx: Context, report) -> None:
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
        best = f"best open: {gap.best_id} (quality {_num(gap.best_quality)})" if gap.best_id \
            else "nothing open"
        lines.append(f"  {gap.topic}: last article {gap.last_article or 'none'}; {best}")
    ctx.emit({"gaps": [gap.to_json() for gap in gaps]}, "\n".join(lines))
    return 0


def _articles_json(articles: Sequence[Article], decisions: dict[str, Decision]) -> list[dict]:
    """Articles as JSON; one with a standing decision carries it under `decision`."""
    return [dict(a.to_json(), decision=decisions[a.id].to_json()) if a.id in decisions
            else a.to_json() for a in articles]


def _decision_marks(store: Store, decisions: dict[str, Decision]) -> dict[str, str]:
    """`publish by U1, waiting for sync` for each decided article of a list."""
    return {article_id: f"{d.decision} by {d.user_id}, "
            + ("written to file" if written_at(store, d) else "waiting for sync")
            for article_id, d in decisions.items()}


def _article_list(heading: str, articles: Sequence[Article], empty: str,
                  marks: dict[str, str] | None = None,
                  also: dict[str, list[Article]] | None = None) -> str:
    if not articles:
        return empty
    lines = [heading]
    for number, a in enumerate(articles, start=1):
        flag = " (published)" if a.published else ""
        if a.id in (marks or {}):
            flag += f" [{marks[a.id]}]"
        lines.append(
            f"{number:>3}. {a.title}{flag}\n"
            f"     quality {_num(a.quality)}, heat {_num(a.heat)} | {a.provider_name or '?'}"
            f" | {(a.published_at or '')[:10]} | {', '.join(a.topics)}\n"
            f"     {a.web_url or ''}\n"
            f"     id: {a.id}"
        )
        others = (also or {}).get(a.id)
        if others:
            lines.append("     Also: " + ", ".join(
                f"{o.provider_name or o.provider_domain or '?'} (quality {_num(o.quality)})"
                f" {o.web_url or o.id}" for o in others))
    return "\n".join(lines)


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


# --- argument parsing


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more: {text}")
    if value > MAX_WHOLE_NUMBER:  # SQLite cannot bind it as a LIMIT
        raise argparse.ArgumentTypeError(f"must be at most {MAX_WHOLE_NUMBER}: {text}")
    return value


def _report_days(text: str) -> int:
    from newsbot.bot.newsroom.report import MAX_DAYS

    value = _positive_int(text)
    if value > MAX_DAYS:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_DAYS}: {text}")
    return value


def _finite(text: str) -> float:
    """A number; 'nan' and 'inf' (which float() accepts) would match nothing or overflow."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return value


def _positive_number(text: str) -> float:
    value = _finite(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0: {text}")
    return value


def _non_negative(text: str) -> float:
    value = _finite(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more: {text}")
    return value


def _time_zone(text: str) -> str:
    from newsbot.bot.newsroom.cron import zone

    try:
        return zone(text).key
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _iso_datetime(text: str) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an ISO 8601 date-time: {text!r} (e.g. 2026-03-30T08:00 or "
            "2026-03-30T08:00:00+01:00; without an offset it is local time in --tz)"
        ) from None


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be 0 to 65535: {text}")
    return value


def _common_options() -> argparse.ArgumentParser:
    """Options accepted before or after the command (`newsbot --json index` or `index --json`)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS,
                        help="YAML config file (default: ./newsbot.yaml if present)")
    common.add_argument("--articles", metavar="DIR", default=argparse.SUPPRESS,
                        help="articles folder (env NEWSBOT_ARTICLES)")
    common.add_argument("--db", metavar="FILE", default=argparse.SUPPRESS,
                        help="SQLite database file (env NEWSBOT_DB)")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print one JSON document on stdout")
    common.add_argument("--no-refresh", action="store_true", default=argparse.SUPPRESS,
                        help="answer from the index as it is, without re-reading the folder")
    return common


Command = Callable[[Context], int]


def _embargo_option(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--include-embargoed", action="store_true",
                     help="also articles whose publishedDateTime is still in the future")


def build_parser() -> argparse.ArgumentParser:
    common = _common_options()
    parser = _Parser(
        prog="newsbot", parents=[common],
        description="Slack chat-ops bot for newsroom channels: digests, look-ups, decisions, sync.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, handler: Command, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, parents=[common], help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    sub = command("index", cmd_index, "refresh the article index and report what changed")
    sub.add_argument("--failed", action="store_true", help="list the broken files and why")

    sub = command("digest", cmd_digest, "show the digest that would be posted now")
    sub.add_argument("--top", type=_positive_int, metavar="N", help="how many articles (10)")
    sub.add_argument("--topic", action="append", metavar="T",
                     help="only articles with this topic (repeatable: any of them)")
    sub.add_argument("--min-quality", type=_finite, metavar="Q", help="minimum quality")
    sub.add_argument("--max-age-days", type=_non_negative, metavar="D",
                     help="only articles published in the last D days")
    _embargo_option(sub)

    sub.add_argument("--post", action="store_true", help="post it to Slack (SLACK_BOT_TOKEN)")
    sub.add_argument("--channel", metavar="C", help="with --post: the channel id, or #name")
    sub.add_argument("--no-thread", action="store_true",
                     help="with --post: article messages in the channel, not the header's thread")

    sub = command("lookup", cmd_lookup, "unpublished articles with a topic, in digest order")
    sub.add_argument("topic", metavar="TOPIC")
    sub.add_argument("--all", action="store_true", help="include published articles")
    sub.add_argument("--decided", action="store_true",
                     help="include unpublished articles with a decision waiting for sync")
    sub.add_argument("--limit", type=_positive_int, default=20, metavar="N")
    _embargo_option(sub)

    command("topics", cmd_topics, "every topic with its unpublished and total counts")

    sub = command("search", cmd_search, "full-text search over titles and excerpts")
    sub.add_argument("words", nargs="+", metavar="WORDS")
    sub.add_argument("--limit", type=_positive_int, default=20, metavar="N")
    _embargo_option(sub)
    sub = command("decide", cmd_decide, "record a publish/skip decision, or undo yours")
    sub.add_argument("article_id", metavar="ARTICLE_ID")
    sub.add_argument("action", choices=["publish", "skip", "undo"])
    sub.add_argument("--user", required=True, metavar="U", help="who decides (Slack user id)")

    sub = command("decisions", cmd_decisions, "list the standing decisions and whether their "
                  "files show them yet")
    sub.add_argument("--log", action="store_true",
                     help="every decision event, newest first, with what it amounts to now")
    sub.add_argument("--limit", type=_positive_int, default=50, metavar="N",
                     help="with --log: how many events (50)")
    command("clusters", cmd_clusters, "the story clusters: articles that are copies of one "
            "story (same URL or near-duplicate text), each with its lead")

    sub = command("serve", cmd_serve, "run the Slack app (Socket Mode, or --http)")
    sub.add_argument("--http", action="store_true",
                     help="serve HTTP (POST /slack/events, GET /healthz, GET /metrics) instead "
                          "of Socket Mode")
    sub.add_argument("--host", help="with --http or --metrics-port: the address to listen on "
                     "(env NEWSBOT_HOST; default 0.0.0.0 with --http, 127.0.0.1 for Socket "
                     "Mode's --metrics-port)")
    sub.add_argument("--port", type=int, default=3000, help="with --http: port (3000)")
    sub.add_argument("--metrics-port", type=_port, metavar="P",
                     help="in Socket Mode: serve GET /healthz and GET /metrics on this port "
                          "(env NEWSBOT_METRICS_PORT; HTTP mode serves them on --port)")
    sub.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])

    sub = command("sync", cmd_sync, "write the standing decisions into the article files")
    sub.add_argument("--dry-run", action="store_true",
                     help="print the unified diff it would apply; write nothing")
    sub.add_argument("--git-commit", action="store_true",
                     help="commit the written files (when the folder is in a git repository)")


    sub = command("schedule", cmd_schedule, "list, add, remove, pause, resume or preview "
                  "digest schedules (the same table as /news schedule)")
    actions = sub.add_subparsers(dest="schedule_action", metavar="ACTION", required=True)

    def action(name: str, help_text: str) -> argparse.ArgumentParser:
        return actions.add_parser(name, parents=[common], help=help_text, description=help_text)

    action("list", "every schedule with its next fire time")
    add = action("add", "add a schedule (zone: --tz, else scheduler.timezone, else UTC)")
    add.add_argument("channel", metavar="CHANNEL",
                     help="Slack channel id, e.g. C0123ABCD, or #name (looked up in Slack when "
                          "SLACK_BOT_TOKEN is set)")
    add.add_argument("cron", metavar="CRON", help='Unix cron expression, e.g. "0 9 * * 1-5"')
    add.add_argument("--tz", type=_time_zone, metavar="ZONE",
                     help="IANA time zone (default: scheduler.timezone / NEWSBOT_TIMEZONE, UTC)")
    add.add_argument("--top", type=_positive_int, metavar="N",
                     help="articles per digest (default: digest.top)")
    add.add_argument("--topic", action="append", metavar="T",
                     help="only articles with this topic (repeatable: any of them)")
    add.add_argument("--min-quality", type=_finite, metavar="Q", help="minimum quality")
    add.add_argument("--user", metavar="U", help="who adds it (recorded as created_by)")
    add.add_argument("--kind", choices=["digest", "report", "gaps"], default="digest",
                     help="what it posts: the digest (default), the editorial report of the "
                          "last 7 days, or coverage-gap alerts (--topic: the watched topics)")
    for name, verb in (("remove", "remove"), ("pause", "pause"), ("resume", "resume")):
        action(name, f"{verb} a schedule").add_argument("id", metavar="ID",
                                                        help="schedule id, e.g. s1")
    preview = action("preview", "print the next fire times of a cron expression")
    preview.add_argument("cron", metavar="CRON", help='Unix cron expression, e.g. "0 9 * * 1-5"')
    preview.add_argument("--tz", type=_time_zone, metavar="ZONE",
                         help="IANA time zone (default: scheduler.timezone / NEWSBOT_TIMEZONE, "
                              "UTC)")
    preview.add_argument("--from", dest="from_", type=_iso_datetime, metavar="ISO-DATETIME",
                         help="start here instead of now (inclusive)")
    preview.add_argument("--count", type=_positive_int, default=5, metavar="N",
                         help="how many fire times (5)")

    sub = command("report", cmd_report, "the editorial report: decisions, topics, editors and "
                  "the queue over the last days")
    sub.add_argument("--days", type=_report_days, default=7, metavar="N",
                     help="the days before now to report on (7)")
    sub.add_argument("--chart", metavar="FILE.png", help="write the chart as a PNG")
    sub.add_argument("--post", action="store_true",
                     help="upload the chart with a summary to Slack (SLACK_BOT_TOKEN)")
    sub.add_argument("--channel", metavar="C", help="with --post: the channel id")

    sub = command("gaps", cmd_gaps, "watched topics with no usable, unpublished article "
                  "published recently (coverage gaps)")
    sub.add_argument("--topic", action="append", metavar="T",
                     help="watch this topic (repeatable; default: gaps.topics, else every "
                          "topic seen in the last 30 days)")
    sub.add_argument("--hours", type=_positive_number, default=24.0, metavar="H",
                     help="how recent an article must be (24)")
    sub.add_argument("--min-quality", type=_finite, metavar="Q",
                     help="minimum quality (default: none, as the digest)")

    sub = command("sandbox", cmd_sandbox, "try newsbot without Slack: a look-alike workspace and "
                  "the bot on this machine, with a web page (127.0.0.1 only)")
    sub.add_argument("--port", type=_port, default=8765,
                     help="port of the page on 127.0.0.1 (8765; 0: any free port)")
    sub.add_argument("--log-level", default="WARNING",
                     choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser


class _Parser(argparse.ArgumentParser):
    """argparse, except that a mistake on a command line asking for `--json` is reported
    as JSON too (subcommands' parsers are of this class as well)."""

    json_errors = False

    def error(self, message: str):  # noqa: ANN201 - argparse's signature
        if _Parser.json_errors:
            raise UsageError(f"{message} (see: {self.prog} --help)")
        super().error(message)


def _report(error: Exception, as_json: bool) -> int:
    """One line on stderr; with --json also one JSON document on stdout. Exit 2."""
    print(f"newsbot: error: {error}", file=sys.stderr)
    if as_json:
        json.dump({"ok": False, "error": str(error)}, sys.stdout, ensure_ascii=False)
        sys.stdout.write("\n")
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in argv
    parser = build_parser()
    _Parser.json_errors = as_json
    try:
        args = parser.parse_args(argv)
    except UsageError as error:
        return _report(error, as_json)
    finally:
        _Parser.json_errors = False
    try:
        return args.handler(Context(args))
    except (ConfigError, UsageError) as error:
        return _report(error, as_json)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `newsbot digest | head`: the reader left, nothing to report
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keeps the exit-time flush quiet
        return 141


if __name__ == "__main__":
    sys.exit(main())
