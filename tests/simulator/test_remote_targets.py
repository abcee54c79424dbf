"""spec.kubeConfig in the simulator: a hub's Kustomization applies to the spoke its kubeconfig Secret names, and
fails (never applies to the hub) while the Secret is missing, as kustomize-controller does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from simulator import Simulator
from simulator.flux.common import kstatus
from simulator.flux.demo import sync_objects

from .flux_fixtures import KS, FluxEnv, GitRepo, cond, eventually, ready
from .hub_spokes import hub_repo, kubeconfig_secret


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[FluxEnv]:
    e = FluxEnv(tmp_path)
    yield e
    e.close()


@pytest.fixture
def spokes() -> Iterator[tuple[Simulator, Simulator]]:
    sims = (Simulator(), Simulator())
    for s in sims:
        s.start()
    yield sims
    for s in sims:
        s.stop(save=False)


def test_hub_applies_to_its_spokes_and_fails_without_the_kubeconfig(hub: FluxEnv, spokes, tmp_path: Path) -> None:
    spoke1, spoke2 = spokes
    repo = GitRepo(tmp_path / "hub")
    hub_repo(repo)
    hub.create(kubeconfig_secret(spoke1, "spoke-1"))  # spoke-2's Secret is not there yet
    for obj in sync_objects(repo.url, path="./clusters/hub"):
        hub.create(obj)

    eventually(lambda: ready(hub.store.peek("kustomizations", "flux-system", "spoke-1-apps")), 60, "spoke-1-apps")
    one = hub.get(KS, "flux-system", "spoke-1-apps")
    assert cond(one, "Healthy")["status"] == "True"
    eventually(lambda: kstatus(spoke1.store.peek("deployments", "podinfo", "podinfo")) == "Current", 30,
               "podinfo Current on spoke-1")
    assert spoke1.store.get("deployments", "podinfo", "podinfo")["metadata"]["labels"][
        "kustomize.toolkit.fluxcd.io/name"] == "spoke-1-apps"
    assert hub.store.peek("deployments", "podinfo", "podinfo") is None  # nothing landed on the hub
    assert "podinfo_podinfo_apps_Deployment" in {e["id"] for e in one["status"]["inventory"]["entries"]}

    two = eventually(lambda: (o := hub.store.peek("kustomizations", "flux-system", "spoke-2-apps")) and
                     cond(o, "Ready").get("status") == "False" and o, 30, "spoke-2-apps failed")
    assert cond(two, "Ready")["reason"] == "ReconciliationFailed"
    assert cond(two, "Ready")["message"] == ("unable to read KubeConfig secret 'flux-system/spoke-2-kubeconfig' "
                                             "error: secrets \"spoke-2-kubeconfig\" not found")
    assert spoke2.store.peek("namespaces", None, "podinfo") is None

    # The Secret arrives (Cluster API writes it): the next attempt applies to spoke-2.
    hub.create(kubeconfig_secret(spoke2, "spoke-2"))
    hub.request_reconcile(KS, "flux-system", "spoke-2-apps")
    hub.wait_ready(KS, "flux-system", "spoke-2-apps", 60)
    eventually(lambda: kstatus(spoke2.store.peek("deployments", "podinfo", "podinfo")) == "Current", 30,
               "podinfo Current on spoke-2")


def test_a_kubeconfig_naming_no_running_cluster_fails(hub: FluxEnv, tmp_path: Path) -> None:
    ghost = Simulator()
    ghost.start()
    secret = kubeconfig_secret(ghost, "spoke-1")
    ghost.stop(save=False)
    repo = GitRepo(tmp_path / "hub")
    hub_repo(repo)
    hub.create(secret)
    for obj in sync_objects(repo.url, path="./clusters/hub"):
        hub.create(obj)
    failed = eventually(lambda: (o := hub.store.peek("kustomizations", "flux-system", "spoke-1-apps")) and
                        cond(o, "Ready").get("status") == "False" and o, 30, "spoke-1-apps failed")
    assert "failed to connect to http://127.0.0.1:" in cond(failed, "Ready")["message"]
    assert not ready(failed)


def test_a_helmrelease_with_kubeconfig_installs_on_the_spoke(hub: FluxEnv, spokes) -> None:
    spoke1, _spoke2 = spokes
    hub.create({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
                "metadata": {"name": "podinfo", "namespace": "flux-system"},
                "spec": {"interval": "1h", "url": "https://stefanprodan.github.io/podinfo"}})
    hub.create({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
                "metadata": {"name": "podinfo", "namespace": "flux-system"},
                "spec": {"interval": "1h", "targetNamespace": "podinfo", "install": {"createNamespace": True},
                         "kubeConfig": {"secretRef": {"name": "spoke-1-kubeconfig"}},
                         "chart": {"spec": {"chart": "podinfo", "version": "6.x",
                                            "sourceRef": {"kind": "HelmRepository", "name": "podinfo"}}}}})
    failed = eventually(lambda: (o := hub.store.peek("helmreleases", "flux-system", "podinfo")) and
                        cond(o, "Ready").get("reason") == "InitFailed" and o, 30, "InitFailed without the Secret")
    assert "unable to read KubeConfig secret 'flux-system/spoke-1-kubeconfig'" in cond(failed, "Ready")["message"]
    assert not hub.store.list("deployments", "podinfo") and spoke1.store.peek("namespaces", None, "podinfo") is None

    hub.create(kubeconfig_secret(spoke1, "spoke-1"))
    hub.request_reconcile(("helm.toolkit.fluxcd.io", "v2", "helmreleases"), "flux-system", "podinfo")
    eventually(lambda: ready(hub.store.peek("helmreleases", "flux-system", "podinfo")), 60, "podinfo released")
    deployments = spoke1.store.list("deployments", "podinfo")
    assert [d["metadata"]["name"] for d in deployments] == ["podinfo-podinfo"]  # release <targetNamespace>-<name>
    eventually(lambda: kstatus(spoke1.store.get("deployments", "podinfo", "podinfo-podinfo")) == "Current", 30,
               "the release's Deployment Current on the spoke")
    assert not hub.store.list("deployments", "podinfo")
    assert any(s["metadata"]["name"].startswith("sh.helm.release.v1.") for s in spoke1.store.list("secrets",
                                                                                                    "flux-system"))
