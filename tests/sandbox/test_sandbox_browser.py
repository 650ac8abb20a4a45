"""The sandbox page in a real headless browser: Debian's Chromium driven by Playwright.

Playwright drives the system Chromium (`executable_path`); it never downloads a browser.
.ci/run installs Chromium when /usr/bin/chromium is missing. Requests that leave
127.0.0.1 (article thumbnails) are aborted, so the test needs no network and shows the
page's fallback for images that cannot load.

SANDBOX_SCREENSHOTS=$PWD/docs saves the screenshots the README shows (sandbox.png,
sandbox-thread.png, sandbox-home.png, sandbox-narrow.png, sandbox-alerts.png).
"""

from __future__ import annotations

import datetime as dt
import difflib
import os
import re
from pathlib import Path

import pytest
from browser_page import (  # noqa: F401  (fixtures: pytest finds them by name here)
    HOSTILE_TITLE,
    REDRAWN_MS,
    browser,
    chromium,
    config_changes,
    page,
    sandbox,
    screenshot,
    type_in,
    viewport,
)
from conftest import Raw, run_cli, write_article
from newsbot.sandbox.runner import CHANNEL_ID, Sandbox


def open_thread(page):
    """Open the digest's thread in the side panel; returns the panel."""
    from playwright.sync_api import expect

    page.get_by_role("button", name="10 replies").click()
    panel = page.get_by_role("complementary", name="Thread")
    expect(panel.locator(".message")).to_have_count(11)  # the header and its 10 articles
    return panel


def card(panel, title: str):
    return panel.locator(".message", has_text=title)


