"""Several clusters: two simulators holding different Flux trees, two Cluster rows. The periodic tick enqueues a
sync for both, the worker (``drain``) mirrors each independently, the list pages and the graph filter by cluster,
and a cluster that stops answering does not keep the other one from syncing."""

from __future__ import annotations

import html
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from controlplane.models import Cluster
from graph.jobs import sync_due_clusters
from graph.models import KubeObject
from simulator import Simulator
from tests.graph.conftest import wait_for
from tests.graph.flux_tree import KS_LABELS, create, flux_tree

pytestmark = pytest.mark.django_db


def _tree(apps: int, broken: bool) -> Simulator:
    """A started simulator with its own tree, once its Deployments have their pods."""
    sim = Simulator()
    sim.start()
    flux_tree(sim, apps=apps, broken=broken)
    pods = 2 * (apps + (1 if broken else 0))
    wait_for(lambda: len(sim.store.list("pods", "podinfo")) == pods, what=f"{pods} pods in the simulator")
    return sim


@pytest.fixture
def two_sims():
    # staging: one healthy app and the broken "frontend"; production: three healthy apps, nothing broken.
    sims = []
    try:
        sims.append(_tree(apps=1, broken=True))
        sims.append(_tree(apps=3, broken=False))
        yield tuple(sims)
    finally:
        for sim in sims:
            sim.stop(save=False)


@pytest.fixture
def clusters(two_sims):
    staging_sim, production_sim = two_sims
    staging = Cluster.objects.create(name="staging", connection=Cluster.Connection.SIMULATOR,
                                     server_url=staging_sim.url)
    production = Cluster.objects.create(name="production", connection=Cluster.Connection.SIMULATOR,
                                        server_url=production_sim.url)
    return staging, production


def _releases(cluster: Cluster) -> set[str]:
    return set(KubeObject.objects.filter(cluster=cluster, kind="HelmRelease", deleted_at__isnull=True)
               .values_list("name", flat=True))


def _graph_titles(body: str) -> set[str]:
    """The node tooltips of the rendered SVG ("HelmRelease podinfo/frontend: failed …" → the kind/name part)."""
    titles = (html.unescape(t) for t in re.findall(r'xlink:title="([^"]*)"', body))
    return {re.split(r":\s", t, maxsplit=1)[0] for t in titles}


def test_the_tick_syncs_both_clusters_and_each_mirrors_its_own_tree(clusters, drain):
    staging, production = clusters
    assert sorted(sync_due_clusters()) == sorted([staging.pk, production.pk])
    drain()
    for cluster in (staging, production):
        cluster.refresh_from_db()
        assert cluster.last_sync_state == Cluster.SyncState.OK, cluster.last_sync_message
    assert _releases(staging) == {"podinfo", "frontend"}
    assert _releases(production) == {"podinfo", "podinfo-1", "podinfo-2"}
    # Same names in both clusters, separate rows: each cluster has its own apps Kustomization and its own health.
    apps = {k.cluster_id: k for k in KubeObject.objects.filter(kind="Kustomization", name="apps")}
    assert set(apps) == {staging.pk, production.pk}
    assert apps[staging.pk].rollup_health != "healthy" and apps[production.pk].rollup_health == "healthy"
    assert KubeObject.objects.filter(cluster=production, kind="Pod").count() == 6
    assert KubeObject.objects.filter(cluster=staging, kind="Pod").count() == 4
    # Edges never cross clusters.
    for obj in KubeObject.objects.filter(cluster=production):
        assert not obj.out_edges.exclude(target__cluster=production).exists(), obj


def test_lists_and_graph_filter_by_cluster(clusters, drain, client, admin_user):
    staging, production = clusters
    sync_due_clusters()
    drain()
    client.force_login(admin_user)

    url = reverse("admin:graph_helmrelease_changelist")
    both = client.get(url).content.decode()
    assert "frontend" in both and "podinfo-2" in both
    only_production = client.get(url, {"cluster__id__exact": production.pk}).content.decode()
    assert "podinfo-2" in only_production and "frontend" not in only_production
    only_staging = client.get(url, {"cluster__id__exact": staging.pk}).content.decode()
    assert "frontend" in only_staging and "podinfo-2" not in only_staging

    kustomizations = reverse("admin:graph_kustomization_changelist")
    response = client.get(kustomizations, {"cluster__id__exact": staging.pk})
    assert response.status_code == 200
    assert [o.cluster_id for o in response.context["cl"].result_list] == [staging.pk, staging.pk]  # infra, apps

    graph = reverse("admin:graph_kubeobject_graph")
    staging_graph = _graph_titles(client.get(graph, {"cluster": staging.pk}).content.decode())
    production_graph = _graph_titles(client.get(graph, {"cluster": production.pk}).content.decode())
    assert "HelmRelease podinfo/frontend" in staging_graph and "HelmRelease podinfo/podinfo-2" not in staging_graph
    assert "HelmRelease podinfo/podinfo-2" in production_graph and \
        "HelmRelease podinfo/frontend" not in production_graph
    # The dashboard lists both clusters, each linking to its own graph.
    index = client.get(reverse("admin:index")).content.decode()
    for cluster in (staging, production):
        assert f"{graph}?cluster={cluster.pk}" in index


def test_an_unreachable_cluster_does_not_stop_the_other(clusters, two_sims, drain):
    staging, production = clusters
    staging_sim, production_sim = two_sims
    sync_due_clusters()
    drain()
    before = KubeObject.objects.filter(cluster=production, deleted_at__isnull=True).count()

    # production goes away (and, by name, its sync is enqueued and run first); staging gains a HelmRepository.
    production_sim.stop(save=False)
    create(staging_sim, {
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
        "metadata": {"name": "extra", "namespace": "podinfo", "labels": KS_LABELS},
        "spec": {"interval": "5m", "url": "https://example.org/charts"},
    })
    Cluster.objects.update(last_sync_at=timezone.now() - timezone.timedelta(hours=1))
    assert sync_due_clusters() == [production.pk, staging.pk]
    drain()

    staging.refresh_from_db()
    production.refresh_from_db()
    assert production.last_sync_state == Cluster.SyncState.UNREACHABLE, (production.last_sync_state,
                                                                          production.last_sync_message)
    assert staging.last_sync_state == Cluster.SyncState.OK, staging.last_sync_message
    assert KubeObject.objects.filter(cluster=staging, kind="HelmRepository", name="extra",
                                     deleted_at__isnull=True).exists()
    # What production's mirror knew is kept (not marked deleted) while it cannot be reached.
    assert KubeObject.objects.filter(cluster=production, deleted_at__isnull=True).count() == before
