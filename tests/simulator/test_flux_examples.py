"""Whole Flux example repositories reconciled by the simulator, and the demo."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from simulator.flux.common import kstatus
from simulator.flux.demo import VENDORED, fixtures_dir, start_demo, sync_objects

from .flux_fixtures import GIT, HR, KS, FluxEnv, GitRepo, cond, eventually, ready


@pytest.fixture
def env(tmp_path: Path) -> Iterator[FluxEnv]:
    e = FluxEnv(tmp_path)
    yield e
    e.close()


def fixture_repo(tmp_path: Path, name: str) -> GitRepo:
    """A real git repository holding one of the shared example repositories (copied, never edited in place)."""
    src = fixtures_dir() / name
    if not src.is_dir():
        pytest.fail(f"fixture {src} missing: set FLUXPLANE_FIXTURES_DIR to the shared fixtures directory")
    repo = GitRepo(tmp_path / name)
    shutil.copytree(src, repo.path, dirs_exist_ok=True)
    for p in repo.path.rglob("*"):
        if ".git" not in p.parts:
            p.chmod(p.stat().st_mode | 0o200)
    repo.commit(message="import")
    return repo


def bootstrap(env: FluxEnv, repo: GitRepo, path: str) -> None:
    for obj in sync_objects(repo.url, path=path):
        env.create(obj)


def all_flux_objects(env: FluxEnv) -> list[dict]:
    kinds = ("gitrepositories", "helmrepositories", "helmcharts", "ocirepositories", "kustomizations", "helmreleases")
    return [o for k in kinds for o in env.store.list(k)]


def not_ready(env: FluxEnv) -> list[str]:
    return [f"{o['kind']}/{o['metadata']['namespace']}/{o['metadata']['name']}: {cond(o, 'Ready').get('message')}"
            for o in all_flux_objects(env) if not ready(o)]


def test_flux2_kustomize_helm_example_staging_reconciles(env: FluxEnv, tmp_path: Path) -> None:
    repo = fixture_repo(tmp_path, "flux2-kustomize-helm-example")
    bootstrap(env, repo, "./clusters/staging")
    eventually(lambda: len(all_flux_objects(env)) >= 14 and not not_ready(env), 60,
               "every Flux object Ready")  # the timeout only bounds a failure
    apps = env.get(KS, "flux-system", "apps")
    sha = repo.git("rev-parse", "HEAD").strip()
    assert apps["status"]["lastAppliedRevision"] == f"main@sha1:{sha}"
    assert cond(apps, "Healthy")["status"] == "True"  # wait: true
    # The staging patch from clusters/staging/infrastructure.yaml reached the ClusterIssuer.
    issuer = env.store.get("clusterissuers.cert-manager.io", None, "letsencrypt")
    assert issuer["spec"]["acme"]["server"] == "https://acme-staging-v02.api.letsencrypt.org/directory"
    assert issuer["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"] == "infra-configs"
    # HelmChart generated from the podinfo HelmRelease, resolving `>=1.0.0-alpha` to the newest version.
    hc = env.store.get("helmcharts", "podinfo", "podinfo-podinfo")
    assert hc["spec"]["version"] == ">=1.0.0-alpha" and hc["status"]["artifact"]["revision"] == "6.9.2"
    podinfo = env.get(HR, "podinfo", "podinfo")
    ids = {e["id"] for e in podinfo["status"]["inventory"]["entries"]}
    assert {"podinfo_podinfo_apps_Deployment", "podinfo_podinfo-redis_apps_Deployment",
            "podinfo_podinfo_networking.k8s.io_Ingress"} <= ids
    ing = env.store.get("ingresses", "podinfo", "podinfo")
    assert ing["spec"]["rules"][0]["host"] == "podinfo.staging"  # from apps/staging/podinfo-values.yaml
    assert env.store.get("services", "ingress-nginx", "ingress-nginx-controller")["spec"]["type"] == "NodePort"
    for d in env.store.list("deployments"):
        assert kstatus(d) == "Current", d["metadata"]["name"]

    # The loop Fluxplane exists for: a values change committed to git reaches the cluster.
    values_file = repo.path / "apps/staging/podinfo-values.yaml"
    doc = yaml.safe_load(values_file.read_text())
    doc["spec"]["values"]["replicaCount"] = 3
    sha2 = repo.commit({"apps/staging/podinfo-values.yaml": yaml.safe_dump(doc)}, "podinfo: 3 replicas")
    env.request_reconcile(GIT, "flux-system", "flux-system")
    eventually(lambda: env.get(KS, "flux-system", "apps")["status"].get("lastAppliedRevision")
               == f"main@sha1:{sha2}", 30, "apps applied the new revision")
    eventually(lambda: env.apps.read_namespaced_deployment("podinfo", "podinfo").spec.replicas == 3, 30, "scaled")
    podinfo = env.wait_ready(HR, "podinfo", "podinfo")
    assert [h["version"] for h in podinfo["status"]["history"]] == [2, 1]
    assert cond(podinfo, "Released")["reason"] == "UpgradeSucceeded"


def test_flux2_monitoring_example_reconciles(env: FluxEnv, tmp_path: Path) -> None:
    repo = fixture_repo(tmp_path, "flux2-monitoring-example")
    bootstrap(env, repo, "./clusters/test")
    eventually(lambda: len(all_flux_objects(env)) >= 8 and not not_ready(env), 60, "every Flux object Ready")
    # monitoring/controllers has no kustomization.yaml: the generated one lists both sub-directories.
    ctl = env.get(KS, "flux-system", "monitoring-controllers")
    ids = {e["id"] for e in ctl["status"]["inventory"]["entries"]}
    assert {"monitoring_kube-prometheus-stack_helm.toolkit.fluxcd.io_HelmRelease",
            "monitoring_loki_helm.toolkit.fluxcd.io_HelmRelease",
            "monitoring_promtail_helm.toolkit.fluxcd.io_HelmRelease"} <= ids
    kps = env.get(HR, "monitoring", "kube-prometheus-stack")
    assert kps["status"]["history"][0]["chartVersion"].startswith("69.")
    # valuesFrom the generated (hash-suffixed) ConfigMap resolved; the chart's CRDs let the PodMonitor apply.
    assert env.store.get("podmonitors.monitoring.coreos.com", "monitoring", "flux-system")
    dash = [c for c in env.store.list("configmaps", "monitoring") if c["metadata"]["name"].startswith(
        "flux-grafana-dashboards-")]
    assert dash and dash[0]["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"] == "monitoring-configs"


def test_demo_converges_with_one_red_app(tmp_path: Path) -> None:
    demo = start_demo(tmp_path / "demo")
    try:
        assert (demo.repo.bare / "HEAD").exists() and (demo.repo.work / ".git").is_dir()
        assert demo.wait_ready(60), "healthy part of the demo did not become Ready"
        store = demo.sim.store
        for kind, ns, name in (("kustomizations", "flux-system", "infra-controllers"),
                               ("kustomizations", "flux-system", "infra-configs"),
                               ("kustomizations", "flux-system", "flux-system")):
            assert ready(store.get(kind, ns, name)), name
        apps = store.get("kustomizations", "flux-system", "apps")
        assert apps["metadata"]["annotations"]["config.kubernetes.io/origin"] == "path: apps.yaml\n"
        hr = store.get("helmreleases", "podinfo", "podinfo")
        assert hr["metadata"]["annotations"]["config.kubernetes.io/origin"] == "path: ../base/podinfo/release.yaml\n"
        # The flux controllers' Deployments from the bootstrap components, patched by the cluster overlay.
        kc = store.get("deployments", "flux-system", "kustomize-controller")
        assert "--requeue-dependency=5s" in kc["spec"]["template"]["spec"]["containers"][0]["args"]
        red = eventually(lambda: cond(store.get("helmreleases", "checkout", "checkout"), "Stalled").get("status")
                         == "True" and store.get("helmreleases", "checkout", "checkout"), 90, "checkout stalled")
        assert cond(red, "Stalled")["reason"] == "RetriesExceeded"
        eventually(lambda: cond(store.get("kustomizations", "flux-system", "checkout"), "Ready").get("reason")
                   == "HealthCheckFailed", 30, "checkout Kustomization red")
    finally:
        demo.stop()
    # Restarting on the same workdir reuses the repository (what was merged stays).
    again = start_demo(tmp_path / "demo")
    try:
        assert again.repo.bare == demo.repo.bare and again.wait_ready(60)
    finally:
        again.stop()


def test_vendored_demo_repo_matches_shared_fixture() -> None:
    shared = fixtures_dir() / "flux2-kustomize-helm-example"
    files = sorted(p.relative_to(shared) for p in shared.rglob("*") if p.is_file())
    assert files and all((VENDORED / f).read_bytes() == (shared / f).read_bytes() for f in files)
