"""Telling an editor privately that a decision of theirs, acknowledged while the database
was down, could not be applied when it came back (bot/newsroom/rejections.py).

The live path answers the same refusals with an ephemeral note in the channel of the
message (handlers/listeners/reactions.py); so does this, and a click in the App Home
(no channel) gets a note at the top of the Home tab. Each report is claimed in the
database before Slack is called, so it goes out at most once whichever process sends
it: a call Slack surely did not act on (rate limited, unreachable, refused) is tried
again later, one whose effect is unknown (a 5xx, a connection broken after sending) is
marked unsure and not sent again. An ephemeral Slack refuses for good (the author left
the channel) falls back to the Home tab note.
"""

from __future__ import annotations

import logging
import sqlite3

from newsbot.bot.newsroom.rejections import (
    claim_reports,
    report_later,
    report_sent,
    report_unsure,
)
from newsbot.bot.services import metrics
from newsbot.handlers.blocks import escape
from newsbot.handlers.listeners.home import HomeTab
from newsbot.handlers.slack_retry import effect_unknown, slack_reason
from newsbot.storage.db import Store
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)

WHAT = {"reaction": "reaction", "button": "click"}


def report_text(row: dict, title: str | None) -> str:
    """The note for the decision's author, in their words."""
    what = f"{row['action']} {WHAT.get(row['source'], row['source'])}"
    article = f"*{escape(title)}*" if title else f"`{escape(row['article_id'] or '?')}`"
    return (f"Your {what} on {article} was saved while the database was unavailable, but "
            f"could not be recorded when it came back: {escape(row['detail'])}. "
            "Nothing was recorded; decide again if it still applies.")


class RejectionReporter:
    """One pass sends every report that is due; run it where the spool is applied."""

    def __init__(self, client: WebClient, store: Store, home: HomeTab) -> None:
        self.client, self.store, self.home = client, store, home

    def __call__(self) -> int:
        """How many reports went out in this pass."""
        try:
            rows = claim_reports(self.store)
        except sqlite3.Error as error:
            log.info("rejection reports wait for the database", extra={"reason": str(error)})
            return 0
        return sum(self._report(row) for row in rows)

    def _report(self, row: dict) -> bool:
        key, user = row["event_key"], row["user_id"]
        title = self.store.db.execute("SELECT title FROM articles WHERE id = ?",
                                      [row["article_id"]]).fetchone()
        text = report_text(row, title[0] if title else None)
        try:
            if row["channel"]:
                try:
                    self.client.chat_postEphemeral(channel=row["channel"], user=user, text=text)
                except SlackApiError as error:
                    if effect_unknown(error) or error.response.status_code == 429:
                        raise
                    log.info("rejection report: no ephemeral, the Home tab instead",
                             extra={"user": user, "error": slack_reason(error)})
                    self._home_note(user, text)
            else:
                self._home_note(user, text)
        except (SlackApiError, OSError) as error:
            reason = slack_reason(error)
            if effect_unknown(error):
                report_unsure(self.store, key, reason)
                metrics.rejection_report("unsure")
                log.warning("rejection report may not have reached its author; not sent "
                            "again", extra={"event_key": key, "user": user, "error": reason})
            else:
                final = report_later(self.store, key, row["report_attempts"], reason)
                metrics.rejection_report("failed" if final else "retry")
                log.info("rejection report not sent: tried again later",
                         extra={"event_key": key, "user": user, "error": reason})
            return False
        report_sent(self.store, key)
        metrics.rejection_report("sent")
        log.info("rejected decision reported to its author",
                 extra={"event_key": key, "user": user, "reason": row["reason"]})
        return True

    def _home_note(self, user: str, text: str) -> None:
        self.client.views_publish(user_id=user, view=self.home.view(user, text))
