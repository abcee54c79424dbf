"""Playbook fixtures: a simulated cluster running the Flux controllers against a real git repository, mirrored."""

from __future__ import annotations

import pytest

from controlplane.models import Cluster
from graph.models import KubeObject
from graph.sync import sync_cluster
from tests.simulator.flux_fixtures import FluxEnv, GitRepo, deployment_yaml, eventually, git_repository, kustomization

KS = ("kustomize.toolkit.fluxcd.io", "v1", "kustomizations")
HR = ("helm.toolkit.fluxcd.io", "v2", "helmreleases")
GITREPO = ("source.toolkit.fluxcd.io", "v1", "gitrepositories")

HELM_FILES = {
    "apps/repository.yaml": """\
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: podinfo
  namespace: default
spec:
  interval: 1h
  url: https://stefanprodan.github.io/podinfo
""",
    "apps/release.yaml": """\
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: podinfo
  namespace: default
spec:
  interval: 1h
  chart:
    spec:
      chart: podinfo
      version: "6.x"
      sourceRef:
        kind: HelmRepository
        name: podinfo
""",
}


@pytest.fixture
def flux(tmp_path):
    """Git repo with infra/ and apps/; Kustomizations infra and apps (apps dependsOn infra), all Ready."""
    repo = GitRepo(tmp_path / "repo")
    repo.commit({
        "infra/config.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: default\n"
                             "data:\n  level: info\n",
        "apps/web.yaml": deployment_yaml("web", replicas=1).replace("metadata:\n  name: web\n",
                                                                     "metadata:\n  name: web\n  namespace: default\n"),
        **HELM_FILES,
    }, "initial")
    env = FluxEnv(tmp_path / "work")
    env.create(git_repository("repo", "flux-system", repo.url))
    env.create(kustomization("infra", "flux-system", "./infra"))
    env.create(kustomization("apps", "flux-system", "./apps", dependsOn=[{"name": "infra"}]))
    env.wait_ready(KS, "flux-system", "apps", timeout=60)
    env.wait_ready(HR, "default", "podinfo", timeout=60)
    env.repo = repo
    yield env
    env.close()


@pytest.fixture
def cluster(db, flux):
    cluster = Cluster.objects.create(name="sim", connection=Cluster.Connection.SIMULATOR, server_url=flux.url)
    sync_cluster(cluster)
    return cluster


def mirrored(kind: str, name: str, namespace: str) -> KubeObject:
    return KubeObject.objects.get(kind=kind, name=name, namespace=namespace, deleted_at__isnull=True)


__all__ = ["GITREPO", "HR", "KS", "eventually", "mirrored"]


# The small Flux tree of the access tests and the people of the API tests (decision-link tests use them).
from tests.access.test_rules import tree  # noqa: E402,F401
from tests.api.conftest import people  # noqa: E402,F401
