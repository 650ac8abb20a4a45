"""The schedule modal as Block Kit: one input block per field of bot/newsroom/schedule_form.py,
and the submitted view state read back into a ScheduleForm.

Each input's block_id is the form field's name, so `response_action: errors` can name the
block of every wrong field. Element types are those Slack offers for each value: a
channel picker (public and private), a time picker, weekday boxes, IANA zones grouped by
region, number inputs, and the index's topics (an external select past Slack's 100
options, answered by the options listener); the pieces shared with the subscription and
follow modals are handlers/modal_elements.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from newsbot.bot.newsroom.schedule_form import WEEKDAYS, ScheduleForm
from newsbot.bot.newsroom.schedules import KINDS
from newsbot.handlers.modal_elements import (
    SubmittedState,
    channel_select,
    input_block,
    modal,
    number_input,
    option,
    text_input,
    time_picker,
    topic_select,
    zone_select,
)

CALLBACK_ID = "newsbot_schedule_modal"
DAY_LABELS = dict(zip(WEEKDAYS, ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
                                 "Saturday", "Sunday"), strict=True))
KIND_LABELS = {"digest": "Digest of the best articles", "report": "Editorial report",
               "gaps": "Coverage-gap alerts"}
DEFAULT_FORM = ScheduleForm(time="09:00", days=WEEKDAYS[:5], kind="digest")


def schedule_modal(form: ScheduleForm, *, topics: Sequence[str], default_top: int,
                   schedule_id: str | None = None,
                   metadata: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The modal, filled in from `form` (DEFAULT_FORM for a new schedule, with the admin's
    zone; schedule_form(...) when editing `schedule_id`)."""
    blocks = [
        input_block("channel", "Channel", channel_select(form.channel)),
        input_block("time", "Time of day", time_picker("time", form.time), optional=True),
        input_block("days", "Days", {
            "type": "checkboxes", "action_id": "days",
            "options": [option(day, DAY_LABELS[day]) for day in WEEKDAYS],
            **({"initial_options": [option(d, DAY_LABELS[d]) for d in WEEKDAYS
                                    if d in form.days]} if form.days else {})},
            optional=True),
        input_block("tz", "Time zone", zone_select(form.tz)),
        input_block("kind", "What to post", {
            "type": "static_select", "action_id": "kind",
            "options": [option(kind, KIND_LABELS[kind]) for kind in KINDS],
            "initial_option": option(form.kind or "digest",
                                     KIND_LABELS[form.kind or "digest"])}),
        input_block("top", "Number of articles",
                    number_input("top", form.top, decimal=False, minimum="1"),
                    optional=True, hint=f"Empty: the configured digest.top ({default_top})."),
        input_block("topics", "Topics", topic_select(form.topics, topics), optional=True,
                    hint="Empty: every topic. For gap alerts: the topics to watch."),
        input_block("min_quality", "Minimum quality",
                    number_input("min_quality", form.min_quality, decimal=True),
                    optional=True),
        input_block("cron", "Advanced: cron expression",
                    text_input("cron", form.cron, "0 9 * * 1-5"), optional=True,
                    hint="Replaces time and days. Unix meaning: 0 or 7 is Sunday, 1-5 Monday "
                         "to Friday."),
    ]
    title = f"Edit schedule {schedule_id}" if schedule_id else "New schedule"
    return modal(CALLBACK_ID, title, "Save" if schedule_id else "Add schedule",
                 {**(metadata or {}), "schedule": schedule_id}, blocks)


def submitted_form(values: Mapping[str, Any]) -> ScheduleForm:
    """view.state.values (block_id -> action_id -> value) as a ScheduleForm."""
    state = SubmittedState(values)
    return ScheduleForm(
        channel=state.field("channel").get("selected_conversation"),
        time=state.field("time").get("selected_time"), days=state.chosen("days"),
        tz=state.one("tz"), kind=state.one("kind"), top=state.text("top"),
        topics=state.topics(), min_quality=state.text("min_quality"),
        cron=state.text("cron"))
