"""Fleets as Flux users run them, mirrored the user's way (simulators over HTTP, the sync worker, the admin pages):
a fleet bootstrapped by the Flux Operator, and a hub applying to two spokes through spec.kubeConfig."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse

from controlplane.models import Cluster
from graph.jobs import sync_due_clusters
from graph.models import Edge, KubeObject
from simulator import Simulator
from simulator.flux.demo import sync_objects
from tests.graph.test_admin import graph_svg
from tests.simulator.flux_fixtures import FluxEnv, GitRepo, eventually, ready
from tests.simulator.hub_spokes import hub_repo, kubeconfig_secret
from tests.simulator.operator_fleet import bootstrap_operator, fleet_repo

pytestmark = pytest.mark.django_db


def shown(svg: str, *objs: KubeObject) -> set[str]:
    return {str(o) for o in objs if f'id="node{o.pk}"' in svg}


def test_operator_fleet_is_mirrored_ready_with_its_tree(tmp_path: Path, drain, client, admin_user) -> None:
    env = FluxEnv(tmp_path)
    try:
        repo = fleet_repo(tmp_path / "fleet")
        bootstrap_operator(env, repo)
        eventually(lambda: ready(env.store.peek("kustomizations", "backend", "apps")) and
                   ready(env.store.peek("kustomizations", "flux-system", "monitoring")) and
                   ready(env.store.peek("resourcesets.fluxcd.controlplane.io", "flux-system", "apps")), 90,
                   "the fleet to converge in the simulator")
        cluster = Cluster.objects.create(name="staging", connection=Cluster.Connection.SIMULATOR, server_url=env.url)
        sync_due_clusters()
        drain()
        cluster.refresh_from_db()
        assert cluster.last_sync_state == Cluster.SyncState.OK, cluster.last_sync_message
    finally:
        env.close()

    live = KubeObject.objects.filter(cluster=cluster, deleted_at__isnull=True)
    instance = live.get(kind="FluxInstance", name="flux")
    assert (instance.family, instance.health, instance.rollup_health) == ("operator", "healthy", "healthy"), \
        instance.rollup_message
    # Nothing of the fleet is unknown or red: the operator's kinds have their own health now.
    assert not live.exclude(rollup_health__in=("healthy",)).exists(), list(
        live.exclude(rollup_health="healthy").values_list("kind", "name", "rollup_message"))
    sync_ks = live.get(kind="Kustomization", name="flux-system")
    controller = live.get(kind="Deployment", name="kustomize-controller")
    tenants = live.get(kind="Kustomization", name="tenants")
    apps_set = live.get(kind="ResourceSet", name="apps")
    frontend_ks = live.get(kind="Kustomization", namespace="frontend", name="apps")
    frontend = live.get(kind="Deployment", name="frontend")
    provider = live.get(kind="ResourceSetInputProvider", name="monitoring")
    monitoring_set = live.get(kind="ResourceSet", name="monitoring")
    created = set(Edge.objects.filter(cluster=cluster, type="created").values_list("source_id", "target_id"))
    assert {(instance.pk, sync_ks.pk), (instance.pk, controller.pk), (sync_ks.pk, tenants.pk),
            (tenants.pk, apps_set.pk), (apps_set.pk, frontend_ks.pk), (frontend_ks.pk, frontend.pk)} <= created
    assert Edge.objects.filter(source=monitoring_set, target=provider, type="source").exists()
    assert frontend_ks.managed_by_kind == "ResourceSet" and controller.managed_by_kind == "FluxInstance"

    # The user opens the FluxInstance: its graph runs FluxInstance → Kustomizations → objects.
    client.force_login(admin_user)
    page = client.get(instance.admin_url())
    assert page.status_code == 200
    svg = graph_svg(page.content.decode())
    assert shown(svg, sync_ks, tenants, apps_set, frontend_ks, frontend, controller) == {
        str(o) for o in (sync_ks, tenants, apps_set, frontend_ks, frontend, controller)}
    listing = client.get(reverse("admin:graph_fluxoperatorobject_changelist")).content.decode()
    assert "FluxInstance" in listing and "ResourceSetInputProvider" in listing


def test_hub_and_spokes_are_linked_and_a_missing_kubeconfig_is_red(tmp_path: Path, drain, client,
                                                                    admin_user) -> None:
    hub = FluxEnv(tmp_path)
    spokes = [Simulator(), Simulator()]
    try:
        for s in spokes:
            s.start()
        repo = GitRepo(tmp_path / "hub")
        hub_repo(repo)
        hub.create(kubeconfig_secret(spokes[0], "spoke-1"))  # spoke-2's kubeconfig Secret is missing
        for obj in sync_objects(repo.url, path="./clusters/hub"):
            hub.create(obj)
        eventually(lambda: ready(hub.store.peek("kustomizations", "flux-system", "spoke-1-apps")) and
                   (hub.store.peek("kustomizations", "flux-system", "spoke-2-apps") or {}).get("status"), 60,
                   "spoke-1-apps Ready and spoke-2-apps reconciled")
        clusters = {name: Cluster.objects.create(name=name, connection=Cluster.Connection.SIMULATOR,
                                                 server_url=sim.url)
                    for name, sim in (("hub", hub.sim), ("spoke-1", spokes[0]), ("spoke-2", spokes[1]))}
        sync_due_clusters()
        drain()
        for c in clusters.values():
            c.refresh_from_db()
            assert c.last_sync_state == Cluster.SyncState.OK, c.last_sync_message

        # Spoke objects are mirrored under their spoke; the hub's Kustomization links to them across clusters.
        spoke_deploy = KubeObject.objects.get(cluster=clusters["spoke-1"], kind="Deployment", name="podinfo",
                                              deleted_at__isnull=True)
        assert not KubeObject.objects.filter(cluster=clusters["hub"], kind="Deployment", name="podinfo").exists()
        one = KubeObject.objects.get(cluster=clusters["hub"], kind="Kustomization", name="spoke-1-apps")
        assert Edge.objects.filter(cluster=clusters["hub"], source=one, target=spoke_deploy, type="created").exists()
        assert one.rollup_health == "healthy"
        two = KubeObject.objects.get(cluster=clusters["hub"], kind="Kustomization", name="spoke-2-apps")
        assert two.health == "degraded" and "unable to read KubeConfig secret" in two.health_message
        root = KubeObject.objects.get(cluster=clusters["hub"], kind="Kustomization", name="flux-system")
        assert root.rollup_health == "degraded" and "spoke-2-apps" in root.rollup_message

        # A spoke's workload breaks: after the spoke's own sync, the hub's roll-up names it through the hub.
        spokes[0].store.patch("deployments", "podinfo", "podinfo", {"spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": "ghcr.io/stefanprodan/podinfo:6.9.2-broken"}]}}}}, "strategic")
        eventually(lambda: any("ImagePullBackOff" in str(p.get("status")) for p in
                               spokes[0].store.list("pods", "podinfo")), 30, "a spoke pod in ImagePullBackOff")
        from graph.sync import sync_cluster

        sync_cluster(clusters["spoke-1"])
        one.refresh_from_db()
        assert one.rollup_health == "degraded" and "[spoke-1] Deployment podinfo/podinfo" in one.rollup_message

        client.force_login(admin_user)
        svg = graph_svg(client.get(one.admin_url()).content.decode())
        assert f'id="node{spoke_deploy.pk}"' in svg
    finally:
        hub.close()
        for s in spokes:
            s.stop(save=False)


def test_the_target_of_a_kubeconfig_secret_explicit_mapping_first_then_the_convention() -> None:
    from django.core.exceptions import ValidationError

    from graph.remote import kubeconfig_ref, target_cluster

    hub = Cluster.objects.create(name="hub", connection="simulator", server_url="http://127.0.0.1:1")
    prod = Cluster.objects.create(name="prod-eu", connection="simulator", server_url="http://127.0.0.1:2",
                                  kubeconfig_secrets="hub/flux-system/eu-admin\nother-hub/fleet/prod\n")
    spoke = Cluster.objects.create(name="spoke-1", connection="simulator", server_url="http://127.0.0.1:3")
    clusters = [hub, prod, spoke]
    assert target_cluster(hub, "flux-system", "eu-admin", clusters) == prod
    assert target_cluster(hub, "flux-system", "spoke-1-kubeconfig", clusters) == spoke
    assert target_cluster(hub, "flux-system", "prod-eu-kubeconfig", clusters) is None  # mapped explicitly instead
    assert target_cluster(hub, "other-ns", "eu-admin", clusters) is None
    assert target_cluster(hub, "flux-system", "hub-kubeconfig", clusters) is None  # never the hub itself
    assert kubeconfig_ref({"kubeConfig": {"secretRef": {"name": "a", "key": "value.yaml"}}}) == ("Secret", "a")
    assert kubeconfig_ref({"kubeConfig": {"configMapRef": {"name": "b"}}}) == ("ConfigMap", "b")
    assert kubeconfig_ref({"path": "./apps"}) is None
    prod.kubeconfig_secrets = "flux-system/eu-admin"
    with pytest.raises(ValidationError, match="<hub cluster>/<namespace>/<secret name>"):
        prod.full_clean()