def test_react_with_publish_then_sync_from_the_page_edits_one_line(page, sandbox: Sandbox):
    from playwright.sync_api import expect

    first = sandbox.digest.messages[0]
    path = sandbox.config.articles / first.article.id
    original = path.read_text(encoding="utf-8")

    expect(page.locator(".bk-header")).to_have_text(sandbox.digest.title)
    thread = open_thread(page)
    article = thread.locator(".message").nth(1)
    expect(article.get_by_role("link", name=first.article.title)).to_be_visible()
    expect(article.get_by_role("button", name=re.compile(r"^Publish "))).to_be_visible()
    # the example's image is the bundled copy, served by the page (the test allows no network)
    thumbnail = article.locator(".bk-thumb img")
    expect(thumbnail).to_have_attribute("src", re.compile(r"^/images/.+\.svg$"))
    page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                           arg=thumbnail.element_handle())

    article.get_by_role("button", name="Add reaction").click()
    picker = page.get_by_role("dialog", name="Pick a reaction")
    expect(picker.get_by_role("button", name="white_check_mark")).to_contain_text("publish")
    expect(picker.get_by_role("button", name="x", exact=True)).to_contain_text("skip")
    picker.get_by_role("button", name="white_check_mark").click()
    expect(article).to_contain_text("Published by @you")  # the bot's chat.update, drawn live
    expect(article.get_by_role("button", name=re.compile(r"^Published: "))).to_be_visible()
    expect(article.get_by_role("button", name="Undo")).to_be_visible()
    reaction = article.get_by_role("button", name="white_check_mark: 1")
    expect(reaction).to_have_attribute("aria-pressed", "true")
    # the emoji is a bundled image that loaded, not a character of some font
    emoji = reaction.locator("img.emoji")
    expect(emoji).to_have_attribute("src", "/emoji/white_check_mark.svg")
    assert emoji.evaluate("img => img.complete && img.naturalWidth > 0")
    expect(article).to_contain_text("(edited)")
    screenshot(page, "sandbox-thread.png")

    page.get_by_role("button", name="Sync to files").click()
    panel = page.get_by_role("complementary", name="Sync to files")
    expect(page.get_by_role("complementary", name="Thread")).to_be_hidden()  # one at a time
    expect(panel.locator(".diff-removed")).to_have_text("-published: false")
    expect(panel.locator(".diff-added")).to_have_text("+published: true")
    screenshot(page, "sandbox.png")
    assert path.read_text(encoding="utf-8") == original  # the preview wrote nothing

    panel.get_by_role("button", name="Run sync").click()
    expect(panel.get_by_role("status")).to_contain_text("Wrote 1 file, ")
    expect(panel.get_by_role("status")).to_contain_text(first.article.id)
    expect(panel.locator(".diff-none")).to_contain_text("Nothing to write")

    changed = [line for line in difflib.unified_diff(
        original.splitlines(), path.read_text(encoding="utf-8").splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    assert changed == ["-published: false", "+published: true"]


def test_a_news_command_typed_in_the_page_shows_a_private_answer(page, sandbox: Sandbox):
    from playwright.sync_api import expect

    expect(page.locator(".bk-header")).to_be_visible()
    box = page.get_by_role("textbox", name="Message")
    box.fill("/news topics")
    box.press("Enter")
    answer = page.locator(".message.ephemeral")
    expect(answer).to_contain_text("Only visible to you")
    expect(answer).to_contain_text("Climate: 9 unpublished of 11")
    expect(box).to_have_value("")

    box.fill("/nonsense")
    box.press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("/nonsense is not a valid command")


def test_text_from_files_and_people_is_shown_as_text_never_as_markup(page, sandbox: Sandbox):
    from playwright.sync_api import expect

    expect(page.locator(".bk-header")).to_be_visible()
    box = page.get_by_role("textbox", name="Message")
    box.fill("/news topic Oddities")
    box.press("Enter")
    answer = page.locator(".message.ephemeral")
    expect(answer).to_contain_text(HOSTILE_TITLE)  # every character shown as typed
    assert answer.locator("img, script, .mention").count() == 0
    assert answer.locator("a").count() == 0  # a javascript: URL is no link

    box.fill('<img src=x onerror="document.title=1"> *bold* & <https://example.org|a link>')
    box.press("Enter")
    mine = page.locator(".message", has_text="bold").last
    expect(mine).to_contain_text('<img src=x onerror="document.title=1">')
    expect(mine).to_contain_text("& <https://example.org|a link>")
    expect(mine.locator("b")).to_have_text("bold")
    shown = mine.locator(".text")  # the message's text (the bar below has the ☺+ image)
    assert shown.locator("img").count() == 0
    # typed <...|...> is no mrkdwn link; only the bare URL in it is linked, as Slack does
    expect(shown.locator("a")).to_have_count(1)
    expect(shown.locator("a")).to_have_text("https://example.org")
    assert page.title() == "newsbot sandbox"


def test_a_bare_url_is_a_link_as_in_slack_but_not_in_code_nor_in_verbatim_text(
        page, sandbox: Sandbox):
    from playwright.sync_api import expect

    expect(page.locator(".bk-header")).to_be_visible()
    type_in(page, "Read https://news.test/a?b=1&c=2. Then *https://news.test/bold*, "
                  "(see https://en.wikipedia.org/wiki/Mercury_(planet)) `https://news.test/code` "
                  "javascript:alert(1) https://news.test/x<img src=x onerror=alert(1)> "
                  'https://news.test/q"onmouseover="alert(1) end')
    shown = page.locator(".message", has_text="Read https").last.locator(".text")
    links = shown.locator("a")
    expect(links).to_have_count(5)
    expected = ["https://news.test/a?b=1&c=2", "https://news.test/bold",
                "https://en.wikipedia.org/wiki/Mercury_(planet)", "https://news.test/x",
                'https://news.test/q"onmouseover="alert(1)']  # a quote is no way out
    assert [(a.get_attribute("href"), a.inner_text()) for a in links.all()] == [
        (url, url) for url in expected]
    assert all(a.evaluate("a => a.getAttributeNames()") == ["href", "target", "rel"]
               and a.get_attribute("rel") == "noopener noreferrer" for a in links.all())
    expect(shown.locator("b > a")).to_have_text("https://news.test/bold")
    expect(shown.locator("code")).to_have_text("https://news.test/code")  # no link in code
    # the full stop, comma and bracket are the sentence's; the rest shows as typed, as text
    expect(shown).to_contain_text("https://news.test/a?b=1&c=2. Then https://news.test/bold, "
                                  "(see https://en.wikipedia.org/wiki/Mercury_(planet)) ")
    expect(shown).to_contain_text("javascript:alert(1) https://news.test/x"
                                  "<img src=x onerror=alert(1)> https://news.test/q")
    assert shown.locator("img").count() == 0
    assert page.title() == "newsbot sandbox"

    # in an app's mrkdwn text object, `verbatim: true` leaves a URL as text, as in Slack
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "verbatim": verbatim,
                                           "text": f"verbatim {verbatim}: https://news.test/v"}}
              for verbatim in (True, False)]
    posted = sandbox.slack.call("chat.postMessage", sandbox.slack.bot_token,
                                channel=CHANNEL_ID, text="verbatim", blocks=blocks)
    assert posted["ok"], posted
    app = page.locator(".message", has_text="verbatim True")
    expect(app.locator(".bk-section", has_text="verbatim False").locator("a")).to_have_text(
        "https://news.test/v")
    assert app.locator(".bk-section", has_text="verbatim True").locator("a").count() == 0


