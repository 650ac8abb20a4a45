"""A strict scanner for the front matter shapes the newsroom writes, exact or silent.

libyaml builds a node for every scalar and PyYAML resolves each one in Python: that is
most of what indexing costs. The newsroom's files use a small, regular part of YAML:
block mappings and sequences, one scalar per line (double- or single-quoted, or plain),
`key:` with its block on the following, deeper lines. `scan_front_matter` reads exactly
that and returns what `yaml.load(text, Loader=CSafeLoader)` returns, or None ("don't
know") for anything else, and the caller then runs the full parse. It never guesses:

- every plain scalar goes through PyYAML's own resolver and constructor, so `yes`,
  `~`, `007`, `0x10`, `1e3`, `.5`, `1:30` and timestamps with or without a zone give
  the very same values and types;
- it skips blank lines and whole-line comments; it declines on tabs, comments after a
  value, anchors, aliases, tags, flow collections, block
  scalars, escapes other than `\\"` and `\\\\`, multi-line scalars, explicit or quoted
  keys, a key PyYAML would not read as a string, characters YAML refuses or treats as
  line breaks, a lone CR, and any indentation it does not expect;
- it never raises for bad input: errors are the full parse's to report.

tests/storage/test_front_matter_scan.py checks equality with the full parse on
generated documents (hypothesis) and on the awkward cases by name.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from yaml.constructor import SafeConstructor
from yaml.nodes import ScalarNode
from yaml.resolver import Resolver

_STR_TAG = "tag:yaml.org,2002:str"
_INT_TAG = "tag:yaml.org,2002:int"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_UTC_SECONDS = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z\Z")
SCALAR_CONSTRUCTORS = {
    tag: SafeConstructor.yaml_constructors[tag]
    for tag in (
        f"tag:yaml.org,2002:{name}"
        for name in ("null", "bool", "int", "float", "timestamp", "str", "binary")
    )
}


class Unknown(Exception):
    """Not a shape the scanner reads: the full parse decides."""


def construct_scalar(constructor: SafeConstructor, node: ScalarNode, tag: str) -> Any:
    """PyYAML's value for a resolved scalar that is not a string; the commonest forms
    directly. Raises Unknown for a tag outside the standard scalars."""
    value = node.value
    if tag == _INT_TAG and value.isascii() and value.isdigit() and value[0] != "0":
        return int(value)  # what construct_yaml_int returns for plain decimal digits
    if tag == _TIMESTAMP_TAG and (moment := _utc_seconds(value)) is not None:
        return moment
    construct = SCALAR_CONSTRUCTORS.get(tag)
    if construct is None:
        raise Unknown(tag)
    return construct(constructor, node)


def _utc_seconds(value: str) -> dt.datetime | None:
    """What construct_yaml_timestamp returns for `2020-07-02T19:21:00Z`; None for another
    form. fromisoformat reads that form with the same checks as datetime() (a date that
    does not exist raises here as it does there) at a twentieth of the cost of taking
    it apart; an hour of 24 or more is left to PyYAML, should a later Python read
    `T24:00:00` as midnight."""
    if _UTC_SECONDS.match(value) and value[11:13] < "24":
        return dt.datetime.fromisoformat(value)  # tzinfo: dt.UTC, as PyYAML gives
    return None


# Characters YAML accepts in a stream, less tab, CR, BOM and those libyaml reads as line
# breaks (NEL, LS, PS): any other character sends the document to the full parse.
_OUTSIDE_SUBSET = re.compile(
    "[^\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
)
_ASCII_SUBSET = bytes(range(0x20, 0x7F)) + b"\n"  # the ASCII characters of that subset
# Each line: indentation, an optional "- " (a sequence entry), an optional plain key and
# its colon (followed by a space or the line's end), then the rest: a scalar or nothing
# (a block follows). One findall call reads every line; four groups, not one per scalar
# style, since every group costs a string per line (it was a third of the scan). What the
# rest holds is told by its first character (_quoted checks a quoted scalar whole).
# Possessive (`{0,127}+`, `?+`): the rest matches whatever is left of the line, so the
# key is never given back; the engine need not keep the states to try.
_LINES = re.compile(
    r"""^( *)(- )?(?:([A-Za-z_][A-Za-z0-9_-]{0,127}+):(?: |$))?+(.*)$""",
    re.MULTILINE,
)
# A quoted scalar that ends its line: double-quoted with no escapes but \" and \\, or
# single-quoted with '' for a quote.
_DOUBLE = re.compile(r'"([^"\\\n]*(?:\\["\\][^"\\\n]*)*)"')
_SINGLE = re.compile(r"'([^'\n]*(?:''[^'\n]*)*)'")
_ESCAPE = re.compile(r'\\(["\\])')
# A plain scalar may not start with an indicator (nor, here, a dot or a dash), except
# for a number: -5, -.5, .5
_PLAIN_START_REFUSED = frozenset("-?:,[]{}#&*!|>'\"%@`<=. ")
_SIGNED_NUMBER = re.compile(r"-?\.?[0-9]")
_BLOCK = object()  # a line's value: the block on the lines below

_resolver = Resolver()
_constructor = SafeConstructor()
_plain_values: dict[str, Any] = {}  # plain scalar text -> its value (types, names repeat)
PLAIN_VALUES_KEPT = 50_000  # bounds the memo: timestamps are mostly unique
_IMMUTABLE = (str, int, float, bool, type(None))
_string_keys: set[str] = set()  # keys PyYAML reads as strings (not yes, null...)

# indentation (its spaces: strings of spaces compare as their lengths do), "- " or "" for
# a sequence entry, key ("" for none), value
Token = tuple[str, str, str, Any]


def scan_front_matter(text: str) -> dict[str, Any] | None:
    """The front matter (between the `---` lines, BOM removed) as `yaml.load` gives
    it, when it is a mapping in the scanner's subset; None otherwise."""
    if "\r" in text:
        if text.count("\r") != text.count("\r\n"):
            return None  # a lone CR is a line break to YAML
        text = text.replace("\r\n", "\n")
    if not (text.isascii() and not text.encode().translate(None, _ASCII_SUBSET)) and (
            _OUTSIDE_SUBSET.search(text)):  # ASCII's check in one C call: nothing left over
        return None
    try:
        tokens = _tokens(text)
        if not tokens or tokens[0][0] or tokens[0][1]:
            return None
        value, end = _mapping(tokens, 0, "")
    except Unknown:
        return None
    except Exception:  # a constructor's ValueError (a bad date): the full parse reports it
        return None
    return value if end == len(tokens) else None


