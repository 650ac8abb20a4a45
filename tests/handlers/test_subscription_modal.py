"""End to end: the subscription and follow modals and their App Home controls, over signed
HTTP against the look-alike, every view checked by slack_sdk's own models."""

from __future__ import annotations

import json

from conftest import (
    CHANNEL,
    CHIEF,
    EDITOR,
    Newsroom,
    Raw,
    private_answer,
    run_cli,
    texts,
    write_article,
)
from newsbot.bot.newsroom.subscription_filters import Filters
from newsbot.bot.newsroom.subscriptions import SubscriptionSpec, add_subscription, list_follows
from newsbot.handlers.listeners import home_subscriptions as home_controls
from newsbot.sandbox.workspace import dm_channel_id
from newsbot.storage.index import refresh
from slack_sdk.models.blocks import block_elements as elements
from slack_views import (
    OUTSIDE,
    buttons,
    click,
    field,
    home_of,
    opened_modal,
    refused_submission,
    sdk_view,
    submit,
)

ADD, EDIT, REMOVE = (home_controls.ADD_SUBSCRIPTION_ACTION,
                     home_controls.EDIT_SUBSCRIPTION_ACTION,
                     home_controls.REMOVE_SUBSCRIPTION_ACTION)
FOLLOW, EDIT_FOLLOW, UNFOLLOW = (home_controls.FOLLOW_ACTION, home_controls.EDIT_FOLLOW_ACTION,
                                 home_controls.UNFOLLOW_ACTION)
TEXT, NUMBER, TIME = (elements.PlainTextInputElement, elements.NumberInputElement,
                      elements.TimePickerElement)
FILTER_ELEMENTS = {  # the same blocks in both modals
    "topics": elements.StaticMultiSelectElement, "providers": TEXT, "words": TEXT,
    "exclude_topics": TEXT, "exclude_words": TEXT, "min_quality": NUMBER, "min_heat": NUMBER,
    "quiet_from": TIME, "quiet_to": TIME, "tz": elements.StaticSelectElement}
GOOD = {"channel": CHANNEL, "topics": ["Climate", "AI"], "providers": "Example News, AP",
        "words": "model", "exclude_topics": "Sport", "exclude_words": "opinion",
        "min_quality": "60", "min_heat": "5", "quiet_from": "22:00", "quiet_to": "07:00",
        "tz": "Europe/Paris"}
TYPED = (f'subscribe {CHANNEL} topics=Climate,AI providers="Example News, AP" words=model '
         "exclude_topics=Sport exclude_words=opinion min_quality=60 min_heat=5 "
         "quiet=22:00-07:00 tz=Europe/Paris")


def inputs(view: dict) -> dict:
    return {b.block_id: b.element for b in sdk_view(view).blocks if b.type == "input"}


def stored(newsroom: Newsroom) -> list[dict]:
    """`newsbot subscriptions --json`, run on the app's database."""
    listed = run_cli("subscriptions", "--json", "--db", str(newsroom.config.db),
                     cwd=newsroom.config.db.parent)
    assert listed.code == 0, listed.stderr
    return listed.json["subscriptions"]


def follows(newsroom: Newsroom, member: str = EDITOR) -> list[dict]:
    return newsroom.store.query("SELECT id, channel, member, filters, quiet, tz, until"
                                " FROM subscriptions WHERE member = ? ORDER BY seq", [member])


def backlog(newsroom: Newsroom) -> list[tuple[str, str]]:
    return [(r["subscription_id"], r["article_id"]) for r in newsroom.store.query(
        "SELECT subscription_id, article_id FROM alerts WHERE state = 'backlog' ORDER BY 2")]


def test_subscribe_alone_opens_the_modal_with_its_elements(newsroom: Newsroom):
    answer = newsroom.client.slash_command("/news", "subscribe", user_id=CHIEF,
                                           channel_id=CHANNEL)
    assert answer.status == 200 and not answer.body
    view = opened_modal(newsroom)
    found = inputs(view)
    assert {k: type(v) for k, v in found.items()} == {
        "channel": elements.ConversationSelectElement, **FILTER_ELEMENTS}
    assert field(found["channel"].filter, "include") == ["public", "private"]
    assert found["channel"].initial_conversation == CHANNEL  # where it was typed
    assert "Climate" in [field(o, "value") for o in found["topics"].options]
    assert found["min_quality"].is_decimal_allowed is True
    assert field(found["tz"].initial_option, "value") == "America/New_York"  # users.info
    assert all(len(field(g, "options")) <= 100 for g in found["tz"].option_groups)
    assert not newsroom.slack.response_posts()


