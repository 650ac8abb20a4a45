"""End to end: the schedule modal and App Home's controls, over signed HTTP against the
look-alike, every view checked by slack_sdk's own models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import slack_views
from conftest import CHANNEL, CHIEF, EDITOR, Newsroom, private_answer, start_newsroom, texts
from newsbot.handlers.listeners.home import (
    ADD_ACTION,
    EDIT_ACTION,
    PAUSE_ACTION,
    REMOVE_ACTION,
    RESUME_ACTION,
    SYNC_ACTION,
)
from newsbot.storage.index import refresh
from slack_sdk.models.blocks import block_elements as elements
from slack_views import OUTSIDE, buttons, click, field, home_of, opened_modal, sdk_view, submit

pytestmark = pytest.mark.usefixtures("no_proxy")
EXPECTED_ELEMENTS = {  # the issue's element types, by block
    "channel": elements.ConversationSelectElement, "time": elements.TimePickerElement,
    "days": elements.CheckboxesElement, "tz": elements.StaticSelectElement,
    "kind": elements.StaticSelectElement, "top": elements.NumberInputElement,
    "topics": elements.StaticMultiSelectElement, "min_quality": elements.NumberInputElement,
    "cron": elements.PlainTextInputElement,
}

GOOD = {"channel": CHANNEL, "time": "07:45", "days": ["mon", "tue", "wed", "thu", "fri"],
        "tz": "Europe/Paris", "kind": "digest", "top": "5", "topics": ["Climate"],
        "min_quality": "60"}


def rows(newsroom: Newsroom) -> list[dict]:
    return newsroom.store.query(
        "SELECT id, channel, cron, tz, top, topics, min_quality, kind, origin, created_by,"
        " enabled FROM schedules ORDER BY seq")


def test_schedule_add_alone_opens_the_modal_with_the_issues_elements(newsroom: Newsroom):
    answer = newsroom.client.slash_command("/news", "schedule add", user_id=CHIEF,
                                           channel_id=CHANNEL)
    assert answer.status == 200 and not answer.body  # acknowledged at once, nothing to say
    view = opened_modal(newsroom)
    model = sdk_view(view)
    inputs = {b.block_id: b.element for b in model.blocks if b.type == "input"}
    assert {k: type(v) for k, v in inputs.items()} == EXPECTED_ELEMENTS
    assert field(inputs["channel"].filter, "include") == ["public", "private"]
    assert [field(o, "value") for o in inputs["days"].options] == [
        "mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    zones = inputs["tz"].option_groups
    assert all(len(field(group, "options")) <= 100 for group in zones) and len(zones) > 5
    # the admin's own zone, from users.info
    assert field(inputs["tz"].initial_option, "value") == "America/New_York"
    assert [field(o, "value") for o in inputs["kind"].options] == ["digest", "report", "gaps"]
    assert inputs["top"].is_decimal_allowed is False
    assert inputs["min_quality"].is_decimal_allowed is True
    assert "Climate" in [field(o, "value") for o in inputs["topics"].options]  # the index's topics
    assert inputs["channel"].initial_conversation == CHANNEL  # where the command was typed
    assert not newsroom.slack.response_posts()


def test_a_non_admin_gets_the_admin_check_answer_and_no_modal(newsroom: Newsroom):
    typed = texts(private_answer(newsroom, f'schedule add {CHANNEL} "0 9 * * *"', EDITOR)
                  .payload["blocks"])
    alone = texts(private_answer(newsroom, "schedule add", EDITOR).payload["blocks"])
    assert "Only newsbot admins can add schedules" in alone
    assert alone == typed
    assert not newsroom.slack.calls("views.open")


def test_every_error_is_named_at_once_then_the_fixed_form_adds_what_typing_would(
        newsroom: Newsroom):
    newsroom.slack.workspace.add_channel("sports", OUTSIDE, bot_is_member=False)
    newsroom.client.slash_command("/news", "schedule add", user_id=CHIEF, channel_id=CHANNEL)
    opened_modal(newsroom)

    action, body = submit(newsroom, CHIEF, {**GOOD, "channel": OUTSIDE, "days": [],
                                             "top": "0"})
    assert action == "errors"
    errors = body["errors"]
    assert set(errors) == {"channel", "days", "top"}
    assert "invite @newsbot there first" in errors["channel"]
    assert rows(newsroom) == []
    shown = newsroom.slack.workspace.modals
    assert shown.errors(shown.top(CHIEF)["id"]) == errors  # beside the inputs

    action, body = submit(newsroom, CHIEF, {**GOOD, "cron": "0 25 * * *"})
    assert action == "errors" and set(body["errors"]) == {"cron"}
    assert "hour field '25'" in body["errors"]["cron"]

    action, body = submit(newsroom, CHIEF, GOOD)
    assert action == "close" and not body and shown.stack(CHIEF) == []
    [stored] = rows(newsroom)
    with newsroom.store.write() as db:
        db.execute("DELETE FROM schedules")
    private_answer(newsroom, f'schedule add {CHANNEL} "45 7 * * 1-5" tz=Europe/Paris top=5 '
                   'topics=Climate min_quality=60', CHIEF)
    [typed] = rows(newsroom)
    assert {**stored, "id": "?"} == {**typed, "id": "?"}
    assert stored["cron"] == "45 7 * * 1-5" and stored["origin"] == "slack"
    newsroom.slack.wait_until(lambda: newsroom.slack.calls("chat.postEphemeral"))
    note = newsroom.slack.calls("chat.postEphemeral")[0].params
    assert (note["channel"], note["user"]) == (CHANNEL, CHIEF)
    assert note["text"].startswith(f"Scheduled {stored['id']}")


def test_the_advanced_cron_replaces_time_and_days(newsroom: Newsroom):
    newsroom.client.slash_command("/news", "schedule add", user_id=CHIEF, channel_id=CHANNEL)
    opened_modal(newsroom)
    action, _ = submit(newsroom, CHIEF, {**GOOD, "days": [], "cron": "0 6 1 * *",
                                          "kind": "report"})
    assert action == "close"
    assert [(r["cron"], r["kind"]) for r in rows(newsroom)] == [("0 6 1 * *", "report")]


def test_a_non_admin_submission_is_refused(newsroom: Newsroom):
    newsroom.client.slash_command("/news", "schedule add", user_id=CHIEF, channel_id=CHANNEL)
    view = opened_modal(newsroom)
    refused = slack_views.refused_submission(newsroom, EDITOR, view, GOOD)
    assert "Only newsbot admins can add schedules" in refused
    assert rows(newsroom) == []


def test_home_controls_pause_resume_remove_with_confirm(newsroom: Newsroom):
    private_answer(newsroom, f'schedule add {CHANNEL} "0 9 * * 1-5"', CHIEF)
    home = home_of(newsroom, CHIEF)
    controls = buttons(home)
    assert {(PAUSE_ACTION, "s1"), (EDIT_ACTION, "s1"), (REMOVE_ACTION, "s1"),
            (ADD_ACTION, "new"), (SYNC_ACTION, "sync")} <= set(controls)
    confirm = controls[(REMOVE_ACTION, "s1")]["confirm"]
    assert confirm["confirm"]["text"] == "Remove" and confirm["deny"]["text"] == "Keep it"
    assert all(b.get("accessibility_label") for (action, _), b in controls.items()
               if action in (PAUSE_ACTION, EDIT_ACTION, REMOVE_ACTION, ADD_ACTION, SYNC_ACTION))

    home = click(newsroom, CHIEF, home, PAUSE_ACTION, "s1")
    assert "Paused s1" in texts(home["blocks"][0])
    assert rows(newsroom)[0]["enabled"] == 0 and (RESUME_ACTION, "s1") in buttons(home)
    home = click(newsroom, CHIEF, home, RESUME_ACTION, "s1")
    assert rows(newsroom)[0]["enabled"] == 1
    home = click(newsroom, CHIEF, home, REMOVE_ACTION, "s1")
    assert "Removed s1" in texts(home["blocks"][0]) and rows(newsroom) == []


def test_home_shows_editors_no_controls_and_refuses_a_forged_click(newsroom: Newsroom):
    private_answer(newsroom, f'schedule add {CHANNEL} "0 9 * * 1-5"', CHIEF)
    home = home_of(newsroom, EDITOR)
    assert not {a for a, _ in buttons(home)} & {PAUSE_ACTION, REMOVE_ACTION, ADD_ACTION,
                                                 SYNC_ACTION, EDIT_ACTION}
    home = click(newsroom, EDITOR, home, REMOVE_ACTION, "s1")
    assert "Only newsbot admins can remove schedules" in texts(home["blocks"][0])
    assert len(rows(newsroom)) == 1


def test_edit_opens_the_same_modal_filled_in_and_saves_in_place(newsroom: Newsroom):
    private_answer(newsroom, f'schedule add {CHANNEL} "30 8 * * 1-5" tz=Europe/Paris top=4 '
                   'topics=Climate', CHIEF)
    home = home_of(newsroom, CHIEF)
    before = len(newsroom.slack.calls("views.publish"))
    newsroom.client.block_action(user_id=CHIEF, action_id=EDIT_ACTION, value="s1", view=home)
    view = opened_modal(newsroom)
    inputs = {b.block_id: b.element for b in sdk_view(view).blocks if b.type == "input"}
    assert inputs["channel"].initial_conversation == CHANNEL
    assert inputs["time"].initial_time == "08:30"
    weekdays = ["mon", "tue", "wed", "thu", "fri"]
    assert [field(o, "value") for o in inputs["days"].initial_options] == weekdays
    assert field(inputs["tz"].initial_option, "value") == "Europe/Paris"
    assert inputs["top"].initial_value == "4"
    assert [field(o, "value") for o in inputs["topics"].initial_options] == ["Climate"]
    assert json.loads(view["private_metadata"])["schedule"] == "s1"
    action, _ = submit(newsroom, CHIEF, {**GOOD, "time": "10:15", "days": ["sat", "sun"],
                                          "topics": []})
    assert action == "close"
    [row] = rows(newsroom)
    assert (row["id"], row["cron"], row["topics"]) == ("s1", "15 10 * * 0,6", "[]")
    home = home_of(newsroom, CHIEF, before)
    assert "Saved s1" in texts(home["blocks"][0])


def test_add_schedule_in_home_opens_the_modal_and_sync_now_syncs(newsroom: Newsroom):
    home = home_of(newsroom, CHIEF)
    newsroom.client.block_action(user_id=CHIEF, action_id=ADD_ACTION, value="new", view=home)
    view = opened_modal(newsroom)
    assert json.loads(view["private_metadata"])["home"] is True
    home = click(newsroom, CHIEF, home, SYNC_ACTION, "sync")
    assert "Nothing to write" in texts(home["blocks"][0]) or "Wrote" in texts(
        home["blocks"][0])


def test_the_home_queue_follows_digest_top(tmp_path: Path):
    with start_newsroom(tmp_path, digest_top=3) as newsroom:
        home = home_of(newsroom, EDITOR)
        assert "The top 3 undecided articles" in texts(home["blocks"])


def test_past_100_topics_the_modal_asks_for_options(newsroom: Newsroom):
    from conftest import Raw, write_article

    write_article(newsroom.config.articles, "many-topics.md",
                  topics=[Raw(f"Topic {n:03d}") for n in range(101)])
    refresh(newsroom.store, newsroom.config.articles)
    newsroom.client.slash_command("/news", "schedule add", user_id=CHIEF, channel_id=CHANNEL)
    view = opened_modal(newsroom)
    topics = next(b for b in sdk_view(view).blocks if b.block_id == "topics").element
    assert isinstance(topics, elements.ExternalDataMultiSelectElement)
    answer = newsroom.client.block_suggestion(user_id=CHIEF, view=view, action_id="topics",
                                              block_id="topics", value="topic 05")
    assert answer.status == 200
    assert [o["value"] for o in answer.body["options"]] == [f"Topic 05{n}" for n in range(10)]
    action, _ = submit(newsroom, CHIEF, {**GOOD, "topics": ["Topic 050"]})
    assert action == "close" and rows(newsroom)[0]["topics"] == '["Topic 050"]'
