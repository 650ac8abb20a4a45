"""An article as a link preview: what chat.unfurl shows under a pasted link.

Shared by the listener that answers link_shared (handlers/listeners/unfurls.py), the
shortcut's modal and the redrawer (handlers/posting/preview_redraw.py), which must not
import the listeners (they import it).
"""

from __future__ import annotations

from newsbot.bot.newsroom.article import Article
from newsbot.handlers.article_view import current_blocks
from newsbot.storage.db import Store

TO_REVIEW = ":hourglass_flowing_sand: *To review*: no decision yet"


def preview_blocks(store: Store, article: Article, buttons: bool = True) -> list[dict]:
    """An article as a preview: linked title and excerpt; provider, quality and heat; the
    standing decision or "to review"; Publish/Skip; the story's "Also:" line."""
    decision, blocks = current_blocks(store, article, buttons)
    if decision is None:  # before the buttons, where a decision would show
        at = len(blocks) - 1 if buttons else len(blocks)
        blocks.insert(at, {"type": "context",
                           "elements": [{"type": "mrkdwn", "text": TO_REVIEW}]})
    return blocks