def test_a_non_admin_gets_the_admin_check_answer_and_no_modal(newsroom: Newsroom):
    typed = texts(private_answer(newsroom, "subscribe topics=AI", EDITOR).payload["blocks"])
    alone = texts(private_answer(newsroom, "subscribe", EDITOR).payload["blocks"])
    assert "Only newsbot admins can subscribe channels" in alone and alone == typed
    assert not newsroom.slack.calls("views.open")
    newsroom.client.slash_command("/news", "subscribe", user_id=CHIEF, channel_id=CHANNEL)
    view = opened_modal(newsroom)
    assert "Only newsbot admins can subscribe" in refused_submission(newsroom, EDITOR, view, GOOD)
    assert stored(newsroom) == []


def test_every_error_at_once_then_the_form_stores_what_typing_would(newsroom: Newsroom):
    newsroom.slack.workspace.add_channel("sports", OUTSIDE, bot_is_member=False)
    newsroom.client.slash_command("/news", "subscribe", user_id=CHIEF, channel_id=CHANNEL)
    opened_modal(newsroom)
    action, body = submit(newsroom, CHIEF, {**GOOD, "channel": OUTSIDE, "words": "!!",
                                             "min_heat": "hot", "quiet_to": ""})
    assert action == "errors"
    errors = body["errors"]
    assert set(errors) == {"channel", "words", "min_heat", "quiet_to"}
    assert "invite @newsbot there first" in errors["channel"]
    modals = newsroom.slack.workspace.modals
    assert modals.errors(modals.top(CHIEF)["id"]) == errors  # beside the inputs
    assert stored(newsroom) == []

    action, body = submit(newsroom, CHIEF, GOOD)
    assert action == "close" and not body and modals.stack(CHIEF) == []
    [from_form] = stored(newsroom)
    form_backlog = backlog(newsroom)
    assert form_backlog  # what matched when it was made is never alerted
    newsroom.slack.wait_until(lambda: newsroom.slack.calls("chat.postEphemeral"))
    note = newsroom.slack.calls("chat.postEphemeral")[0].params
    assert (note["channel"], note["user"]) == (CHANNEL, CHIEF)
    assert note["text"].startswith("Subscribed sub1:")

    newsroom.client.slash_command("/news", "subscribe", user_id=CHIEF, channel_id=CHANNEL)
    opened_modal(newsroom, 1)
    action, body = submit(newsroom, CHIEF, GOOD)  # the same filters twice would alert twice
    assert action == "errors" and "same articles as sub1" in body["errors"]["channel"]

    with newsroom.store.write() as db:
        db.execute("DELETE FROM subscriptions")
        db.execute("DELETE FROM alerts")
    private_answer(newsroom, TYPED, CHIEF)
    [typed] = stored(newsroom)
    assert {**from_form, "id": "?"} == {**typed, "id": "?"}
    assert [a for _, a in backlog(newsroom)] == [a for _, a in form_backlog]


def test_home_lists_subscriptions_for_admins_with_edit_remove_and_add(newsroom: Newsroom):
    private_answer(newsroom, f"subscribe {CHANNEL} topics=AI", CHIEF)
    home = home_of(newsroom, CHIEF)
    controls = buttons(home)
    assert {(EDIT, "sub1"), (REMOVE, "sub1"),
            (ADD, "new")} <= set(controls)
    confirm = controls[(REMOVE, "sub1")]["confirm"]
    assert confirm["confirm"]["text"] == "Remove" and confirm["deny"]["text"] == "Keep it"
    assert all(button.get("accessibility_label") for button in controls.values())

    editors = home_of(newsroom, EDITOR)
    assert not {a for a, _ in buttons(editors)} & {
        EDIT, REMOVE, ADD}
    editors = click(newsroom, EDITOR, editors, REMOVE, "sub1")
    assert "Only newsbot admins can unsubscribe" in texts(editors["blocks"][0])
    editors = click(newsroom, EDITOR, editors, EDIT, "sub1")  # a forged Edit: no form
    assert "Only newsbot admins can subscribe" in texts(editors["blocks"][0])
    assert not newsroom.slack.calls("views.open")
    assert len(stored(newsroom)) == 1

    home = click(newsroom, CHIEF, home, REMOVE, "sub1")
    assert "Removed sub1" in texts(home["blocks"][0]) and stored(newsroom) == []

    before = len(newsroom.slack.calls("views.open"))
    newsroom.client.block_action(user_id=CHIEF, action_id=ADD,
                                 value="new", view=home)
    view = opened_modal(newsroom, before)
    assert json.loads(view["private_metadata"])["home"] is True
    assert inputs(view)["channel"].initial_conversation is None


