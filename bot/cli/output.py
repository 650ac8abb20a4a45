"""How the commands show articles to people, and in JSON."""

from __future__ import annotations

from collections.abc import Sequence

from newsbot.bot.newsroom.article import Article
from newsbot.bot.newsroom.decisions import Decision, written_at
from newsbot.storage.db import Store


def articles_json(articles: Sequence[Article], decisions: dict[str, Decision]) -> list[dict]:
    """Articles as JSON; one with a standing decision carries it under `decision`."""
    return [dict(a.to_json(), decision=decisions[a.id].to_json()) if a.id in decisions
            else a.to_json() for a in articles]


def decision_marks(store: Store, decisions: dict[str, Decision]) -> dict[str, str]:
    """`publish by U1, waiting for sync` for each decided article of a list."""
    return {article_id: f"{d.decision} by {d.user_id}, "
            + ("written to file" if written_at(store, d) else "waiting for sync")
            for article_id, d in decisions.items()}


def article_list(heading: str, articles: Sequence[Article], empty: str,
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
            f"     quality {number_text(a.quality)}, heat {number_text(a.heat)}"
            f" | {a.provider_name or '?'}"
            f" | {(a.published_at or '')[:10]} | {', '.join(a.topics)}\n"
            f"     {a.web_url or ''}\n"
            f"     id: {a.id}"
        )
        others = (also or {}).get(a.id)
        if others:
            lines.append("     Also: " + ", ".join(
                f"{o.provider_name or o.provider_domain or '?'} (quality {number_text(o.quality)})"
                f" {o.web_url or o.id}" for o in others))
    return "\n".join(lines)


def number_text(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"
