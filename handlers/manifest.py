"""The Slack app manifest for the current configuration: `newsbot manifest`.

The scopes are derived, never listed by hand: each Web API method the code calls needs the
scopes of `METHOD_SCOPES`, each event it subscribes to those of `EVENT_SCOPES`, the slash
command and the shortcut `commands`. tests/handlers/test_manifest.py checks that every
WebClient method named in bot/ and handlers/ is in the table (and nothing else is), and that
deploy/manifest.yml is this module's output. Link previews are there only with
`unfurl.domains` set: without them newsbot asks for neither `links:read` nor `links:write`.

The YAML carries each scope's reason as a comment. JSON has no comments, and Slack refuses
unknown keys in a manifest, so `--json` prints the manifest alone; the reasons are in the
YAML and in `SCOPE_REASONS`.
"""

from __future__ import annotations

import json

import yaml
from newsbot.bot.config.settings import Config
from newsbot.handlers.listeners.shortcut import DECIDE_SHORTCUT

REQUEST_PATH = "/slack/events"  # where `newsbot serve --http` takes events, commands, clicks

# Web API method -> the bot scopes it needs (those of each kind of channel it is used on).
METHOD_SCOPES: dict[str, tuple[str, ...]] = {
    "auth.test": (),  # Bolt, at start-up
    "chat.postMessage": ("chat:write",),
    "chat.update": ("chat:write",),
    "chat.postEphemeral": ("chat:write",),
    "chat.unfurl": ("links:write",),
    "conversations.history": ("channels:history", "groups:history", "im:history"),
    "conversations.replies": ("channels:history", "groups:history", "im:history"),
    "conversations.info": ("channels:read", "groups:read"),
    "conversations.list": ("channels:read", "groups:read"),
    "conversations.open": ("im:write",),
    "users.info": ("users:read",),
    "views.publish": (),
    "views.open": (),
    "views.update": (),
    "files.getUploadURLExternal": ("files:write",),
    "files.completeUploadExternal": ("files:write",),
}
# slack_sdk helpers that call several methods; any other WebClient method `a_bC` is `a.bC`.
CLIENT_HELPERS: dict[str, tuple[str, ...]] = {
    "files_upload_v2": ("files.getUploadURLExternal", "files.completeUploadExternal"),
}
EVENT_SCOPES: dict[str, tuple[str, ...]] = {
    "app_home_opened": (),
    "reaction_added": ("reactions:read",),
    "reaction_removed": ("reactions:read",),
    "link_shared": ("links:read",),
}
UNFURL_ONLY = {"chat.unfurl", "link_shared"}  # needed only with unfurl.domains
SCOPE_REASONS: dict[str, str] = {
    "chat:write": "post digests, reports and alerts (channels and followers' DMs), "
                  "redraw article messages, private notes",
    "commands": "/news and the \"Decide on this article\" message shortcut",
    "reactions:read": "the ✅/❌ reactions that decide on article messages",
    "channels:history": "read a digest's or alert's messages back after an ambiguous "
                        "Slack failure",
    "groups:history": "the same in private channels",
    "im:history": "the same in a follower's DM",
    "channels:read": "check that newsbot is in a schedule's or subscription's channel, "
                     "find a #name",
    "groups:read": "the same for private channels",
    "im:write": "open the DM a /news follow alerts to",
    "users:read": "an admin's time zone; workspace admins and owners",
    "files:write": "upload the editorial report's chart",
    "links:read": "hear of links to the unfurl domains (link_shared)",
    "links:write": "show an article's preview under its link (chat.unfurl)",
}


def client_method_calls(name: str) -> tuple[str, ...]:
    """The Web API methods a WebClient method calls: `chat_postMessage` -> chat.postMessage."""
    return CLIENT_HELPERS.get(name) or (name.replace("_", ".", 1),)


def bot_events(config: Config) -> list[str]:
    return [e for e in EVENT_SCOPES if config.unfurl_domains or e not in UNFURL_ONLY]