def test_edit_opens_the_form_filled_in_and_keeps_the_id(newsroom: Newsroom):
    private_answer(newsroom, TYPED, CHIEF)
    home = home_of(newsroom, CHIEF)
    before = len(newsroom.slack.calls("views.publish"))
    newsroom.client.block_action(user_id=CHIEF, action_id=EDIT,
                                 value="sub1", view=home)
    view = opened_modal(newsroom)
    found = inputs(view)
    assert found["channel"].initial_conversation == CHANNEL
    assert [field(o, "value") for o in found["topics"].initial_options] == ["Climate", "AI"]
    assert (found["providers"].initial_value, found["words"].initial_value) == (
        "Example News, AP", "model")
    assert (found["min_quality"].initial_value, found["quiet_from"].initial_time,
            found["quiet_to"].initial_time) == ("60", "22:00", "07:00")
    assert field(found["tz"].initial_option, "value") == "Europe/Paris"
    assert json.loads(view["private_metadata"])["subscription"] == "sub1"
    action, _ = submit(newsroom, CHIEF, {**GOOD, "topics": ["AI"], "quiet_from": "",
                                          "quiet_to": "", "min_heat": ""})
    assert action == "close"
    [edited] = stored(newsroom)
    assert (edited["id"], edited["filters"]["topics"], edited["quiet"],
            edited["filters"]["min_heat"], edited["created_by"]) == (
        "sub1", ["AI"], None, None, CHIEF)
    home = home_of(newsroom, CHIEF, before)
    assert "Saved sub1" in texts(home["blocks"][0])


def test_follow_alone_or_from_home_stores_a_follow_and_edit_keeps_its_id(newsroom: Newsroom):
    newsroom.client.slash_command("/news", "follow", user_id=EDITOR, channel_id=CHANNEL)
    view = opened_modal(newsroom, user=EDITOR)
    found = inputs(view)
    assert {k: type(v) for k, v in found.items()} == {
        **FILTER_ELEMENTS, "until": elements.DatePickerElement}  # no channel: by DM
    assert field(found["tz"].initial_option, "value") == "Europe/Berlin"  # the member's
    newsroom.slack.workspace.modals.close(EDITOR)

    home = home_of(newsroom, EDITOR)
    assert (FOLLOW, "new") in buttons(home)
    newsroom.client.block_action(user_id=EDITOR, action_id=FOLLOW, value="new",
                                 view=home)
    opened_modal(newsroom, 1, EDITOR)
    entered = {k: v for k, v in GOOD.items() if k != "channel"}
    action, body = submit(newsroom, EDITOR, {**entered, "until": "2027-01-31"})
    assert action == "close" and not body
    [row] = follows(newsroom)
    assert (row["id"], row["channel"], row["until"], row["tz"]) == (
        "follow1", dm_channel_id(EDITOR), "2027-01-31", "Europe/Paris")
    assert json.loads(row["filters"])["topics"] == ["Climate", "AI"]

    home = home_of(newsroom, EDITOR)
    assert {(EDIT_FOLLOW, "follow1"), (UNFOLLOW, "follow1")} <= set(buttons(home))
    newsroom.client.block_action(user_id=EDITOR, action_id=EDIT_FOLLOW,
                                 value="follow1", view=home)
    view = opened_modal(newsroom, 2, EDITOR)
    assert inputs(view)["until"].initial_date == "2027-01-31"
    action, _ = submit(newsroom, EDITOR, {**entered, "topics": ["AI"], "until": ""})
    assert action == "close"
    [row] = follows(newsroom)
    assert (row["id"], row["channel"], row["until"]) == ("follow1", dm_channel_id(EDITOR), None)
    assert json.loads(row["filters"])["topics"] == ["AI"]
    opened = len(newsroom.slack.calls("views.open"))  # nobody edits someone else's follow
    newsroom.slack.wait_until(lambda: "Saved follow1" in texts(  # confirmed on the Home tab
        (newsroom.slack.workspace.home_view(EDITOR) or {}).get("blocks", [])))
    chiefs = click(newsroom, CHIEF, home, EDIT_FOLLOW, "follow1")
    assert "no follow with id 'follow1'" in texts(chiefs["blocks"][0])
    assert len(newsroom.slack.calls("views.open")) == opened


