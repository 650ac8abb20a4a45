"""The `newsbot` command line.

Every command prints a readable answer and, with `--json`, exactly one JSON document on
stdout. Commands that read articles refresh the index first (unless `--no-refresh`), so
answers always match the folder. Errors a person can fix, argument errors included, are
one line on stderr, exit 2.

The parser is bot/cli/parser.py; each command group has its module beside it: reading
(index, digest, lookup, topics, search, clusters), decisions (decide, decisions, sync),
schedules, reports (report, gaps), running (serve, sandbox), slack_access.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from newsbot.bot.cli.context import Context, UsageError, report_error
from newsbot.bot.cli.parser import build_parser
from newsbot.bot.config.settings import ConfigError


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in argv
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as error:
        return report_error(error, as_json)
    try:
        return args.handler(Context(args))
    except (ConfigError, UsageError) as error:
        return report_error(error, as_json)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `newsbot digest | head`: the reader left, nothing to report
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keeps the exit-time flush quiet
        return 141


if __name__ == "__main__":
    sys.exit(main())
