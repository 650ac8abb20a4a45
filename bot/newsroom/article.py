"""An indexed article as the rest of the bot sees it, and its JSON form."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

# The columns every article query selects, in the order `Article.from_row` expects.
COLUMNS = (
    "a.id, a.title, a.excerpt, a.web_url, a.provider_name, a.provider_domain, a.topics, "
    "a.quality, a.heat, a.published, a.published_at, a.image_url"
)

# Digest order: best first, ties broken by heat, then newest, then id for a stable order.
DIGEST_ORDER = "a.quality DESC, a.heat DESC, a.published_at DESC, a.id ASC"
# The same order on a topic row's copies of those keys (t: article_topics).
TOPIC_DIGEST_ORDER = "t.quality DESC, t.heat DESC, t.published_at DESC, t.article_id ASC"


def stamp(moment: dt.datetime) -> str:
    """A moment as `publishedDateTime` is stored (ISO 8601 UTC, whole seconds, Z), so a
    text comparison in SQL is a time comparison."""
    return moment.astimezone(dt.UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


@dataclass(frozen=True)
class Article:
    id: str
    title: str
    excerpt: str | None
    web_url: str | None
    provider_name: str | None
    provider_domain: str | None
    topics: tuple[str, ...]
    quality: int | float | None
    heat: int | float | None
    published: bool
    published_at: str | None  # ISO 8601 UTC, e.g. 2020-07-02T19:21:00Z
    image_url: str | None

    @classmethod
    def from_row(cls, row: tuple | dict) -> Article:
        values = list(row.values()) if isinstance(row, dict) else list(row)
        values[6] = tuple(json.loads(values[6] or "[]"))
        values[9] = bool(values[9])
        return cls(*values[:12])

    def to_json(self) -> dict[str, Any]:
        """The article as the command line and its scripts see it (front matter names)."""
        return {
            "id": self.id,
            "title": self.title,
            "webUrl": self.web_url,
            "quality": self.quality,
            "heat": self.heat,
            "publishedDateTime": self.published_at,
            "topics": list(self.topics),
            "provider": {"name": self.provider_name, "domain": self.provider_domain},
            "excerpt": self.excerpt,
            "published": self.published,
        }
