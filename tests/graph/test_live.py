"""Live parts of the mirror's pages (controlplane/live.py): the object lists, an object's page and the graph answer
the header ``X-Fluxplane-Live`` with only their part, under the same permission checks as the pages, in a number of
queries that does not grow with the mirror."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from guardian.shortcuts import assign_perm

from controlplane import live
from graph.delta import apply_events
from graph.models import KubeObject
from graph.sync import sync_cluster

pytestmark = pytest.mark.django_db


@pytest.fixture
def synced(cluster):
    sync_cluster(cluster)
    return cluster


def part(client, url: str, name: str, **headers):
    return client.get(url, headers={live.HEADER: name, **headers})


@pytest.fixture
def scoped(make_user, synced):
    """A developer who may view the ``apps`` Kustomization (and so everything it created), nothing else."""
    dev = make_user("dev")
    assign_perm("graph.view_kubeobject", dev, KubeObject.objects.get(kind="Kustomization", name="apps"))
    return dev


def grow(cluster, count: int) -> None:
    """More mirrored objects (Deployments in a namespace of their own, with a tree edge each)."""
    from graph.models import Edge

    apps = KubeObject.objects.get(cluster=cluster, kind="Kustomization", name="apps")
    start = KubeObject.objects.filter(namespace="bulk").count()
    made = KubeObject.objects.bulk_create([
        KubeObject(cluster=cluster, uid=f"bulk-{start + i}", api_group="apps", api_version="v1", kind="Deployment",
                   family="workload", namespace="bulk", name=f"web-{start + i}", health="failed",
                   rollup_health="failed", rollup_message="0/1 ready", changed_at=apps.changed_at,
                   first_seen=apps.first_seen, last_seen=apps.last_seen)
        for i in range(count)])
    Edge.objects.bulk_create([Edge(cluster=cluster, source=apps, target=o, type="created") for o in made])


def test_the_list_page_marks_its_table_and_the_fragment_is_the_table_alone(client, admin_user, synced):
    client.force_login(admin_user)
    url = reverse("admin:graph_kustomization_changelist") + "?o=1"
    page = client.get(url).content.decode()
    assert 'data-live-part="list"' in page and f'data-live="{url}"' in page
    response = part(client, url, "list")
    assert response.status_code == 200
    assert response[live.HEADER] == "list" and "no-store" in response["Cache-Control"]
    assert "X-Fluxplane-Live" in response["Vary"]
    body = response.content.decode()
    assert 'id="result_list"' in body and ">apps<" in body
    assert "<html" not in body and "nav-sidebar" not in body and "changelist-filter" not in body


def test_the_list_fragment_shows_only_what_the_list_shows(client, scoped, synced):
    client.force_login(scoped)
    body = part(client, reverse("admin:graph_kubeobject_changelist"), "list").content.decode()
    inside = KubeObject.objects.get(kind="HelmRelease", name="podinfo")  # created by apps
    outside = KubeObject.objects.get(kind="Kustomization", name="infra")
    link = "admin:graph_kubeobject_change"
    assert reverse(link, args=[inside.pk]) in body and reverse(link, args=[outside.pk]) not in body


def test_fragments_refuse_who_may_not_see_the_page(client, make_user, synced):
    nobody = make_user("nobody")
    obj = KubeObject.objects.get(kind="Kustomization", name="infra")
    urls = {"list": reverse("admin:graph_kustomization_changelist"), "object": obj.admin_url(),
            "graph": reverse("admin:graph_kubeobject_graph")}
    for name, url in urls.items():  # not signed in: the login page, never a fragment
        response = part(client, url, name)
        assert response.status_code == 302 and live.HEADER not in response
    client.force_login(nobody)
    for name, url in urls.items():
        response = part(client, url, name)
        assert response.status_code in (403, 404), name
        assert live.HEADER not in response and b"infra" not in response.content


def test_the_object_fragment_is_its_state_within_the_users_grants(client, scoped, synced):
    client.force_login(scoped)
    inside = KubeObject.objects.get(kind="HelmRelease", name="podinfo")
    response = part(client, inside.admin_url(), "object")
    assert response.status_code == 200 and response[live.HEADER] == "object"
    body = response.content.decode()
    assert "fp-summary" in body and "HelmRelease podinfo/podinfo" in body
    assert "<svg" not in body and "Relations" not in body  # the graph and the rest of the page are not polled
    outside = KubeObject.objects.get(kind="Kustomization", name="infra")
    response = part(client, outside.admin_url(), "object")
    assert response.status_code == 404 and b"infra" not in response.content


def test_the_object_fragment_follows_the_mirror(client, admin_user, synced, tree_sim):
    client.force_login(admin_user)
    apps = KubeObject.objects.get(kind="Kustomization", name="apps")
    assert "Suspended" not in part(client, apps.admin_url(), "object").content.decode()
    tree_sim.store.patch("kustomizations", apps.namespace, "apps", {"spec": {"suspend": True}}, "merge")
    sync_cluster(synced)
    assert "Flux does not reconcile it until it is resumed" in part(client, apps.admin_url(), "object").content.decode()


def test_the_graph_answers_no_content_until_the_mirror_changes(client, admin_user, synced, tree_sim):
    client.force_login(admin_user)
    url = reverse("admin:graph_kubeobject_graph") + f"?cluster={synced.pk}"
    page = client.get(url).content.decode()
    token = page.split('data-live-token="', 1)[1].split('"', 1)[0]
    assert token
    same = part(client, url, "graph", **{live.SINCE_HEADER: token})
    assert same.status_code == 204 and same[live.CHANGE_HEADER] == token
    # A batch of watch deltas that changes the mirror moves the token: the graph is sent again.
    deployment = tree_sim.store.peek("deployments", "podinfo", "podinfo")
    deployment["metadata"]["resourceVersion"] = str(int(deployment["metadata"]["resourceVersion"]) + 1000)
    deployment["status"]["readyReplicas"] = 0
    assert apply_events(synced, [("MODIFIED", deployment)]).changed
    fresh = part(client, url, "graph", **{live.SINCE_HEADER: token})
    assert fresh.status_code == 200 and fresh[live.CHANGE_HEADER] != token
    body = fresh.content.decode()
    assert '<div class="fp-graph"><svg' in body and "<form" not in body


def test_the_graph_token_changes_with_the_users_grants(client, scoped, synced):
    client.force_login(scoped)
    url = reverse("admin:graph_kubeobject_graph") + f"?cluster={synced.pk}"
    first = part(client, url, "graph")
    token = first[live.CHANGE_HEADER]
    assert "infra" not in first.content.decode()
    assign_perm("graph.view_kubeobject", scoped, KubeObject.objects.get(kind="Kustomization", name="infra"))
    second = part(client, url, "graph", **{live.SINCE_HEADER: token})
    assert second.status_code == 200 and "infra" in second.content.decode()


@pytest.mark.parametrize("who", ["root", "dev"])
def test_queries_per_poll_do_not_grow_with_the_mirror(client, admin_user, scoped, synced, who):
    client.force_login(admin_user if who == "root" else scoped)
    podinfo = KubeObject.objects.get(kind="HelmRelease", name="podinfo")
    polls = {
        "list": reverse("admin:graph_kubeobject_changelist"),
        "object": podinfo.admin_url(),
        "graph": reverse("admin:graph_kubeobject_graph") + f"?cluster={synced.pk}",
        "dashboard": reverse("admin:index"),
    }

    def counts() -> dict[str, int]:
        found = {}
        for name, url in polls.items():
            part(client, url, name)  # warm: sessions, permission caches
            with CaptureQueriesContext(connection) as queries:
                assert part(client, url, name).status_code == 200
            found[name] = len(queries)
        return found

    small = counts()
    grow(synced, 40)
    large = counts()
    assert small == large
