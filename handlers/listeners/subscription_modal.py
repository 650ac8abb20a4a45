"""The subscription and follow modals: opened by `/news subscribe` and `/news follow` with
nothing after them and by App Home's buttons (Add subscription, Follow a topic…, Edit);
submitted, checked and stored. App Home's Remove on a subscription is answered here too.

As the schedule modal does (handlers/listeners/schedule_modal.py), the modal opens first
thing after the acknowledgement (a trigger_id lives about 3 s), and a submission is
answered in its acknowledgement: `response_action: errors` naming every wrong block at
once, or nothing (the modal closes) once the subscription is stored, by the same code as
the typed command (`subscribe`, `follow`), backlog marking included. A follow's 21st, or
the same filters twice, is said beside the first input. The confirmation follows after
the acknowledgement. Subscriptions are for admins (anyone else gets the typed command's
refusal); follows for any member, each their own. The topics' options, past Slack's 100,
come from the schedule modal's options listener (the same action id).
"""

from __future__ import annotations

import functools
import logging

from newsbot.bot.newsroom.lookup import list_topics
from newsbot.bot.newsroom.schedule_command import zone_for
from newsbot.bot.newsroom.subscription_command import (
    SubscriptionReply,
    follow,
    refusal,
    run_subscription_command,
    subscribe,
)
from newsbot.bot.newsroom.subscription_filters import SubscriptionError
from newsbot.bot.newsroom.subscription_form import (
    SubscriptionForm,
    subscription_form,
    subscription_spec,
)
from newsbot.bot.newsroom.subscriptions import (
    Subscription,
    SubscriptionSpec,
    get_subscription,
    update_subscription,
)
from newsbot.bot.newsroom.wording import sentence
from newsbot.handlers.after_ack import AfterAck
from newsbot.handlers.blocks import linked, marked_channel, marked_user
from newsbot.handlers.channels import dm_channel_id, picked_channel_problem
from newsbot.handlers.listeners import modal_flow
from newsbot.handlers.listeners.home import HomeTab
from newsbot.handlers.listeners.home_subscriptions import (
    ADD_SUBSCRIPTION_ACTION,
    EDIT_FOLLOW_ACTION,
    EDIT_SUBSCRIPTION_ACTION,
    FOLLOW_ACTION,
    REMOVE_SUBSCRIPTION_ACTION,
)
from newsbot.handlers.subscription_modal_view import (
    FOLLOW_CALLBACK,
    SUBSCRIPTION_CALLBACK,
    submitted_subscription_form,
    subscription_modal,
)
from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)
FIRST_BLOCK = {False: "channel", True: "topics"}  # where an error about the whole form goes


def wanted_modal(text: str) -> str | None:
    """"subscription" for `/news subscribe` alone, "follow" for `/news follow` alone."""
    return {("subscribe",): "subscription", ("follow",): "follow"}.get(
        tuple((text or "").lower().split()))


