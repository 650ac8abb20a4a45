"""The generated app manifest: deploy/manifest.yml is its output, every Web API method the
code calls has its scopes, and there is no scope the code does not use."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from conftest import REPO_ROOT
from newsbot.bot.config.settings import Config, load_config
from newsbot.handlers import manifest as manifest_module
from newsbot.handlers.manifest import (
    CLIENT_HELPERS,
    METHOD_SCOPES,
    SCOPE_REASONS,
    ManifestError,
    bot_scopes,
    client_method_calls,
    manifest,
    manifest_yaml,
)
from slack_sdk import WebClient

DEPLOY = REPO_ROOT / "deploy"
CLIENT_METHODS = {name for name in dir(WebClient)
                  if not name.startswith("_") and callable(getattr(WebClient, name))}


def client_methods_in(source: str) -> set[str]:
    """The WebClient methods a source text names (`client.chat_postMessage(`, or passed as
    `client.conversations_history`)."""
    return {m[1] for m in re.finditer(r"\.([a-z]+_[A-Za-z0-9_]+)\b", source)
            if m[1] in CLIENT_METHODS and m[1] not in ("api_call",)}


def methods_the_code_calls() -> set[str]:
    found: set[str] = set()
    for folder in ("bot", "handlers"):
        for path in (REPO_ROOT / folder).rglob("*.py"):
            for name in client_methods_in(path.read_text(encoding="utf-8")):
                found.update(client_method_calls(name))
    return found | {"auth.test"}  # Bolt calls it at start-up


def test_deploy_manifest_is_the_generated_one():
    config = load_config(str(DEPLOY / "newsbot.etc.yaml"), env={}, flags={})
    expected = manifest_yaml(manifest(config, socket_mode=True), " --socket-mode")
    assert (DEPLOY / "manifest.yml").read_text(encoding="utf-8") == expected
    document = yaml.safe_load(expected)
    assert document["features"]["unfurl_domains"] == ["news.example.org"]
    assert {"links:read", "links:write", "im:write", "im:history"} <= set(
        document["oauth_config"]["scopes"]["bot"])


def test_every_method_the_code_calls_has_its_scopes_and_no_entry_is_unused():
    called = methods_the_code_calls()
    assert called - set(METHOD_SCOPES) == set(), "add these to handlers/manifest.METHOD_SCOPES"
    assert set(METHOD_SCOPES) - called == set(), "no code calls these any more"


def test_the_method_finder_sees_a_new_call(tmp_path: Path):
    """The check above fails for a method missing from the table (it can fail)."""
    found = client_methods_in("client.reactions_add(channel=c)\nclient.files_upload_v2(x)")
    assert found == {"reactions_add", "files_upload_v2"}
    assert {m for name in found for m in client_method_calls(name)} - set(METHOD_SCOPES) == {
        "reactions.add"}
    assert CLIENT_HELPERS["files_upload_v2"] == ("files.getUploadURLExternal",
                                                 "files.completeUploadExternal")


def test_every_scope_is_needed_and_carries_its_reason():
    with_links = Config(unfurl_domains=("news.example.org",))
    scopes = bot_scopes(with_links)
    needed = {s for scopes in METHOD_SCOPES.values() for s in scopes} | {
        "commands", "reactions:read", "links:read"}
    assert set(scopes) == needed
    text = manifest_yaml(manifest(with_links, socket_mode=True))
    for scope in scopes:
        [line] = [line for line in text.splitlines() if line.strip().startswith(f"- {scope} ")]
        assert line.endswith(f"# {SCOPE_REASONS[scope]}")
    assert set(SCOPE_REASONS) == needed  # no reason for a scope nobody asks for


def test_without_unfurl_domains_no_links_scope_and_no_link_shared():
    document = manifest(Config(), url="https://bot.example.org")
    assert not {"links:read", "links:write"} & set(document["oauth_config"]["scopes"]["bot"])
    assert "link_shared" not in document["settings"]["event_subscriptions"]["bot_events"]
    assert "unfurl_domains" not in document["features"]


def test_http_mode_request_urls_and_socket_mode_none():
    http = manifest(Config(), url="https://bot.example.org")
    url = "https://bot.example.org/slack/events"
    assert http["features"]["slash_commands"][0]["url"] == url
    assert http["settings"]["event_subscriptions"]["request_url"] == url
    assert http["settings"]["interactivity"]["request_url"] == url
    assert http["settings"]["socket_mode_enabled"] is False
    assert manifest(Config(), url="https://h.example/bot/")["settings"]["interactivity"][
        "request_url"] == "https://h.example/bot"
    socket = manifest(Config(), socket_mode=True)
    assert "url" not in socket["features"]["slash_commands"][0]
    assert "request_url" not in socket["settings"]["interactivity"]
    [shortcut] = socket["features"]["shortcuts"]
    assert (shortcut["type"], shortcut["callback_id"]) == ("message", "newsbot_decide_shortcut")


@pytest.mark.parametrize(("url", "message"), [
    (None, "HTTP mode needs --url"),
    ("http://bot.example.org", "must be an https:// address"),
    ("https://", "must be an https:// address"),
])
def test_unusable_urls_are_refused_clearly(url, message):
    with pytest.raises(ManifestError, match=message):
        manifest(Config(), url=url)


def test_the_command_prints_yaml_and_json(newsbot, workdir: Path):
    (workdir / "newsbot.yaml").write_text("unfurl:\n  domains: [news.example.org]\n")
    shown = newsbot("manifest", "--url", "https://bot.example.org")
    assert shown.code == 0, shown.stderr
    assert yaml.safe_load(shown.stdout)["features"]["unfurl_domains"] == ["news.example.org"]
    assert "# show an article's preview under its link" in shown.stdout
    as_json = newsbot("manifest", "--socket-mode", "--json")
    assert as_json.json["settings"]["socket_mode_enabled"] is True
    assert "links:write" in as_json.json["oauth_config"]["scopes"]["bot"]
    refused = newsbot("manifest")
    assert refused.code == 2 and "--url" in refused.stderr and refused.stdout == ""


def test_unfurl_domains_are_checked(newsbot, workdir: Path):
    (workdir / "newsbot.yaml").write_text(
        "unfurl:\n  domains: [a.org, b.org, c.org, d.org, e.org, f.org]\n")
    too_many = newsbot("manifest", "--socket-mode")
    assert too_many.code == 2
    assert "key 'unfurl.domains': must be at most 5 domains, as Slack allows" in too_many.stderr
    (workdir / "newsbot.yaml").write_text("unfurl:\n  domains: [https://a.org/news]\n")
    scheme = newsbot("manifest", "--socket-mode")
    assert scheme.code == 2 and "without scheme or path" in scheme.stderr


def test_module_names_the_shortcut_the_listener_registers():
    assert manifest_module.DECIDE_SHORTCUT == "newsbot_decide_shortcut"
