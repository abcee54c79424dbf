"""The object lists' counts are cached per change of the mirror (graph.admin.listing): they follow every change (a
watch delta, a full sync) at once, as the dashboard's counts do; the sidebar's namespace and kind choices follow
within FLUXPLANE_LIST_CHOICES_SECONDS (at once after a full sync). Neither crosses from one user's visibility to
another's, and the rows' HTML is Django's."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.templatetags.admin_list import items_for_result
from django.core.cache import cache
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from guardian.shortcuts import assign_perm, remove_perm

from access import rules
from controlplane.models import Cluster
from graph.admin import listing
from graph.admin.filters import KindFilter, NamespaceFilter
from graph.admin.objects import KubeObjectAdmin
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


@pytest.fixture
def small_pages(monkeypatch):
    """Pages of 5 rows: the test tree's lists are longer than a page, so their first page does not count them."""
    monkeypatch.setattr(KubeObjectAdmin, "list_per_page", 5)


@pytest.fixture
def later(monkeypatch):
    """Moves graph.admin.listing's clock past the choices' bound."""
    moved = [0.0]
    now = listing.clock
    monkeypatch.setattr(listing, "clock", lambda: now() + moved[0])

    def move():
        moved[0] += settings.FLUXPLANE_LIST_CHOICES_SECONDS

    return move


def test_the_count_and_the_sidebar_are_read_once_per_change_of_the_mirror(client, admin_user, synced, small_pages):
    client.force_login(admin_user)
    count, namespaces, kinds, queries = shown(client)
    assert count == live_count() > 5 and "podinfo" in namespaces and "Deployment" in kinds
    again = shown(client)
    assert again[:3] == (count, namespaces, kinds)
    assert again[3] == queries - 1, "the count and the sidebar's choices came from the cache"
    assert reads(client) == 0
    # The default view's count and the sidebar are one pass over the rows; a filtered view counts its own rows.
    cache.clear()
    assert reads(client) == 1 and reads(client, namespace="podinfo") == 1 and reads(client, namespace="podinfo") == 0
    assert shown(client, namespace="podinfo")[0] == live_count(namespace="podinfo")
    assert reads(client, presence="all") == 1 and shown(client, presence="all")[0] == KubeObject.objects.count()
    # After a change of the mirror the counts are read again, the choices are not (they are kept for a while).
    Cluster.objects.filter(pk=synced.pk).update(mirror_changed_at=timezone.now())
    assert reads(client) == 1 and reads(client) == 0
    assert shown(client, presence="all")[0] == KubeObject.objects.count()


def test_a_first_page_shorter_than_a_page_is_its_own_count(client, admin_user, synced):
    client.force_login(admin_user)
    shown(client)  # the sidebar's choices
    total = live_count()
    assert total < KubeObjectAdmin.list_per_page
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse(LIST), {"q": "podinfo"})
    cl = response.context["cl"]
    selects = [q["sql"] for q in queries.captured_queries if 'FROM "graph_kubeobject"' in q["sql"]]
    assert len(selects) == 1 and "COUNT(" not in selects[0], "the page's rows were read once, and not counted"
    found = KubeObject.objects.filter(Q(name__icontains="podinfo") | Q(namespace__icontains="podinfo"),
                                      deleted_at__isnull=True)
    assert cl.result_count == len(cl.result_list) == found.count() > 0
    assert shown(client, q="no-such-object")[0] == 0
    assert reads(client, q="no-such-object") == 0


def test_a_page_and_its_count_agree_past_the_first_page(client, admin_user, synced, small_pages):
    client.force_login(admin_user)
    everything = list(KubeObject.objects.filter(deleted_at__isnull=True).order_by("namespace", "name", "-pk")
                      .values_list("pk", flat=True))
    seen = []
    for page in range(1, -(-len(everything) // 5) + 1):
        response = client.get(reverse(LIST), {"p": page})
        cl = response.context["cl"]
        assert cl.result_count == len(everything)
        seen += [obj.pk for obj in cl.result_list]
    assert seen == everything


def dashboard_workloads(rf, user) -> int:
    request = rf.get("/admin/")
    request.user = user
    return next(total for label, _healths, total, _url in health_dashboard(request)["families"]
                if label == Family.WORKLOAD.label)


def test_a_watch_delta_shows_in_the_counts_at_once_and_in_the_sidebar_within_the_bound(
        client, rf, admin_user, synced, tree_sim, later):
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
    # The counts are exact at once; the sidebar offers what it offered, for at most the choices' bound.
    count2, namespaces2, kinds2, _queries = shown(client)
    assert count2 == count + 1 == live_count()
    assert (namespaces2, kinds2) == (namespaces, kinds)
    assert shown(client, "admin:graph_workload_changelist")[0] == workloads + 1
    assert dashboard_workloads(rf, admin_user) == workloads + 1
    assert shown(client, namespace="fresh")[0] == 1  # chosen before it is offered (a link): shown
    later()
    _count, namespaces3, kinds3, _queries = shown(client)
    assert "fresh" in namespaces3 and "StatefulSet" in kinds3
    # ... and when it goes again: the count at once; a namespace still offered shows an empty list
    gone = {**created, "metadata": {**created["metadata"], "resourceVersion": str(
        int(created["metadata"]["resourceVersion"]) + 1)}}
    assert apply_events(synced, [("DELETED", gone)]).changed
    assert shown(client)[0] == count
    assert shown(client, namespace="fresh", kind="StatefulSet")[0] == 0
    assert shown(client, presence="deleted", namespace="fresh")[0] == 1


def test_a_full_sync_refreshes_the_sidebar_at_once(client, admin_user, synced, tree_sim):
    client.force_login(admin_user)
    namespaces = shown(client)[1]
    tree_sim.store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "fresh"}})
    create(tree_sim, {"apiVersion": "v1", "kind": "ConfigMap",
                      "metadata": {"name": "settings", "namespace": "fresh", "labels": KS_LABELS}, "data": {}})
    sync_cluster(synced)
    count, namespaces2, _kinds, _queries = shown(client)
    assert "fresh" not in namespaces and "fresh" in namespaces2 and count == live_count()


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
    assign_perm("graph.view_kubeobject", dev, infra)  # a grant changes what the list counts and offers, at once
    wider = shown(client)
    assert wider[0] > count and "flux-system" in wider[1] and "Kustomization" in wider[2]
    remove_perm("graph.view_kubeobject", dev, infra)  # ... and so does a grant taken back: never a stale namespace
    assert shown(client)[:3] == (count, namespaces, kinds)
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
