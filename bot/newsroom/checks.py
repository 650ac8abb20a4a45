"""The one set of value checks, used wherever a person gives newsbot a value.

A value arrives from the config file (YAML: typed), an environment variable or a flag (text),
or a word of a `/news` command (text). Each check takes any of these and returns the clean
value, or raises `Invalid` saying what it wanted. Callers only say where the value came
from: the config names its key (`key 'digest.top': must be a whole number of 1 or more`), a
schedule its option (`top '0': ...`), and the command line its flag, in argparse's words
(`argument --top: must be 1 or more: 0`, through `Invalid.for_flag`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

MAX_WHOLE_NUMBER = 2**63 - 1  # SQLite's largest integer: it cannot store or bind one above it


class Invalid(ValueError):
    """A value that fails a check.

    `wanted` is what the value must be, in full ("a whole number of 1 or more"); `kind` is the
    kind of value alone ("a whole number") and `limit` the range it broke ("1 or more") when the
    value was of that kind but out of range, else None.
    """

    def __init__(self, wanted: str, kind: str, limit: str | None = None) -> None:
        super().__init__(f"must be {wanted}")
        self.wanted, self.kind, self.limit = wanted, kind, limit

    def for_flag(self, text: str) -> str:
        """The message for a command-line argument: `must be 1 or more: 0`, `not a number: 'x'`."""
        if self.limit is not None:
            return f"must be {self.limit}: {text}"
        return f"not {self.kind}: {text!r}"


def _range_words(minimum: float | None, above: float | None, maximum: float | None) -> str:
    lower = (f"above {above:g}" if above is not None
             else f"{minimum:g} or more" if minimum is not None else "")
    upper = f"at most {maximum:g}" if maximum is not None else ""
    return " and ".join(part for part in (lower, upper) if part)


def whole_number(value: Any, minimum: int = 1, maximum: int = MAX_WHOLE_NUMBER) -> int:
    """An int (or its digits as text) from `minimum` to `maximum`; never a bool."""
    if isinstance(value, str):
        value = _integer_text(value)
    wanted = f"a whole number of {minimum} or more"
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(wanted, "a whole number")
    if value < minimum:
        raise Invalid(wanted, "a whole number", f"{minimum} or more")
    if value > maximum:
        raise Invalid(f"at most {maximum}", "a whole number", f"at most {maximum}")
    return value


def _integer_text(text: str) -> int | str:
    """The int that `text` spells, else `text` itself. A minus sign is read, so that `-1`
    is a whole number out of range ("must be 1 or more: -1"), not "not a whole number";
    digits int() cannot read (`²` is a digit to str.isdigit) stay text, and fail the
    check instead of escaping as a ValueError."""
    digits = text.strip()
    if not digits.removeprefix("-").isdigit():
        return text
    try:
        return int(digits)
    except ValueError:
        return text


def number(value: Any, *, minimum: float | None = None, above: float | None = None,
           maximum: float | None = None) -> float:
    """A finite number (or its text), at least `minimum` / more than `above` / at most
    `maximum` where given. nan and inf are refused: nan passes every comparison, and both
    break date arithmetic and SQL comparisons later."""
    words = _range_words(minimum, above, maximum)
    joined = "" if not words else f" {words}" if above is not None else f" of {words}"
    parsed = value
    if isinstance(value, str):
        try:
            parsed = float(value)
        except ValueError:
            parsed = None
    if isinstance(parsed, bool) or not isinstance(parsed, (int, float)):
        raise Invalid(f"a number{joined}", "a number")
    try:
        finite = math.isfinite(parsed)
    except OverflowError:  # an int too large for a float
        finite = False
    if not finite:
        raise Invalid(f"a finite number{joined}", "a finite number")
    if ((minimum is not None and parsed < minimum) or (above is not None and parsed <= above)
            or (maximum is not None and parsed > maximum)):
        raise Invalid(f"a number{joined}", "a number", words)
    return float(parsed)


def port(value: Any) -> int:
    """A TCP port, 0 (any free one) to 65535."""
    try:
        return whole_number(value, minimum=0, maximum=65535)
    except Invalid as error:
        raise Invalid("a port number, 0 to 65535", "a port number",
                      None if error.limit is None else "0 to 65535") from None


def boolean(value: Any) -> bool:
    """true/false, or as text 1/0, true/false, yes/no, on/off (environment variables)."""
    if isinstance(value, str) and value.strip().lower() in {"1", "true", "yes", "on"}:
        return True
    if isinstance(value, str) and value.strip().lower() in {"0", "false", "no", "off"}:
        return False
    if not isinstance(value, bool):
        raise Invalid("true or false", "true or false")
    return value


def text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid("non-empty text", "non-empty text")
    return value.strip()


def path(value: Any) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise Invalid("a path (text)", "a path")
    return Path(value).expanduser()


def names(value: Any) -> tuple[str, ...]:
    """A list of names, or one text of comma-separated names; blanks are dropped."""
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Invalid("a list of text values", "a list of text values")
    return tuple(v.strip() for v in value if v.strip())


MAX_UNFURL_DOMAINS = 5  # Slack's limit for an app's features.unfurl_domains
_DOMAIN_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"


def unfurl_domains(value: Any) -> tuple[str, ...]:
    """Up to 5 domains (`news.example.org`), as Slack's manifest takes them: no scheme, no
    path, no port. Lower-cased; a duplicate is dropped."""
    domains: list[str] = []
    for name in names(value):
        domain = name.lower().rstrip(".")
        if not re.fullmatch(rf"(?:{_DOMAIN_LABEL}\.)+{_DOMAIN_LABEL}", domain):
            raise Invalid(f"domains without scheme or path, e.g. news.example.org; "
                          f"{name!r} is not one", "a list of domains")
        if domain not in domains:
            domains.append(domain)
    if len(domains) > MAX_UNFURL_DOMAINS:
        raise Invalid(f"at most {MAX_UNFURL_DOMAINS} domains, as Slack allows; "
                      f"{len(domains)} are given", "a list of domains",
                      f"at most {MAX_UNFURL_DOMAINS} domains")
    return tuple(domains)


def blank_is_none(text: str | None) -> str | None:
    """A form's input as given, stripped; None when it was left empty or blank."""
    return text.strip() if text and text.strip() else None


def each(checks: Mapping[str, Callable[[], Any]], error: type[Exception]
         ) -> tuple[dict[str, Any], dict[str, str]]:
    """Run every check, not only up to the first failing one: (the values of those that
    passed, {name: message} of those that raised `error`). A form shows each message
    beside its own input, so all of them are wanted at once."""
    values: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for name, check in checks.items():
        try:
            values[name] = check()
        except error as failure:
            problems[name] = str(failure)
    return values, problems