def test_the_follow_forms_confirmation_says_where_alerts_come_from_where_it_shows(
        newsroom: Newsroom):
    """Submitted from `/news follow` typed in a channel, the form is confirmed privately
    in that channel, which is not where alerts come; from App Home, on the Home tab."""
    newsroom.client.slash_command("/news", "follow", user_id=EDITOR, channel_id=CHANNEL)
    opened_modal(newsroom, user=EDITOR)
    assert submit(newsroom, EDITOR, {"topics": ["AI"]})[0] == "close"
    newsroom.slack.wait_until(lambda: newsroom.slack.workspace.ephemeral_messages(EDITOR))
    [confirmed] = newsroom.slack.workspace.ephemeral_messages(EDITOR)
    assert confirmed["channel"] == CHANNEL and confirmed["text"].startswith("Following follow1")
    assert confirmed["text"].endswith("alerts come to you alone, by direct message from newsbot")

    home = home_of(newsroom, EDITOR)
    newsroom.client.block_action(user_id=EDITOR, action_id=FOLLOW, value="new", view=home)
    opened_modal(newsroom, 1, EDITOR)
    assert submit(newsroom, EDITOR, {"topics": ["Climate"]})[0] == "close"
    newsroom.slack.wait_until(lambda: "Following follow2" in texts(
        (newsroom.slack.workspace.home_view(EDITOR) or {}).get("blocks", [])))
    shown = texts(newsroom.slack.workspace.home_view(EDITOR)["blocks"])
    assert "by direct message from newsbot" in shown and "come here" not in shown


def test_the_twenty_first_follow_is_refused_beside_the_form(newsroom: Newsroom):
    for n in range(20):
        add_subscription(newsroom.store, SubscriptionSpec(
            dm_channel_id(EDITOR), Filters(min_quality=n), member=EDITOR))
    home = home_of(newsroom, EDITOR)
    assert (FOLLOW, "new") not in buttons(home)  # no room left for one
    newsroom.client.slash_command("/news", "follow", user_id=EDITOR, channel_id=CHANNEL)
    opened_modal(newsroom, user=EDITOR)
    action, body = submit(newsroom, EDITOR, {"topics": ["AI"], "tz": "UTC"})
    assert action == "errors" and set(body["errors"]) == {"topics"}
    assert "You already have 20 follows" in body["errors"]["topics"]
    assert len(follows(newsroom)) == 20


def test_follows_past_the_home_tabs_room_are_listed_without_buttons(store):
    for n in range(20):
        add_subscription(store, SubscriptionSpec("D0ANA", Filters(min_heat=n), member="U0ANA"))
    shown = home_controls.follow_blocks(list_follows(store, "U0ANA"), room=15)
    assert len(shown) <= 15
    assert [b for b, _ in buttons({"blocks": shown})].count(EDIT_FOLLOW) == 5
    assert "follow20" in texts(shown[-1]) and "/news unfollow ID" in texts(shown[-1])
    roomy = home_controls.follow_blocks(list_follows(store, "U0ANA"), room=100)
    assert [b for b, _ in buttons({"blocks": roomy})].count(UNFOLLOW) == 20


def test_past_100_topics_the_follow_form_looks_them_up(newsroom: Newsroom):
    names = [Raw(f"Beat {n:03d}") for n in range(101)]
    write_article(newsroom.config.articles, "beats.md", topics=names)
    refresh(newsroom.store, newsroom.config.articles)
    newsroom.client.slash_command("/news", "follow", user_id=EDITOR, channel_id=CHANNEL)
    view = opened_modal(newsroom, user=EDITOR)
    assert isinstance(inputs(view)["topics"], elements.ExternalDataMultiSelectElement)
    found = newsroom.client.block_suggestion(user_id=EDITOR, view=view, action_id="topics",
                                             block_id="topics", value="beat 10")
    assert [o["value"] for o in found.body["options"]] == ["Beat 100"]
    action, _ = submit(newsroom, EDITOR, {"topics": ["Beat 100"], "tz": "UTC"})
    assert action == "close"
    assert json.loads(follows(newsroom)[0]["filters"])["topics"] == ["Beat 100"]
