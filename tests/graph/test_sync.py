"""Sync of a simulated cluster over real HTTP with the real kubernetes client: tree, edges, health, tombstones,
unreachable clusters, bad objects and a query count that does not grow with the number of objects."""

from __future__ import annotations

import socket

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from controlplane.kube import KubeUnreachable
from controlplane.models import AuditEvent, Cluster
from graph.models import Edge, KubeObject
from graph.sync import sync_cluster
from simulator import Simulator
from tests.graph.conftest import wait_for
from tests.graph.flux_tree import flux_tree

pytestmark = pytest.mark.django_db


def obj(kind: str, name: str, namespace: str = "podinfo") -> KubeObject:
    return KubeObject.objects.get(kind=kind, name=name, namespace=namespace)


def edges() -> set[tuple[str, str, str]]:
    return {(str(e.source), e.type, str(e.target)) for e in Edge.objects.select_related("source", "target")}


def test_sync_mirrors_the_flux_tree_with_its_edges(cluster):
    result = sync_cluster(cluster)
    assert result.problems == []
    kinds = sorted(KubeObject.objects.values_list("kind", flat=True))
    assert kinds.count("Pod") == 4 and kinds.count("ReplicaSet") == 2 and kinds.count("Kustomization") == 2
    got = edges()
    expected = {
        ("Kustomization flux-system/apps", "source", "GitRepository flux-system/flux-system"),
        ("Kustomization flux-system/apps", "depends-on", "Kustomization flux-system/infra"),
        ("Kustomization flux-system/apps", "created", "HelmRelease podinfo/podinfo"),
        ("Kustomization flux-system/apps", "created", "Namespace podinfo"),
        ("Kustomization flux-system/apps", "created", "HelmRepository podinfo/podinfo"),
        ("HelmRelease podinfo/podinfo", "source", "HelmRepository podinfo/podinfo"),
        ("HelmRelease podinfo/podinfo", "source", "HelmChart podinfo/podinfo-podinfo"),
        ("HelmRelease podinfo/podinfo", "created", "Deployment podinfo/podinfo"),
        ("HelmRelease podinfo/podinfo", "created", "Service podinfo/podinfo"),
        ("HelmChart podinfo/podinfo-podinfo", "source", "HelmRepository podinfo/podinfo"),
    }
    assert expected <= got
    replicaset = KubeObject.objects.get(kind="ReplicaSet", name__startswith="podinfo-")
    assert ("Deployment podinfo/podinfo", "owns", str(replicaset)) in got
    assert sum(1 for s, t, _ in got if s == str(replicaset) and t == "owns") == 2


def test_health_and_the_why_of_a_red_tree(cluster):
    sync_cluster(cluster)
    apps = obj("Kustomization", "apps", "flux-system")
    assert apps.health == "healthy", "the Kustomization itself applied fine"
    assert apps.rollup_health == "degraded"
    assert apps.rollup_message.startswith(
        "Kustomization flux-system/apps → HelmRelease podinfo/frontend → Deployment podinfo/frontend")
    assert "ImagePullBackOff" in apps.rollup_message or "Back-off pulling image" in apps.rollup_message
    assert obj("HelmRelease", "podinfo").rollup_health == "healthy"
    frontend = obj("Deployment", "frontend")
    assert (frontend.health, frontend.health_reason) == ("degraded", "ImagePullBackOff"), \
        "a Deployment's own health reads its pods through its ReplicaSets"
    assert obj("Deployment", "podinfo").health_message == "2/2 ready"
    assert obj("Kustomization", "infra", "flux-system").rollup_health == "healthy"
    repo = obj("HelmRepository", "podinfo")
    assert (repo.origin_path, repo.managed_by_kind, repo.managed_by_name) == ("../base/podinfo/repository.yaml",
                                                                              "Kustomization", "apps")


