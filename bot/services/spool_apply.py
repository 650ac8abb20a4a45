"""Spooled decision events, recorded once the database takes them again.

bot/services/intake.py spools an event the database cannot take when it arrives (locked,
read-only, corrupt, replaced) and Slack is answered; `apply_spool` (periodically, and at
start-up) records them in order and exactly once: each has a key, and a key already in
decision_log changes nothing, so a crash between recording and removing from the spool
repeats nothing; and decisions follow event time (bot/newsroom/decisions.py), so applying
late gives the same result. An event that can never be applied is kept, with its reason,
for its author to be told (bot/newsroom/rejections.py).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable

from newsbot.bot.newsroom.decisions import Outcome, UnknownArticle, UnusableArticle
from newsbot.bot.newsroom.message_lookup import article_for_message
from newsbot.bot.newsroom.rejections import (
    ARTICLE_GONE,
    ARTICLE_UNUSABLE,
    NOT_AN_EDITOR,
    REFUSED,
    reject,
)
from newsbot.bot.services import metrics
from newsbot.bot.services.intake import DecisionEvent, decision_wait_ms, record, unavailable
from newsbot.storage.db import Store
from newsbot.storage.spool import Spool

log = logging.getLogger(__name__)


Applied = Callable[[DecisionEvent, str, Outcome], None]


def apply_spool(store: Store, spool: Spool, on_applied: Applied | None = None,
                wait_ms: int | None = None, *, editors: tuple[str, ...] = (),
                refresh_articles: Callable[[list[str]], object] | None = None) -> int:
    """Record the spooled events, oldest first, each exactly once; returns how many left
    the spool. Stops at the first one the database still refuses (tried again next time).
    `on_applied(event, article_id, outcome)` follows each recorded one (e.g. a redraw).

    An event that cannot be applied (its article gone or broken, its author no longer
    one of `editors`, a statement the database refuses) is never dropped: it is kept in
    rejected_decisions with the reason, for its author to be told (bot/newsroom/
    rejections.py). `refresh_articles(ids)` first re-reads the files the events name: an
    event waited in the spool while they could change, and is judged on them as they are."""
    wait_ms = decision_wait_ms(store) if wait_ms is None else wait_ms
    entries = spool.pending()  # one read of the file per pass (this runs every second)
    if not entries:
        return 0
    done = []
    try:
        events = [(entry, DecisionEvent.from_json(entry)) for entry in entries]
        if refresh_articles is not None:
            refresh_articles(sorted(_articles_named(store, [e for _, e in events])))
        for entry, event in events:
            result = None
            if editors and event.user_id not in editors:
                _reject(store, entry, NOT_AN_EDITOR,
                        "you are no longer one of the newsroom's editors")
            else:
                try:
                    result = record(store, event, wait_ms)
                except UnknownArticle as error:
                    _reject(store, entry, ARTICLE_GONE, str(error))
                except UnusableArticle as error:
                    _reject(store, entry, ARTICLE_UNUSABLE, str(error))
                except sqlite3.Error as error:
                    if unavailable(error):
                        raise
                    _reject(store, entry, REFUSED, str(error))
            done.append(event.key)
            if result is not None:
                log.info("spooled decision applied", extra={
                    "event_key": event.key, "article": result[0], "outcome": result[1].outcome})
                if on_applied is not None:
                    on_applied(event, *result)
    except sqlite3.Error as error:
        log.warning("spool not applied yet: the database cannot take it",
                    extra={"waiting": len(entries) - len(done), "reason": str(error)})
    finally:
        spool.remove(done)
    return len(done)


def _articles_named(store: Store, events: list[DecisionEvent]) -> set[str]:
    """The articles these events are about (a reaction names its digest message)."""
    named = set()
    for event in events:
        article_id = event.article_id or article_for_message(
            store, event.channel or "", event.message_ts or "")
        if article_id is not None:
            named.add(article_id)
    return named


def _reject(store: Store, entry: dict, reason: str, detail: str) -> None:
    """Keep a spooled event that cannot be applied; sqlite3.Error (the database failed
    again) leaves it in the spool. An event whose key is in decision_log was recorded
    after all (its writer finished after the listener gave up waiting): nothing to do."""
    if store.db.execute("SELECT 1 FROM decision_log WHERE event_key = ?",
                        [entry["key"]]).fetchone():
        return
    article_id = entry.get("article_id") or article_for_message(
        store, entry.get("channel") or "", entry.get("message_ts") or "")
    if reject(store, entry, reason, detail, article_id):
        metrics.decision_rejected(reason)
        log.warning("spooled decision rejected: its author will be told", extra={
            "event_key": entry["key"], "user": entry.get("user_id"), "reason": reason,
            "detail": detail})