class SubscriptionModal:
    def __init__(self, home: HomeTab, after_ack: AfterAck) -> None:
        self.home, self.after_ack = home, after_ack
        self.store, self.config, self.admins = home.store, home.config, home.admins

    def open(self, client: WebClient, trigger_id: str, user: str, *, follow: bool,
             editing: str | None = None, channel: str | None = None,
             home: bool = False) -> str | None:
        """Open the subscription (or follow) modal, filled in from `editing` when given;
        returns what to tell the user instead (a refusal, an unknown id, Slack's refusal),
        else None."""
        if not follow and not self.admins.is_admin(user):
            return refusal("subscribe").text
        if editing:
            try:
                form = subscription_form(get_subscription(self.store, editing,
                                                          user if follow else None))
            except SubscriptionError as error:
                return str(error)
        else:
            form = SubscriptionForm(
                channel=None if follow else modal_flow.channel_typed_in(channel),
                tz=modal_flow.starting_zone(self.admins, self.config, user))
        view = subscription_modal(form, topics=[t.topic for t in list_topics(self.store)],
                                  follow=follow, editing=editing,
                                  metadata={"channel": channel, "home": home})
        return modal_flow.show_modal(client, trigger_id, view,
                                     "follow" if follow else "subscription")

    def submit(self, ack: Ack, body: dict, client: WebClient, *, follow: bool) -> None:
        """Check everything, store it, then ack (closing the modal) or answer with every
        error beside its block."""
        user = (body.get("user") or {}).get("id") or ""
        view = body.get("view") or {}
        meta = modal_flow.view_metadata(view)
        if not follow and not self.admins.is_admin(user):
            ack(response_action="update",
                view=modal_flow.notice_view(refusal("subscribe").text))
            return
        form = submitted_subscription_form((view.get("state") or {}).get("values") or {})
        spec, problems = subscription_spec(form, follow=follow)
        if not follow and "channel" not in problems and form.channel:
            problem = picked_channel_problem(client, form.channel)
            if problem:
                problems["channel"] = problem
        if spec is None or problems:
            log.info("subscription form refused", extra={"user": user, "fields": list(problems),
                                                          "follow": follow})
            ack(response_action="errors", errors=problems)
            return
        reply = self._store(client, user, spec, follow, meta.get("subscription"),
                            shown_in=modal_flow.confirmed_in(meta))
        if not reply.ok:  # the same filters twice, a 21st follow, gone meanwhile, no DM
            ack(response_action="errors", errors={FIRST_BLOCK[follow]: sentence(reply.text)})
            return
        ack()
        log.info("subscription form stored", extra={"user": user, "follow": follow,
                                                    "edited": meta.get("subscription")})
        self.after_ack(modal_flow.confirm, self.home, client, user, meta, reply.text)

    def _store(self, client: WebClient, user: str, spec: SubscriptionSpec, is_follow: bool,
               editing: str | None, shown_in: str | None) -> SubscriptionReply:
        """Add (as the typed command does) or update in place; the reply to confirm
        (`shown_in`: the conversation it is confirmed in, None for the Home tab)."""
        zone = zone_for(self.admins.time_zone, user, self.config.timezone)
        describe = (Subscription.describe if is_follow
                    else lambda s: s.describe(marked_channel, marked_user))
        try:
            if editing:
                saved = update_subscription(self.store, editing, spec,
                                            member=user if is_follow else None)
                return SubscriptionReply(True, f"Saved {describe(saved)}", True, saved)
            if is_follow:
                return follow(self.store, spec, user_id=user, default_tz=zone,
                              dm_channel=functools.partial(dm_channel_id, client),
                              shown_in=shown_in)
        except SubscriptionError as error:
            return SubscriptionReply(False, str(error))
        except SlackApiError as error:
            log.warning("could not open a direct message", extra={"error": str(error)})
            return SubscriptionReply(False, "newsbot could not open a direct message with "
                                            "you, so nothing was followed "
                                            f"(Slack said {error.response.get('error')})")
        return subscribe(self.store, spec, user_id=user, default_tz=zone, describe=describe)

    def remove(self, user: str, subscription_id: str) -> str:
        """App Home's Remove on a subscription: what `/news unsubscribe ID` does and says."""
        reply = run_subscription_command(
            self.store, "unsubscribe", subscription_id, user_id=user, current_channel=None,
            is_admin=self.admins.is_admin, channel_format=marked_channel,
            user_format=marked_user)
        log.info("subscription removed in App Home", extra={"user": user, "ok": reply.ok})
        return linked(reply.text)


def register(app: App, modal: SubscriptionModal) -> None:
    def acknowledge(ack: Ack) -> None:
        ack()

    def on_home_button(body: dict, client: WebClient) -> None:
        """Add subscription, Follow a topic… and Edit in App Home: the modal first, a
        refusal on the Home tab."""
        user = (body.get("user") or {}).get("id") or ""
        action = (body.get("actions") or [{}])[0]
        action_id = action.get("action_id")
        editing = (action.get("value") if action_id in (EDIT_SUBSCRIPTION_ACTION,
                                                        EDIT_FOLLOW_ACTION) else None)
        problem = modal.open(client, body.get("trigger_id") or "", user,
                             follow=action_id in (FOLLOW_ACTION, EDIT_FOLLOW_ACTION),
                             editing=editing, home=True)
        if problem:
            modal.home.publish(client, user, problem)

    def on_remove(body: dict, client: WebClient) -> None:
        user = (body.get("user") or {}).get("id")
        if user:
            value = ((body.get("actions") or [{}])[0]).get("value") or ""
            modal.home.publish(client, user, modal.remove(user, value))

    for action_id in (ADD_SUBSCRIPTION_ACTION, EDIT_SUBSCRIPTION_ACTION, FOLLOW_ACTION,
                      EDIT_FOLLOW_ACTION):
        app.action(action_id)(ack=acknowledge, lazy=[on_home_button])
    app.action(REMOVE_SUBSCRIPTION_ACTION)(ack=acknowledge, lazy=[on_remove])

    def on_subscription(ack: Ack, body: dict, client: WebClient) -> None:
        modal.submit(ack, body, client, follow=False)

    def on_follow(ack: Ack, body: dict, client: WebClient) -> None:
        modal.submit(ack, body, client, follow=True)

    app.view_submission(SUBSCRIPTION_CALLBACK)(on_subscription)
    app.view_submission(FOLLOW_CALLBACK)(on_follow)
    for callback_id in (SUBSCRIPTION_CALLBACK, FOLLOW_CALLBACK):
        app.view_closed(callback_id)(acknowledge)