def _tokens(text: str) -> list[Token]:
    tokens: list[Token] = []
    append = tokens.append
    plain_values = _plain_values
    for indent, entry, key, rest in _LINES.findall(text):
        if rest:
            first = rest[0]
            if first == '"' or first == "'":
                if not (key or entry):
                    raise Unknown("line")  # a quoted key or a bare quoted scalar
                value: Any = rest[1:-1]
                # the common case inline: closed at the line's end, no inner quote, no
                # escape (a lone quote is not closed); _quoted reads the rest
                if (rest[-1] != first or rest == first or first in value
                        or (first == '"' and "\\" in value)):
                    value = _quoted(rest, first)
            elif not (key or entry):
                if first != "#":
                    raise Unknown("line")  # a bare scalar, a flow key, a directive...
                continue  # a comment: with single-line scalars only, it separates nothing
            else:
                value = plain_values.get(rest, plain_values)
                if value is plain_values:
                    value = _plain_scalar(rest)
        elif key:
            value = _BLOCK
        elif entry:
            raise Unknown("empty entry")
        else:
            continue  # blank
        append((indent, entry, key, value))
    return tokens


def _quoted(rest: str, quote: str) -> str:
    """A quoted scalar filling the rest of its line, as YAML reads it; Unknown otherwise
    (a closing quote before the line's end, an escape other than \\" and \\\\)."""
    inner = rest[1:-1]
    if len(rest) >= 2 and rest[-1] == quote and quote not in inner:
        if quote == "'":
            return inner
        if "\\" not in inner:
            return inner  # the common case: no escape, no inner quote
    match = (_DOUBLE if quote == '"' else _SINGLE).fullmatch(rest)
    if match is None:
        raise Unknown("quoted")
    inner = match.group(1)
    if quote == "'":
        return inner.replace("''", "'")
    return _ESCAPE.sub(r"\1", inner) if "\\" in inner else inner


def _mapping(tokens: list[Token], pos: int, indent: str) -> tuple[dict, int]:
    """The mapping whose keys are at `indent`, from tokens[pos]."""
    mapping: dict[Any, Any] = {}
    count = len(tokens)
    while pos < count:
        line_indent, entry, key, value = tokens[pos]
        if line_indent < indent:
            break
        if line_indent > indent or entry or not key:
            raise Unknown("line")
        if key not in _string_keys:
            if type(_plain(key)) is not str:
                raise Unknown("key")  # yes, null, true...: not a string key
            _string_keys.add(key)
        pos += 1
        if value is _BLOCK:
            if pos < count and tokens[pos][0] > indent:
                below = tokens[pos][0]
                if tokens[pos][1]:
                    value, pos = _sequence(tokens, pos, below)
                else:
                    value, pos = _mapping(tokens, pos, below)
            else:
                value = None  # "key:" and nothing below it; a same-indent list: declined
        mapping[key] = value
    return mapping, pos


def _sequence(tokens: list[Token], pos: int, indent: str) -> tuple[list, int]:
    """The sequence whose "- " are at `indent`, from tokens[pos]."""
    items: list[Any] = []
    count = len(tokens)
    while pos < count:
        line_indent, entry, key, value = tokens[pos]
        if line_indent < indent:
            break
        if line_indent > indent or not entry:
            raise Unknown("line")
        if not key:
            items.append(value)
            pos += 1
        else:  # "- key: ...": a mapping whose keys are at the column after "- "
            below = indent + "  "
            tokens[pos] = (below, "", key, value)
            item, pos = _mapping(tokens, pos, below)
            items.append(item)
    return items, pos


def _plain_scalar(text: str) -> Any:
    first = text[0]
    if first in _PLAIN_START_REFUSED and not (first in "-." and _SIGNED_NUMBER.match(text)):
        raise Unknown("indicator")
    if ": " in text or " #" in text or text[-1] in ": ":
        raise Unknown("plain")
    moment = _utc_seconds(text)  # what the resolver makes of it, without its regexes
    if moment is not None:
        return moment
    value = _plain(text)
    if len(_plain_values) < PLAIN_VALUES_KEPT and isinstance(value, _IMMUTABLE):
        _plain_values[text] = value
    return value


def _plain(text: str) -> Any:
    """A plain scalar's value, as PyYAML resolves and constructs it."""
    tag = _resolver.resolve(ScalarNode, text, (True, False))
    if tag == _STR_TAG:
        return text
    return construct_scalar(_constructor, ScalarNode(tag, text), tag)
