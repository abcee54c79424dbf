"""What can be tested of the container without a Docker engine: the entrypoint's roles, the compose file and the
Dockerfile's inputs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import tomllib
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
    assert set(services) == {"postgres", "redis", "web", "worker", "scheduler", "watcher"}
    roles = set(re.findall(r"^  (\w+)\)", ENTRYPOINT.read_text(), re.M))
    for name in ("web", "worker", "scheduler", "watcher"):
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


def _product_packages() -> list[str]:
    """The packages pyproject.toml ships, but the simulator (a development tool the image does not need)."""
    found = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    return [p.rstrip("*") for p in found["include"] if p.rstrip("*") != "simulator"]


@pytest.mark.parametrize("app", _product_packages())
def test_every_app_is_copied_into_the_image(app):
    assert f"COPY {app} ./{app}" in (ROOT / "Dockerfile").read_text()


def test_alive_role_reads_the_heartbeat_file_age(tmp_path):
    """The liveness probe of worker, scheduler and watcher: no file or an old one fails, a fresh one passes."""
    beats = tmp_path / "hb"
    env = {"FLUXPLANE_HEARTBEAT_DIR": str(beats), "FLUXPLANE_APP_DIR": str(ROOT), "PATH": "/usr/bin:/bin"}

    def alive(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", str(ENTRYPOINT), "alive", *args], env=env, capture_output=True, text=True,
                              timeout=30)

    result = alive("scheduler", "60")
    assert result.returncode == 1 and "no heartbeat yet" in result.stderr
    from controlplane import heartbeat

    os.environ["FLUXPLANE_HEARTBEAT_DIR"] = str(beats)
    try:
        heartbeat.beat("scheduler")
    finally:
        del os.environ["FLUXPLANE_HEARTBEAT_DIR"]
    assert alive("scheduler", "60").returncode == 0
    old = time.time() - 300
    os.utime(beats / "scheduler", (old, old))
    result = alive("scheduler", "60")
    assert result.returncode == 1 and "limit 60s" in result.stderr
    assert alive("scheduler").returncode != 0  # the age is required


def test_wait_for_schema_role_times_out_on_an_empty_database(tmp_path):
    result = entrypoint("wait-for-schema", "--timeout", "1", "--interval", "0.5", tmp_path=tmp_path)
    assert result.returncode == 1
    assert "migrations not applied yet" in result.stdout and "not up to date after 1s" in result.stderr
    assert entrypoint("migrate", tmp_path=tmp_path).returncode == 0
    result = entrypoint("wait-for-schema", "--timeout", "5", tmp_path=tmp_path)
    assert result.returncode == 0 and "schema is up to date" in result.stdout
