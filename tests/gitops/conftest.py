"""Fixture repositories copied into temporary git repos (the shared fixtures are never written), plus a workload
file with comments so Deployment edits have something real to change."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from simulator.flux.demo import fixtures_dir

FIXTURES = fixtures_dir()
HELM = "flux2-kustomize-helm-example"
MONITORING = "flux2-monitoring-example"
GOLDEN = Path(__file__).parent / "golden"

FRONTEND = """\
# Frontend of the demo app (added by the test suite)
apiVersion: apps/v1
kind: Deployment
metadata:
  name: frontend
{namespace}spec:
  replicas: 2 # scaled by the team
  selector:
    matchLabels:
      app: frontend
  template:
    metadata:
      labels:
        app: frontend
    spec:
      containers:
        - name: app
          image: ghcr.io/stefanprodan/podinfo:6.5.0 # pinned
          ports:
            - containerPort: 9898
          resources:
            requests:
              cpu: 100m # keep small
              memory: 64Mi
        - name: sidecar
          image: busybox:1.36
"""


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd`` with a fixed identity and no user configuration."""
    env = {"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(cwd), "PATH": "/usr/bin:/bin",
           "GIT_AUTHOR_NAME": "Seed", "GIT_AUTHOR_EMAIL": "seed@example.com", "GIT_COMMITTER_NAME": "Seed",
           "GIT_COMMITTER_EMAIL": "seed@example.com"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def make_repo(tmp: Path, fixture: str) -> Path:
    """A git repository (branch main, one commit) with the fixture's files and the frontend workload."""
    repo = tmp / fixture
    shutil.copytree(FIXTURES / fixture, repo, ignore=shutil.ignore_patterns(".git"))
    if fixture == HELM:
        (repo / "apps/base/podinfo/frontend.yaml").write_text(FRONTEND.format(namespace=""))
        kust = repo / "apps/base/podinfo/kustomization.yaml"
        kust.write_text(kust.read_text() + "  - frontend.yaml\nimages:\n  - name: busybox # sidecar pin\n"
                        "    newTag: \"1.36.1\"\n")
    else:
        workload = FRONTEND.format(namespace="  namespace: monitoring\n")
        (repo / "monitoring/controllers/frontend.yaml").write_text(workload)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "seed")
    return repo


def diff(repo: Path) -> str:
    """``git diff`` of everything changed in the work tree, new files included."""
    git(repo, "add", "-A")
    return git(repo, "diff", "--cached", "--no-color")


@pytest.fixture(params=[HELM, MONITORING])
def fleet(request, tmp_path) -> Path:
    """Each fixture repository in turn, as a fresh temporary git repository."""
    return make_repo(tmp_path, request.param)


@pytest.fixture
def helm_repo(tmp_path) -> Path:
    """The flux2-kustomize-helm-example copy."""
    return make_repo(tmp_path, HELM)


@pytest.fixture
def monitoring_repo(tmp_path) -> Path:
    """The flux2-monitoring-example copy."""
    return make_repo(tmp_path, MONITORING)


@pytest.fixture(params=["gitlab", "gitea"])
def host(request, tmp_path: Path, helm_repo: Path):
    """A GitLab or a Gitea simulator holding a copy of the Helm repository (tests/gitops/test_hosted_providers.Host)."""
    from tests.gitops.test_hosted_providers import Host

    h = Host(request.param, tmp_path, helm_repo)
    yield h
    h.sim.stop()