def test_a_decision_on_each_surface_shows_on_the_channel_message(page, sandbox: Sandbox):
    """Skip from App Home, Publish from a /news answer, `newsbot decide` on the command line:
    each changes the article's message in #newsroom within 5 seconds."""
    from playwright.sync_api import expect

    thread = open_thread(page)

    # App Home: Skip on the first article of the queue
    page.get_by_role("button", name="newsbot · Home").click()
    home = page.get_by_role("region", name="App Home")
    first = home.locator(".bk-section-text a").first
    expect(first).to_be_visible()
    skipped = first.inner_text()
    home.get_by_role("button", name=re.compile(r"^Skip ")).first.click()
    expect(home).to_contain_text(f"Recorded: skip {skipped}")
    screenshot(page, "sandbox-home.png")
    page.get_by_role("button", name="# newsroom").click()
    expect(card(thread, skipped)).to_contain_text("Skipped by @you", timeout=REDRAWN_MS)
    skipped_button = card(thread, skipped).get_by_role("button", name=re.compile(r"^Skipped: "))
    expect(skipped_button).to_be_visible()

    # a /news answer: Publish on its first article
    box = page.get_by_role("textbox", name="Message")
    box.fill("/news digest")
    box.press("Enter")
    answer = page.locator(".message.ephemeral")
    expect(answer).to_contain_text("Only visible to you")
    published = answer.locator(".bk-section-text a").first.inner_text()
    assert published != skipped
    answer.get_by_role("button", name=re.compile(r"^Publish ")).first.click()
    expect(card(thread, published)).to_contain_text("Published by @you", timeout=REDRAWN_MS)

    # the command line, in another process on the same database
    third = next(m.article for m in sandbox.digest.messages
                 if m.article.title not in (skipped, published))
    done = run_cli("decide", third.id, "publish", "--user", "ana", "--db",
                   str(sandbox.config.db), "--articles", str(sandbox.config.articles),
                   cwd=Path.cwd())
    assert done.code == 0, done.stderr
    expect(card(thread, third.title)).to_contain_text("Published by ana", timeout=REDRAWN_MS)
    expect(card(thread, third.title)).to_contain_text("not in the file yet")


@pytest.mark.parametrize("viewport", [{"width": 700, "height": 800}])
def test_the_layout_holds_at_700_pixels_with_a_side_panel_open(page, sandbox: Sandbox):
    from playwright.sync_api import expect

    thread = open_thread(page)
    title = thread.locator(".message").nth(1).locator(".bk-section-text a")
    expect(title).to_be_visible()
    assert title.bounding_box()["width"] > 150  # never one letter per line
    screenshot(page, "sandbox-narrow.png")
    page.get_by_role("button", name="Sync to files").click()
    expect(page.get_by_role("complementary", name="Sync to files")).to_be_visible()
    main = page.get_by_role("main").bounding_box()
    assert main["width"] >= 450  # the panel floats over the messages, it does not squeeze them
    header = page.get_by_role("region", name="Messages").locator(".bk-header")
    assert header.bounding_box()["width"] > 300
    assert page.evaluate("document.documentElement.scrollWidth") <= 700


