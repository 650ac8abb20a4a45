"""The Bolt app: every listener registered, and nothing started.

`process_before_response=True`: Slack gets its answer only when the listener returns, so
a decision is acknowledged once it is durable (bot/services/intake.py: recorded, or in
the fsynced spool beside the database) and a listener that fails answers 500, which
Slack redelivers. With Bolt's default the 200 goes out before the listener runs and a
failed write loses the event for good. Read-only answers (/news, the Home tab) use lazy
listeners so they are still acknowledged at once.
"""

from __future__ import annotations

import logging
import re
from concurrent.futures import Executor

from newsbot.bot.config.settings import Config
from newsbot.bot.services.intake import Intake
from newsbot.handlers.after_ack import AfterAck
from newsbot.handlers.listeners import (
    buttons,
    event_metrics,
    home,
    home_controls,
    news_command,
    reactions,
    schedule_modal,
    shortcut,
    subscription_modal,
    unfurls,
)
from newsbot.handlers.posting.redrawer import Redrawer
from newsbot.storage.db import Store
from slack_bolt import App
from slack_sdk import WebClient

log = logging.getLogger(__name__)


def build_app(config: Config, store: Store, client: WebClient, signing_secret: str | None, *,
              intake: Intake, redrawer: Redrawer, after_ack: AfterAck,
              listener_executor: Executor, home_tab: home.HomeTab) -> App:
    """The app with every listener registered; calls auth.test once. The threads it uses
    (the listener executor, the after-ack replies, the redrawer) are the caller's, who
    starts and drains them: bot/app/runtime.py. `home_tab` (with its admin check) is
    shared with what publishes Home notes outside a listener."""
    app = App(
        client=client,
        signing_secret=signing_secret,
        # In HTTP mode web_server.SlackEvents checks the signature before Bolt sees the
        # request (Bolt's own check would compute the same HMAC a second time); Socket
        # Mode is not signed.
        request_verification_enabled=False,
        logger=logging.getLogger("slack_bolt"),
        process_before_response=True,
        listener_executor=listener_executor,
    )
    event_metrics.register(app)
    # first: most of what Slack sends, and Bolt asks the listeners in this order
    reactions.register(app, intake, config, redrawer, after_ack)
    admins = home_tab.admins
    modal = schedule_modal.ScheduleModal(home_tab, after_ack)
    subscriptions = subscription_modal.SubscriptionModal(home_tab, after_ack)
    news_command.register(app, news_command.NewsCommand(store, config, client, admins), modal,
                          subscriptions)
    buttons.register(app, intake, config, redrawer, after_ack, home_tab)
    home.register(app, home_tab)
    home_controls.register(app, home_tab)
    schedule_modal.register(app, modal)
    subscription_modal.register(app, subscriptions)
    unfurls.register(app, store, config)
    shortcut.register(app, store, config)
    app.event(re.compile(".*"))(unhandled_event)  # last: only events no listener above took
    return app


def unhandled_event(body: dict) -> None:
    """Events the app is subscribed to but does not use: answered 200 (Bolt would answer
    404, and Slack would retry them for nothing)."""
    event = body.get("event")
    log.debug("event without a listener", extra={
        "type": event.get("type") if isinstance(event, dict) else None,
        "event_id": body.get("event_id")})
