"""The object lists' counts and sidebar choices are cached per change of the mirror (graph.admin.listing): they
follow every change (a watch delta, a full sync), as the dashboard's counts do, never cross from one user's
visibility to another's, and the rows' HTML is Django's."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.admin.templatetags.admin_list import items_for_result
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from guardian.shortcuts import assign_perm

from access import rules
from controlplane.models import Cluster
from graph.admin.filters import KindFilter, NamespaceFilter
from graph.choices import Family
from graph.delta import apply_events
from graph.models import KubeObject
from graph.panels import health_dashboard
from graph.sync import sync_cluster
from tests.graph.flux_tree import KS_LABELS, create

pytestmark = pytest.mark.django_db

LIST = "admin:graph_kubeobject_changelist"


@pytest.fixture
def synced(cluster):
    sync_cluster(cluster)
    cluster.refresh_from_db()
    return cluster


def shown(client, url: str = LIST, **query) -> tuple[int, list[str], list[str], int]:
    """(the count the page shows, the namespace choices, the kind choices, the queries the page made)."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse(url), query)
    assert response.status_code == 200
    cl = response.context["cl"]
    choices = {type(spec): [value for value, _label in spec.lookup_choices] for spec in cl.filter_specs
               if isinstance(spec, (NamespaceFilter, KindFilter))}
    return cl.result_count, choices[NamespaceFilter], choices[KindFilter], len(queries)


def reads(client, url: str = LIST, **query) -> int:
    """How many queries of the page read the mirror's rows to count or group them (rather than the cache)."""
    with CaptureQueriesContext(connection) as queries:
        client.get(reverse(url), query)
    return sum(1 for q in queries.captured_queries if "graph_kubeobject" in q["sql"] and "COUNT(" in q["sql"])


def live_count(**filters) -> int:
    return KubeObject.objects.filter(deleted_at__isnull=True, **filters).count()


def test_the_count_and_the_sidebar_are_read_once_per_change_of_the_mirror(client, admin_user, synced):
    client.force_login(admin_user)
    count, namespaces, kinds, queries = shown(client)
    assert count == live_count() and "podinfo" in namespaces and "Deployment" in kinds
    again = shown(client)
    assert again[:3] == (count, namespaces, kinds)
    assert again[3] == queries - 1, "the count and the sidebar's choices came from the cache"
    assert reads(client) == 0
    # The default view's count and the sidebar are one pass over the rows; a filtered view counts its own rows.
    cache.clear()
    assert reads(client) == 1 and reads(client, namespace="podinfo") == 1 and reads(client, namespace="podinfo") == 0
    assert shown(client, namespace="podinfo")[0] == live_count(namespace="podinfo")
    assert reads(client, presence="all") == 1 and shown(client, presence="all")[0] == KubeObject.objects.count()


def dashboard_workloads(rf, user) -> int:
    request = rf.get("/admin/")
    request.user = user
    return next(total for label, _healths, total, _url in health_dashboard(request)["families"]
                if label == Family.WORKLOAD.label)


def test_a_watch_delta_shows_in_the_count_and_the_sidebar(client, rf, admin_user, synced, tree_sim):
    client.force_login(admin_user)
    count, namespaces, kinds, _queries = shown(client)
    workloads = shown(client, "admin:graph_workload_changelist")[0]
    assert dashboard_workloads(rf, admin_user) == workloads
    assert "fresh" not in namespaces and "StatefulSet" not in kinds
    tree_sim.store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "fresh"}})
    created = create(tree_sim, {
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": "fresh", "labels": KS_LABELS},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "db"}},
                 "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": []}}},
    })
    assert apply_events(synced, [("ADDED", created)]).changed
    count2, namespaces2, kinds2, _queries = shown(client)
    assert count2 == count + 1 == live_count()
    assert "fresh" in namespaces2 and "StatefulSet" in kinds2
    assert shown(client, "admin:graph_workload_changelist")[0] == workloads + 1
    assert dashboard_workloads(rf, admin_user) == workloads + 1
    assert shown(client, namespace="fresh")[0] == 1
    # ... and when it goes again
    gone = {**created, "metadata": {**created["metadata"], "resourceVersion": str(
        int(created["metadata"]["resourceVersion"]) + 1)}}
    assert apply_events(synced, [("DELETED", gone)]).changed
    assert shown(client)[0] == count
    assert shown(client, presence="deleted", namespace="fresh")[0] == 1