def test_news_report_in_the_page_shows_the_uploaded_chart(page, sandbox: Sandbox):
    """The chart goes through the look-alike's three-step upload and the page shows it.
    REPORT_SCREENSHOT=docs/report.png saves the screenshot the README shows."""
    from playwright.sync_api import expect

    thread = open_thread(page)
    first = thread.locator(".message").nth(1)  # the header's first article
    first.get_by_role("button", name=re.compile(r"^Skip ")).click()
    expect(first).to_contain_text("Skipped by @you", timeout=REDRAWN_MS)
    box = page.get_by_role("textbox", name="Message")
    box.fill("/news report")
    box.press("Enter")
    answer = page.locator(".message.ephemeral")
    expect(answer).to_contain_text("Editorial report, last 7 days")
    expect(answer).to_contain_text("1 decided (0 published, 1 skipped)")
    chart = answer.locator(".bk-image.file img")
    expect(chart).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                           arg=chart.element_handle())
    assert chart.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [1200, 675]
    assert "/files/F" in chart.get_attribute("src")
    assert [c.method for c in sandbox.slack.calls() if c.method.startswith("files.")
            or c.method == "upload"] == ["files.getUploadURLExternal", "upload",
                                         "files.completeUploadExternal"]
    screenshot = os.environ.get("REPORT_SCREENSHOT")
    if screenshot:
        answer.scroll_into_view_if_needed()
        page.screenshot(path=screenshot)


def test_a_schedule_added_in_the_page_posts_its_digest_there_at_its_time(page, sandbox: Sandbox):
    """The sandbox runs serve's scheduler (bot/app/runtime.py): a schedule for the coming
    minute, typed as `/news schedule add`, posts its digest into the channel on the page."""
    from playwright.sync_api import expect

    expect(page.locator(".bk-header")).to_have_count(1)  # the digest posted at start
    # the minute of now + 65 s starts 5 to 65 s from now: after the schedule exists
    at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=65)
    box = page.get_by_role("textbox", name="Message")
    box.fill(f'/news schedule add #newsroom "{at.minute} {at.hour} * * *" tz=UTC top=2')
    box.press("Enter")
    expect(page.locator(".message.ephemeral")).to_contain_text("Scheduled s1")
    scheduled = page.locator(".bk-header", has_text="Top 2 unpublished articles")
    expect(scheduled).to_be_visible(timeout=80_000)
    expect(page.locator(".bk-header")).to_have_count(2)


# ---- alerts: a second channel and the DM with the bot

NEW_STORIES = [  # distinct titles, excerpts and URLs: each its own story
    ("Zebra crossing census finds striped herds in Leeds", "Volunteers counted the animals."),
    ("Harbour seals learn to open the fish market doors", "Traders changed the locks twice."),
    ("Glacier choir records an album inside an ice cave", "The acoustics surprised the singers."),
    ("Beekeepers map every rooftop hive in Marseille", "The survey took three summers."),
    ("Night trains return to the Carpathian valleys", "Tickets sold out within an hour."),
    ("Chess club in a lighthouse wins the regional league", "Its keeper plays first board."),
    ("Snow leopards return to the Altai foothills", "Camera traps saw four cubs."),
]


def new_article(folder: Path, rel_path: str, title: str, excerpt: str, topic: str) -> Path:
    """A new article on `topic`, published a minute ago: no copy of any other."""
    published = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    slug = re.sub(r"[^a-z]+", "-", title.lower()).strip("-")
    return write_article(folder, rel_path, title=title, excerpt=excerpt, quality=90, heat=40,
                         topics=[Raw(topic)], publishedDateTime=Raw(published),
                         webUrl=f"https://wire.example.org/{slug}", related=[])


