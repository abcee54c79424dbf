"""What can be tested of the container without a Docker engine: the entrypoint's roles, the compose file and the
Dockerfile's inputs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.conftest import clean_env

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"
PRODUCTION = {
    "FLUXPLANE_SECRET_KEY": "Xy9!Qz7#Lm2$Rt5%Wv8^Bn4&Hj6*Pd3(Fs1)Gk0-abcdefghijklmnop",
    "FLUXPLANE_ALLOWED_HOSTS": "fluxplane.example.com",
    "REDIS_URL": "redis://127.0.0.1:6379/14",
}


def entrypoint(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = clean_env(os.environ)
    env.update(PRODUCTION, FLUXPLANE_APP_DIR=str(ROOT), FLUXPLANE_DATA_DIR=str(tmp_path),
               PATH=f"{Path(sys.executable).parent}:{env['PATH']}")
    return subprocess.run(["bash", str(ENTRYPOINT), *args], env=env, capture_output=True, text=True, timeout=120)


def test_entrypoint_manage_role_runs_django_commands_in_production_mode(tmp_path):
    result = entrypoint("manage", "check", "--deploy", "--fail-level", "WARNING", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_entrypoint_refuses_unknown_roles(tmp_path):
    result = entrypoint("serve", tmp_path=tmp_path)
    assert result.returncode == 64
    assert "unknown role 'serve'" in result.stderr


def test_compose_services_use_entrypoint_roles_and_health_checks():
    compose = YAML(typ="safe").load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "web", "worker", "scheduler"}
    roles = set(re.findall(r"^  (\w+)\)", ENTRYPOINT.read_text(), re.M))
    for name in ("web", "worker", "scheduler"):
        assert services[name]["command"][0] in roles
        assert services[name]["environment"]["DATABASE_URL"].startswith("postgres://")
    for name in ("postgres", "redis", "web"):
        assert "healthcheck" in services[name]
    assert "pgdata" in compose["volumes"]


def test_dockerfile_copies_paths_that_exist():
    copies = re.findall(r"^COPY (.+) \S+$", (ROOT / "Dockerfile").read_text(), re.M)
    sources = [src for line in copies for src in line.split()]
    assert sources, "no COPY lines found"
    missing = [src for src in sources if not (ROOT / src).exists()]
    assert missing == []


@pytest.mark.parametrize("app", ["controlplane", "gitops", "graph", "playbooks", "access", "alerts"])
def test_every_app_is_copied_into_the_image(app):
    assert f"COPY {app} ./{app}" in (ROOT / "Dockerfile").read_text()