def bot_scopes(config: Config) -> list[str]:
    """Exactly the scopes the code needs with this configuration, in SCOPE_REASONS' order."""
    needed = {"commands"}
    for method, scopes in METHOD_SCOPES.items():
        if config.unfurl_domains or method not in UNFURL_ONLY:
            needed.update(scopes)
    for event in bot_events(config):
        needed.update(EVENT_SCOPES[event])
    return [scope for scope in SCOPE_REASONS if scope in needed]


class ManifestError(ValueError):
    """The request URL cannot be used (the message says why)."""


def request_url(url: str) -> str:
    """`https://host` -> `https://host/slack/events`; a URL with a path is kept as it is."""
    url = url.strip()
    if not url.startswith("https://") or len(url) <= len("https://"):
        raise ManifestError(f"--url must be an https:// address (Slack calls only HTTPS), "
                            f"got {url!r}")
    host, slash, path = url.removeprefix("https://").partition("/")
    if not host or any(c in host for c in " ?#"):
        raise ManifestError(f"--url has no usable host: {url!r}")
    return f"https://{host}{'/' + path.rstrip('/') if slash and path.strip('/') else REQUEST_PATH}"


def manifest(config: Config, *, url: str | None = None, socket_mode: bool = False) -> dict:
    """The manifest as Slack takes it. HTTP mode needs `url`; Socket Mode needs none (and
    any given is ignored: Slack delivers over the socket)."""
    if not socket_mode and not url:
        raise ManifestError("HTTP mode needs --url https://your.host (where `newsbot serve "
                            "--http` is reached); or give --socket-mode")
    where = {} if socket_mode else {"url": request_url(url or "")}
    features: dict = {
        "app_home": {"home_tab_enabled": True, "messages_tab_enabled": True,
                     "messages_tab_read_only_enabled": True},
        "bot_user": {"display_name": "newsbot", "always_online": True},
        "slash_commands": [{
            "command": "/news", **where,
            "description": "Look up topics, search articles, preview the digest, manage "
                           "schedules",
            "usage_hint": "topic <name> | search <words> | digest | schedule ... | "
                          "subscribe ... | follow ... | help",
            "should_escape": True}],
        "shortcuts": [{"name": "Decide on this article", "type": "message",
                       "callback_id": DECIDE_SHORTCUT,
                       "description": "Publish or skip the article this message links to"}],
    }
    if config.unfurl_domains:
        features["unfurl_domains"] = list(config.unfurl_domains)
    request = {} if socket_mode else {"request_url": where["url"]}
    return {
        "display_information": {
            "name": "newsbot",
            "description": "Newsroom digests, /news look-ups and publish/skip decisions",
            "background_color": "#1d3557"},
        "features": features,
        "oauth_config": {"scopes": {"bot": bot_scopes(config)}},
        "settings": {
            "event_subscriptions": {**request, "bot_events": bot_events(config)},
            "interactivity": {"is_enabled": True, **request},
            "org_deploy_enabled": False,
            "socket_mode_enabled": socket_mode,
            "token_rotation_enabled": False},
    }


HEADER = """\
# Slack app manifest for newsbot, made by `newsbot manifest{flags}` from the configuration
# (do not edit: run it again). Create the app at api.slack.com/apps > Create New App >
# From an app manifest, paste this, then install it to the workspace.
"""
LINE_COMMENTS = {  # a line of the YAML -> why it is there
    "messages_tab_enabled: true": "followers read their alerts here (DMs)",
    "messages_tab_read_only_enabled: true": "nobody types to newsbot there: /news answers",
    "should_escape: true": "a picked channel arrives as <#C123|name>, a user as <@U123|name>",
}


def manifest_yaml(document: dict, flags: str = "") -> str:
    """The manifest as YAML, with the reason for each scope (and a few settings) beside it."""
    lines = []
    for line in yaml.safe_dump(document, sort_keys=False, allow_unicode=True,
                               width=1000).splitlines():
        item = line.strip().removeprefix("- ")
        reason = (SCOPE_REASONS.get(item) if line.strip().startswith("- ")
                  else LINE_COMMENTS.get(item))
        lines.append(f"{line}  # {reason}" if reason else line)
    return HEADER.format(flags=flags) + "\n".join(lines) + "\n"


def manifest_json(document: dict) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
