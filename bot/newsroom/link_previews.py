"""Which link previews show an article: the `unfurls` table (schema.unfurls).

A preview (chat.unfurl under a user's message) shows the article's standing decision like
a digest message does, so it must be redrawn when the decision changes, whoever made it:
a reaction, a button elsewhere, `newsbot decide`, the spool. Slack keeps no list of an
app's previews, so newsbot remembers each one it makes, and the redrawer, which already
draws each change once across servers (bot/newsroom/redraw_queue.py), redraws these too.

Bounded, so that a much-shared article costs a handful of calls and the table stays small:
- only previews made in the last `REDRAW_DAYS` are redrawn, and older rows are pruned
  when new ones are remembered. Slack documents no time limit on chat.unfurl (a
  workspace's edit window binds its members, not the app), so the bound is the
  newsroom's: a link is discussed while its story is fresh, and after a week a change of
  decision under an old message is noise in the channel's history, not news;
- at most `MAX_PER_ARTICLE` previews per article, the newest: chat.unfurl is rate-limited
  (tier 3, about 50 a minute) and shares the redrawer's pass with the digest messages;
- a preview Slack says can never be drawn again (its message or channel gone, its link
  edited out) is forgotten at once, not redrawn at every change until it ages out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from newsbot.bot.newsroom.redraw_queue import queue_redraw
from newsbot.storage.db import Store

REDRAW_DAYS = 7
MAX_PER_ARTICLE = 20
_NOW = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
_OLDEST = f"strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-{REDRAW_DAYS} days')"


def remember_previews(store: Store, channel: str, message_ts: str,
                      articles: Mapping[str, str], redraw: bool = False) -> None:
    """Remember the previews just made under one message (`articles`: link -> article id),
    and forget those past the redraw window. A link unfurled again is made fresh. With
    `redraw`, the articles are queued for a redraw in the same transaction: a preview
    clicked is drawn by the redrawer, whichever pass comes first."""
    if not articles:
        return
    with store.write() as db:
        for article_id in sorted(set(articles.values()) if redraw else ()):
            queue_redraw(store, article_id)  # joins this transaction
        db.conn.executemany(
            "INSERT INTO unfurls (channel, message_ts, url, article_id, unfurled_at)"
            f" VALUES (?, ?, ?, ?, {_NOW}) ON CONFLICT (channel, message_ts, url) DO UPDATE"
            " SET article_id = excluded.article_id, unfurled_at = excluded.unfurled_at",
            [(channel, message_ts, url, article_id) for url, article_id in articles.items()])
        db.execute(f"DELETE FROM unfurls WHERE unfurled_at < {_OLDEST}")


def article_previews(store: Store, article_id: str) -> list[tuple[str, str, str]]:
    """(channel, message_ts, url) of the article's previews still to be kept in step: made
    within the redraw window, the newest `MAX_PER_ARTICLE`, oldest first."""
    rows = store.db.execute(
        "SELECT channel, message_ts, url FROM unfurls WHERE article_id = ?"
        f" AND unfurled_at >= {_OLDEST} ORDER BY unfurled_at DESC, message_ts DESC LIMIT ?",
        [article_id, MAX_PER_ARTICLE]).fetchall()
    return [(channel, ts, url) for channel, ts, url in reversed(rows)]


def forget_previews(store: Store, channel: str, message_ts: str, urls: Iterable[str],
                    asked_at: dt.datetime) -> int:
    """Forget a message's previews of `urls` that Slack refused to redraw for good, as asked
    at `asked_at`; how many were forgotten. One remembered again since (the link edited
    back in: Slack sent link_shared anew) is kept."""
    urls = sorted(set(urls))
    stamp = asked_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    with store.write() as db:
        return db.execute(
            "DELETE FROM unfurls WHERE channel = ? AND message_ts = ? AND unfurled_at <= ?"
            f" AND url IN ({', '.join('?' * len(urls))})",
            [channel, message_ts, stamp, *urls]).rowcount
