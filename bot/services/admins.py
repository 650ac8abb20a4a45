"""Who may change schedules: the config's `admins`, plus workspace admins and owners.

Workspace roles come from a profile look-up the caller provides (in `newsbot serve`,
Slack's `users.info`), cached for a few minutes so a burst of commands costs one call.
The same profile gives the user's own time zone, the default for schedules they add.
A failed look-up is not cached and grants nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

log = logging.getLogger("newsbot.admins")

FetchProfile = Callable[[str], Mapping[str, Any]]  # user id -> users.info's "user" object
PROFILE_TTL_SECONDS = 300.0


class AdminCheck:
    def __init__(
        self,
        config_admins: Iterable[str],
        fetch_profile: FetchProfile,
        *,
        ttl_seconds: float = PROFILE_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config_admins = frozenset(config_admins)
        self.fetch_profile = fetch_profile
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        self._profiles: dict[str, tuple[float, Mapping[str, Any]]] = {}
        self._lock = threading.Lock()

    def is_admin(self, user_id: str) -> bool:
        if user_id in self.config_admins:
            return True
        profile = self.profile(user_id)
        return bool(profile.get("is_admin") or profile.get("is_owner")
                    or profile.get("is_primary_owner"))

    def time_zone(self, user_id: str) -> str | None:
        """The user's own IANA zone (users.info `tz`), if known."""
        zone_name = self.profile(user_id).get("tz")
        return zone_name if isinstance(zone_name, str) and zone_name else None

    def profile(self, user_id: str) -> Mapping[str, Any]:
        now = self.clock()
        with self._lock:
            cached = self._profiles.get(user_id)
            if cached and cached[0] > now:
                return cached[1]
        try:
            profile = self.fetch_profile(user_id) or {}
        except Exception as error:  # Slack down or rate limited: deny, ask again next time
            log.warning("could not look up user %s: %s", user_id, error)
            return {}
        with self._lock:
            self._profiles[user_id] = (now + self.ttl_seconds, profile)
        return profile