def test_secrets_and_configmaps_are_mirrored_without_their_data(cluster, tree_sim):
    labels = {"kustomize.toolkit.fluxcd.io/name": "apps", "kustomize.toolkit.fluxcd.io/namespace": "flux-system"}
    tree_sim.store.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "podinfo",
                           "labels": labels}, "data": {"password": "aHVudGVyMg=="}})
    sync_cluster(cluster)
    secret = obj("Secret", "db")
    assert secret.spec == {} and secret.status == {}
    assert "aHVudGVyMg" not in str(KubeObject.objects.filter(pk=secret.pk).values().first())


def test_a_deleted_object_becomes_a_tombstone_and_comes_back_if_recreated(cluster, tree_sim):
    sync_cluster(cluster)
    service = obj("Service", "frontend")
    tree_sim.store.delete("services", "podinfo", "frontend")
    result = sync_cluster(cluster)
    service.refresh_from_db()
    assert result.tombstoned == 1
    assert service.deleted_at is not None
    assert not Edge.objects.filter(target=service).exists()
    live = KubeObject.objects.filter(deleted_at__isnull=True)
    assert not live.filter(kind="Service", name="frontend").exists()
    assert live.filter(kind="Service", name="podinfo").exists()


def test_an_unreachable_cluster_keeps_its_last_known_state(cluster):
    sync_cluster(cluster)
    count = KubeObject.objects.count()
    with socket.socket() as sock:  # a port with nothing listening
        sock.bind(("127.0.0.1", 0))
        dead_port = sock.getsockname()[1]
    cluster.server_url = f"http://127.0.0.1:{dead_port}"
    cluster.save()
    with pytest.raises(KubeUnreachable):
        sync_cluster(cluster)
    cluster.refresh_from_db()
    assert cluster.last_sync_state == Cluster.SyncState.UNREACHABLE
    assert "last sync" in cluster.last_sync_message
    assert KubeObject.objects.count() == count
    assert KubeObject.objects.filter(deleted_at__isnull=False).count() == 0
    assert AuditEvent.objects.filter(verb="cluster.sync_state", after__state="unreachable").exists()


def test_a_bad_object_is_reported_and_skipped(cluster, tree_sim):
    labels = {"kustomize.toolkit.fluxcd.io/name": "apps", "kustomize.toolkit.fluxcd.io/namespace": "flux-system"}
    tree_sim.store.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "odd", "namespace": "podinfo",
                           "labels": labels}})
    # A Flux object whose spec is not an object: the API accepted it, the mirror cannot use it.
    tree_sim.store.create({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "Bucket",
                           "metadata": {"name": "weird", "namespace": "podinfo"}, "spec": "not-an-object"})
    result = sync_cluster(cluster)
    assert any("Bucket weird" in p for p in result.problems)
    assert KubeObject.objects.filter(kind="ConfigMap", name="odd").exists()
    assert not KubeObject.objects.filter(kind="Bucket").exists()
    cluster.refresh_from_db()
    assert cluster.last_sync_state == "ok"
    assert "skipped Bucket weird" in cluster.last_sync_message


def _queries_for(apps: int) -> tuple[int, int]:
    sim = Simulator()
    sim.start()
    try:
        flux_tree(sim, apps=apps, broken=False)
        wait_for(lambda: len(sim.store.list("pods", "podinfo")) == 2 * apps, what="pods")
        cluster = Cluster.objects.create(name=f"size-{apps}", connection="simulator", server_url=sim.url)
        with CaptureQueriesContext(connection) as first:
            sync_cluster(cluster)
        with CaptureQueriesContext(connection) as second:
            sync_cluster(cluster)
        assert KubeObject.objects.filter(cluster=cluster).count() > 6 * apps
        return len(first.captured_queries), len(second.captured_queries)
    finally:
        sim.stop(save=False)


def test_query_count_does_not_grow_with_the_number_of_objects():
    small, large = _queries_for(2), _queries_for(12)
    assert small == large


