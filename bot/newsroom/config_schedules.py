"""The config file's `schedules:` list, checked with the rest of the configuration and
applied to the schedules table at start-up.

Config-file schedules are applied at start-up, idempotently. An entry with an `id:` is
that schedule (edit it and the schedule changes in place); an entry without one is
identified by its content (edit it and it becomes a new schedule). An entry removed from
the file removes its schedule. Pausing a config schedule from Slack or the command line
lasts across restarts until the file's own `enabled:` value changes; removing one is
refused (remove it from the file).
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from newsbot.bot.newsroom.schedules import (
    Schedule,
    ScheduleError,
    ScheduleSpec,
    check_cron,
    check_kind,
    check_min_quality,
    check_top,
    check_topics,
    check_zone_name,
    insert_schedule,
    normalize_channel,
    utc_text,
)
from newsbot.storage.db import Store

CONFIG_KEYS = ("id", "channel", "cron", "tz", "top", "topics", "min_quality", "enabled", "kind")
_GENERATED_ID = re.compile(r"^s\d+$", re.IGNORECASE)
_NAMED_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,39}$")


class ConfigEntryError(ValueError):
    """A `schedules:` entry is wrong; `where` is e.g. "[0].cron", `got` the offending value."""

    def __init__(self, message: str, where: str, got: Any) -> None:
        super().__init__(message)
        self.where = where
        self.got = got


def config_entry(raw: Any, index: int) -> dict[str, Any]:
    """One `schedules:` entry, checked and normalised (ConfigEntryError names the key)."""
    where = f"[{index}]"
    if not isinstance(raw, Mapping):
        raise ConfigEntryError("must be a mapping with channel, cron, tz, ...", where, raw)
    for key in raw:
        if key not in CONFIG_KEYS:
            close = difflib.get_close_matches(str(key), CONFIG_KEYS, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ConfigEntryError(
                f"unknown key{hint}; a schedule has {', '.join(CONFIG_KEYS)}",
                f"{where}.{key}", raw[key],
            )
    for key in ("channel", "cron"):
        if key not in raw:
            raise ConfigEntryError(f"missing '{key}'", where, dict(raw))
    entry: dict[str, Any] = {}
    checks = {
        "channel": normalize_channel, "cron": check_cron,
        "tz": lambda v: None if v is None else check_zone_name(v),
        "top": check_top, "topics": lambda v: list(check_topics(v)),
        "min_quality": check_min_quality, "id": _check_config_id, "enabled": _check_enabled,
        "kind": check_kind,
    }
    for key, check in checks.items():
        value = raw.get(key)
        try:
            entry[key] = check(value)
        except ValueError as error:
            raise ConfigEntryError(str(error), f"{where}.{key}", value) from None
    return entry


def _check_config_id(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip() if isinstance(value, (str, int)) else ""
    if _GENERATED_ID.match(text):
        raise ScheduleError(
            f"id '{text}' looks like a generated id (s + number): use a name such as "
            "'morning-digest'"
        )
    if not _NAMED_ID.match(text):
        raise ScheduleError(
            "id must start with a letter and use letters, digits, '-', '_' or '.' (max 40)"
        )
    return text


def _check_enabled(value: Any) -> bool:
    if value is None:
        return True
    if not isinstance(value, bool):
        raise ScheduleError("enabled must be true or false")
    return value


def check_config_schedules(value: Any) -> tuple[dict[str, Any], ...]:
    """The whole `schedules:` list, each entry checked, no entry given twice."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ConfigEntryError("must be a list of schedules (mappings)", "", value)
    entries = tuple(config_entry(raw, index) for index, raw in enumerate(value))
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        key = _config_key(entry, default_tz="").casefold()
        if key in seen:
            what = f"id '{entry['id']}'" if entry["id"] else "the same schedule"
            raise ConfigEntryError(
                f"{what} is already given as schedules[{seen[key]}]"
                + ("" if entry["id"] else " (give one an id, or remove it)"),
                f"[{index}]", value[index],
            )
        seen[key] = index
    return entries


def _config_key(entry: Mapping[str, Any], default_tz: str) -> str:
    """What identifies a config entry across restarts: its id, or else its content."""
    if entry.get("id"):
        return f"id:{entry['id']}"
    content = [entry["channel"], entry["cron"], entry.get("tz") or default_tz, entry.get("top"),
               list(entry.get("topics") or ()), entry.get("min_quality")]
    if entry.get("kind") not in (None, "digest"):  # digests keep the keys they always had
        content.append(entry["kind"])
    digest = hashlib.sha256(json.dumps(content).encode()).hexdigest()[:16]
    return f"content:{digest}"


@dataclass
class ConfigApplied:
    """What applying the config file's schedules changed (schedule ids)."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, list[str]]:
        return {"added": self.added, "updated": self.updated, "removed": self.removed,
                "unchanged": self.unchanged}


def apply_config_schedules(
    store: Store,
    entries: Iterable[Mapping[str, Any]],
    *,
    default_tz: str = "UTC",
    now: dt.datetime | None = None,
) -> ConfigApplied:
    """Make the table's config schedules match the file; running it again changes nothing.

    One transaction, so two processes starting together cannot both add an entry.
    """
    entries = check_config_schedules(list(entries))
    stamp = utc_text(now)
    report = ConfigApplied()
    with store.write() as db:
        existing = {
            row["config_key"]: row
            for row in store.query("SELECT * FROM schedules WHERE origin = 'config'")
        }
        keyed = [(_config_key(entry, default_tz), entry) for entry in entries]
        wanted = {key for key, _ in keyed}
        for key, row in existing.items():  # first, so a renamed id can be taken again
            if key not in wanted:
                db.execute("DELETE FROM schedules WHERE seq = ?", [row["seq"]])
                report.removed.append(row["id"])
        for key, entry in keyed:
            spec = ScheduleSpec(entry["channel"], entry["cron"], entry["tz"] or default_tz,
                                entry["top"], tuple(entry["topics"]), entry["min_quality"],
                                entry.get("kind"))
            spec = spec.validated(default_tz)
            row = existing.get(key)
            if row is None:
                report.added.append(insert_schedule(
                    db, spec, schedule_id=entry["id"], origin="config", created_by="config",
                    now=stamp, enabled=entry["enabled"], config_key=key,
                ))
                continue
            changed = _update_from_config(db, row, spec, entry["enabled"], stamp)
            (report.updated if changed else report.unchanged).append(row["id"])
    return report


def _update_from_config(db, row: Mapping[str, Any], spec: ScheduleSpec, enabled: bool,
                        stamp: str) -> bool:
    current = Schedule.from_row(row)
    changes: dict[str, Any] = {}
    if not spec.same_digest(current):
        changes.update(channel=spec.channel, cron=spec.cron, tz=spec.tz, top=spec.top,
                       topics=json.dumps(spec.topics), min_quality=spec.min_quality,
                       kind=spec.kind or "digest")
        if (spec.cron, spec.tz) != (current.cron, current.tz):
            changes["active_since"] = stamp  # a new timing starts now, nothing to catch up
    if bool(row["config_enabled"]) != enabled:
        # The file's own value changed: the file wins. Otherwise a pause or resume made
        # in Slack or on the command line stands.
        changes.update(enabled=int(enabled), config_enabled=int(enabled))
        if enabled and not current.enabled:
            changes["active_since"] = stamp
    if not changes:
        return False
    changes["updated_at"] = stamp
    assignments = ", ".join(f"{column} = ?" for column in changes)
    db.execute(f"UPDATE schedules SET {assignments} WHERE seq = ?", [*changes.values(), row["seq"]])
    return True
