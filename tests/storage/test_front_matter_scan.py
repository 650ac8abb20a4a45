"""The front matter fast path gives exactly what the full YAML parse gives, or declines.

The property: for any text, `scan_front_matter` returns None or the very value of
`yaml.load(text, Loader=CSafeLoader)` (compared by repr, so types count: int against
float or bool, str against datetime, an aware against a naive datetime), and None
whenever the full parse fails or gives no mapping. Documents are generated in the
newsroom's shapes with awkward scalars, styles, indentation and line endings, and then
some are damaged a character at a time.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import article_text
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from newsbot.storage.article_file import load_front_matter, split_front_matter
from newsbot.storage.front_matter_scan import scan_front_matter

EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "example-article.txt"  # the newsroom's own


def full_parse(text: str) -> object:
    try:
        return yaml.load(text, Loader=yaml.CSafeLoader)
    except (yaml.YAMLError, ValueError) as error:  # ValueError: a date that does not exist
        return error


def assert_agrees(text: str) -> object:
    """The scanner's answer, checked against the full parse."""
    fast = scan_front_matter(text)
    if fast is not None:
        full = full_parse(text)
        assert isinstance(full, dict), (text, full)
        assert repr(fast) == repr(full), text
    return fast


# Scalars that resolve to something other than a string, or that YAML reads differently
# from what they look like.
AWKWARD_SCALARS = [
    "1e3", "1.0e+3", "0x10", "0o17", "007", "08", "0b101", "1_000", ".5", "-.5", "-5", "+5",
    "1:30", "190:20:30", "3.", "1.5e-3", ".inf", "-.inf", ".nan", ".NaN", "0", "-0", "00",
    "yes", "no", "on", "off", "On", "OFF", "y", "n", "true", "False", "TRUE", "null", "Null",
    "~", "", " ", "2020-07-02T19:21:00Z", "2020-07-02T19:21:00", "2020-07-02 19:21:00+02:00",
    "2020-07-02T19:21:00.123456Z", "2020-07-02T19:21:00-05:30", "2020-07-02", "2020-7-2",
    "2020-02-30", "2020-02-30T10:00:00Z", "9999-12-31T23:59:59Z", "2020-07-02T24:00:00Z",
    "0000-01-01T00:00:00Z", "2020-07-02T23:59:60Z", "key:value", "a: b",
    "a #b", "a#b", "#x", "a:", "http://x.org/a?b=c#d", "...", "---", "- x", "-x", "?x", ":x",
    "&a x", "*a", "!!str 1", "!x y", "[a, b]", "{a: 1}", "|", ">", "%x", "@x", "`x`", "<<",
    "=", "a, b", "a]", "Zürich’s 東京 😀", "tab\there", "nel\x85x", "ls\u2028x", "bom\ufeffx",
    "cr\rx", "nul\x00x", "del\x7fx", 'say "hi"', "it's", "back\\slash", "\\n", "trailing ",
    " leading", "a  b", "é", "\u00a0nbsp",
]
KEYS = ["title", "quality", "a", "b_c", "d-e", "x1", "_", "yes", "No", "on", "null", "true",
        "key with space", "ключ", "1", "1.5", "~", "<<", "=", "a" * 130, "isCached", "webUrl"]
CLEAN_SCALARS = ["AI", "Computer Vision", "Nextgov", "nextgov.com", "37", "0", "true", "false",
                 "2020-07-02T19:21:00Z", "article", "a-b", "x.y/z", "Farm & Water", "Q&A",
                 "a #b", "a: b", "-5", ".5", "1e3", "yes", "~", "007", "2020-07-02", "it's"]
TEXT = st.text(alphabet=st.sampled_from(list("ab Z09:#-'\"\\\t\r\n.,[]{}&*!|>%@~é東😀\x85")),
               max_size=12)


@st.composite
def scalars(draw: st.DrawFn, odd: int) -> str:
    """One scalar written plain, double-quoted (with escapes) or single-quoted; odd in
    `odd` cases out of 10."""
    if draw(st.integers(0, 9)) < odd:
        text = draw(st.one_of(st.sampled_from(AWKWARD_SCALARS), TEXT))
    else:
        text = draw(st.sampled_from(CLEAN_SCALARS))
    style = draw(st.sampled_from(["plain", "plain", "plain", "double", "double", "single"]))
    if style == "double":
        escaped = text.replace("\\", "\\\\").replace('"', '\\"')
        if draw(st.booleans()):
            escaped = escaped.replace("\t", "\\t").replace("\n", "\\n").replace("é", "\\u00e9")
        return f'"{escaped}"'
    if style == "single":
        return "'" + text.replace("'", "''") + "'"
    return text


