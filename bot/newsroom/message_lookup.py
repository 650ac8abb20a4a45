"""Which article a Slack message shows: every reaction and click asks, so it is cheap.

A message is a digest's or an alert's article message (one article), a digest's header
(no article), or anything else in the channel (not ours).
"""

from __future__ import annotations

import weakref

from newsbot.storage.db import Store

# (channel, ts) -> article of the digest messages seen, per Store. Only answers found are
# kept: a message's row gets its ts once (record_message, `AND ts IS NULL`) and is never
# re-pointed nor deleted, so a kept answer cannot go stale, and a message posted since
# (by this process or another one on the same file) is a miss that reads the database.
_MESSAGE_ARTICLES: weakref.WeakKeyDictionary[Store, dict[tuple[str, str], str]] = (
    weakref.WeakKeyDictionary())
MAX_KEPT_MESSAGES = 100_000  # a bound on memory: past it the cache starts afresh


def article_for_message(store: Store, channel: str, ts: str) -> str | None:
    """The article a digest message shows, or None for any other message. Every reaction
    and click asks this, so a message's answer is read from the database once."""
    kept = _MESSAGE_ARTICLES.setdefault(store, {})  # one dict.setdefault: safe across threads
    article_id = kept.get((channel, ts))
    if article_id is not None:
        return article_id
    row = store.db.execute(
        "SELECT article_id FROM digest_messages WHERE channel = ? AND ts = ?", [channel, ts]
    ).fetchone()
    if row is None:
        return None
    if len(kept) >= MAX_KEPT_MESSAGES:
        kept.clear()
    kept[(channel, ts)] = row[0]
    return row[0]


def is_digest_header(store: Store, channel: str, ts: str) -> bool:
    """True for the header message of a digest (which shows no one article)."""
    return store.db.execute(
        "SELECT EXISTS (SELECT 1 FROM digests WHERE channel = ? AND header_ts = ?)",
        [channel, ts]).fetchone()[0] == 1