def test_a_file_dropped_into_the_folder_shows_as_an_alert_in_the_subscribed_channel(
        page, sandbox: Sandbox, tmp_path: Path):
    """#newsdesk subscribed from the page's /news box; one file alerts one message, six
    moved in at once alert one burst message whose thread holds the six."""
    from playwright.sync_api import expect

    expect(page.locator(".bk-header")).to_have_count(1)  # #newsroom, with its digest
    page.get_by_role("button", name="# newsdesk").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("# newsdesk")
    messages = page.get_by_role("region", name="Messages")
    expect(messages.locator(".hint.empty")).to_contain_text(str(sandbox.state()["articles"]))
    type_in(page, "/news subscribe topics=AI")
    expect(page.locator(".message.ephemeral")).to_contain_text("Subscribed sub1")
    expect(messages.locator(".message:not(.ephemeral)")).to_have_count(0)  # no backlog

    title, excerpt = NEW_STORIES[0]
    new_article(sandbox.config.articles, "incoming/zebra.md", title, excerpt, "AI")
    alert = messages.locator(".message:not(.ephemeral)", has_text=title)
    expect(alert.get_by_role("link", name=title)).to_be_visible()
    alert.get_by_role("button", name=re.compile(r"^Publish ")).click()
    expect(alert).to_contain_text("Published by @you")  # a decision like any other

    batch = tmp_path / "batch"  # written outside, then moved in: one event, one burst
    for index, (title, excerpt) in enumerate(NEW_STORIES[1:]):
        new_article(batch, f"story{index}.md", title, excerpt, "AI")
    batch.rename(sandbox.config.articles / "batch")
    burst = messages.locator(".message", has_text="6 new articles on AI")
    expect(burst).to_be_visible()
    page.get_by_role("button", name="6 replies").click()
    thread = page.get_by_role("complementary", name="Thread")
    expect(thread.get_by_role("heading")).to_contain_text("# newsdesk")
    expect(thread.locator(".message")).to_have_count(7)  # the burst's header and its six
    for title, _ in NEW_STORIES[1:]:
        expect(thread.get_by_role("link", name=title)).to_be_visible()
    screenshot(page, "sandbox-alerts.png")


def test_a_follow_alerts_by_dm_and_the_sidebar_marks_it_new(page, sandbox: Sandbox):
    from playwright.sync_api import expect

    expect(page.locator(".bk-header")).to_have_count(1)
    dm = page.get_by_role("list", name="Direct messages").get_by_role("button")
    expect(dm).to_have_text("newsbot")
    type_in(page, "/news follow topics=Wildlife")  # typed in #newsroom: alerts go by DM
    expect(page.locator(".message.ephemeral")).to_contain_text("Following")

    title, excerpt = NEW_STORIES[0]
    new_article(sandbox.config.articles, "incoming/zebra.md", title, excerpt, "Wildlife")
    expect(dm).to_have_accessible_name("newsbot 1 new")  # while #newsroom is open
    dm.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("newsbot")
    expect(dm).to_have_accessible_name("newsbot")  # seen
    alert = page.get_by_role("region", name="Messages").locator(".message", has_text=title)
    expect(alert.get_by_role("link", name=title)).to_be_visible()
    expect(alert.get_by_role("button", name=re.compile(r"^Publish "))).to_be_visible()
    expect(page.get_by_role("textbox", name="Message")).to_have_attribute(
        "placeholder", "Message newsbot, or try /news help")


@pytest.mark.parametrize("viewport", [{"width": 1200, "height": 1160}])  # the whole modal
def test_a_schedule_added_through_the_modal_with_an_error_shown_then_fixed(page, sandbox):
    """App Home's Add schedule opens the modal (views.open); a wrong cron and a wrong number
    are shown beside their inputs at once (response_action errors); fixed, it is stored.
    SANDBOX_SCREENSHOTS also saves docs/schedule-modal.png."""
    from playwright.sync_api import expect

    expect(page.locator(".bk-header")).to_be_visible()
    page.get_by_role("button", name="newsbot · Home").click()
    home = page.get_by_role("region", name="App Home")
    home.get_by_role("button", name="Add schedule").click()
    modal = page.get_by_role("dialog", name="New schedule")
    expect(modal).to_be_visible()
    modal.get_by_label("Channel").select_option(label="# newsroom")
    expect(modal.get_by_label("Time of day")).to_have_value("09:00")
    expect(modal.get_by_role("checkbox", name="Friday")).to_be_checked()
    expect(modal.get_by_role("checkbox", name="Sunday")).not_to_be_checked()
    expect(modal.get_by_label("Time zone")).to_have_value("UTC")  # the admin's own zone
    modal.get_by_label("Topics").select_option(["Climate", "AI"])
    modal.get_by_label("Number of articles").fill("0")
    modal.get_by_label("Advanced: cron expression").fill("0 25 * * *")
    modal.get_by_role("button", name="Add schedule").click()

    cron_error = modal.locator('[data-block="cron"] .modal-error')
    expect(cron_error).to_contain_text("hour field '25'")
    expect(modal.locator('[data-block="top"] .modal-error')).to_contain_text("1 or more")
    expect(modal.locator('[data-block="channel"] .modal-error')).to_be_hidden()
    expect(modal.get_by_label("Topics")).to_have_values(["AI", "Climate"])  # input kept
    assert sandbox.store.query("SELECT * FROM schedules") == []
    screenshot(page, "schedule-modal.png")

    modal.get_by_label("Advanced: cron expression").fill("")
    modal.get_by_label("Number of articles").fill("5")
    modal.get_by_label("Time of day").fill("07:30")
    modal.get_by_role("button", name="Add schedule").click()
    expect(modal).to_be_hidden()
    expect(home).to_contain_text("Scheduled s1")
    [row] = sandbox.store.query("SELECT cron, tz, top, topics FROM schedules")
    assert row == {"cron": "30 7 * * 1-5", "tz": "UTC", "top": 5,
                   "topics": '["AI", "Climate"]'}
    expect(home.get_by_role("button", name="Pause schedule s1")).to_be_visible()


