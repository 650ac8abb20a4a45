"""`newsbot subscribe`, `newsbot subscriptions` and `newsbot unsubscribe`: the channel
subscriptions table, as `/news subscribe` in Slack."""

from __future__ import annotations

from newsbot.bot.cli.context import Context, UsageError
from newsbot.bot.cli.slack_access import channel_argument, slack_check, slack_client_if_token


def cmd_subscribe(ctx: Context) -> int:
    """No admin check: the command line already has the database."""
    # here, not at the top: the rules import apscheduler (via the schedules' zone check),
    # which would cost every other command (`newsbot index`) 50 ms
    from newsbot.bot.newsroom.subscription_filters import Filters, SubscriptionError
    from newsbot.bot.newsroom.subscriptions import SubscriptionSpec, add_subscription

    args = ctx.args
    client = slack_client_if_token()
    channel = channel_argument(args.channel, "CHANNEL", client)
    filters = Filters(topics=tuple(args.topic or ()), providers=tuple(args.provider or ()),
                      words=args.words, exclude_topics=tuple(args.exclude_topic or ()),
                      exclude_words=args.exclude_words, min_quality=args.min_quality,
                      min_heat=args.min_heat)
    spec = SubscriptionSpec(channel=channel, filters=filters, quiet=args.quiet, tz=args.tz)
    note = ""
    try:
        spec = spec.validated(ctx.config.timezone)  # every mistake before asking Slack
        if client is not None:
            problem = slack_check(client, "checking the channel")(spec.channel)
            if problem:
                raise UsageError(problem)
        else:
            note = ("\nNot checked whether newsbot can post there (no SLACK_BOT_TOKEN): "
                    "invite it with /invite @newsbot in the channel.")
        subscription = add_subscription(ctx.store, spec, default_tz=ctx.config.timezone)
    except SubscriptionError as error:
        raise UsageError(str(error)) from None
    ctx.emit({"subscription": subscription.to_json()}, f"Subscribed {subscription.describe()}"
             + note)
    return 0


def cmd_subscriptions(ctx: Context) -> int:
    from newsbot.bot.newsroom.subscriptions import list_subscriptions

    subscriptions = list_subscriptions(ctx.store)
    text = "\n".join(s.describe() for s in subscriptions) or (
        "No channel subscriptions yet. Add one with: newsbot subscribe C0123ABCD --topic AI")
    ctx.emit({"subscriptions": [s.to_json() for s in subscriptions]}, text)
    return 0


def cmd_unsubscribe(ctx: Context) -> int:
    from newsbot.bot.newsroom.subscription_filters import SubscriptionError
    from newsbot.bot.newsroom.subscriptions import remove_subscription

    try:
        removed = remove_subscription(ctx.store, ctx.args.id)
    except SubscriptionError as error:
        raise UsageError(str(error)) from None
    ctx.emit({"subscription": removed.to_json()}, f"Removed {removed.describe()}")
    return 0
