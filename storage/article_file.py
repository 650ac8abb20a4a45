"""Reading one article file: its front matter, then the fields we index.

Front matter is YAML between `---` lines (the newsroom's own files), TOML between `+++`
lines, or JSON from a `{` line to a `}` line (Hugo and similar tools). Parsing is the
expensive step of indexing, so this module reads bytes once, splits the front matter
with two anchored regexes and hands only the front matter to libyaml. TOML and JSON go
to python-frontmatter's handlers. Anything unusable raises `BrokenArticle` with a reason
an editor can act on.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

import yaml
from frontmatter.default_handlers import JSONHandler, TOMLHandler
from newsbot.storage.front_matter_scan import construct_scalar, scan_front_matter
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

try:  # libyaml is several times faster; PyYAML wheels ship it
    from yaml import CSafeLoader as SafeLoader
except ImportError:  # pragma: no cover - depends on the PyYAML build
    from yaml import SafeLoader  # type: ignore[assignment]

BOM = "\ufeff"
_OPENING = re.compile(r"---[ \t]*\r?\n")
_CLOSING = re.compile(r"---[ \t]*(?:\r?\n|\Z)")  # at the start of a line
# What an SQLite INTEGER holds: a larger score would stop the whole index write.
_SQLITE_INTEGERS = range(-(2**63), 2**63)


class BrokenArticle(ValueError):
    """The file cannot be used as an article; the message says why."""


YAML, TOML, JSON = "yaml", "toml", "json"
# For each format: the opening line, and the line that closes the front matter.
_DELIMITERS = {
    YAML: (_OPENING, _CLOSING, "\n---", "'---'"),
    TOML: (re.compile(r"\+\+\+[ \t]*\r?\n"), re.compile(r"\+\+\+[ \t]*(?:\r?\n|\Z)"), "\n+++",
           "'+++'"),
    JSON: (re.compile(r"\{[ \t]*\r?\n"), re.compile(r"\}[ \t]*(?:\r?\n|\Z)"), "\n}", "'}'"),
}
HANDLERS = {TOML: TOMLHandler(), JSON: JSONHandler()}  # python-frontmatter's readers


def front_matter_format(text: str) -> str:
    """YAML, TOML or JSON, from how the file starts (its BOM removed)."""
    if text.startswith("+++"):
        return TOML
    if text.startswith("{"):
        return JSON
    return YAML


def split_front_matter(text: str) -> tuple[str, int, int]:
    """Return (front matter, its start offset, the offset just after the closing line).

    `text` has its BOM already removed. The first closing line after the opening one
    (`---`, `+++`, or for JSON a `}` in the first column) closes the front matter, so a
    body may contain such lines of its own. For JSON the braces' lines are the delimiters:
    the front matter returned is what lies between them.
    """
    kind = front_matter_format(text)
    opening_re, closing_re, closing_text, name = _DELIMITERS[kind]
    opening = opening_re.match(text)
    if opening is None:
        if kind == YAML:
            raise BrokenArticle("no front matter: the file does not start with a '---' line "
                                "(or '+++' for TOML, '{' for JSON)")
        raise BrokenArticle(f"no front matter: the first line must be {_opening_name(kind)} "
                            "alone")
    closing = None
    newline = opening.end() - 1  # the opening line's own newline
    while closing is None:
        # str.find, then an anchored match: a MULTILINE '^' search tried every offset
        newline = text.find(closing_text, newline)
        if newline < 0:
            which = "" if kind == JSON else "second "
            raise BrokenArticle(f"front matter is not closed: no {which}{name} line")
        closing = closing_re.match(text, newline + 1)
        newline += 1
    return text[opening.end() : closing.start()], opening.end(), closing.end()


def _opening_name(kind: str) -> str:
    return "'+++'" if kind == TOML else "'{'"


def load_front_matter(data: bytes) -> dict[str, Any]:
    """Decode and parse a file's front matter into a mapping (no field checks)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BrokenArticle(f"not UTF-8 text (byte {error.start})") from None
    if text.startswith(BOM):
        text = text[1:]
    front_matter, _, _ = split_front_matter(text)
    kind = front_matter_format(text)
    if kind != YAML:
        return _load_other(kind, front_matter)
    meta = scan_front_matter(front_matter)  # the newsroom's own shapes, exactly
    if meta is not None:
        return meta
    try:
        meta = load_yaml(front_matter)
    except yaml.YAMLError as error:
        raise BrokenArticle(_describe_yaml_error(error)) from None
    if not isinstance(meta, dict):
        kind = "empty" if meta is None else type(meta).__name__
        raise BrokenArticle(f"front matter is not a mapping of keys to values ({kind})")
    return meta


