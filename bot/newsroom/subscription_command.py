"""`/news subscribe`, `/news subscriptions` and `/news unsubscribe`, and a member's own
`/news follow`, `/news following` and `/news unfollow`: parsed and carried out.

`/news subscribe #desk topics=AI,Climate words="heat wave" min_quality=3 quiet=22:00-07:00`
reads as the schedule commands do (key=value options, quotes for words with spaces).
Slack-specific work stays with the caller: whether the user is an admin, their zone, and
whether the bot can post in the channel.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace

from newsbot.bot.newsroom.schedule_command import (
    as_typed,
    command_words,
    split_options,
    zone_for,
)
from newsbot.bot.newsroom.schedules import ScheduleError, normalize_channel
from newsbot.bot.newsroom.subscription_filters import FILTER_KINDS, Filters, SubscriptionError
from newsbot.bot.newsroom.subscriptions import (
    MAX_FOLLOWS,
    Subscription,
    SubscriptionSpec,
    add_subscription,
    list_follows,
    list_subscriptions,
    remove_subscription,
)
from newsbot.storage.db import Store

OPTIONS = ("topics", "providers", "words", "exclude_topics", "exclude_words", "min_quality",
           "min_heat", "quiet", "tz")
FOLLOW_OPTIONS = (*OPTIONS, "until")
FOLLOW_USAGE = ('/news follow [topics=A,B] [words="some words"] [min_quality=Q] [min_heat=H] '
                "[providers=X,Y] [quiet=HH:MM-HH:MM] [until=YYYY-MM-DD] | /news following | "
                "/news unfollow <id>")
USAGE = ("/news subscribe [#channel] [topics=A,B] [providers=X,Y] [words=\"some words\"] "
         "[exclude_topics=A,B] [exclude_words=\"some words\"] [min_quality=Q] [min_heat=H] "
         "[quiet=HH:MM-HH:MM] [tz=Zone] | /news subscriptions | /news unsubscribe <id>")


@dataclass(frozen=True)
class SubscriptionReply:
    """The answer to one command: text for the person, and what happened."""

    ok: bool
    text: str
    changed: bool = False
    subscription: Subscription | None = None
    subscriptions: tuple[Subscription, ...] = ()


def refusal(action: str) -> SubscriptionReply:
    """The schedule commands' refusal, for subscriptions."""
    return SubscriptionReply(
        False,
        f"Only newsbot admins can {action} channels (the config's admins, and workspace "
        "admins and owners). Nothing was changed. Anyone can use /news subscriptions.",
    )


def _command_words(text: str) -> list[str]:
    """The words of a subscribe or follow command (quotes keep words with spaces together)."""
    try:
        return command_words(text)
    except ValueError:
        raise SubscriptionError(
            'unbalanced quotes: put words with spaces in double quotes, e.g. words="heat wave"'
        ) from None


def _filters(options: dict) -> Filters:
    """The filter options typed, unchecked (SubscriptionSpec.validated checks them)."""
    return Filters(**{kind: options.get(kind) for kind in FILTER_KINDS})


def parse_subscribe(text: str, current_channel: str | None,
                    resolve_channel: Callable[[str], str | None] | None = None,
                    unescape: Callable[[str], str] = as_typed) -> SubscriptionSpec:
    """What follows `/news subscribe`, checked (SubscriptionError says what is wrong).
    The channel named, else `current_channel`; the zone stays None unless tz= is given.
    `unescape` undoes the surface's escaping of the options' values and the channel."""
    words = _command_words(text)
    try:
        positional, options = split_options(words, OPTIONS, unescape)
        if len(positional) > 1:
            raise SubscriptionError(
                f"one channel at most, then key=value options (got '{' '.join(positional)}'). "
                f"Usage: {USAGE}")
        channel = positional[0] if positional else current_channel
        if not channel:
            raise SubscriptionError(f"which channel? Usage: {USAGE}")
        channel = normalize_channel(unescape(channel), resolve_channel)
    except ScheduleError as error:
        raise SubscriptionError(str(error)) from None
    filters = _filters(options)
    spec = SubscriptionSpec(channel=channel, filters=filters, quiet=options.get("quiet"),
                            tz=options.get("tz"))
    checked = spec.validated()  # every value, the zone included when given
    return SubscriptionSpec(checked.channel, checked.filters, checked.quiet, spec.tz and checked.tz)


def run_subscription_command(
    store: Store,
    action: str,
    text: str,
    *,
    user_id: str,
    current_channel: str | None,
    is_admin: Callable[[str], bool],
    user_zone: Callable[[str], str | None] = lambda user_id: None,
    fallback_zone: str = "UTC",
    channel_format: Callable[[str], str] = lambda channel: channel,
    user_format: Callable[[str], str] = lambda user: user,
    resolve_channel: Callable[[str], str | None] | None = None,
    channel_problem: Callable[[str], str | None] | None = None,
    now: dt.datetime | None = None,
    unescape: Callable[[str], str] = as_typed,
) -> SubscriptionReply:
    """Carry out `/news <action> <text>` (action: subscribe, subscriptions, unsubscribe).

    Admin rights are checked first, so a refusal never depends on the rest of the text.
    A mistake comes back as ok=False with one line saying what to fix; nothing changed.
    """
    def fmt(subscription: Subscription) -> str:
        return subscription.describe(channel_format, user_format)

    if action in ("subscribe", "unsubscribe") and not is_admin(user_id):
        return refusal(action)
    try:
        if action == "subscriptions":
            subscriptions = tuple(list_subscriptions(store))
            if not subscriptions:
                return SubscriptionReply(True, "No channel subscriptions yet. Add one with: "
                                               "/news subscribe #channel topics=A,B")
            lines = ["Channel subscriptions:"] + [f"• {fmt(s)}" for s in subscriptions]
            return SubscriptionReply(True, "\n".join(lines), subscriptions=subscriptions)
        if action == "unsubscribe":
            ids = text.split()
            if len(ids) != 1:
                raise SubscriptionError(
                    "'/news unsubscribe' takes one subscription id, e.g. /news unsubscribe sub1")
            removed = remove_subscription(store, ids[0])
            return SubscriptionReply(True, f"Removed {fmt(removed)}", changed=True,
                                     subscription=removed)
        spec = parse_subscribe(text, current_channel, resolve_channel, unescape)
        problem = channel_problem(spec.channel) if channel_problem is not None else None
        if problem:
            raise SubscriptionError(problem)
    except SubscriptionError as error:
        return SubscriptionReply(False, str(error))
    return subscribe(store, spec, user_id=user_id, now=now, describe=fmt,
                     default_tz=zone_for(user_zone, user_id, fallback_zone))


