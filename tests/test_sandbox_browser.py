"""The sandbox page in a real headless browser: Debian's Chromium driven by Playwright.

Playwright drives the system Chromium (`executable_path`); it never downloads a browser.
.ci/run installs Chromium when /usr/bin/chromium is missing. Requests that leave
127.0.0.1 (article thumbnails) are aborted, so the test needs no network and shows the
page's fallback for images that cannot load.

SANDBOX_SCREENSHOT=docs/sandbox.png saves the screenshot the README shows.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import Config
from sandbox.server import Sandbox
from sandbox.working_copy import working_copy
from tests.conftest import Raw, write_article

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-proxy-server"]
TIMEOUT_MS = 15_000

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian's Chromium at /usr/bin/chromium (apt-get install chromium; .ci/run "
           "installs it)")


HOSTILE_TITLE = ('<img src=x onerror="document.title=\'owned\'"> '
                 '<script>document.title="owned"</script> & <!channel>')


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    monkeypatch.chdir(tmp_path)  # as `newsbot sandbox` run there: a copy of the examples
    config = working_copy(Config(), tmp_path)
    articles = config.articles
    # last in every ranking, so the digest is the bundled one; /news topic Oddities shows it
    write_article(articles, "odd/hostile.md", title=HOSTILE_TITLE, quality=0, heat=0,
                  webUrl="javascript:document.title='owned'", topics=[Raw("Oddities")],
                  images=[{"url": "javascript:document.title='owned'", "width": 1, "height": 1}])
    with Sandbox(config, port=0) as started:
        yield started


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, sandbox: Sandbox):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.route("**/*", lambda route: route.continue_()
               if route.request.url.startswith(sandbox.url) else route.abort())
    page.goto(sandbox.url, wait_until="domcontentloaded")
    yield page
    context.close()
    assert errors == [], "the page's script failed"


def test_react_with_publish_then_sync_from_the_page_edits_one_line(page, sandbox: Sandbox):
    from playwright.sync_api import expect

    first = sandbox.digest.messages[0]
    path = sandbox.config.articles / first.article.id
    original = path.read_text(encoding="utf-8")

    expect(page.locator(".bk-header")).to_have_text(sandbox.digest.title)
    cards = page.locator(".thread .replies .message")
    expect(cards).to_have_count(10)
    card = cards.first
    expect(card.get_by_role("link", name=first.article.title)).to_be_visible()
    expect(card.get_by_role("button", name="Publish")).to_be_visible()

    card.get_by_role("button", name="Add reaction").click()
    page.get_by_role("dialog", name="Pick a reaction").get_by_role(
        "button", name="white_check_mark").click()
    expect(card).to_contain_text("Publish, by @you")  # the bot's chat.update, drawn live
    expect(card.get_by_role("button", name="white_check_mark: 1")).to_have_attribute(
        "aria-pressed", "true")
    expect(card).to_contain_text("(edited)")

    page.get_by_role("button", name="Sync to files").click()
    panel = page.get_by_role("complementary", name="Sync to files")
    expect(panel.locator(".diff-removed")).to_have_text("-published: false")
    expect(panel.locator(".diff-added")).to_have_text("+published: true")
    screenshot = os.environ.get("SANDBOX_SCREENSHOT")
    if screenshot:
        page.screenshot(path=screenshot)
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
    assert mine.locator("img").count() == 0 and mine.locator("a").count() == 0
    assert page.title() == "newsbot sandbox"


def test_news_report_in_the_page_shows_the_uploaded_chart(page, sandbox: Sandbox):
    """The chart goes through the look-alike's three-step upload and the page shows it.
    REPORT_SCREENSHOT=docs/report.png saves the screenshot the README shows."""
    from playwright.sync_api import expect

    expect(page.locator(".bk-header")).to_be_visible()
    card = page.locator(".thread .replies .message").first
    card.get_by_role("button", name="Skip").click()
    expect(card).to_contain_text("Skip, by @you")
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
