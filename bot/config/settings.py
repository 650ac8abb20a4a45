"""Configuration: built-in defaults < the YAML file < environment variables < flags.

The file is `newsbot.yaml` in the working directory, or the one named by `--config` or
`NEWSBOT_CONFIG`. Every key is checked before anything runs; a wrong one stops the
program with the file, the key and the reason. Relative paths in the file are relative
to the file, elsewhere to the working directory.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml
from newsbot.bot.newsroom import checks
from newsbot.storage.db import DEFAULT_BUSY_TIMEOUT_MS
from newsbot.storage.story_clusters import ClusterSettings

DEFAULT_CONFIG_FILE = "newsbot.yaml"
# Shipped inside the package (package data), so an installed wheel has them too; in the
# repository `examples/articles` is a link to this folder.
WALK_WITH_EVENTS_SECONDS = 300.0  # the safety net while file events drive the index
WALK_POLLING_SECONDS = 60.0  # the walk is all there is without them
BUNDLED_ARTICLES = Path(__file__).resolve().parent.parent / "examples" / "articles"


class ConfigError(Exception):
    """A setting is wrong; the message names where it came from, the key and why."""


WHERE_ARTICLES = "set --articles, NEWSBOT_ARTICLES or 'articles:' in newsbot.yaml"


def is_bundled_examples(folder: Path) -> bool:
    """`folder` is (or lies inside) the example articles shipped in the package: in a
    checkout they are tracked files, from a wheel they are site-packages. Never written."""
    real, bundled = Path(folder).resolve(), BUNDLED_ARTICLES.resolve()
    return real == bundled or bundled in real.parents


def articles_folder_problem(folder: Path) -> str | None:
    """Why `folder` cannot be the articles folder, in one line; None when it can."""
    if folder.is_dir():
        return None
    if folder.exists():
        return f"the articles folder {folder} is not a folder ({WHERE_ARTICLES})"
    return f"the articles folder {folder} does not exist ({WHERE_ARTICLES})"


@dataclass(frozen=True)
class Config:
    articles: Path = BUNDLED_ARTICLES
    db: Path = Path("newsbot.db")
    patterns: tuple[str, ...] = ("*.md", "*.txt")
    # Digests
    digest_top: int = 10
    digest_in_thread: bool = True  # article messages in the header's thread
    digest_repost_after_days: float | None = None  # None: never repost an undecided article
    digest_nothing_new: bool = True  # post a short line when nothing is eligible
    # Decisions
    publish_emoji: tuple[str, ...] = ("white_check_mark",)
    skip_emoji: tuple[str, ...] = ("x",)
    editors: tuple[str, ...] = ()  # Slack user ids allowed to decide; empty: everyone
    admins: tuple[str, ...] = ()  # Slack user ids allowed to change schedules and sync
    # Schedules
    schedules: tuple[dict, ...] = ()  # checked and normalised by config_schedules.config_entry
    grace_minutes: float = 60.0
    timezone: str = "UTC"  # for schedules given without a zone (config file, command line)
    # Sync
    sync_interval_minutes: float = 0.0  # 0: no periodic sync inside `newsbot serve`
    git_author: str = "newsbot <newsbot@localhost>"
    git_committer: str | None = None  # None: same as the author
    sync_git_commit: bool = False  # syncs inside `newsbot serve` commit what they write
    # Story clusters (storage.clusters)
    clusters_enabled: bool = True
    clusters_similarity: float = 0.8  # title + excerpt lede similarity that makes a copy
    clusters_window_hours: float = 72.0  # copies are published at most this far apart
    # Coverage gaps: the topics to watch; empty: every topic seen in the last 30 days
    gap_topics: tuple[str, ...] = ()
    # Link previews: the domains of the newsroom's article links (at most 5, as Slack allows);
    # empty: no previews, and the manifest asks for no links:* scope
    unfurl_domains: tuple[str, ...] = ()
    # Serving
    # How often `newsbot serve` walks the whole articles folder; None: every 300 s while
    # file events drive the index (the walk is only a safety net then), every 60 s without
    refresh_seconds: float | None = None
    file_events: bool = True  # False: poll only (a network share whose changes raise no events)
    host: str | None = None  # None: 0.0.0.0 for HTTP mode, 127.0.0.1 for Socket Mode's metrics
    metrics_port: int | None = None  # Socket Mode: /healthz and /metrics on this port
    request_seconds: float = 10.0  # HTTP: a request must arrive whole within this (else 408)
    connections_per_address: int = 256  # HTTP: open at once from one client address
    # Database
    busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS  # how long a writer waits for another
    # Health (/healthz)
    health_min_free_mb: float = 1.0  # less free space for the database or the spool: 503
    health_quick_check_seconds: float = 300.0  # how often PRAGMA quick_check runs in serve
    # Index
    max_file_bytes: int = 1 << 20  # a larger article file is recorded as failed, not read
    source: str = field(default="defaults", compare=False)  # where the file came from

    def walk_seconds(self, file_events: bool) -> float:
        """How often the whole folder is walked, depending on whether file events work."""
        if self.refresh_seconds is not None:
            return self.refresh_seconds
        return WALK_WITH_EVENTS_SECONDS if file_events else WALK_POLLING_SECONDS

    @property
    def cluster_settings(self) -> ClusterSettings:
        """What the index clusters with (`clusters.*`)."""
        return ClusterSettings(enabled=self.clusters_enabled,
                               similarity=self.clusters_similarity,
                               window_hours=self.clusters_window_hours)


# --- value checks (bot.newsroom.checks), and the compositions only settings need


def _optional(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`check`, with null (YAML's `null`, `~` or nothing) meaning "not set"."""
    return lambda value: None if value is None else check(value)


