"""An article as a link preview: what chat.unfurl shows under a pasted link.

Shared by the listener that answers link_shared (handlers/listeners/unfurls.py), the
shortcut's modal and the redrawer (handlers/posting/preview_redraw.py), which must not
import the listeners (they import it).
"""

from __future__ import annotations

from newsbot.bot.newsroom.article import Article
from newsbot.bot.newsroom.decisions import standing_decision, written_at
from newsbot.bot.newsroom.stories import also_covered
from newsbot.handlers.blocks import article_blocks, with_also_covered
from newsbot.storage.db import Store

TO_REVIEW = ":hourglass_flowing_sand: *To review*: no decision yet"


def preview_blocks(store: Store, article: Article, buttons: bool = True) -> list[dict]:
    """An article as a preview: linked title and excerpt; provider, quality and heat; the
    standing decision or "to review"; Publish/Skip; the story's "Also:" line."""
    decision = standing_decision(store, article.id)
    blocks = article_blocks(article, decision, buttons=buttons,
                            written_at=written_at(store, decision) if decision else None)
    if decision is None:  # before the buttons, where a decision would show
        at = len(blocks) - 1 if buttons else len(blocks)
        blocks.insert(at, {"type": "context",
                           "elements": [{"type": "mrkdwn", "text": TO_REVIEW}]})
    return with_also_covered(blocks, also_covered(store, [article]).get(article.id, ()))
