"""Small wording helpers shared by the command line and Slack answers."""

from __future__ import annotations


def plural(count: int, noun: str, plural_noun: str | None = None) -> str:
    """`1 match`, `2 matches`, `0 articles`: the count with the noun it needs."""
    return f"{count} {noun if count == 1 else plural_noun or noun + 's'}"