# ---- a second member, the window at 800 px, reload, link previews and the shortcut


def test_a_member_who_is_not_an_admin_is_refused_what_only_admins_may_do(page, sandbox):
    """Switched to Sam on the page, a /news command reaches the bot signed as Sam: the
    admin check refuses it privately, and App Home shows Sam no admin buttons."""
    from playwright.sync_api import expect

    expect(page.locator(".bk-header")).to_be_visible()
    page.get_by_role("button", name="newsbot · Home").click()
    home = page.get_by_role("region", name="App Home")
    expect(home.get_by_role("button", name="Add schedule")).to_be_visible()  # you: an admin

    members = page.get_by_label("Signed in as")
    members.select_option(label="Sam (reporter, not an admin)")
    expect(page.get_by_role("heading", level=1)).to_have_text("# newsroom")
    type_in(page, '/news schedule add #newsroom "0 9 * * *"')
    answer = page.locator(".message.ephemeral")
    expect(answer).to_contain_text("Only newsbot admins can add schedules")
    assert sandbox.store.query("SELECT * FROM schedules") == []
    [refusal] = sandbox.slack.response_posts()
    assert refusal.target.user == "U0SAM"  # the command came signed as Sam
    page.get_by_role("button", name="newsbot · Home").click()
    expect(home).to_contain_text("Newsroom queue")
    expect(home.get_by_role("button", name="Add schedule")).to_have_count(0)
    expect(home.get_by_role("button", name="Sync now")).to_have_count(0)

    page.reload()  # the page stays signed in as Sam
    expect(page.get_by_label("Signed in as")).to_have_value("U0SAM")
    members = page.get_by_label("Signed in as")
    members.select_option(label="You (sandbox editor)")
    expect(page.locator(".bk-header")).to_be_visible()
    expect(page.locator(".message.ephemeral")).to_have_count(0)  # Sam's answer is Sam's


def overlaps(a: dict, b: dict) -> bool:
    return (a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"]
            and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"])


@pytest.mark.parametrize("viewport", [{"width": 800, "height": 720}])
def test_at_800_pixels_the_chart_fits_its_column_and_the_thread_has_its_own_reply_box(
        page, sandbox: Sandbox):
    """SANDBOX_SCREENSHOTS also saves sandbox-800-report.png (the chart) and
    sandbox-800.png (the thread open, with its reply box)."""
    from playwright.sync_api import expect

    thread = open_thread(page)
    thread.locator(".message").nth(1).get_by_role("button", name=re.compile(r"^Skip ")).click()
    expect(thread.locator(".message").nth(1)).to_contain_text("Skipped by @you")
    thread.get_by_role("button", name="Close thread").click()
    type_in(page, "/news report")
    answer = page.locator(".message.ephemeral")
    chart = answer.locator(".bk-image.file img")
    expect(chart).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                           arg=chart.element_handle())
    column = answer.locator(".body").bounding_box()
    shown = chart.bounding_box()
    assert shown["width"] <= column["width"]
    assert shown["x"] + shown["width"] <= column["x"] + column["width"]
    assert shown["width"] / shown["height"] == pytest.approx(1200 / 675, rel=0.02)  # scaled
    assert page.evaluate("document.documentElement.scrollWidth") <= 800
    messages = page.get_by_role("region", name="Messages")
    assert messages.evaluate("m => m.scrollWidth <= m.clientWidth")
    screenshot(page, "sandbox-800-report.png")

    thread = open_thread(page)
    reply_box = thread.get_by_role("textbox", name="Reply in thread")
    message_box = page.get_by_role("textbox", name="Message")
    expect(reply_box).to_be_visible()
    expect(message_box).to_be_visible()
    panel = thread.bounding_box()
    composer = page.locator("#composer").bounding_box()
    assert not overlaps(panel, composer)  # the panel floats over messages, not the box
    assert not overlaps(reply_box.bounding_box(), composer)
    reply_box.fill("Worth a follow-up?")
    reply_box.press("Enter")
    expect(thread.locator(".message").last).to_contain_text("Worth a follow-up?")
    expect(thread.locator(".message")).to_have_count(12)  # a reply in the thread
    expect(reply_box).to_have_value("")
    stored = sandbox.slack.workspace.messages(CHANNEL_ID)
    [reply] = [m for m in stored if m.get("text") == "Worth a follow-up?"]
    assert reply["user"] == "U0YOU"
    assert reply["thread_ts"] == next(m["ts"] for m in stored if m.get("reply_count"))
    message_box.click()  # not covered by the panel
    screenshot(page, "sandbox-800.png")


