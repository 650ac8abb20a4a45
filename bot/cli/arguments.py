"""The command line's argument types: the shared value checks (bot/newsroom/checks.py)
in argparse's words (`argument --top: must be 1 or more: 0`)."""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Callable
from typing import Any

from newsbot.bot.newsroom import checks


def _flag_type(check: Callable[..., Any], **limits: Any) -> Callable[[str], Any]:
    """An argparse `type=` running `check(text, **limits)`."""
    def parse(text: str) -> Any:
        try:
            return check(text, **limits)
        except checks.Invalid as error:
            raise argparse.ArgumentTypeError(error.for_flag(text)) from None

    return parse


positive_int = _flag_type(checks.whole_number, minimum=1)  # at most SQLite's largest integer
finite = _flag_type(checks.number)  # 'nan' and 'inf' would match nothing or overflow
positive_number = _flag_type(checks.number, above=0)
non_negative = _flag_type(checks.number, minimum=0)
port = _flag_type(checks.port)


def report_days(text: str) -> int:
    from newsbot.bot.newsroom.report import MAX_DAYS  # the report's module loads only here

    return _flag_type(checks.whole_number, minimum=1, maximum=MAX_DAYS)(text)


def time_zone(text: str) -> str:
    from newsbot.bot.newsroom.cron import zone  # APScheduler's cron: only when a zone is given

    try:
        return zone(text).key
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def iso_datetime(text: str) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an ISO 8601 date-time: {text!r} (e.g. 2026-03-30T08:00 or "
            "2026-03-30T08:00:00+01:00; without an offset it is local time in --tz)"
        ) from None
