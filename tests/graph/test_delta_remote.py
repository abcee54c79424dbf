"""Hub roll-ups follow a spoke's watch deltas as they follow its full sync (graph.remote.relink_after_delta).

A hub cluster's Kustomization applies to a spoke through ``spec.kubeConfig``; its roll-up includes the spoke's objects
(graph.remote). The spoke is kept current by a ClusterWatcher: when one of its Deployments breaks, the delta batch
relinks the hub, and a full sync of the spoke afterwards changes nothing in the hub.
"""

from __future__ import annotations

import pytest

from controlplane.models import Cluster
from graph.models import Edge, KubeObject
from graph.sync import sync_cluster
from graph.watch import ClusterWatcher
from simulator import Simulator
from tests.graph.conftest import wait_for
from tests.graph.flux_tree import REVISION, create, ready
from tests.graph.test_delta import settle


@pytest.fixture
def hub_sim():
    """A hub whose Kustomization spoke-1-apps applies the spoke's podinfo Deployment through a kubeconfig Secret."""
    sim = Simulator(workloads=False)
    sim.start()
    create(sim, {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": "spoke-1-apps", "namespace": "flux-system"},
        "spec": {"interval": "10m", "path": "./apps", "prune": True, "kubeConfig": {"secretRef": {
            "name": "spoke-1-kubeconfig"}}, "sourceRef": {"kind": "GitRepository", "name": "flux-system"}},
    }, {"observedGeneration": 1, "conditions": [ready(f"Applied revision: {REVISION}")],
        "lastAppliedRevision": REVISION,
        "inventory": {"entries": [{"id": "podinfo_podinfo_apps_Deployment", "v": "v1"}]}})
    yield sim
    sim.stop(save=False)


def hub_state(hub: Cluster) -> tuple[dict, set]:
    rows = {r[0]: r[1:] for r in KubeObject.objects.filter(cluster=hub, deleted_at__isnull=True).values_list(
        "uid", "health", "rollup_health", "rollup_message")}
    return rows, set(Edge.objects.filter(cluster=hub).values_list("source__uid", "target__uid", "type"))


@pytest.mark.django_db(transaction=True)
def test_a_spoke_change_seen_as_a_delta_updates_the_hub_roll_up_as_a_full_sync_would(hub_sim, tree_sim):
    hub = Cluster.objects.create(name="hub", connection=Cluster.Connection.SIMULATOR, server_url=hub_sim.url)
    spoke = Cluster.objects.create(name="spoke-1", connection=Cluster.Connection.SIMULATOR, server_url=tree_sim.url)
    sync_cluster(hub)
    watcher = ClusterWatcher(spoke, window=0.02)
    watcher.start()  # its list is the spoke's full sync, which links the hub
    applier = KubeObject.objects.get(cluster=hub, kind="Kustomization", name="spoke-1-apps")
    assert applier.rollup_health == "healthy", applier.rollup_message
    assert Edge.objects.filter(source=applier, target__cluster=spoke, target__name="podinfo",
                               target__kind="Deployment").exists()
    hub.refresh_from_db()
    token_before = hub.mirror_changed_at
    try:
        wait_for(lambda: watcher.established, what="watch streams to open")
        deployment = tree_sim.store.get("deployments", "podinfo", "podinfo")
        deployment["spec"]["template"]["spec"]["containers"][0]["image"] = "ghcr.io/stefanprodan/podinfo:broken"
        tree_sim.store.update(deployment)
        wait_for(lambda: any("ImagePullBackOff" in str(p.get("status")) for p in tree_sim.store.list(
            "pods", "podinfo")), what="a spoke pod in ImagePullBackOff")
        settle(tree_sim, watcher)
    finally:
        watcher.stop()
    assert watcher.resyncs == 1 and watcher.relinks >= 1, "the change came as deltas, and they relinked the hub"
    applier.refresh_from_db()
    assert applier.rollup_health == "degraded", applier.rollup_message
    hub.refresh_from_db()  # the relink changed the hub's mirror: its change token moved (graph.admin.listing)
    assert token_before is not None and hub.mirror_changed_at > token_before
    assert "[spoke-1] Deployment podinfo/podinfo" in applier.rollup_message
    after_deltas = hub_state(hub)
    sync_cluster(spoke)  # what a full sync of the spoke makes of the hub: the same
    assert hub_state(hub) == after_deltas
