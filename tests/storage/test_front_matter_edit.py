"""Exact line edits of the front matter: only the intended line changes, byte for byte."""

from __future__ import annotations

import difflib

import pytest
from conftest import REPO_ROOT
from newsbot.storage.article_file import BOM
from newsbot.storage.front_matter_edit import (
    EditRefused,
    key_lines,
    set_key_lines,
    with_value,
)

EXAMPLE = REPO_ROOT / "examples" / "articles" / "2026" / "10"

PUBLISH = {"published": "published: true", "skipped": None}
SKIP = {"published": "published: false", "skipped": "skipped: true"}

ARTICLE = (
    "---\n"
    "category: news\n"
    'title: "Zürich: a title with a colon — and unicode ✓"\n'
    "# a comment the newsroom keeps\n"
    "quality: 37\n"
    "heat: 37\n"
    "published: false\n"
    "\n"
    "related:\n"
    "  - title: \"nested\"\n"
    "    published: false\n"
    "\n"
    'secured: "J4gpCRArL2xkBYO2F020collFTiuMSpJapLO0efBwe63yN4+GrlCm==;DBreKKY7CRykmPTTk5Vj4A=="\n'
    "---\n"
    "Body line one.\n"
    "---\n"
    "published: false\n"
    "A body that contains a --- line and a published: line of its own.\n"
)


def changed_lines(before: bytes, after: bytes) -> list[str]:
    """The removed and added lines of a line diff (endings kept)."""
    old = before.decode().split("\n")
    new = after.decode().split("\n")
    return [line for line in difflib.ndiff(old, new) if line[:2] in ("- ", "+ ")]


def test_publish_changes_exactly_the_published_line() -> None:
    before = ARTICLE.encode()
    after = set_key_lines(before, PUBLISH)
    assert after == before.replace(b"heat: 37\npublished: false", b"heat: 37\npublished: true")
    assert changed_lines(before, after) == ["- published: false", "+ published: true"]


def test_skip_inserts_one_line_after_published_and_undoing_restores_the_bytes() -> None:
    before = ARTICLE.encode()
    after = set_key_lines(before, SKIP)
    assert changed_lines(before, after) == ["+ skipped: true"]
    assert b"published: false\nskipped: true\n\nrelated:" in after
    assert set_key_lines(after, {"published": "published: false", "skipped": None}) == before


def test_crlf_bom_and_no_trailing_newline_are_kept() -> None:
    text = BOM + ARTICLE.replace("\n", "\r\n").rstrip("\r\n")
    before = text.encode()
    after = set_key_lines(before, SKIP)
    assert after.startswith(BOM.encode() + b"---\r\n")
    assert b"published: false\r\nskipped: true\r\n" in after
    assert after.endswith(b"of its own.")  # still no final newline
    assert after.replace(b"skipped: true\r\n", b"", 1) == before
    published = set_key_lines(before, PUBLISH)
    assert published == before.replace(b"heat: 37\r\npublished: false",
                                       b"heat: 37\r\npublished: true")


def test_a_trailing_comment_and_spacing_stay_on_the_edited_line() -> None:
    before = ARTICLE.replace("published: false\n\n", "published:   no   # editors: ask Ann\n\n",
                             1).encode()
    after = set_key_lines(before, {"published": with_value("published:   no   # editors: ask Ann",
                                                           "published", "true")})
    assert changed_lines(before, after) == [
        "- published:   no   # editors: ask Ann", "+ published:   true   # editors: ask Ann"]


def test_keys_in_unusual_order_only_top_level_published_counts() -> None:
    text = (
        "---\n"
        "published: false\n"
        "related:\n"
        "  published: true\n"
        "title: Last\n"
        "---\n"
    )
    before = text.encode()
    assert key_lines(before) == {"published": "published: false", "skipped": None}
    after = set_key_lines(before, SKIP)
    assert after == (b"---\npublished: false\nskipped: true\nrelated:\n  published: true\n"
                     b"title: Last\n---\n")


def test_missing_published_goes_after_heat() -> None:
    before = ARTICLE.replace("published: false\n\n", "\n", 1).encode()
    assert key_lines(before)["published"] is None
    after = set_key_lines(before, PUBLISH)
    assert changed_lines(before, after) == ["+ published: true"]
    assert b"heat: 37\npublished: true\n\nrelated:" in after
    skipped = set_key_lines(before, SKIP)
    assert b"heat: 37\npublished: false\nskipped: true\n\nrelated:" in skipped
    assert set_key_lines(skipped, {"published": None, "skipped": None}) == before


def test_missing_published_without_heat_goes_at_the_end_of_the_front_matter() -> None:
    before = b"---\r\ntitle: T\r\ntopics:\r\n  - AI\r\n---\r\nbody\r\n"
    after = set_key_lines(before, PUBLISH)
    assert after == b"---\r\ntitle: T\r\ntopics:\r\n  - AI\r\npublished: true\r\n---\r\nbody\r\n"


def test_heat_with_a_value_on_the_next_lines_is_not_split() -> None:
    before = b"---\ntitle: T\nheat:\n  37\n---\n"
    after = set_key_lines(before, PUBLISH)
    assert after == b"---\ntitle: T\nheat:\n  37\npublished: true\n---\n"


def test_the_example_articles_round_trip_byte_for_byte() -> None:
    for path in sorted(EXAMPLE.iterdir()):
        before = path.read_bytes()
        lines = key_lines(before)
        skipped = set_key_lines(before, {"published": lines["published"],
                                         "skipped": "skipped: true"})
        assert len(changed_lines(before, skipped)) == 1, path
        assert set_key_lines(skipped, lines) == before, path


def test_an_edit_that_would_change_another_key_is_refused() -> None:
    # `published:` with its value on the next line: replacing the line would break it
    before = b"---\ntitle: T\npublished:\n  false\n---\n"
    with pytest.raises(EditRefused, match="'published' would read 'true false'"):
        set_key_lines(before, PUBLISH)
    # a quoted title continued on a line that looks like the key
    before = b'---\ntitle: "two\npublished: false\n  end"\nheat: 3\n---\n'
    with pytest.raises(EditRefused, match="would also change: title"):
        set_key_lines(before, PUBLISH)


def test_a_duplicated_published_key_is_refused() -> None:
    before = b"---\npublished: false\ntitle: T\npublished: false\n---\n"
    with pytest.raises(EditRefused, match="appears 2 times"):
        set_key_lines(before, PUBLISH)


def test_a_line_in_a_multi_line_string_is_not_taken_for_the_key() -> None:
    before = b'---\ntitle: "two\n  lines"\nexcerpt: |\n  published: false\npublished: false\n---\n'
    after = set_key_lines(before, PUBLISH)
    assert changed_lines(before, after) == ["- published: false", "+ published: true"]
    assert after.endswith(b"  published: false\npublished: true\n---\n")