def test_a_full_sync_moves_the_token_with_the_rows_it_writes(client, admin_user, synced, tree_sim):
    client.force_login(admin_user)
    count = shown(client)[0]
    before = synced.mirror_changed_at
    assert before is not None, "the first sync wrote rows"
    sync_cluster(synced)  # nothing changed: nothing written, the token stays
    synced.refresh_from_db()
    assert synced.mirror_changed_at == before
    tree_sim.store.delete("services", "podinfo", "podinfo")
    sync_cluster(synced)
    synced.refresh_from_db()
    assert synced.mirror_changed_at > before
    assert shown(client)[0] == count - 1 == live_count()


def test_each_user_reads_the_counts_and_choices_of_what_they_may_see(client, admin_user, make_user, synced):
    dev = make_user("dev")
    assign_perm("graph.view_kubeobject", dev, KubeObject.objects.get(kind="HelmRelease", name="podinfo"))
    client.force_login(admin_user)
    everything = shown(client)
    client.force_login(dev)  # the same page, the same mirror: the admin's cached answers are not the developer's
    count, namespaces, kinds, _queries = shown(client)
    assert count == rules.visible_objects(dev, KubeObject.objects.filter(deleted_at__isnull=True)).count()
    assert 0 < count < everything[0]
    assert namespaces == ["podinfo"] and "flux-system" in everything[1]
    assert "GitRepository" in everything[2] and "GitRepository" not in kinds
    infra = KubeObject.objects.get(kind="Kustomization", name="infra")
    assign_perm("graph.view_kubeobject", dev, infra)  # a grant changes what the list counts, at once
    wider = shown(client)
    assert wider[0] > count and "flux-system" in wider[1] and "Kustomization" in wider[2]
    client.force_login(admin_user)
    assert shown(client)[:3] == everything[:3]


def test_a_saved_cluster_keeps_the_mirror_token_the_mirror_wrote(synced):
    stale = Cluster.objects.get(pk=synced.pk)  # loaded before a batch of deltas moves the token
    Cluster.objects.filter(pk=synced.pk).update(mirror_changed_at=synced.mirror_changed_at.replace(year=2099))
    stale.description = "edited in the admin"
    stale.save()
    synced.refresh_from_db()
    assert synced.description == "edited in the admin" and synced.mirror_changed_at.year == 2099


@pytest.mark.parametrize("query", [{}, {"rollup_health__exact": "healthy", "q": "po"}])
def test_every_lists_rows_are_djangos(client, admin_user, synced, query):
    """graph.admin.rows writes the rows Django's items_for_result writes, for every list and column, with two
    clusters (the cluster column), filters (kept in the row links) and objects of every family."""
    Cluster.objects.create(name="other", connection=Cluster.Connection.SIMULATOR, server_url="http://127.0.0.1:1")
    client.force_login(admin_user)
    every_family = list(KubeObject.objects.select_related("cluster").order_by("kind", "pk"))
    for model, model_admin in admin.site._registry.items():
        if not issubclass(model, KubeObject):
            continue
        response = client.get(reverse(f"admin:graph_{model._meta.model_name}_changelist"), query)
        assert response.status_code == 200
        cl = response.context["cl"]
        body = response.content.decode()
        assert cl.result_list or model is not KubeObject
        for row in model_admin.result_rows(cl):
            assert str(row[0]) in body
        if "revision" not in cl.list_display:  # that column reads an annotation of its own list's rows
            cl.result_list = every_family
        ours = [str(row[0]) for row in model_admin.result_rows(cl)]
        assert ours == ["".join(items_for_result(cl, obj, None)) for obj in cl.result_list], model


def test_the_rows_checkbox_and_link_are_djangos(client, admin_user, synced):
    client.force_login(admin_user)
    body = client.get(reverse(LIST)).content.decode()
    model_admin = admin.site._registry[KubeObject]
    for obj in KubeObject.objects.filter(deleted_at__isnull=True)[:5]:
        assert model_admin.action_checkbox(obj) == admin.ModelAdmin.action_checkbox(model_admin, obj)
        assert model_admin.action_checkbox(obj) in body
        assert f'<a href="{reverse("admin:graph_kubeobject_change", args=[obj.pk])}">' in body
