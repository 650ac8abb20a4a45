"""The subscription and follow forms (the Slack modals) in plain values: checked all at
once, and filled in from a stored subscription or follow for editing.

One form serves both: a channel subscription has a channel, a follow has an `until` day
instead (its alerts go to the member's DM, which the caller opens). The filters, quiet
hours and zone are the same fields, checked by the same rules as `/news subscribe` and
`/news follow` (SubscriptionSpec.checked), so a valid form is the spec the typed command
would store. Quiet hours are two times here, "22:00" and "07:00", where the command
takes "22:00-07:00". Slack-specific work (block ids, whether newsbot is in the channel,
the DM) stays with the caller.
"""

from __future__ import annotations

from dataclasses import dataclass

from newsbot.bot.newsroom.checks import blank_is_none
from newsbot.bot.newsroom.subscription_filters import Filters
from newsbot.bot.newsroom.subscriptions import Subscription, SubscriptionSpec
from newsbot.bot.newsroom.wording import sentence

PENDING_MEMBER = "pending"  # a follow's member, until the caller fills in who it is


@dataclass(frozen=True)
class SubscriptionForm:
    """What the form holds, as text (number inputs arrive as text); None or "": empty.
    Names are comma-separated text, except the topics picked from the index's list."""

    channel: str | None = None  # a channel subscription's; a follow has none
    topics: tuple[str, ...] = ()
    providers: str | None = None
    words: str | None = None
    exclude_topics: str | None = None
    exclude_words: str | None = None
    min_quality: str | None = None
    min_heat: str | None = None
    quiet_from: str | None = None  # HH:MM
    quiet_to: str | None = None
    tz: str | None = None
    until: str | None = None  # a follow's last day, YYYY-MM-DD


def subscription_spec(form: SubscriptionForm, *, follow: bool = False
                      ) -> tuple[SubscriptionSpec | None, dict[str, str]]:
    """(the spec to store, {}) or (None, {field: what is wrong}) naming every wrong field;
    fields are SubscriptionForm's names. A follow's spec has no channel and a pending
    member: the caller fills in the member and the DM channel."""
    problems: dict[str, str] = {}
    if not follow and not form.channel:
        problems["channel"] = "Pick the channel to alert."
    quiet, quiet_problems = _quiet(form.quiet_from, form.quiet_to)
    problems.update(quiet_problems)
    filters = Filters(topics=tuple(form.topics), providers=blank_is_none(form.providers),
                      words=blank_is_none(form.words),
                      exclude_topics=blank_is_none(form.exclude_topics),
                      exclude_words=blank_is_none(form.exclude_words),
                      min_quality=blank_is_none(form.min_quality),
                      min_heat=blank_is_none(form.min_heat))
    spec = SubscriptionSpec(channel="" if follow else form.channel or "", filters=filters,
                            quiet=quiet, tz=form.tz or None,
                            member=PENDING_MEMBER if follow else None,
                            until=blank_is_none(form.until) if follow else None)
    checked, found = spec.checked()
    for name, message in found.items():
        problems.setdefault("quiet_to" if name == "quiet" else name, sentence(message))
    if checked is None or problems:
        return None, problems
    return checked, {}


def _quiet(start: str | None, end: str | None) -> tuple[str | None, dict[str, str]]:
    """The two times as the command's "22:00-07:00"; both or neither."""
    start, end = blank_is_none(start), blank_is_none(end)
    if not start and not end:
        return None, {}
    if not (start and end):
        return None, {"quiet_to" if start else "quiet_from":
                      "Give both ends of the quiet hours, or neither."}
    return f"{start}-{end}", {}


def subscription_form(subscription: Subscription) -> SubscriptionForm:
    """A stored subscription or follow as the form shows it for editing."""
    filters = subscription.filters

    def number(value: float | None) -> str | None:
        return None if value is None else f"{value:g}"

    quiet = subscription.quiet
    return SubscriptionForm(
        channel=None if subscription.member else subscription.channel,
        topics=filters.topics, providers=", ".join(filters.providers) or None,
        words=filters.words, exclude_topics=", ".join(filters.exclude_topics) or None,
        exclude_words=filters.exclude_words, min_quality=number(filters.min_quality),
        min_heat=number(filters.min_heat),
        quiet_from=f"{quiet.start:%H:%M}" if quiet else None,
        quiet_to=f"{quiet.end:%H:%M}" if quiet else None, tz=subscription.tz,
        until=subscription.until)
