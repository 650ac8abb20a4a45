"""Exact line edits of an article's front matter: the `published:` and `skipped:` lines only.

The same edits work in YAML (`published: true`), TOML (`published = true`) and JSON
(`"published": true,`) front matter: a `Syntax` knows how each writes and reads one line.

Rewriting the front matter with a YAML dumper reorders keys, drops quotes and comments and
changes line endings (NOTES.md), which a newsroom's content repository will not accept. So
an edit here works on the file's own text: it replaces, inserts or removes one top-level
line and leaves every other byte as it was (BOM, line endings, comments, the body, a
missing final newline). Decoding UTF-8 and encoding it again gives back the same bytes.

Where a missing `published:` line goes: right after the top-level `heat:` line when that
line holds a one-line value (the newsroom's editorial order puts `published` after
`heat`), otherwise at the end of the front matter (TOML: before its first table). `skipped:`
goes right after `published:`. An inserted line takes the line ending of the line it
follows. JSON has no trailing commas, so an inserted JSON line always ends with one and
goes where another key follows it: a missing `published` before the first key, `skipped`
right after `published` when that line ends with a comma, else right before it.

Every edit is checked by parsing the result again: only the edited keys may differ, and
they must hold the values intended; otherwise `EditRefused` says why and nothing is
written.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from newsbot.storage.article_file import (
    BOM,
    HANDLERS,
    JSON,
    TOML,
    YAML,
    BrokenArticle,
    SafeLoader,
    front_matter_format,
    load_front_matter,
    split_front_matter,
)

PUBLISHED = "published"
SKIPPED = "skipped"
EDITABLE_KEYS = (PUBLISHED, SKIPPED)
ABSENT: Any = object()  # a key that is not in the front matter at all

# A top-level key line: column 0, the key optionally quoted, then a colon.
_KEY_LINE = re.compile(r"""^(?P<q>["']?)(?P<key>[A-Za-z_][\w-]*)(?P=q)[ \t]*:(?=[ \t]|$)""")
# The value part of a `key: value  # comment` line.
_VALUE = re.compile(r"^(?P<head>[^:]*:)(?P<gap>[ \t]*)(?P<value>[^#]*?)(?P<tail>[ \t]*(?:#.*)?)$")


class EditRefused(ValueError):
    """The edit cannot be made exactly; the message says why (the file is left alone)."""


@dataclass(frozen=True)
class Line:
    content: str  # without its line ending
    ending: str  # "\n", "\r\n", or "" for none


class FrontMatterText:
    """A file split into: what comes before the front matter, its lines, and the rest."""

    def __init__(self, data: bytes) -> None:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise BrokenArticle(f"not UTF-8 text (byte {error.start})") from None
        bom = BOM if text.startswith(BOM) else ""
        front_matter, start, _ = split_front_matter(text[len(bom) :])
        end = start + len(front_matter)
        self.head = text[: len(bom) + start]  # BOM and the opening `---` line
        self.tail = text[len(bom) + end :]  # the closing `---` line and the body
        self.lines = _split_lines(front_matter)
        self.syntax = syntax_for(front_matter_format(text[len(bom) :]), self.lines)

    def key_index(self, key: str) -> int | None:
        """Index of the top-level line for `key`; EditRefused if it appears twice."""
        found = [i for i in self.syntax.top_level(self.lines)  # `in`: a cheap test first
                 if key in self.lines[i].content
                 and self.syntax.key_of(self.lines[i].content) == key]
        if len(found) > 1:
            raise EditRefused(f"'{key}:' appears {len(found)} times at the top of the front matter")
        return found[0] if found else None

    def key_line(self, key: str) -> str | None:
        """The top-level line for `key` (without its ending), or None when absent."""
        index = self.key_index(key)
        return None if index is None else self.lines[index].content

    def to_bytes(self) -> bytes:
        body = "".join(line.content + line.ending for line in self.lines)
        return (self.head + body + self.tail).encode("utf-8")

    def opening_ending(self) -> str:
        return "\r\n" if self.head.endswith("\r\n") else "\n"


def _split_lines(text: str) -> list[Line]:
    """Lines on "\\n" only (str.splitlines would also split on \\u2028 and friends)."""
    pieces = text.split("\n")
    lines = []
    for piece in pieces[:-1]:
        if piece.endswith("\r"):
            lines.append(Line(piece[:-1], "\r\n"))
        else:
            lines.append(Line(piece, "\n"))
    if pieces[-1]:
        lines.append(Line(pieces[-1], ""))
    return lines


def _key_of(content: str) -> str | None:
    match = _KEY_LINE.match(content)
    return match.group("key") if match else None


class Syntax:
    """How YAML front matter writes one `key: value` line; TOML and JSON below."""

    name = YAML

    def key_of(self, content: str) -> str | None:
        return _key_of(content)

    def top_level(self, lines: list[Line]) -> range:
        """Indexes of the lines that may hold a top-level key."""
        return range(len(lines))

    def new_line(self, key: str, value: str) -> str:
        return f"{key}: {value}"

    def with_value(self, line: str | None, key: str, value: str) -> str:
        """`line` with its value replaced (spacing and a trailing comment kept), or a new
        line."""
        if line is None:
            return self.new_line(key, value)
        match = self.value_re.match(line)
        if match is None:
            raise EditRefused(f"cannot find the value in the line {line!r}")
        gap = match.group("gap") or " "
        return match.group("head") + gap + value + match.group("tail")

    value_re = _VALUE

    def line_value(self, line: str | None) -> Any:
        """What a single line means; ABSENT for no line."""
        return line_value(line)

    def insert_at(self, text: FrontMatterText, key: str) -> int:
        """Where a missing line goes: the index it is inserted at."""
        anchor = text.key_index(PUBLISHED) if key == SKIPPED else _heat_anchor(text)
        return len(self.top_level(text.lines)) if anchor is None else anchor + 1


class TomlSyntax(Syntax):
    """`key = value` lines; top-level keys come before the first `[table]`."""

    name = TOML
    _key = re.compile(r"""^(?P<q>["']?)(?P<key>[A-Za-z_][\w-]*)(?P=q)[ \t]*=""")
    value_re = re.compile(r"^(?P<head>[^=]*=)(?P<gap>[ \t]*)(?P<value>[^#]*?)"
                          r"(?P<tail>[ \t]*(?:#.*)?)$")

    def key_of(self, content: str) -> str | None:
        match = self._key.match(content)
        return match.group("key") if match else None

    def top_level(self, lines: list[Line]) -> range:
        for index, line in enumerate(lines):
            if line.content.lstrip().startswith("["):
                return range(index)
        return range(len(lines))

    def new_line(self, key: str, value: str) -> str:
        return f"{key} = {value}"

    def line_value(self, line: str | None) -> Any:
        return _toml_value(line)


class JsonSyntax(Syntax):
    """`"key": value,` lines of a JSON object written one key per line; top-level keys
    are the lines indented like the first one. New lines always end with a comma."""

    name = JSON
    _key = re.compile(r'^(?P<indent>[ \t]*)"(?P<key>[A-Za-z_][\w-]*)"[ \t]*:')
    value_re = re.compile(r'^(?P<head>[ \t]*"[^"]*"[ \t]*:)(?P<gap>[ \t]*)'
                          r"(?P<value>true|false|null)(?P<tail>[ \t]*,?[ \t]*)$")

    def __init__(self, lines: list[Line]) -> None:
        first = next((line.content for line in lines if line.content.strip()), "")
        self.indent = first[: len(first) - len(first.lstrip())] or "  "

    def key_of(self, content: str) -> str | None:
        match = self._key.match(content)
        if match is None or match.group("indent") != self.indent:
            return None
        return match.group("key")

    def new_line(self, key: str, value: str) -> str:
        return f'{self.indent}"{key}": {value},'

    def line_value(self, line: str | None) -> Any:
        return _json_value(line)

    def insert_at(self, text: FrontMatterText, key: str) -> int:
        if key == SKIPPED:
            published = text.key_index(PUBLISHED)
            if published is not None:
                after = text.lines[published].content.rstrip().endswith(",")
                return published + 1 if after else published
        first = next((i for i, line in enumerate(text.lines) if self.key_of(line.content)),
                     None)
        if first is None:
            raise EditRefused("the JSON front matter has no key a line can go before")
        return first


def syntax_for(kind: str, lines: list[Line]) -> Syntax:
    if kind == TOML:
        return TomlSyntax()
    if kind == JSON:
        return JsonSyntax(lines)
    return YAML_SYNTAX


YAML_SYNTAX = Syntax()


def syntax_of(data: bytes) -> Syntax:
    """The syntax of this file's front matter; BrokenArticle if it has none."""
    return FrontMatterText(data).syntax


def key_lines(data: bytes) -> dict[str, str | None]:
    """The current `published:` and `skipped:` lines of a file (None when absent)."""
    text = FrontMatterText(data)
    return {key: text.key_line(key) for key in EDITABLE_KEYS}


def with_value(line: str | None, key: str, value: str) -> str:
    """A YAML `line` with its value replaced, or a new line (see `Syntax.with_value`)."""
    return YAML_SYNTAX.with_value(line, key, value)


@functools.lru_cache(maxsize=256)  # the same few lines recur in every file
def line_value(line: str | None) -> Any:
    """What a single `key: value` line means to YAML; ABSENT for no line."""
    if line is None:
        return ABSENT
    try:
        parsed = yaml.load(line, Loader=SafeLoader)
    except yaml.YAMLError:
        raise EditRefused(f"the line {line!r} is not valid YAML on its own") from None
    return _single_value(line, parsed)


def _single_value(line: str, parsed: Any) -> Any:
    if not isinstance(parsed, dict) or len(parsed) != 1:
        raise EditRefused(f"the line {line!r} is not a single key and value")
    return next(iter(parsed.values()))


@functools.lru_cache(maxsize=256)
def _toml_value(line: str | None) -> Any:
    if line is None:
        return ABSENT
    try:
        return _single_value(line, HANDLERS[TOML].load(line))
    except ValueError:
        raise EditRefused(f"the line {line!r} is not valid TOML on its own") from None


@functools.lru_cache(maxsize=256)
def _json_value(line: str | None) -> Any:
    if line is None:
        return ABSENT
    try:
        return _single_value(line, HANDLERS[JSON].load("{" + line.strip().rstrip(",") + "}"))
    except ValueError:
        raise EditRefused(f"the line {line!r} is not a JSON key and value") from None


def set_key_lines(data: bytes, wanted: Mapping[str, str | None],
                  parsed: Mapping[str, Any] | None = None) -> bytes:
    """The file with each key's top-level line set to `wanted[key]` (None: no such line).

    Only lines whose content changes are touched. The result is parsed again and
    checked (see `check_edit`); EditRefused if it does not hold exactly what was asked.
    `parsed` is the caller's `load_front_matter(data)`, if it has it (saves a parse).
    """
    text = FrontMatterText(data)
    for key in EDITABLE_KEYS:
        if key not in wanted:
            continue
        line = wanted[key]
        index = text.key_index(key)
        if index is None:
            if line is not None:
                _insert(text, key, line)
        elif line is None:
            del text.lines[index]
        elif text.lines[index].content != line:
            text.lines[index] = Line(line, text.lines[index].ending)
    result = text.to_bytes()
    syntax = text.syntax
    check_edit(data, result, {key: syntax.line_value(line) for key, line in wanted.items()},
               parsed)
    return result


def _insert(text: FrontMatterText, key: str, line: str) -> None:
    if text.syntax.key_of(line) != key:
        raise EditRefused(f"{line!r} is not a '{key}:' line")
    position = text.syntax.insert_at(text, key)
    if position <= 0:
        ending = text.opening_ending()
    else:
        ending = text.lines[position - 1].ending
        if not ending:  # cannot happen after split_front_matter, but never glue two lines
            raise EditRefused("the front matter does not end with a line break")
    text.lines.insert(position, Line(line, ending))


def _heat_anchor(text: FrontMatterText) -> int | None:
    """The `heat:` line's index when a line can go right after it, else None."""
    index = text.key_index("heat")
    if index is None:
        return None
    match = text.syntax.value_re.match(text.lines[index].content)
    value = match.group("value") if match else ""
    if not value or value[0] in "|>&!":  # value on the following lines, or YAML tags/anchors
        return None
    if text.syntax.name == TOML and value[0] in "[{":  # may run on over several lines
        return None
    following = text.lines[index + 1].content if index + 1 < len(text.lines) else ""
    if following[:1] in (" ", "\t"):  # an indented continuation of heat's value
        return None
    return index


def check_edit(before: bytes, after: bytes, expected: Mapping[str, Any],
               parsed: Mapping[str, Any] | None = None) -> None:
    """Refuse unless `after` parses, differs from `before` only in the expected keys,
    and those keys hold the expected values (ABSENT: not there)."""
    old = parsed
    if old is None:
        try:
            old = load_front_matter(before)
        except BrokenArticle as error:
            raise EditRefused(f"the file does not parse: {error}") from None
    try:
        new = load_front_matter(after)
    except BrokenArticle as error:
        raise EditRefused(f"the edited front matter would not parse: {error}") from None
    others_old = {k: v for k, v in old.items() if k not in expected}
    others_new = {k: v for k, v in new.items() if k not in expected}
    if others_old != others_new:
        changed = sorted(
            str(k) for k in others_old.keys() | others_new.keys()
            if others_old.get(k, ABSENT) != others_new.get(k, ABSENT)
        )
        raise EditRefused(f"the edit would also change: {', '.join(changed)}")
    for key, value in expected.items():
        got = new.get(key, ABSENT)
        if type(got) is not type(value) or got != value:
            raise EditRefused(
                f"after the edit '{key}' would read {_show(got)} instead of {_show(value)}"
            )


def _show(value: Any) -> str:
    return "(absent)" if value is ABSENT else repr(value)
