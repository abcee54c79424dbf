"""The Flux Operator fleet fixture (tests/fixtures/flux-operator-fleet) bootstrapped into a simulator the way the
reference fleet's bootstrap script does it: URL written into the repository, operator installed, FluxInstance
applied."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from simulator.flux import add_flux_operator
from simulator.flux.operator import FluxOperatorController

from .flux_fixtures import FluxEnv, GitRepo

FLEET = Path(__file__).resolve().parents[1] / "fixtures" / "flux-operator-fleet"
INSTANCE_FILE = "clusters/staging/flux-system/flux-instance.yaml"
PLACEHOLDER_FILES = (INSTANCE_FILE, "clusters/staging/flux-system/runtime-info.yaml")
OPERATOR_GROUP = "fluxcd.controlplane.io"


def fleet_repo(path: Path) -> GitRepo:
    """A real git repository holding a copy of the fleet, with its own file:// URL written in."""
    repo = GitRepo(path)
    shutil.copytree(FLEET, repo.path, dirs_exist_ok=True)
    for rel in PLACEHOLDER_FILES:
        p = repo.path / rel
        p.write_text(p.read_text().replace("FLEET_URL", repo.url, 1) if rel == INSTANCE_FILE
                     else p.read_text().replace('"FLEET_URL"', f'"{repo.url}"'))
    repo.commit(message="fleet")
    return repo


def bootstrap_operator(env: FluxEnv, repo: GitRepo) -> FluxOperatorController:
    """Install the operator and apply the FluxInstance from the repository (kubectl apply -f flux-instance.yaml)."""
    operator = add_flux_operator(env.sim, env.flux, dependency_requeue=1.0)
    env.create(yaml.safe_load((repo.path / INSTANCE_FILE).read_text()))
    return operator


def operator_objects(env: FluxEnv) -> list[dict]:
    return [o for plural in ("fluxinstances", "fluxreports", "resourcesets", "resourcesetinputproviders")
            for o in env.store.list(f"{plural}.{OPERATOR_GROUP}")]