@st.composite
def blocks(draw: st.DrawFn, indent: int, depth: int, odd: int) -> list[str]:
    """The lines of a mapping or sequence at `indent`."""
    step = draw(st.sampled_from([2, 2, 2, 2, 4, 1]))
    lines: list[str] = []
    pad = " " * indent
    if depth > 0 and draw(st.integers(0, 3)) == 0:  # a sequence
        for _ in range(draw(st.integers(1, 3))):
            if depth > 1 and draw(st.booleans()):  # "- key: value" and the rest below
                inner = draw(blocks(indent + 2, depth - 1, odd))
                first = inner[0][indent + 2:] if inner[0].startswith(" " * (indent + 2)) else ""
                if first and not first.startswith("- "):
                    lines += [f"{pad}- {first}", *inner[1:]]
                    continue
            lines.append(f"{pad}- {draw(scalars(odd))}")
        return lines
    keys = draw(st.lists(st.sampled_from(KEYS) if draw(st.integers(0, 9)) < odd
                         else st.sampled_from(KEYS[:6]), min_size=1, max_size=5))
    for key in keys:  # duplicates included: the last value wins in both
        if depth > 1 and draw(st.integers(0, 2)) == 0:
            lines.append(f"{pad}{key}:")
            same_indent_list = draw(st.integers(0, 9)) == 0
            lines += draw(blocks(indent if same_indent_list else indent + step, depth - 1, odd))
        else:
            separator = draw(st.sampled_from([": "] * 12 + [":", ":  ", " : "]))
            lines.append(f"{pad}{key}{separator}{draw(scalars(odd))}")
        if draw(st.integers(0, 4)) == 0:
            lines.append(draw(st.sampled_from(["", "", "", "", "  ", "# comment", f"{pad}# c"])))
    return lines


@st.composite
def documents(draw: st.DrawFn) -> str:
    lines = draw(blocks(0, 3, draw(st.sampled_from([0, 1, 3, 6]))))
    text = "\n".join(lines) + draw(st.sampled_from(["\n", "", "\n\n"]))
    for _ in range(draw(st.integers(1, 2)) if draw(st.integers(0, 4)) == 0 else 0):
        spot = draw(st.integers(0, len(text)))  # damage: one character in or out
        if draw(st.booleans()) and spot < len(text):
            text = text[:spot] + text[spot + 1:]
        else:
            text = text[:spot] + draw(st.sampled_from(list(" \t:#-\"'\n\r&*[{"))) + text[spot:]
    if draw(st.integers(0, 5)) == 0:
        text = text.replace("\n", "\r\n")
    return text


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_the_scanner_agrees_with_the_full_parse_or_declines(text):
    assert_agrees(text)


# a value on one line, as the newsroom writes them (a line break inside quotes is a
# multi-line scalar: the full parse's, never the scanner's)
NO_LINE_BREAKS = st.characters(blacklist_characters="\n\r\x85\u2028\u2029")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["title", "excerpt", "webUrl", "heat", "type"]),
                          st.one_of(st.text(NO_LINE_BREAKS, max_size=30),
                                    st.integers(0, 10**20))),
                min_size=1, max_size=8))
def test_the_newsroom_style_is_read_by_the_scanner_itself(pairs):
    """Double-quoted text (any printable unicode, quotes, backslashes) and whole numbers,
    as the newsroom writes them, never need the full parse."""
    lines = []
    for key, value in pairs:
        if isinstance(value, str):
            value = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        lines.append(f"{key}: {value}")
    text = "\n".join(lines) + "\n"
    printable = all(c == "\n" or (" " <= c <= "~") or ("\xa0" <= c <= "\ud7ff"
                                                          and c not in "\u2028\u2029")
                    for c in text)
    if printable:
        assert assert_agrees(text) is not None, text


