"""An article's blocks as they stand now: its standing decision (who, when, in the file
yet) and the other members of its story. Digest messages (handlers/posting/redrawer.py)
and link previews (handlers/link_preview.py) are both drawn from it, so a change shows
the same way on each."""

from __future__ import annotations

from newsbot.bot.newsroom.article import Article
from newsbot.bot.newsroom.decisions import Decision, standing_decision, written_at
from newsbot.bot.newsroom.stories import also_covered
from newsbot.handlers.blocks import article_blocks, with_also_covered
from newsbot.storage.db import Store


def current_blocks(store: Store, article: Article, buttons: bool = True
                   ) -> tuple[Decision | None, list[dict]]:
    """(the standing decision, the article's blocks showing it); without `buttons` for a
    reader who may not decide."""
    decision = standing_decision(store, article.id)
    blocks = article_blocks(article, decision, buttons,
                            written_at=written_at(store, decision) if decision else None)
    return decision, with_also_covered(blocks, also_covered(store, [article]).get(article.id, ()))
