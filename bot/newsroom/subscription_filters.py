"""What a subscription or a follow wants: its filters and quiet hours, checked.

Filters AND across kinds and OR within one kind: `topics=AI,Climate providers=Reuters`
wants (AI or Climate) and Reuters. Topics match case-insensitively as `lookup` does;
a provider is its name or its domain, case-insensitively; `words` match as `search`
does (every word, as a prefix, in the title or excerpt); `exclude_words` leaves out an
article matching any one of its words. No filter at all is allowed: every article.

`Filters.where` is the one rule, as SQL over the index, so a batch of new articles, a
rising story and the backlog a new subscription must not replay are all judged alike.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from newsbot.bot.newsroom import checks
from newsbot.bot.newsroom.lookup import fts_query

FILTER_KINDS = ("topics", "providers", "words", "exclude_topics", "exclude_words",
                "min_quality", "min_heat")
_QUIET = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")
_FTS_ROWS = "SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?"  # as `search` runs it


class SubscriptionError(ValueError):
    """Bad input for a subscription; the message is meant for the person who typed it."""


# --- values


def _names(kind: str, value: Any) -> tuple[str, ...]:
    """Names as given (a list, or one comma-separated text), each once whatever its case."""
    if value is None:
        return ()
    try:
        given = checks.names(list(value) if isinstance(value, tuple) else value)
    except checks.Invalid as error:
        raise SubscriptionError(f"{kind} {value!r}: {error}") from None
    first_spelling: dict[str, str] = {}
    for name in given:
        first_spelling.setdefault(name.casefold(), name)
    return tuple(first_spelling.values())


def _words(kind: str, value: Any) -> str | None:
    if value is None:
        return None
    try:
        words = checks.text(value)
    except checks.Invalid as error:
        raise SubscriptionError(f"{kind} {value!r}: {error}") from None
    if not fts_query(words):
        raise SubscriptionError(f"{kind} '{words}': no word to search for (letters or digits)")
    return words


def _threshold(kind: str, value: Any) -> float | None:
    if value is None:
        return None
    try:
        return checks.number(value)
    except checks.Invalid as error:
        raise SubscriptionError(f"{kind} '{value}': {error}") from None


@dataclass(frozen=True)
class Filters:
    """What a subscription wants; empty kinds do not filter."""

    topics: tuple[str, ...] = ()
    providers: tuple[str, ...] = ()
    words: str | None = None
    exclude_topics: tuple[str, ...] = ()
    exclude_words: str | None = None
    min_quality: float | None = None
    min_heat: float | None = None

    def validated(self) -> Filters:
        """The same filters checked and normalised; SubscriptionError naming every wrong one."""
        filters, problems = self.checked()
        if filters is None:
            raise SubscriptionError("; ".join(problems.values()))
        return filters

    def checked(self) -> tuple[Filters | None, dict[str, str]]:
        """(the normalised filters, {}) or (None, {kind: what is wrong}) for every wrong
        kind at once: the subscription form shows each beside its own input."""
        readers = {"topics": _names, "providers": _names, "words": _words,
                   "exclude_topics": _names, "exclude_words": _words,
                   "min_quality": _threshold, "min_heat": _threshold}
        values, problems = checks.each(
            {kind: functools.partial(read, kind, getattr(self, kind))
             for kind, read in readers.items()}, SubscriptionError)
        return (None, problems) if problems else (Filters(**values), {})

    def match_key(self) -> tuple:
        """Equal for two filter sets that match the same articles whatever their spelling
        (case, order, the words' punctuation)."""
        def names(values: tuple[str, ...]) -> frozenset[str]:
            return frozenset(value.casefold() for value in values)

        def words(text: str | None) -> str:
            return fts_query(text or "").casefold()

        return (names(self.topics), names(self.providers), words(self.words),
                names(self.exclude_topics), frozenset(words(self.exclude_words).split()),
                self.min_quality, self.min_heat)

    def to_json(self) -> dict[str, Any]:
        return {"topics": list(self.topics), "providers": list(self.providers),
                "words": self.words, "exclude_topics": list(self.exclude_topics),
                "exclude_words": self.exclude_words, "min_quality": self.min_quality,
                "min_heat": self.min_heat}

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> Filters:
        return cls(topics=tuple(document.get("topics") or ()),
                   providers=tuple(document.get("providers") or ()),
                   words=document.get("words"),
                   exclude_topics=tuple(document.get("exclude_topics") or ()),
                   exclude_words=document.get("exclude_words"),
                   min_quality=document.get("min_quality"), min_heat=document.get("min_heat"))

    def where(self) -> tuple[str, list[Any]]:
        """These filters as one SQL condition on `articles a`, with its parameters. The
        providers are left to `wants_provider`: SQLite's lower() folds ASCII only."""
        parts: list[str] = []
        params: list[Any] = []
        if self.min_quality is not None:
            parts.append("a.quality >= ?")
            params.append(self.min_quality)
        if self.min_heat is not None:
            parts.append("a.heat >= ?")
            params.append(self.min_heat)
        for names, negation in ((self.topics, ""), (self.exclude_topics, "NOT ")):
            if names:
                keys = sorted({name.casefold() for name in names})
                marks = ", ".join("?" * len(keys))
                parts.append(f"{negation}EXISTS (SELECT 1 FROM article_topics t WHERE"
                             f" t.article_id = a.id AND t.topic_key IN ({marks}))")
                params.extend(keys)
        if self.words:
            parts.append(f"a.rowid IN ({_FTS_ROWS})")
            params.append(fts_query(self.words))
        if self.exclude_words:  # any one of its words leaves the article out
            parts.append(f"a.rowid NOT IN ({_FTS_ROWS})")
            params.append(" OR ".join(fts_query(self.exclude_words).split(" ")))
        return " AND ".join(parts) or "1", params

    def wants_provider(self, name: str | None, domain: str | None) -> bool:
        """The providers filter: the article's provider name or domain, casefolded."""
        if not self.providers:
            return True
        keys = {provider.casefold() for provider in self.providers}
        return bool(keys & {(value or "").casefold() for value in (name, domain)})

    def describe(self) -> str:
        parts = [f"topics {','.join(self.topics)}" if self.topics else "",
                 f"providers {','.join(self.providers)}" if self.providers else "",
                 f'words "{self.words}"' if self.words else "",
                 f"not topics {','.join(self.exclude_topics)}" if self.exclude_topics else "",
                 f'not words "{self.exclude_words}"' if self.exclude_words else "",
                 f"min_quality {self.min_quality:g}" if self.min_quality is not None else "",
                 f"min_heat {self.min_heat:g}" if self.min_heat is not None else ""]
        return ", ".join(part for part in parts if part) or "every article"


@dataclass(frozen=True)
class QuietHours:
    """A daily span of local time without alerts; `start` after `end` wraps midnight."""

    start: dt.time
    end: dt.time

    @property
    def text(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def contains(self, local: dt.time) -> bool:
        local = local.replace(second=0, microsecond=0, tzinfo=None)
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


def parse_quiet_hours(value: Any) -> QuietHours | None:
    """`"22:00-07:00"` -> QuietHours; None stays None."""
    if value is None:
        return None
    text = value.strip() if isinstance(value, str) else value
    found = _QUIET.match(text) if isinstance(text, str) else None
    hint = "must be HH:MM-HH:MM in 24-hour time, e.g. 22:00-07:00"
    if not found:
        raise SubscriptionError(f"quiet hours {text!r}: {hint}")
    hour1, minute1, hour2, minute2 = (int(part) for part in found.groups())
    if max(hour1, hour2) > 23 or max(minute1, minute2) > 59:
        raise SubscriptionError(f"quiet hours '{text}': {hint} (hours 00-23, minutes 00-59)")
    quiet = QuietHours(dt.time(hour1, minute1), dt.time(hour2, minute2))
    if quiet.start == quiet.end:
        raise SubscriptionError(f"quiet hours '{text}': start and end are the same time")
    return quiet


