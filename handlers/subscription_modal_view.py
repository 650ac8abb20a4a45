"""The subscription and follow modals as Block Kit: one view builder for both, one input
block per field of bot/newsroom/subscription_form.py, and the submitted state read back.

A channel subscription starts with its channel picker (public and private channels); a
follow has none (its alerts go to the member by DM) and ends with its last day. The
filters, quiet hours and zone between are the same blocks. Topics are the index's (the
shared topic select, external past Slack's 100 options); the other names are typed,
comma-separated, as in the typed command.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from newsbot.bot.newsroom.subscription_form import SubscriptionForm
from newsbot.handlers.modal_elements import (
    SubmittedState,
    channel_select,
    input_block,
    modal,
    number_input,
    text_input,
    time_picker,
    topic_select,
    zone_select,
)

SUBSCRIPTION_CALLBACK = "newsbot_subscription_modal"
FOLLOW_CALLBACK = "newsbot_follow_modal"
NEW_SUBSCRIPTION = SubscriptionForm()


def subscription_modal(form: SubscriptionForm, *, topics: Sequence[str], follow: bool,
                       editing: str | None = None,
                       metadata: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The subscription modal (or, with `follow`, the follow modal) filled in from `form`:
    a new one's zone, or subscription_form(...) when editing the one with id `editing`."""
    blocks: list[dict[str, Any]] = []
    if follow:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": (
            "New articles that match come to you alone, by direct message from newsbot.")}})
    else:
        blocks.append(input_block("channel", "Channel", channel_select(form.channel),
                                  hint="newsbot must be a member: /invite @newsbot there."))
    blocks += [
        input_block("topics", "Topics", topic_select(form.topics, topics), optional=True,
                    hint="Empty: every topic. Any one of them matches."),
        input_block("providers", "Providers", text_input("providers", form.providers,
                                                         "Reuters, apnews.com"),
                    optional=True, hint="Names or domains, commas between them."),
        input_block("words", "Words", text_input("words", form.words, "heat wave"),
                    optional=True,
                    hint="Every word, as /news search finds them in titles and excerpts."),
        input_block("exclude_topics", "Leave out topics",
                    text_input("exclude_topics", form.exclude_topics, "Sport, Opinion"),
                    optional=True, hint="Topics, commas between them."),
        input_block("exclude_words", "Leave out words",
                    text_input("exclude_words", form.exclude_words, "opinion"),
                    optional=True, hint="An article with any one of these words is left out."),
        input_block("min_quality", "Minimum quality",
                    number_input("min_quality", form.min_quality, decimal=True),
                    optional=True),
        input_block("min_heat", "Minimum heat",
                    number_input("min_heat", form.min_heat, decimal=True), optional=True),
        input_block("quiet_from", "Quiet hours from", time_picker("quiet_from",
                                                                  form.quiet_from),
                    optional=True),
        input_block("quiet_to", "Quiet hours until", time_picker("quiet_to", form.quiet_to),
                    optional=True, hint="Alerts wait, then come as one batch. Both times or "
                                        "neither; they may span midnight."),
        input_block("tz", "Time zone", zone_select(form.tz),
                    hint="The zone of the quiet hours" + (" and the last day." if follow
                                                          else ".")),
    ]
    if follow:
        blocks.append(input_block("until", "Last day", {
            "type": "datepicker", "action_id": "until",
            **({"initial_date": form.until} if form.until else {})}, optional=True,
            hint="Empty: until you unfollow."))
        title, submit = (f"Edit follow {editing}", "Save") if editing else ("Follow a topic",
                                                                             "Follow")
    else:
        title, submit = ((f"Edit {editing}", "Save") if editing
                         else ("New subscription", "Subscribe"))
    return modal(FOLLOW_CALLBACK if follow else SUBSCRIPTION_CALLBACK, title, submit,
                 {**(metadata or {}), "subscription": editing}, blocks)


def submitted_subscription_form(values: Mapping[str, Any]) -> SubscriptionForm:
    """view.state.values (block_id -> action_id -> value) as a SubscriptionForm."""
    state = SubmittedState(values)
    return SubscriptionForm(
        channel=state.field("channel").get("selected_conversation"), topics=state.topics(),
        providers=state.text("providers"), words=state.text("words"),
        exclude_topics=state.text("exclude_topics"), exclude_words=state.text("exclude_words"),
        min_quality=state.text("min_quality"), min_heat=state.text("min_heat"),
        quiet_from=state.field("quiet_from").get("selected_time"),
        quiet_to=state.field("quiet_to").get("selected_time"), tz=state.one("tz"),
        until=state.field("until").get("selected_date"))
