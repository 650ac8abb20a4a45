"""The `newsbot` argument parser: one subcommand per command, each handled by a
function of the command modules beside this one.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from newsbot.bot.cli import arguments
from newsbot.bot.cli.context import Context, UsageError
from newsbot.bot.cli.decisions import cmd_decide, cmd_decisions, cmd_sync
from newsbot.bot.cli.manifest import cmd_manifest
from newsbot.bot.cli.reading import (
    cmd_clusters,
    cmd_digest,
    cmd_index,
    cmd_lookup,
    cmd_search,
    cmd_topics,
)
from newsbot.bot.cli.reports import cmd_gaps, cmd_report
from newsbot.bot.cli.running import cmd_sandbox, cmd_serve
from newsbot.bot.cli.schedules import cmd_schedule
from newsbot.bot.cli.subscriptions import cmd_subscribe, cmd_subscriptions, cmd_unsubscribe


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
    parser = Parser(
        prog="newsbot", parents=[common],
        description="Slack chat-ops bot for newsroom channels: digests, look-ups, decisions, sync.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, handler: Command, help_text: str, *, only_reads: bool = False,
                refreshes: bool = True) -> argparse.ArgumentParser:
        """A subcommand; `only_reads`: without its refresh (--no-refresh, or `refreshes`
        False: it never refreshes) and --post it writes nothing, so a database it may not
        write still answers it (Context.only_reads)."""
        sub = commands.add_parser(name, parents=[common], help=help_text, description=help_text)
        sub.set_defaults(handler=handler, only_reads=only_reads, refreshes=refreshes)
        return sub

    sub = command("index", cmd_index, "refresh the article index and report what changed")
    sub.add_argument("--failed", action="store_true", help="list the broken files and why")

    sub = command("digest", cmd_digest, "show the digest that would be posted now",
            only_reads=True)
    sub.add_argument("--top", type=arguments.positive_int, metavar="N",
                     help="how many articles (10)")
    sub.add_argument("--topic", action="append", metavar="T",
                     help="only articles with this topic (repeatable: any of them)")
    sub.add_argument("--min-quality", type=arguments.finite, metavar="Q", help="minimum quality")
    sub.add_argument("--max-age-days", type=arguments.non_negative, metavar="D",
                     help="only articles published in the last D days")
    _embargo_option(sub)

    sub.add_argument("--post", action="store_true", help="post it to Slack (SLACK_BOT_TOKEN)")
    sub.add_argument("--channel", metavar="C", help="with --post: the channel id, or #name")
    sub.add_argument("--no-thread", action="store_true",
                     help="with --post: article messages in the channel, not the header's thread")

    sub = command("lookup", cmd_lookup, "unpublished articles with a topic, in digest order",
            only_reads=True)
    sub.add_argument("topic", metavar="TOPIC")
    sub.add_argument("--all", action="store_true", help="include published articles")
    sub.add_argument("--decided", action="store_true",
                     help="include unpublished articles with a decision waiting for sync")
    sub.add_argument("--limit", type=arguments.positive_int, default=20, metavar="N")
    _embargo_option(sub)

    command("topics", cmd_topics, "every topic with its unpublished and total counts",
            only_reads=True)

    sub = command("search", cmd_search, "full-text search over titles and excerpts",
            only_reads=True)
    sub.add_argument("words", nargs="+", metavar="WORDS")
    sub.add_argument("--limit", type=arguments.positive_int, default=20, metavar="N")
    _embargo_option(sub)
    sub = command("decide", cmd_decide, "record a publish/skip decision, or undo yours")
    sub.add_argument("article_id", metavar="ARTICLE_ID")
    sub.add_argument("action", choices=["publish", "skip", "undo"])
    sub.add_argument("--user", required=True, metavar="U", help="who decides (Slack user id)")

    sub = command("decisions", cmd_decisions, "list the standing decisions and whether their "
                  "files show them yet", only_reads=True, refreshes=False)
    sub.add_argument("--log", action="store_true",
                     help="every decision event, newest first, with what it amounts to now")
    sub.add_argument("--rejected", action="store_true",
                     help="the decisions acknowledged while the database was down that could "
                          "not be applied (article gone or broken, not an editor), newest "
                          "first, and whether their authors were told")
    sub.add_argument("--limit", type=arguments.positive_int, default=50, metavar="N",
                     help="with --log or --rejected: how many (50)")
    command("clusters", cmd_clusters, "the story clusters: articles that are copies of one "
            "story (same URL or near-duplicate text), each with its lead",
            only_reads=True)

    sub = command("serve", cmd_serve, "run the Slack app (Socket Mode, or --http)")
    sub.add_argument("--http", action="store_true",
                     help="serve HTTP (POST /slack/events, GET /healthz, GET /metrics) instead "
                          "of Socket Mode")
    sub.add_argument("--host", help="with --http or --metrics-port: the address to listen on "
                     "(env NEWSBOT_HOST; default 0.0.0.0 with --http, 127.0.0.1 for Socket "
                     "Mode's --metrics-port)")
    sub.add_argument("--port", type=arguments.port, default=3000, help="with --http: port (3000)")
    sub.add_argument("--metrics-port", type=arguments.port, metavar="P",
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

    action("list", "every schedule with its next fire time").set_defaults(only_reads=True,
                                                                           refreshes=False)
    add = action("add", "add a schedule (zone: --tz, else scheduler.timezone, else UTC)")
    add.add_argument("channel", metavar="CHANNEL",
                     help="Slack channel id, e.g. C0123ABCD, or #name (looked up in Slack when "
                          "SLACK_BOT_TOKEN is set)")
    add.add_argument("cron", metavar="CRON", help='Unix cron expression, e.g. "0 9 * * 1-5"')
    add.add_argument("--tz", type=arguments.time_zone, metavar="ZONE",
                     help="IANA time zone (default: scheduler.timezone / NEWSBOT_TIMEZONE, UTC)")
    add.add_argument("--top", type=arguments.positive_int, metavar="N",
                     help="articles per digest (default: digest.top)")
    add.add_argument("--topic", action="append", metavar="T",
                     help="only articles with this topic (repeatable: any of them)")
    add.add_argument("--min-quality", type=arguments.finite, metavar="Q", help="minimum quality")
    add.add_argument("--user", metavar="U", help="who adds it (recorded as created_by)")
    add.add_argument("--kind", choices=["digest", "report", "gaps"], default="digest",
                     help="what it posts: the digest (default), the editorial report of the "
                          "last 7 days, or coverage-gap alerts (--topic: the watched topics)")
    for name, verb in (("remove", "remove"), ("pause", "pause"), ("resume", "resume")):
        action(name, f"{verb} a schedule").add_argument("id", metavar="ID",
                                                        help="schedule id, e.g. s1")
    preview = action("preview", "print the next fire times of a cron expression")
    preview.set_defaults(only_reads=True, refreshes=False)
    preview.add_argument("cron", metavar="CRON", help='Unix cron expression, e.g. "0 9 * * 1-5"')
    preview.add_argument("--tz", type=arguments.time_zone, metavar="ZONE",
                         help="IANA time zone (default: scheduler.timezone / NEWSBOT_TIMEZONE, "
                              "UTC)")
    preview.add_argument("--from", dest="from_", type=arguments.iso_datetime,
                         metavar="ISO-DATETIME",
                         help="start here instead of now (inclusive)")
    preview.add_argument("--count", type=arguments.positive_int, default=5, metavar="N",
                         help="how many fire times (5)")

    _subscription_commands(command)

    sub = command("report", cmd_report, "the editorial report: decisions, topics, editors and "
                  "the queue over the last days",
            only_reads=True)
    sub.add_argument("--days", type=arguments.report_days, default=7, metavar="N",
                     help="the days before now to report on (7)")
    sub.add_argument("--chart", metavar="FILE.png", help="write the chart as a PNG")
    sub.add_argument("--post", action="store_true",
                     help="upload the chart with a summary to Slack (SLACK_BOT_TOKEN)")
    sub.add_argument("--channel", metavar="C", help="with --post: the channel id")

    sub = command("gaps", cmd_gaps, "watched topics with no usable, unpublished article "
                  "published recently (coverage gaps)",
            only_reads=True)
    sub.add_argument("--topic", action="append", metavar="T",
                     help="watch this topic (repeatable; default: gaps.topics, else every "
                          "topic seen in the last 30 days)")
    sub.add_argument("--hours", type=arguments.positive_number, default=24.0, metavar="H",
                     help="how recent an article must be (24)")
    sub.add_argument("--min-quality", type=arguments.finite, metavar="Q",
                     help="minimum quality (default: none, as the digest)")

    sub = command("manifest", cmd_manifest, "print the Slack app manifest for this "
                  "configuration (YAML with each scope's reason; --json: the manifest alone)",
                  only_reads=True, refreshes=False)
    sub.add_argument("--url", metavar="https://HOST",
                     help="HTTP mode: the public address of `newsbot serve --http` (requests "
                          "go to /slack/events there unless the URL has a path)")
    sub.add_argument("--socket-mode", action="store_true",
                     help="Socket Mode: no request URLs (the default of `newsbot serve`)")

    sub = command("sandbox", cmd_sandbox, "try newsbot without Slack: a look-alike workspace and "
                  "the bot on this machine, with a web page (127.0.0.1 only)")
    sub.add_argument("--port", type=arguments.port, default=8765,
                     help="port of the page on 127.0.0.1 (8765; 0: any free port)")
    sub.add_argument("--log-level", default="WARNING",
                     choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser


def _subscription_commands(command: Callable[..., argparse.ArgumentParser]) -> None:
    """subscribe, subscriptions, unsubscribe: the table `/news subscribe` writes."""
    sub = command("subscribe", cmd_subscribe, "subscribe a channel to new articles that match "
                  "(filters AND across kinds, OR within one; none: every article)",
                  refreshes=False)
    sub.add_argument("channel", metavar="CHANNEL",
                     help="Slack channel id, e.g. C0123ABCD, or #name (looked up in Slack when "
                          "SLACK_BOT_TOKEN is set)")
    sub.add_argument("--topic", action="append", metavar="T",
                     help="articles with this topic (repeatable: any of them)")
    sub.add_argument("--provider", action="append", metavar="P",
                     help="articles from this provider, by name or domain (repeatable: any)")
    sub.add_argument("--words", metavar="W",
                     help="articles whose title or excerpt has every word, as search matches")
    sub.add_argument("--exclude-topic", action="append", metavar="T",
                     help="never articles with this topic (repeatable)")
    sub.add_argument("--exclude-words", metavar="W",
                     help="never articles whose title or excerpt has any of these words")
    sub.add_argument("--min-quality", type=arguments.finite, metavar="Q", help="minimum quality")
    sub.add_argument("--min-heat", type=arguments.finite, metavar="H", help="minimum heat")
    sub.add_argument("--quiet", metavar="HH:MM-HH:MM",
                     help="hold alerts in these hours of --tz (may wrap midnight: 22:00-07:00)")
    sub.add_argument("--tz", type=arguments.time_zone, metavar="ZONE",
                     help="IANA time zone of --quiet (default: scheduler.timezone / "
                          "NEWSBOT_TIMEZONE, UTC)")
    command("subscriptions", cmd_subscriptions, "every channel subscription with its filters",
            only_reads=True, refreshes=False)
    sub = command("unsubscribe", cmd_unsubscribe, "remove a channel subscription",
                  refreshes=False)
    sub.add_argument("id", metavar="ID", help="subscription id, e.g. sub1")


class Parser(argparse.ArgumentParser):
    """argparse, except that a mistake is one line naming the help to read, not the usage
    text: `newsbot: error: argument --top: must be 1 or more: 0; see `newsbot digest --help``
    (and with `--json` also the JSON error document, as for every other error). The
    subcommands' parsers are of this class as well, so each names its own help."""

    def parse_known_args(self, args=None, namespace=None):  # noqa: ANN001, ANN201 - argparse's
        """Arguments the subcommand does not know are its mistake: argparse would hand them
        up to `newsbot`, whose message would name `newsbot --help` instead of
        `newsbot digest --help`. Nothing above a subcommand takes what it leaves over."""
        namespace, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return namespace, extras

    def error(self, message: str):  # noqa: ANN201 - argparse's signature
        raise UsageError(f"{message}; see `{self.prog} --help`")
