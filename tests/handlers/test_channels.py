"""Channels as Slack sends them and as people type them, and whether newsbot can post there:
`/news schedule add` in Slack and `newsbot schedule add` / `digest --post` on the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import CHANNEL, CHIEF, REPO_ROOT, Newsroom, run_cli, texts
from newsbot.sandbox import SlackLookalike

pytestmark = pytest.mark.usefixtures("no_proxy")


def answer(newsroom: Newsroom, text: str, user: str = CHIEF) -> str:
    before = len(newsroom.slack.response_posts())
    newsroom.client.slash_command("/news", text, user_id=user, channel_id=CHANNEL)
    newsroom.slack.wait_until(lambda: len(newsroom.slack.response_posts()) > before)
    return texts(newsroom.slack.response_posts()[before].payload["blocks"])


def schedules(newsroom: Newsroom) -> list[str]:
    return [row["channel"] for row in newsroom.store.query("SELECT channel FROM schedules")]


def test_the_manifest_asks_slack_to_escape_channels():
    manifest = yaml.safe_load((REPO_ROOT / "deploy" / "manifest.yml").read_text())
    [news] = manifest["features"]["slash_commands"]
    assert news["should_escape"] is True


@pytest.mark.parametrize("picked", [f"<#{CHANNEL}|newsdesk>", f"<#{CHANNEL}|>", "#newsdesk"])
def test_a_channel_picked_in_slack_or_typed_by_name_is_accepted(newsroom: Newsroom, picked):
    added = answer(newsroom, f'schedule add {picked} "0 9 * * 1-5"')
    assert "Scheduled s1" in added
    assert schedules(newsroom) == [CHANNEL]


def test_a_channel_newsbot_is_not_in_is_refused_with_how_to_invite_it(newsroom: Newsroom):
    newsroom.slack.workspace.add_channel("elsewhere", "C0ELSEWHERE", bot_is_member=False)
    refused = answer(newsroom, 'schedule add <#C0ELSEWHERE|elsewhere> "0 9 * * 1-5"')
    assert "newsbot is not a member of <#C0ELSEWHERE>" in refused
    assert "type `/invite @newsbot` in that channel" in refused
    unknown = answer(newsroom, 'schedule add #nowhere "0 9 * * 1-5"')
    assert "no channel named '#nowhere' that newsbot can see" in unknown
    assert schedules(newsroom) == []


def test_slack_hints_are_slack_commands(newsroom: Newsroom):
    assert ('Add one with: /news schedule add #channel \\"0 9 * * 1-5\\" tz=Europe/London'
            in answer(newsroom, "schedule list"))
    answer(newsroom, f'schedule add <#{CHANNEL}|newsdesk> "0 9 * * 1-5"')
    assert "resume it with: /news schedule resume s1" in answer(newsroom, "schedule pause s1")
    listed = answer(newsroom, "schedule list")
    assert f"s1: <#{CHANNEL}>" in listed and f"from slack by <@{CHIEF}>" in listed


@pytest.fixture
def slack():
    with SlackLookalike() as lookalike:
        lookalike.workspace.add_channel("elsewhere", "C0ELSEWHERE", bot_is_member=False)
        yield lookalike


def env_for(slack: SlackLookalike | None, tmp_path: Path) -> dict[str, str]:
    env = {"NEWSBOT_DB": str(tmp_path / "newsbot.db")}
    if slack is not None:
        env.update(SLACK_BOT_TOKEN=slack.bot_token, SLACK_API_URL=slack.base_url)
    return env


def test_the_command_line_looks_a_name_up_and_checks_membership(slack, tmp_path: Path):
    env = env_for(slack, tmp_path)
    added = run_cli("schedule", "add", "#newsdesk", "0 9 * * 1-5", "--json", cwd=tmp_path,
                    env=env)
    assert added.code == 0, added.stderr
    assert added.json["schedule"]["channel"] == "C0NEWSDESK"
    refused = run_cli("schedule", "add", "#elsewhere", "0 9 * * 1-5", cwd=tmp_path, env=env)
    assert refused.code == 2
    assert "newsbot is not a member of C0ELSEWHERE" in refused.stderr
    assert "/invite @newsbot" in refused.stderr


def test_the_command_line_without_a_token_says_how_to_name_a_channel(tmp_path: Path):
    env = env_for(None, tmp_path)
    refused = run_cli("schedule", "add", "#newsdesk", "0 9 * * 1-5", cwd=tmp_path, env=env)
    assert refused.code == 2
    assert "is a name, not an id" in refused.stderr and "set SLACK_BOT_TOKEN" in refused.stderr
    empty = run_cli("schedule", "list", cwd=tmp_path, env=env)
    assert empty.stdout.strip() == ('No digest schedules yet. Add one with: newsbot schedule add '
                                    'C0123ABCD "0 9 * * 1-5" --tz Europe/London')
    added = run_cli("schedule", "add", "C0NEWSDESK", "0 9 * * 1-5", cwd=tmp_path, env=env)
    assert "Not checked whether newsbot can post there" in added.stdout
    paused = run_cli("schedule", "pause", "s1", cwd=tmp_path, env=env)
    assert paused.stdout.strip() == "Paused s1; resume it with: newsbot schedule resume s1"


def test_digest_post_to_a_channel_newsbot_is_not_in_says_how_to_invite_it(slack, tmp_path):
    env = env_for(slack, tmp_path)
    failed = run_cli("digest", "--post", "--channel", "#elsewhere", "--top", "1", cwd=tmp_path,
                     env=env)
    assert failed.code == 2
    assert "not_in_channel" in failed.stderr and "invite newsbot with /invite @newsbot" in \
        failed.stderr