def test_a_reload_opens_the_channel_at_its_newest_message_without_ephemeral_answers(
        page, sandbox: Sandbox):
    from playwright.sync_api import expect

    expect(page.locator(".bk-header")).to_be_visible()
    for number in range(1, 31):  # more than the window holds
        sandbox.post_message(CHANNEL_ID, f"Note {number} from the desk")
    messages = page.get_by_role("region", name="Messages")
    newest = messages.locator(".message", has_text="Note 30 from the desk")
    expect(newest).to_be_in_viewport()
    type_in(page, "/news topics")
    expect(page.locator(".message.ephemeral")).to_contain_text("Only visible to you")

    page.reload()
    expect(newest).to_be_in_viewport()
    expect(messages.locator(".bk-header")).not_to_be_in_viewport()  # scrolled, not at the top
    expect(messages.locator(".message", has_text="Note 29 from the desk")).to_be_visible()
    expect(page.locator(".message.ephemeral")).to_have_count(0)  # gone, as in Slack
    assert sandbox.slack.workspace.ephemeral_messages("U0YOU")  # Slack sent it; the client forgot

    type_in(page, "/news topics")  # a new answer shows, at the bottom
    answer = page.locator(".message.ephemeral")
    expect(answer).to_have_count(1)
    expect(answer).to_be_in_viewport()


PREVIEWS = {"unfurl_domains": ("example-news.org",)}


def paste_an_article_link(page, sandbox: Sandbox) -> tuple[dict, object]:
    """Paste a link to an indexed article in #newsroom; returns (its row, the message)."""
    from playwright.sync_api import expect

    expect(page.locator(".bk-header")).to_be_visible()
    [row] = sandbox.store.query("SELECT id, title, web_url FROM articles WHERE web_url LIKE"
                                " '%example-news.org%' ORDER BY id LIMIT 1")
    type_in(page, f"Should we run this one: {row['web_url']}")
    message = page.get_by_role("region", name="Messages").locator(
        ".message", has_text="Should we run this one")
    expect(message).to_be_visible()
    return row, message


def decisions(sandbox: Sandbox) -> list[dict]:
    return sandbox.store.query("SELECT article_id, decision, user_id FROM decisions")


@pytest.mark.parametrize("config_changes", [PREVIEWS])
def test_publish_in_a_pasted_links_preview_records_the_decision_and_redraws_it(
        page, sandbox: Sandbox):
    from playwright.sync_api import expect

    row, message = paste_an_article_link(page, sandbox)
    preview = message.locator(".unfurl")  # the app's chat.unfurl, under the message
    expect(preview.get_by_role("link", name=row["title"])).to_be_visible()
    expect(preview).to_contain_text("To review")
    expect(preview).to_contain_text("quality")
    preview.get_by_role("button", name=re.compile(r"^Publish ")).click()
    expect(preview).to_contain_text("Published by @you", timeout=REDRAWN_MS)  # redrawn
    expect(preview).not_to_contain_text("To review")
    expect(preview.get_by_role("button", name=re.compile(r"^Published: "))).to_be_visible()
    assert decisions(sandbox) == [{"article_id": row["id"], "decision": "publish",
                                   "user_id": "U0YOU"}]
    assert len(sandbox.slack.calls("chat.unfurl")) == 2  # the preview, then redrawn