def _load_other(kind: str, front_matter: str) -> dict[str, Any]:
    """TOML or JSON front matter, read by python-frontmatter's handler for it."""
    handler = HANDLERS[kind]
    try:
        if kind == JSON:
            meta = handler.load("{" + front_matter + "}")
        else:
            meta = handler.load(front_matter)
    except ValueError as error:  # json.JSONDecodeError and toml.TomlDecodeError both are
        line = getattr(error, "lineno", None)
        problem = getattr(error, "msg", None) or str(error).split(" (line")[0]
        # +1: the front matter starts on the file's second line (for JSON, after the '{')
        where = f" at line {line + 1}" if line else ""
        raise BrokenArticle(f"invalid {kind.upper()} in front matter{where}: {problem}") from None
    if not isinstance(meta, dict):  # cannot happen for either, but never index a non-mapping
        raise BrokenArticle(f"front matter is not a mapping of keys to values "
                            f"({type(meta).__name__})")
    return meta


class FrontMatterLoader(SafeLoader):
    """`yaml.CSafeLoader` that remembers which tag each plain scalar resolves to.

    Resolving runs a few regexes per scalar and was a third of the parse time; front
    matter repeats the same plain values (numbers, booleans, names, domains) file after
    file. The tag depends only on the value (this loader has no path resolvers), so a
    memo gives exactly the tags `resolve` would.
    """

    _plain_tags: dict[str, str] = {}
    PLAIN_TAGS_KEPT = 50_000  # bounds the memo: timestamps are mostly unique

    def resolve(self, kind: type, value: Any, implicit: tuple[bool, bool]) -> str:
        if self.yaml_path_resolvers:
            return super().resolve(kind, value, implicit)
        if kind is MappingNode:
            return self.DEFAULT_MAPPING_TAG
        if kind is SequenceNode:
            return self.DEFAULT_SEQUENCE_TAG
        if not implicit[0]:  # quoted, or tagged '!': a string
            return self.DEFAULT_SCALAR_TAG
        tag = self._plain_tags.get(value)
        if tag is None:
            tag = super().resolve(kind, value, implicit)
            if len(self._plain_tags) < self.PLAIN_TAGS_KEPT:
                self._plain_tags[value] = tag
        return tag


_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_STR_TAG = "tag:yaml.org,2002:str"
_SPECIAL_KEY_TAGS = frozenset({"tag:yaml.org,2002:merge", "tag:yaml.org,2002:value"})


class _NotPlain(Exception):
    """The document needs PyYAML's full constructor (aliases, merges, other tags)."""


def load_yaml(text: str) -> Any:
    """Exactly `yaml.load(text, Loader=SafeLoader)`, with a faster path for plain documents.

    PyYAML's constructor spends most of its time on bookkeeping for aliases and
    recursive structures that front matter does not use. Plain trees of maps, lists
    and the standard scalars are built directly, calling PyYAML's own constructor for
    every scalar that is not a string. Anything else, and any error, goes through
    PyYAML's constructor on the same node tree, so results and error messages are
    PyYAML's. The whole document is always parsed and constructed: nothing is skipped.
    """
    loader = FrontMatterLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        try:
            return _construct_plain(loader, node, set())
        except Exception:  # _NotPlain, Unknown, or a value error PyYAML must report its own way
            return loader.construct_document(node)
    finally:
        loader.dispose()


