"""App Home's subscriptions and follows: for admins, each channel subscription with Edit
and Remove, then Add subscription; for every reader, their own follows with Edit and
Remove, then "Follow a topic…".

Edit, Add and Follow open the subscription and follow modals
(handlers/listeners/subscription_modal.py answers them, and Remove a subscription);
a follow's Remove is answered in home.py. Follows are the Home tab's last blocks: when
Slack's 100 would be passed, the last follows are listed in one block without buttons.
"""

from __future__ import annotations

from collections.abc import Sequence

from newsbot.bot.newsroom.subscriptions import MAX_FOLLOWS, Subscription
from newsbot.handlers import blocks as kit

ADD_SUBSCRIPTION_ACTION = "newsbot_subscription_add"
EDIT_SUBSCRIPTION_ACTION = "newsbot_subscription_edit"
REMOVE_SUBSCRIPTION_ACTION = "newsbot_subscription_remove"
FOLLOW_ACTION = "newsbot_follow_add"
EDIT_FOLLOW_ACTION = "newsbot_follow_edit"
UNFOLLOW_ACTION = "newsbot_unfollow"
SUBSCRIPTIONS_WITH_BUTTONS = 10  # two blocks each; the rest are listed in one


def subscription_line(subscription: Subscription) -> str:
    """A subscription with its channel and creator as Slack mentions, the rest escaped."""
    return kit.fit(kit.linked(subscription.describe(kit.marked_channel, kit.marked_user)), 300)


def subscription_blocks(subscriptions: Sequence[Subscription]) -> list[dict]:
    """The channel subscriptions with an admin's buttons, then Add subscription."""
    blocks = kit.header_blocks("Channel subscriptions")
    for subscription in subscriptions[:SUBSCRIPTIONS_WITH_BUTTONS]:
        sid, line = subscription.id, subscription_line(subscription)
        blocks += kit.text_blocks(line)
        blocks.append({"type": "actions", "elements": [
            kit.control("Edit", EDIT_SUBSCRIPTION_ACTION, sid, f"Edit subscription {sid}"),
            kit.removal(REMOVE_SUBSCRIPTION_ACTION, sid, f"Remove subscription {sid}",
                        f"{line}\n\nThe channel gets no more alerts from it."),
        ]})
    rest = [f"• {subscription_line(s)}" for s in subscriptions[SUBSCRIPTIONS_WITH_BUTTONS:]]
    if rest:
        blocks += kit.text_blocks("\n".join(rest) + "\n(change these with `/news unsubscribe ID`)")
    if not subscriptions:
        blocks += kit.text_blocks("No channel subscriptions yet: new articles can come to a "
                                  "channel as they land.")
    blocks.append({"type": "actions", "elements": [kit.control(
        "Add subscription", ADD_SUBSCRIPTION_ACTION, "new",
        "Add subscription (opens a form)", "primary")]})
    return blocks


def follow_blocks(follows: Sequence[Subscription], room: int) -> list[dict]:
    """The reader's follows, each with Edit and Remove while `room` (blocks left within
    Slack's 100) allows, then "Follow a topic…" unless they have the most."""
    blocks = kit.header_blocks("Your follows")
    if not follows:
        blocks += kit.text_blocks("You follow nothing yet. New articles can come to you by "
                                  "direct message.")
    with_buttons = max(0, min(len(follows), (room - 4) // 2))
    for follow in follows[:with_buttons]:
        fid = follow.id
        blocks += kit.text_blocks(kit.fit(kit.shown(follow.describe(), 1000), 3000))
        blocks.append({"type": "actions", "elements": [
            kit.control("Edit", EDIT_FOLLOW_ACTION, fid, f"Edit follow {fid}"),
            kit.control("Remove", UNFOLLOW_ACTION, fid, f"Stop following {fid}")]})
    rest = [f"• {kit.shown(f.describe(), 300)}" for f in follows[with_buttons:]]
    if rest:
        blocks += kit.text_blocks("\n".join(rest) + "\n(change these with `/news unfollow ID`)")
    if len(follows) < MAX_FOLLOWS:
        blocks.append({"type": "actions", "elements": [kit.control(
            "Follow a topic…", FOLLOW_ACTION, "new", "Follow a topic (opens a form)",
            "primary")]})
    return blocks