@pytest.mark.parametrize("config_changes", [PREVIEWS])
def test_the_decide_shortcut_in_a_messages_menu_opens_a_modal_whose_buttons_decide(
        page, sandbox: Sandbox):
    """More actions > "Decide on this article" sends a signed message_action; the app
    opens its modal (views.open); Publish and Undo redraw it (views.update)."""
    from playwright.sync_api import expect

    row, message = paste_an_article_link(page, sandbox)
    message.hover()
    message.get_by_role("button", name="More actions").click()
    menu = page.get_by_role("menu", name="More actions")
    menu.get_by_role("menuitem", name=re.compile("^Decide on this article")).click()
    expect(menu).to_be_hidden()
    modal = page.get_by_role("dialog", name="Decide on this article")
    expect(modal.get_by_role("link", name=row["title"])).to_be_visible()
    screenshot(page, "sandbox-shortcut.png")

    modal.get_by_role("button", name=re.compile(r"^Publish ")).click()
    expect(modal).to_contain_text("Recorded: publish")
    expect(modal.get_by_role("button", name="Undo")).to_be_visible()
    assert decisions(sandbox) == [{"article_id": row["id"], "decision": "publish",
                                   "user_id": "U0YOU"}]
    modal.get_by_role("button", name="Undo").click()
    expect(modal).to_contain_text("Withdrawn")
    assert sandbox.store.query("SELECT * FROM votes") == []
    modal.get_by_role("button", name=re.compile(r"^Skip ")).click()
    expect(modal).to_contain_text("Recorded: skip")
    assert sandbox.store.query("SELECT article_id, decision FROM votes") == [
        {"article_id": row["id"], "decision": "skip"}]
    modal.get_by_role("button", name="Close", exact=True).last.click()
    expect(modal).to_be_hidden()
    assert [c.method for c in sandbox.slack.calls() if c.method.startswith("views.")
            and c.method != "views.publish"] == ["views.open"] + ["views.update"] * 3


@pytest.mark.parametrize("viewport", [{"width": 1200, "height": 1160}])
def test_past_100_topics_the_modal_searches_them_through_the_apps_suggestions(
        page, sandbox: Sandbox):
    """With more topics than a static select holds, the modal's topics are an external
    select: what is typed goes to the app as block_suggestion, its answer is the list."""
    from newsbot.bot.newsroom.lookup import list_topics
    from playwright.sync_api import expect

    expect(page.locator(".bk-header")).to_be_visible()
    for number in range(105):
        write_article(sandbox.config.articles, f"beats/beat{number:03d}.md",
                      title=f"Beat report number {number}", topics=[Raw(f"Beat {number:03d}")])
    sandbox.slack.wait_until(lambda: len(list_topics(sandbox.store)) > 105, timeout=30)
    page.get_by_role("button", name="newsbot · Home").click()
    page.get_by_role("region", name="App Home").get_by_role("button", name="Add schedule").click()
    modal = page.get_by_role("dialog", name="New schedule")
    modal.get_by_label("Channel").select_option(label="# newsroom")
    search = modal.get_by_role("searchbox", name="Search options")
    search.fill("beat 05")
    topics = modal.get_by_label("Topics")
    expect(topics.locator("option")).to_have_count(10)  # Beat 050 to Beat 059
    topics.select_option("Beat 057")
    search.fill("clim")
    expect(topics.locator("option", has_text="Climate")).to_have_count(1)
    expect(topics.locator("option")).to_have_count(2)  # the chosen one stays
    topics.select_option(["Beat 057", "Climate"])
    modal.get_by_role("button", name="Add schedule").click()
    expect(modal).to_be_hidden()
    [row] = sandbox.store.query("SELECT topics FROM schedules")
    assert row == {"topics": '["Beat 057", "Climate"]'}
    suggested = [c for c in sandbox.slack.calls() if c.method == "views.open"]
    assert suggested and "multi_external_select" in str(suggested[0].params)