AWKWARD_DOCUMENTS = {
    "crlf": "title: \"A\"\r\nquality: 5\r\n\r\ntopics:\r\n  - AI\r\n",
    "lone cr": "title: \"A\"\rquality: 5\n",
    "tabs": "title:\t\"A\"\nquality: 5\n",
    "tab in quotes": "title: \"A\tB\"\n",
    "comment line": "# note\ntitle: \"A\"\n",
    "inline comment": "quality: 5 # five\n",
    "hash without space": "title: a#b\n",
    "anchor and alias": "provider: &p\n  name: X\nother: *p\n",
    "merge key": "base: &b\n  a: 1\nderived:\n  <<: *b\n  c: 2\n",
    "tag": "quality: !!str 5\n",
    "duplicate keys": "title: \"A\"\nquality: 1\ntitle: \"B\"\n",
    "escapes": 'title: "say \\"hi\\" \\\\ \\n \\t \\u00e9 \\x41 \\/"\n',
    "single quotes": "title: 'it''s \\n'\n",
    "a lone double quote": "title: \"\nquality: 5\n",
    "a lone single quote": "title: '\nquality: 5\n",
    "key:value without space": "title:value\nquality: 5\n",
    "two spaces after colon": "title:  value\n",
    "numbers": "a: 1e3\nb: 0x10\nc: 007\nd: .5\ne: 1_000\nf: 1:30\ng: -.5\nh: +5\ni: 08\n",
    "booleans and nulls": "a: yes\nb: no\nc: on\nd: off\ne: null\nf: ~\ng: Off\nh: y\ni:\n",
    "timestamps": ("a: 2020-07-02T19:21:00Z\nb: 2020-07-02T19:21:00\n"
                   "c: 2020-07-02 19:21:00+02:00\nd: 2020-07-02\n"
                   "e: 2020-07-02T19:21:00.5-05:30\nf: \"2020-07-02T19:21:00Z\"\n"),
    "bad date": "publishedDateTime: 2020-02-30T10:00:00Z\n",
    "hour 24": "publishedDateTime: 2020-07-02T24:00:00Z\n",
    "second 60": "publishedDateTime: 2020-07-02T23:59:60Z\n",
    "year 0": "publishedDateTime: 0000-01-01T00:00:00Z\n",
    "last second": "publishedDateTime: 9999-12-31T23:59:59Z\n",
    "broken types": "quality: high\npublished: maybe\ntopics: AI\nprovider: Nextgov\n",
    "unicode": "title: \"Zürich’s 東京: 😀 — Ärzte\"\nprovider:\n  name: Ñandú\n",
    "unicode plain": "title: Zürich’s 東京 😀\n",
    "nel": "title: a\x85b\n",
    "line separator": "title: \"a\u2028b\"\n",
    "bom inside": "title: \"a\ufeffb\"\n",
    "not printable": "title: \"a\x07b\"\n",
    "multi-line plain": "title: first\n  second\nquality: 1\n",
    "multi-line plain after a blank": "title: first\n\n  second\n",
    "multi-line quoted": "title: \"first\n  second\"\n",
    "block scalar": "excerpt: |\n  line one\n  line two\n",
    "flow list": "topics: [AI, Robotics]\n",
    "flow map": "provider: {name: X, domain: x.org}\n",
    "same-indent list": "topics:\n- AI\n- Robotics\n",
    "list under a list entry": "related:\n  -\n    title: x\n",
    "misindented": "topics:\n - misindented\n   also: wrong\n",
    "deeper sibling": "provider:\n  name: X\n   domain: y\n",
    "entry mapping": "images:\n  - url: \"u\"\n    width: 400\n    isCached: true\n",
    "nested entry mapping": ("related:\n  - title: \"t\"\n    provider:\n      name: P\n"
                             "    images:\n      - url: \"u\"\n        width: 640\n"),
    "explicit key": "? title\n: value\n",
    "quoted key": "\"title\": value\n",
    "yes as a key": "yes: 1\nno: 2\n",
    "null key": "null: 1\n",
    "long key": "a" * 1100 + ": 1\n",
    "document end": "title: a\n...\n",
    "directive": "%YAML 1.1\ntitle: a\n",
    "a list": "- just\n- a list\n",
    "a scalar": "just text\n",
    "empty": "",
    "only blank lines": "\n\n",
    "indented top level": "  title: a\n  quality: 1\n",
    "trailing spaces": "title: a   \nquality: 1 \n",
    "key with nothing below": "provider:\ntitle: a\n",
    "dash value": "title: -\n",
    "dashes value": "title: ---\n",
    "dots value": "title: ...\n",
}


@pytest.mark.parametrize("text", AWKWARD_DOCUMENTS.values(), ids=AWKWARD_DOCUMENTS.keys())
def test_awkward_front_matter_agrees_with_the_full_parse(text):
    assert_agrees(text)


@pytest.mark.parametrize("name", ["crlf", "duplicate keys", "numbers", "booleans and nulls",
                                  "timestamps", "broken types", "unicode", "unicode plain",
                                  "entry mapping", "nested entry mapping", "tab in quotes",
                                  "last second"])
def test_awkward_but_common_shapes_are_read_by_the_scanner(name):
    if name == "tab in quotes":
        assert scan_front_matter(AWKWARD_DOCUMENTS[name]) is None  # declined: tabs
        return
    assert assert_agrees(AWKWARD_DOCUMENTS[name]) is not None


def test_the_example_article_and_the_test_articles_are_read_by_the_scanner():
    for text in (EXAMPLE.read_text(encoding="utf-8"), article_text(), article_text("---\n")):
        front_matter, _, _ = split_front_matter(text)
        assert assert_agrees(front_matter) is not None


def test_a_body_with_dash_lines_does_not_reach_the_scanner():
    data = (article_text() + "## Notes\n\n---\n\nquality: 99\n---\n").encode()
    assert load_front_matter(data)["quality"] == 37


def test_a_date_that_does_not_exist_is_left_to_the_full_parse():
    """PyYAML's own error, as before the scanner (the index records it as unparsable)."""
    with pytest.raises(ValueError, match="day is out of range"):
        load_front_matter(b"---\ntitle: \"A\"\npublishedDateTime: 2020-02-30T10:00:00Z\n---\n")