def _positive_int(value: Any) -> int:
    return checks.whole_number(value, minimum=1)


def _non_negative(value: Any) -> float:
    return checks.number(value, minimum=0)


def _positive_number(value: Any) -> float:
    return checks.number(value, above=0)


def _fraction(value: Any) -> float:
    return checks.number(value, above=0, maximum=1)


def _patterns(value: Any) -> tuple[str, ...]:
    patterns = checks.names(value)
    if not patterns:
        # no pattern matches no file, and a refresh would then forget every article
        raise ValueError("must name at least one file pattern, e.g. ['*.md', '*.txt']")
    return patterns


def _emoji(value: Any) -> tuple[str, ...]:
    names = tuple(name.strip(":") for name in checks.names(value))
    if not names:
        raise ValueError("must name at least one emoji")
    return names


def _schedules(value: Any) -> tuple[dict, ...]:
    """Each entry checked (keys channel, cron, tz, top, topics, min_quality, id, enabled)."""
    # imported here, not above: the schedule rules load APScheduler's cron (about 45 ms),
    # which a command on a config without schedules never needs
    from newsbot.bot.newsroom.config_schedules import check_config_schedules

    return check_config_schedules(value)


def _time_zone(value: Any) -> str:
    from newsbot.bot.newsroom.cron import zone  # lazily, as above

    return zone(value).key


@dataclass(frozen=True)
class Setting:
    attribute: str
    check: Callable[[Any], Any]
    env: str | None = None


# File keys (dotted for nested sections) -> the Config attribute they set.
SETTINGS: dict[str, Setting] = dict(
    [
        ("articles", Setting("articles", checks.path, "NEWSBOT_ARTICLES")),
        ("db", Setting("db", checks.path, "NEWSBOT_DB")),
        ("patterns", Setting("patterns", _patterns, "NEWSBOT_PATTERNS")),
        ("digest.top", Setting("digest_top", _positive_int, "NEWSBOT_DIGEST_TOP")),
        ("digest.in_thread", Setting("digest_in_thread", checks.boolean)),
        ("digest.repost_after_days", Setting("digest_repost_after_days", _optional(_non_negative))),
        ("digest.nothing_new", Setting("digest_nothing_new", checks.boolean)),
        ("reactions.publish", Setting("publish_emoji", _emoji)),
        ("reactions.skip", Setting("skip_emoji", _emoji)),
        ("editors", Setting("editors", checks.names, "NEWSBOT_EDITORS")),
        ("admins", Setting("admins", checks.names, "NEWSBOT_ADMINS")),
        ("schedules", Setting("schedules", _schedules)),
        ("scheduler.grace_minutes", Setting("grace_minutes", _non_negative)),
        ("scheduler.timezone", Setting("timezone", _time_zone, "NEWSBOT_TIMEZONE")),
        ("serve.refresh_seconds", Setting("refresh_seconds", _optional(_positive_number))),
        ("serve.file_events", Setting("file_events", checks.boolean, "NEWSBOT_FILE_EVENTS")),
        ("serve.host", Setting("host", _optional(checks.text), "NEWSBOT_HOST")),
        ("serve.metrics_port",
         Setting("metrics_port", _optional(checks.port), "NEWSBOT_METRICS_PORT")),
        ("serve.request_seconds", Setting("request_seconds", _positive_number,
                                          "NEWSBOT_REQUEST_SECONDS")),
        ("serve.connections_per_address", Setting("connections_per_address", _positive_int,
                                                  "NEWSBOT_CONNECTIONS_PER_ADDRESS")),
        ("database.busy_timeout_ms",
         Setting("busy_timeout_ms", _positive_int, "NEWSBOT_BUSY_TIMEOUT_MS")),
        ("health.min_free_mb",
         Setting("health_min_free_mb", _non_negative, "NEWSBOT_HEALTH_MIN_FREE_MB")),
        ("health.quick_check_seconds", Setting("health_quick_check_seconds", _positive_number,
                                               "NEWSBOT_HEALTH_QUICK_CHECK_SECONDS")),
        ("sync.interval_minutes", Setting("sync_interval_minutes", _non_negative)),
        ("sync.git_author", Setting("git_author", checks.text, "NEWSBOT_GIT_AUTHOR")),
        ("sync.git_committer", Setting("git_committer", _optional(checks.text))),
        ("sync.git_commit", Setting("sync_git_commit", checks.boolean)),
        ("index.max_file_bytes", Setting("max_file_bytes", _positive_int,
                                         "NEWSBOT_MAX_FILE_BYTES")),
        ("clusters.enabled",
         Setting("clusters_enabled", checks.boolean, "NEWSBOT_CLUSTERS_ENABLED")),
        ("clusters.similarity",
         Setting("clusters_similarity", _fraction, "NEWSBOT_CLUSTERS_SIMILARITY")),
        ("clusters.window_hours",
         Setting("clusters_window_hours", _positive_number, "NEWSBOT_CLUSTERS_WINDOW_HOURS")),
        ("gaps.topics", Setting("gap_topics", checks.names)),
        ("unfurl.domains",
         Setting("unfurl_domains", checks.unfurl_domains, "NEWSBOT_UNFURL_DOMAINS")),
    ]
)
_PATH_ATTRIBUTES = {"articles", "db"}
_SECTIONS = {key.split(".")[0] for key in SETTINGS if "." in key}