def subscribe(store: Store, spec: SubscriptionSpec, *, user_id: str, default_tz: str,
              describe: Callable[[Subscription], str] = Subscription.describe,
              now: dt.datetime | None = None) -> SubscriptionReply:
    """Store a checked channel subscription for `user_id` (an admin): what `/news
    subscribe` and the subscription form both do once their input is valid."""
    try:
        added = add_subscription(store, spec, created_by=user_id, now=now,
                                 default_tz=default_tz)
    except SubscriptionError as error:
        return SubscriptionReply(False, str(error))
    return SubscriptionReply(True, f"Subscribed {describe(added)}", changed=True,
                             subscription=added)


def parse_follow(text: str, unescape: Callable[[str], str] = as_typed) -> SubscriptionSpec:
    """What follows `/news follow`: filters only, the DM channel is filled in by the caller.
    `unescape` undoes the surface's escaping of the options' values."""
    words = _command_words(text)
    try:
        positional, options = split_options(words, FOLLOW_OPTIONS, unescape)
    except ScheduleError as error:
        raise SubscriptionError(str(error)) from None
    if positional:
        raise SubscriptionError(f"a follow comes to you by DM: no channel, only key=value "
                                f"options (got '{' '.join(positional)}'). Usage: {FOLLOW_USAGE}")
    filters = _filters(options)
    return SubscriptionSpec(channel="", filters=filters, quiet=options.get("quiet"),
                            tz=options.get("tz"), member="pending", until=options.get("until"))


def run_follow_command(
    store: Store,
    action: str,
    text: str,
    *,
    user_id: str,
    dm_channel: Callable[[str], str],
    user_zone: Callable[[str], str | None] = lambda user_id: None,
    fallback_zone: str = "UTC",
    shown_in: str | None = None,
    now: dt.datetime | None = None,
    unescape: Callable[[str], str] = as_typed,
) -> SubscriptionReply:
    """Carry out `/news <action> <text>` (follow, following, unfollow) for `user_id`, any
    member. `dm_channel(user_id)` opens the direct message the alerts go to; it is asked
    only once the text is valid. `shown_in`: the conversation the answer is shown in."""
    try:
        if action == "following":
            follows = tuple(list_follows(store, user_id))
            if not follows:
                return SubscriptionReply(True, "You follow nothing yet. Try: /news follow "
                                               "topics=AI min_quality=70")
            lines = [f"Your follows ({len(follows)} of {MAX_FOLLOWS}), alerted by DM:"]
            lines += [f"• {follow.describe()}" for follow in follows]
            return SubscriptionReply(True, "\n".join(lines), subscriptions=follows)
        if action == "unfollow":
            ids = text.split()
            if len(ids) != 1:
                raise SubscriptionError(
                    "'/news unfollow' takes one follow id, e.g. /news unfollow follow3")
            removed = remove_subscription(store, ids[0], member=user_id)
            return SubscriptionReply(True, f"Removed {removed.describe()}", changed=True,
                                     subscription=removed)
        spec = parse_follow(text, unescape)
        spec.validated()  # every value checked before a DM is opened
    except SubscriptionError as error:
        return SubscriptionReply(False, str(error))
    return follow(store, spec, user_id=user_id, dm_channel=dm_channel, now=now,
                  default_tz=zone_for(user_zone, user_id, fallback_zone), shown_in=shown_in)


def follow(store: Store, spec: SubscriptionSpec, *, user_id: str,
           dm_channel: Callable[[str], str], default_tz: str, shown_in: str | None = None,
           now: dt.datetime | None = None) -> SubscriptionReply:
    """Store a checked follow for `user_id`, alerted in the DM `dm_channel(user_id)` opens:
    what `/news follow` and the follow form both do once their input is valid. The
    confirmation says "here" only when it is shown in that DM (`shown_in`: the
    conversation it is shown in; None on the Home tab), not in a channel everyone reads."""
    dm = dm_channel(user_id)
    try:
        added = add_subscription(store, replace(spec, channel=dm, member=user_id),
                                 created_by=user_id, now=now, default_tz=default_tz)
    except SubscriptionError as error:
        return SubscriptionReply(False, str(error))
    where = ("here, by direct message" if shown_in == dm
             else "to you alone, by direct message from newsbot")
    return SubscriptionReply(True, f"Following {added.describe()}: alerts come {where}",
                             changed=True, subscription=added)
