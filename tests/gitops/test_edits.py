"""Every edit and create operation on both fixture repositories: the affected paths build with the real
``kubectl kustomize``, and ``git diff`` is exactly the golden diff (only the intended change, comments kept)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gitops import create, yamledit
from gitops.locate import KustomizationRef, ObjectRef, locate
from gitops.validate import build_check

from .conftest import GOLDEN, HELM, MONITORING, diff, make_repo

APPS = KustomizationRef(path="./apps/staging")
INFRA = KustomizationRef(path="./infrastructure/controllers")
MON = KustomizationRef(path="./monitoring/controllers")
CONFIGS = KustomizationRef(path="./monitoring/configs")


def _loc(repo, kind, name, ns, kz):
    return locate(str(repo), ObjectRef(kind, name, ns), kz)


def _frontend(repo, fixture):
    return _loc(repo, "Deployment", "frontend", "podinfo" if fixture == HELM else "monitoring",
                APPS if fixture == HELM else MON)


EDITED_REPOSITORY = """\
# Podinfo chart repository (edited in Fluxplane)
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: podinfo
  namespace: podinfo
spec:
  interval: 10m
  url: https://stefanprodan.github.io/podinfo
"""
EDITED_PODMONITOR_TAIL = "  podMetricsEndpoints:\n    - port: http-prom\n      interval: 30s # scrape faster\n"

CASES = {
    # name: (fixture, operation)
    "scale": (None, lambda r, f: yamledit.set_replicas(str(r), _frontend(r, f), 3)),
    "image": (None, lambda r, f: yamledit.set_image(
        str(r), _frontend(r, f), "app", "ghcr.io/stefanprodan/podinfo:6.7.1")),
    "resources": (None, lambda r, f: yamledit.set_resources(
        str(r), _frontend(r, f), "app", {"cpu": "250m"}, {"cpu": "1", "memory": "256Mi"})),
    "image-kustomize-entry": (HELM, lambda r, f: yamledit.set_image(
        str(r), _frontend(r, f), "sidecar", "busybox:1.37")),
    "chart-version-overlay": (HELM, lambda r, f: yamledit.set_chart_version(
        str(r), _loc(r, "HelmRelease", "podinfo", "podinfo", APPS), "6.x")),
    "chart-version-base": (HELM, lambda r, f: yamledit.set_chart_version(
        str(r), _loc(r, "HelmRelease", "cert-manager", "cert-manager", INFRA), ">=1.14.0 <2.0.0")),
    "values-overlay": (HELM, lambda r, f: yamledit.merge_values(
        str(r), _loc(r, "HelmRelease", "podinfo", "podinfo", APPS), "replicaCount: 2\nredis:\n  tag: 7.2.4\n")),
    "values-base": (HELM, lambda r, f: yamledit.merge_values(
        str(r), _loc(r, "HelmRelease", "ingress-nginx", "ingress-nginx", INFRA),
        {"controller": {"service": {"type": "LoadBalancer"}, "replicaCount": 2}})),
    "edit": (HELM, lambda r, f: yamledit.replace_document(
        str(r), _loc(r, "HelmRepository", "podinfo", "podinfo", APPS), EDITED_REPOSITORY)),
    "mon-chart-version": (MONITORING, lambda r, f: yamledit.set_chart_version(
        str(r), _loc(r, "HelmRelease", "loki", "monitoring", MON), "6.29.0")),
    "mon-values": (MONITORING, lambda r, f: yamledit.merge_values(
        str(r), _loc(r, "HelmRelease", "kube-prometheus-stack", "monitoring", MON),
        "prometheus:\n  prometheusSpec:\n    retention: 48h\ngrafana:\n  persistence:\n    enabled: true\n")),
    "mon-edit": (MONITORING, lambda r, f: yamledit.replace_document(
        str(r), _loc(r, "PodMonitor", "flux-system", "monitoring", CONFIGS),
        yamledit.source_document(str(r), _loc(r, "PodMonitor", "flux-system", "monitoring", CONFIGS)).replace(
            "  podMetricsEndpoints:\n    - port: http-prom\n", EDITED_PODMONITOR_TAIL))),
    "create-kustomization": (None, lambda r, f: create.create_kustomization(
        str(r), "clusters/staging" if f == HELM else "clusters/test", name="tenants",
        path="./infrastructure/configs" if f == HELM else "./monitoring/configs", source_name="flux-system",
        interval="5m", depends_on=["infra-configs" if f == HELM else "monitoring-controllers"])),
    "create-namespace": (None, lambda r, f: create.create_namespace(
        str(r), "infrastructure/controllers" if f == HELM else "monitoring/controllers", "team-a",
        labels={"toolkit.fluxcd.io/tenant": "dev-team"})),
    "create-deployment": (None, lambda r, f: create.create_deployment(
        str(r), _loc(r, "Namespace", "podinfo" if f == HELM else "monitoring", "", APPS if f == HELM else MON),
        name="api", image="ghcr.io/example/api:1.0.0", replicas=2, port=8080, requests={"cpu": "100m"},
        limits={"memory": "128Mi", "cpu": ""}, service=True)),
    "create-helmrelease": (None, lambda r, f: create.create_helmrelease(
        str(r), _loc(r, "Namespace", "podinfo" if f == HELM else "monitoring", "", APPS if f == HELM else MON),
        name="metrics", chart="metrics-server", version="3.x",
        repository_url="https://kubernetes-sigs.github.io/metrics-server" if f == HELM
        else "oci://ghcr.io/example/charts",
        values="args:\n  - --kubelet-insecure-tls\n")),
}

PARAMS = [(name, fx) for name, (only, _) in CASES.items() for fx in ((only,) if only else (HELM, MONITORING))]


def _golden_name(name: str, fixture: str) -> str:
    return f"{'helm' if fixture == HELM else 'monitoring'}-{name}.diff"


@pytest.mark.parametrize(("name", "fixture"), PARAMS, ids=[f"{n}-{f.split('-')[1]}" for n, f in PARAMS])
def test_operation_builds_and_diff_is_golden(tmp_path: Path, name: str, fixture: str) -> None:
    repo = make_repo(tmp_path, fixture)
    comments_before = _comments(repo)
    change = CASES[name][1](repo, fixture)
    assert change.files and change.build_paths
    assert build_check(str(repo), change.build_paths) == []
    text = diff(repo)
    golden = GOLDEN / _golden_name(name, fixture)
    assert text == golden.read_text()
    assert comments_before <= _comments(repo), "a comment was lost"
    assert sorted(change.files) == sorted(set(re.findall(r"^\+\+\+ b/(.+)$", text, re.M)))


def _comments(repo: Path) -> set[tuple[str, str]]:
    found = set()
    for path in repo.rglob("*.yaml"):
        if ".git" in path.parts:
            continue
        for line in path.read_text().splitlines():
            if " #" in line or line.lstrip().startswith("#"):
                found.add((str(path.relative_to(repo)), line[line.index("#"):]))
    return found


def test_operations_are_idempotent_on_the_files(helm_repo: Path) -> None:
    """Applying the same scale twice changes nothing the second time (a retried run writes the same files)."""
    loc = _frontend(helm_repo, HELM)
    yamledit.set_replicas(str(helm_repo), loc, 4)
    first = diff(helm_repo)
    yamledit.set_replicas(str(helm_repo), loc, 4)
    assert diff(helm_repo) == first