def _flatten(data: Mapping, origin: str) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if not isinstance(key, str):
            raise ConfigError(f"{origin}: key {key!r} must be text")
        if key in _SECTIONS:
            if not isinstance(value, Mapping):
                raise ConfigError(f"{origin}: key '{key}': must be a mapping of settings")
            for sub_key, sub_value in value.items():
                flat[f"{key}.{sub_key}"] = sub_value
        else:
            flat[key] = value
    return flat


def _apply(values: dict[str, Any], raw: Mapping[str, Any], origin: str, base: Path | None):
    for key, value in raw.items():
        setting = SETTINGS.get(key)
        if setting is None:
            raise ConfigError(f"{origin}: {unknown_key(key)}")
        try:
            clean = setting.check(value)
        except ValueError as error:
            # A list's entry names itself: key 'schedules[1].cron', got that entry's value
            where, got = getattr(error, "where", ""), getattr(error, "got", value)
            raise ConfigError(f"{origin}: key '{key}{where}': {error} (got {got!r})") from None
        if setting.attribute in _PATH_ATTRIBUTES and base is not None and not clean.is_absolute():
            clean = base / clean
        values[setting.attribute] = clean


def unknown_key(key: str) -> str:
    """`unknown key 'artciles' (did you mean 'articles'?); valid keys: ...`: the closest
    valid key (a typo, or a key given without its section) and every valid one."""
    same_name = [k for k in SETTINGS if k.split(".")[-1] == key.split(".")[-1]]
    candidates = list(SETTINGS) + sorted(_SECTIONS)
    close = same_name or difflib.get_close_matches(key, candidates, n=1, cutoff=0.6)
    if not close and "." in key:  # a typo in the section: `sheduler.timezone`
        section, _, name = key.partition(".")
        sections = difflib.get_close_matches(section, sorted(_SECTIONS), n=1, cutoff=0.6)
        if sections and f"{sections[0]}.{name}" in SETTINGS:
            close = [f"{sections[0]}.{name}"]
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"unknown key '{key}'{hint}; valid keys: {', '.join(SETTINGS)}"


def _yaml_problem(error: yaml.YAMLError) -> str:
    """Where and what, on one line (PyYAML's own text spans lines and names no file)."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{where}: {problem or str(error).splitlines()[0]}"


def read_config_file(path: Path) -> dict[str, Any]:
    """The file's settings as dotted keys; ConfigError when it cannot be read or parsed."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the config file: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not UTF-8 text (byte {error.start})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML{_yaml_problem(error)}") from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: must be a mapping of settings, not {type(data).__name__}")
    return _flatten(data, str(path))


def load_config(
    config_file: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    flags: Mapping[str, Any] | None = None,
    cwd: Path | None = None,
) -> Config:
    """Merge defaults, the file, the environment and flags (attribute names) into a Config."""
    env = os.environ if env is None else env
    cwd = cwd or Path.cwd()
    values: dict[str, Any] = {}
    source = "defaults"
    explicit = config_file or env.get("NEWSBOT_CONFIG")
    path = Path(explicit) if explicit else cwd / DEFAULT_CONFIG_FILE
    if not path.is_absolute():
        path = cwd / path
    if explicit or path.exists():
        _apply(values, read_config_file(path), str(path), path.parent)
        source = str(path)
    env_values = {key: env[s.env] for key, s in SETTINGS.items() if s.env and env.get(s.env)}
    for key, value in env_values.items():
        _apply(values, {key: value}, f"environment variable {SETTINGS[key].env}", cwd)
    by_attribute = {s.attribute: key for key, s in SETTINGS.items()}
    for attribute, value in (flags or {}).items():
        if value is not None:
            _apply(values, {by_attribute[attribute]: value}, f"--{attribute}", cwd)
    known = {f.name for f in fields(Config)}
    return Config(**{k: v for k, v in values.items() if k in known}, source=source)
