"""Small wording helpers shared by the command line and Slack answers."""

from __future__ import annotations


def plural(count: int, noun: str, plural_noun: str | None = None) -> str:
    """`1 match`, `2 matches`, `0 articles`: the count with the noun it needs."""
    return f"{count} {noun if count == 1 else plural_noun or noun + 's'}"


def sentence(message: str) -> str:
    """A check's message as a form shows it beside an input: capitalised, with a full stop."""
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")