def _helm_secret(release: str, namespace: str, version: int, manifest: str, status: str = "deployed") -> dict:
    import base64
    import gzip
    import json

    payload = gzip.compress(json.dumps({"name": release, "namespace": namespace, "manifest": manifest}).encode())
    return {"apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
            "metadata": {"name": f"sh.helm.release.v1.{release}.v{version}", "namespace": namespace,
                         "labels": {"owner": "helm", "name": release, "status": status, "version": str(version)}},
            "data": {"release": base64.b64encode(base64.b64encode(payload)).decode()}}


def test_helm_storage_is_decoded_for_helmreleases_without_inventory(cluster, tree_sim):
    """Old helm-controllers write no status.inventory: the release Secret tells what the release created."""
    tree_sim.store.create({
        "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
        "metadata": {"name": "legacy", "namespace": "podinfo"},
        "spec": {"interval": "1h", "chart": {"spec": {"chart": "legacy", "sourceRef": {"kind": "HelmRepository",
                                                                                      "name": "podinfo"}}}},
    })
    tree_sim.store.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "legacy-config",
                                                                                 "namespace": "podinfo"}})
    manifest = "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: legacy-config\n"
    tree_sim.store.create(_helm_secret("legacy", "podinfo", 1, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n"
                                       "  name: old-config\n", status="superseded"))
    tree_sim.store.create(_helm_secret("legacy", "podinfo", 2, manifest))
    sync_cluster(cluster)
    assert ("HelmRelease podinfo/legacy", "created", "ConfigMap podinfo/legacy-config") in edges()
    assert not KubeObject.objects.filter(name="old-config").exists()


def test_a_kind_the_sync_may_not_list_is_reported_and_skipped(cluster, tree_sim):
    """A least-privilege account (403) or a kind gone since discovery (404) must not fail the whole sync."""
    from controlplane.kube import KubeAdapter
    from graph.sync import fetch

    tree_sim.store.create({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
                 "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                 "versions": [{"name": "v1", "served": True, "storage": True,
                               "schema": {"openAPIV3Schema": {"type": "object",
                                                              "x-kubernetes-preserve-unknown-fields": True}}}]},
    })
    apps = tree_sim.store.get("kustomizations", "flux-system", "apps")
    apps["status"]["inventory"]["entries"].append({"id": "podinfo_w1_example.com_Widget", "v": "v1"})
    tree_sim.store.update_status(apps)
    adapter = KubeAdapter(cluster)
    try:
        assert adapter.find_resource("example.com", "Widget") is not None  # discovered…
        tree_sim.store.delete("customresourcedefinitions", None, "widgets.example.com")  # …then gone
        objects, _events, result = fetch(adapter)
    finally:
        adapter.close()
    assert any(p.startswith("cannot list widgets.example.com") for p in result.problems)
    assert any(o["kind"] == "Kustomization" for o in objects)


def test_sharing_strings_keeps_the_listed_objects_equal():
    import copy
    import json

    from graph.sync import share_strings

    def pod(name: str) -> dict:
        # Decoded from text, as the sync's lists are, so that equal strings start as separate objects.
        return json.loads(json.dumps({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "podinfo", "uid": f"uid-{name}", "labels": {"app": "podinfo"},
                         "ownerReferences": [{"kind": "ReplicaSet", "name": "podinfo-1", "uid": "rs"}]},
            "spec": {"containers": [{"name": "podinfo", "image": "ghcr.io/stefanprodan/podinfo:6.5.4"}]},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
        }))

    items = [pod("a"), pod("b")]
    before = copy.deepcopy(items)
    share_strings(items, {})
    assert items == before
    a, b = items
    assert a["metadata"]["namespace"] is b["metadata"]["namespace"]
    assert a["metadata"]["labels"]["app"] is b["metadata"]["labels"]["app"]
    assert a["spec"]["containers"][0]["image"] is b["spec"]["containers"][0]["image"]
    assert a["status"]["conditions"][0]["status"] is b["status"]["conditions"][0]["status"]
