"""Without Chromium the browser tests are skipped with a reason naming what to install, and
nothing tries to launch it first; with CI set they fail instead, so a broken CI install
cannot go green by skipping them. Each case runs the browser test files in a pytest of its
own, with browser_page's Chromium path pointed at a file that is not there."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest
from conftest import REPO_ROOT

BROWSER_TESTS = sorted(str(path) for path in (REPO_ROOT / "tests" / "sandbox").glob(
    "test_*browser.py"))

# a plugin for the inner pytest: after collection (browser_page is imported by then),
# the executable the fixtures check and launch is one that does not exist
NO_CHROMIUM = '''
import sys
from pathlib import Path


def pytest_collection_finish(session):
    sys.modules["browser_page"].CHROMIUM = Path(__file__).parent / "no-chromium"
'''


def run_browser_tests(tmp_path: Path, ci: str | None) -> list[ElementTree.Element]:
    """The inner run's test cases, from its JUnit XML report."""
    (tmp_path / "no_chromium_plugin.py").write_text(NO_CHROMIUM, encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if key != "CI"}
    env["PYTHONPATH"] = str(tmp_path)
    if ci is not None:
        env["CI"] = ci
    report = tmp_path / "report.xml"
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                    "-p", "no_chromium_plugin", f"--junitxml={report}", *BROWSER_TESTS],
                   cwd=REPO_ROOT, env=env, capture_output=True, timeout=120)
    return ElementTree.parse(report).getroot().findall(".//testcase")


def test_the_browser_test_files_are_found():
    assert len(BROWSER_TESTS) >= 2


def outcome(case: ElementTree.Element) -> tuple[str, str]:
    """A JUnit test case's outcome (passed, skipped, error, failure) and its message."""
    for child in case:
        if child.tag in ("skipped", "error", "failure"):
            return child.tag, child.get("message", "")
    return "passed", ""


@pytest.mark.parametrize("ci", [None, "false"])
def test_without_chromium_every_browser_test_is_skipped_naming_what_to_install(tmp_path, ci):
    outcomes = [outcome(case) for case in run_browser_tests(tmp_path, ci)]
    assert len(outcomes) > 10
    assert {kind for kind, _ in outcomes} == {"skipped"}
    assert all("apt-get install chromium" in message for _, message in outcomes), outcomes


def test_without_chromium_in_ci_every_browser_test_fails(tmp_path):
    outcomes = [outcome(case) for case in run_browser_tests(tmp_path, "true")]
    assert len(outcomes) > 10
    assert {kind for kind, _ in outcomes} <= {"error", "failure"}
    assert all("CI is set" in message for _, message in outcomes), outcomes
