"""The subscription and follow modals in the sandbox page, in Debian's Chromium: every
element type they use (channel picker, multi select, text and number inputs, time and
date pickers) renders, is filled in and is submitted, an error is shown beside its input,
and what the page submits is stored. The page and its fixtures are
browser_page.py's."""

from __future__ import annotations

import json
import re

import pytest
from browser_page import (  # noqa: F401  (fixtures: pytest finds them by name here)
    browser,
    chromium,
    config_changes,
    page,
    sandbox,
    type_in,
)
from newsbot.sandbox.runner import Sandbox


@pytest.fixture
def viewport() -> dict:
    return {"width": 1200, "height": 1400}  # the whole follow modal


def label(text: str) -> re.Pattern:
    """An input's label as the page names it (optional ones end with "(optional)")."""
    return re.compile(rf"^{re.escape(text)}( \(optional\))?$")


def home_tab(shown):
    """Open the page's App Home; its region."""
    shown.get_by_role("button", name="newsbot · Home").click()
    return shown.get_by_role("region", name="App Home")


def test_a_follow_and_a_subscription_through_their_modals(page, sandbox: Sandbox):
    from playwright.sync_api import expect

    expect(page.locator(".bk-header")).to_be_visible()
    home = home_tab(page)
    home.get_by_role("button", name="Follow a topic (opens a form)").click()
    modal = page.get_by_role("dialog", name="Follow a topic")
    expect(modal.get_by_label(label("Time zone"))).to_have_value("UTC")  # the member's own
    modal.get_by_label(label("Topics")).select_option(["AI", "Climate"])
    modal.get_by_label(label("Providers")).fill("Example News")
    modal.get_by_label(label("Minimum quality")).fill("50")
    modal.get_by_label(label("Quiet hours from")).fill("22:00")
    for name, kind in (("Quiet hours from", "time"), ("Quiet hours until", "time"),
                       ("Last day", "date"), ("Minimum heat", "text")):
        expect(modal.get_by_label(label(name))).to_have_attribute("type", kind)
    modal.get_by_label(label("Last day")).fill("2027-01-31")
    modal.get_by_role("button", name="Follow", exact=True).click()

    error = modal.locator('[data-block="quiet_to"] .modal-error')
    expect(error).to_contain_text("both ends of the quiet hours")
    expect(modal.locator('[data-block="until"] .modal-error')).to_be_hidden()
    assert sandbox.store.query("SELECT * FROM subscriptions") == []
    modal.get_by_label(label("Quiet hours until")).fill("07:00")
    modal.get_by_role("button", name="Follow", exact=True).click()
    expect(modal).to_be_hidden()
    expect(home).to_contain_text("Following follow1")
    expect(home.get_by_role("button", name="Edit follow follow1")).to_be_visible()
    [row] = sandbox.store.query("SELECT filters, quiet, until FROM subscriptions")
    filters = json.loads(row["filters"])
    assert (filters["topics"], filters["providers"], filters["min_quality"]) == (
        ["AI", "Climate"], ["Example News"], 50.0)
    assert (row["quiet"], row["until"]) == ("22:00-07:00", "2027-01-31")

    page.get_by_role("button", name="# newsroom").click()
    type_in(page, "/news subscribe")  # alone: the form, its channel the one typed in
    modal = page.get_by_role("dialog", name="New subscription")
    expect(modal.get_by_label(label("Channel"))).to_have_value(
        re.compile(r"^C"))  # #newsroom picked
    modal.get_by_label(label("Words")).fill("model")
    modal.get_by_label(label("Minimum heat")).fill("5")
    modal.get_by_role("button", name="Subscribe").click()
    expect(modal).to_be_hidden()
    expect(page.locator(".message.ephemeral")).to_contain_text("Subscribed sub2")
    [row] = sandbox.store.query("SELECT channel, filters FROM subscriptions WHERE member IS NULL")
    assert json.loads(row["filters"])["words"] == "model"
    assert json.loads(row["filters"])["min_heat"] == 5.0