def _construct_plain(loader: SafeConstructor, node: Any, seen: set[int]) -> Any:
    kind, tag = type(node), node.tag
    if kind is ScalarNode:
        if tag == _STR_TAG:
            return node.value
        return construct_scalar(loader, node, tag)
    if id(node) in seen:  # an alias: PyYAML shares the object (and allows cycles)
        raise _NotPlain("alias")
    seen.add(id(node))
    if kind is MappingNode and tag == _MAP_TAG:
        mapping = {}
        for key_node, value_node in node.value:
            if key_node.tag in _SPECIAL_KEY_TAGS:
                raise _NotPlain(key_node.tag)
            # strings, most keys and values, without a call each
            if type(key_node) is ScalarNode and key_node.tag == _STR_TAG:
                key = key_node.value
            else:
                key = _construct_plain(loader, key_node, seen)
            if type(value_node) is ScalarNode and value_node.tag == _STR_TAG:
                mapping[key] = value_node.value
            else:
                mapping[key] = _construct_plain(loader, value_node, seen)
        return mapping
    if kind is SequenceNode and tag == _SEQ_TAG:
        return [_construct_plain(loader, child, seen) for child in node.value]
    raise _NotPlain(tag)


def parse_article(data: bytes) -> dict[str, Any]:
    """The indexed fields of one article file, checked; raises BrokenArticle."""
    meta = load_front_matter(data)
    provider = meta.get("provider")
    if isinstance(provider, dict):
        provider_name = _text(provider, "name", label="provider name")
        provider_domain = _text(provider, "domain", label="provider domain")
    elif provider is None or isinstance(provider, str):
        provider_name, provider_domain = provider, None
    else:
        raise BrokenArticle("provider must be a mapping with name and domain")
    title = _text(meta, "title")
    if not title:
        raise BrokenArticle("title is missing or empty")
    published = meta.get("published", False)
    if published is None:
        published = False
    if not isinstance(published, bool):
        raise BrokenArticle(f"published must be true or false, not {published!r}")
    skipped = meta.get("skipped", False)
    if skipped is None:
        skipped = False
    if not isinstance(skipped, bool):
        raise BrokenArticle(f"skipped must be true or false, not {skipped!r}")
    return {
        "title": title,
        "excerpt": _text(meta, "excerpt"),
        "web_url": _text(meta, "webUrl"),
        "provider_name": None if provider_name is None else str(provider_name),
        "provider_domain": None if provider_domain is None else str(provider_domain),
        "topics": _topics(meta.get("topics")),
        "quality": _number(meta, "quality"),
        "heat": _number(meta, "heat"),
        "published": published,
        "skipped": skipped,
        "published_at": _timestamp(meta.get("publishedDateTime")),
        "category": _text(meta, "category"),
        "type": _text(meta, "type"),
        "image_url": _first_image(meta.get("images")),
    }


def _describe_yaml_error(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    if mark is not None:
        # +2: the mark counts from 0 inside the front matter, which starts on line 2
        return f"invalid YAML in front matter at line {mark.line + 2}: {problem}"
    return f"invalid YAML in front matter: {problem}"


def _text(meta: dict, key: str, label: str | None = None) -> str | None:
    value = meta.get(key)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        raise BrokenArticle(f"{label or key} must be text, not a {type(value).__name__}")
    return str(value)


def _number(meta: dict, key: str) -> int | float | None:
    value = meta.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BrokenArticle(f"{key} must be a number, not {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        # inf/nan would be printed as `Infinity`/`NaN`, which is not JSON
        raise BrokenArticle(f"{key} must be a finite number, not {value!r}")
    if isinstance(value, int) and value not in _SQLITE_INTEGERS:
        raise BrokenArticle(f"{key} is too large a number: {value}")
    return value


def _topics(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(t, (str, int, float)) for t in value):
        raise BrokenArticle("topics must be a list of names")
    seen: dict[str, str] = {}
    for topic in value:
        name = str(topic).strip()
        if name:
            seen.setdefault(name.casefold(), name)
    return list(seen.values())


def _timestamp(value: Any) -> str | None:
    """publishedDateTime as ISO 8601 in UTC with a Z; a zone-less time is taken as UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise BrokenArticle(f"publishedDateTime is not a date and time: {value!r}") from None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    if not isinstance(value, dt.datetime):
        raise BrokenArticle(f"publishedDateTime is not a date and time: {value!r}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    try:
        utc = value.astimezone(dt.UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+05:00 is before year 1 in UTC
        raise BrokenArticle(f"publishedDateTime is out of range: {value.isoformat()}") from None
    # isoformat pads the year to four digits (strftime's %Y does not), so text order is
    # time order: the digest and --max-age-days compare these strings
    return utc.replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def _first_image(images: Any) -> str | None:
    if isinstance(images, list) and images and isinstance(images[0], dict):
        url = images[0].get("url")
        return url if isinstance(url, str) else None
    return None
