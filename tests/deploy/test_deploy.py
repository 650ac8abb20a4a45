"""The deployment files keep their promises (deploy/)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import REPO_ROOT
from newsbot.bot.config.settings import load_config

DEPLOY = REPO_ROOT / "deploy"


def test_the_config_for_etc_uses_absolute_paths_under_var_lib_newsbot():
    config = load_config(str(DEPLOY / "newsbot.etc.yaml"), env={}, flags={})
    assert config.articles == Path("/var/lib/newsbot/articles")
    assert config.db == Path("/var/lib/newsbot/newsbot.db")


def test_the_systemd_unit_stops_restarting_on_exit_2_and_keeps_state_and_secrets_apart():
    unit = (DEPLOY / "newsbot.service").read_text(encoding="utf-8")
    for line in ("StateDirectory=newsbot", "EnvironmentFile=/etc/newsbot/env",
                 "RestartPreventExitStatus=2", "ProtectSystem=strict", "NoNewPrivileges=yes",
                 "CapabilityBoundingSet=\n", "SystemCallFilter=@system-service"):
        assert line in unit, line


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_systemd_analyze_security_rates_the_unit_below_3():
    done = subprocess.run(["systemd-analyze", "security", "--offline=true",
                           str(DEPLOY / "newsbot.service")], capture_output=True, text=True)
    found = re.search(r"Overall exposure level for newsbot\.service: ([0-9.]+)", done.stdout)
    assert found, done.stdout + done.stderr
    assert float(found.group(1)) < 3.0


def test_the_image_is_pinned_multi_stage_non_root_with_git_volumes_and_a_healthcheck():
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^ARG PYTHON_IMAGE=python:\d+\.\d+\.\d+-slim-\w+$", dockerfile, re.M)
    assert len(re.findall(r"^FROM ", dockerfile, re.M)) == 2
    users = re.findall(r"^USER (\S+)$", dockerfile, re.M)
    assert users and users[-1] not in ("root", "0")
    assert "install -y --no-install-recommends git" in dockerfile
    assert 'VOLUME ["/data", "/articles"]' in dockerfile
    assert re.search(r"^HEALTHCHECK .*\n.*/healthz", dockerfile, re.M)
    assert 'ENTRYPOINT ["newsbot"]' in dockerfile and 'CMD ["serve"]' in dockerfile


def test_compose_has_a_socket_mode_and_an_http_service():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    commands = {name: service["command"] for name, service in compose["services"].items()}
    assert commands == {"newsbot-socket": ["serve"],
                        "newsbot-http": ["serve", "--http", "--port", "3000"]}
