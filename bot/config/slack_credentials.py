"""Slack's credentials, read from the environment and checked before anything starts.

They are configuration like the rest (bot/config/settings.py), kept apart because only
`serve`, `digest --post`, `report --post` and the CLI's channel look-ups need them, and
because they are secrets: `SlackCredentials.secrets` is what the log filter masks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from newsbot.bot.config.settings import ConfigError

SLACK_CREDENTIALS = ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET")


@dataclass(frozen=True)
class SlackCredentials:
    bot_token: str
    signing_secret: str | None = None
    app_token: str | None = None
    api_url: str | None = None  # slack_sdk's base_url, for look-alikes and tests

    @property
    def secrets(self) -> list[str]:
        return [s for s in (self.bot_token, self.signing_secret, self.app_token) if s]


def credentials_from_env(env: Mapping[str, str], mode: str) -> SlackCredentials:
    """Read and check Slack's credentials for a mode: "http", "socket" or "post" (the
    Web API only). ConfigError names everything that is missing or wrong."""
    bot_token = env.get("SLACK_BOT_TOKEN", "").strip()
    app_token = env.get("SLACK_APP_TOKEN", "").strip() or None
    secret = env.get("SLACK_SIGNING_SECRET", "").strip() or None
    problems = []
    if not bot_token:
        problems.append("SLACK_BOT_TOKEN is not set (the bot token, xoxb-...)")
    elif not bot_token.startswith("xoxb-"):
        problems.append("SLACK_BOT_TOKEN does not look like a bot token (it starts with xoxb-)")
    if mode == "http":
        if not secret:
            problems.append("SLACK_SIGNING_SECRET is not set (needed to verify requests in "
                            "HTTP mode: Basic Information > App Credentials)")
    elif mode == "socket" and not app_token:
        problems.append("SLACK_APP_TOKEN is not set (an app-level token, xapp-..., with "
                        "connections:write, for Socket Mode; or run with --http)")
    elif mode == "socket" and not app_token.startswith("xapp-"):
        problems.append("SLACK_APP_TOKEN does not look like an app-level token (xapp-...)")
    if problems:
        raise ConfigError("; ".join(problems))
    api_url = env.get("SLACK_API_URL", "").strip() or None
    if api_url and not api_url.endswith("/"):
        api_url += "/"
    return SlackCredentials(bot_token, secret, app_token, api_url)


def no_slack_credentials(env: Mapping[str, str]) -> bool:
    """None of Slack's credentials is set: `newsbot serve` offers the local sandbox then.
    Some but not all set is a mistake that credentials_from_env names."""
    return not any(env.get(name, "").strip() for name in SLACK_CREDENTIALS)
