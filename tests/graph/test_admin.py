"""Admin pages for the mirror: every list and every object's detail page render; permissions are enforced."""

from __future__ import annotations

import pytest
from django.urls import reverse

from graph.models import KubeObject
from graph.sync import sync_cluster

pytestmark = pytest.mark.django_db

LISTS = ["kubeobject", "kustomization", "helmrelease", "source", "notification", "imageautomation", "workload"]


@pytest.fixture
def synced(cluster):
    sync_cluster(cluster)
    return cluster


@pytest.mark.parametrize("model", LISTS)
def test_every_list_renders_with_badges_and_filters(client, admin_user, synced, model):
    client.force_login(admin_user)
    url = reverse(f"admin:graph_{model}_changelist")
    response = client.get(url)
    assert response.status_code == 200
    if model in ("kubeobject", "kustomization"):
        assert "fp-health-degraded" in response.content.decode()
    assert client.get(url, {"rollup_health__exact": "failed", "namespace": "podinfo"}).status_code == 200
    assert client.get(url, {"presence": "deleted", "q": "podinfo"}).status_code == 200


def test_every_object_detail_page_renders(client, admin_user, synced, django_assert_max_num_queries):
    client.force_login(admin_user)
    objects = list(KubeObject.objects.all())
    assert {o.kind for o in objects} >= {"Kustomization", "HelmRelease", "GitRepository", "HelmRepository",
                                          "HelmChart", "Deployment", "ReplicaSet", "Pod", "Service", "Namespace"}
    for obj in objects:
        with django_assert_max_num_queries(25):
            response = client.get(obj.admin_url())
        assert response.status_code == 200, obj
        body = response.content.decode()
        assert "<svg" in body, f"no graph on the page of {obj}"
        assert str(obj.name) in body


def test_kustomization_page_shows_why_conditions_and_graph(client, admin_user, synced):
    client.force_login(admin_user)
    apps = KubeObject.objects.get(kind="Kustomization", name="apps")
    body = client.get(apps.admin_url()).content.decode()
    assert "HelmRelease podinfo/frontend → Deployment podinfo/frontend" in body
    assert "ReconciliationSucceeded" in body
    assert "Applied revision: main@sha1:" in body
    assert body.count('class="node') >= 8, "the subtree graph has the apps tree"


def test_origin_file_is_joined_with_the_kustomization_path(client, admin_user, synced):
    client.force_login(admin_user)
    helmrepo = KubeObject.objects.get(kind="HelmRepository", name="podinfo")
    body = client.get(helmrepo.admin_url()).content.decode()
    assert "<code>apps/base/podinfo/repository.yaml</code>" in body
    assert "https://github.com/example/fleet/blob/main/apps/base/podinfo/repository.yaml" in body


def graph_svg(body: str) -> str:
    """The graph's SVG only (the admin page has icon SVGs of its own)."""
    return body.split('<div class="fp-graph">', 1)[1].split("</svg>", 1)[0]


def test_graph_view_filters(client, admin_user, synced):
    client.force_login(admin_user)
    url = reverse("admin:graph_kubeobject_graph")
    whole = client.get(url, {"cluster": synced.pk}).content.decode()
    assert "Kustomization" in whole and "Pod" in whole
    only_red = client.get(url, {"cluster": synced.pk, "health": "degraded"}).content.decode()
    red = graph_svg(only_red)
    infra = KubeObject.objects.get(kind="Kustomization", name="infra")
    frontend = KubeObject.objects.get(kind="Deployment", name="frontend")
    assert f'id="node{frontend.pk}"' in red and f'id="node{infra.pk}"' not in red
    apps = KubeObject.objects.get(kind="Kustomization", name="apps")
    subtree = client.get(url, {"cluster": synced.pk, "root": apps.pk, "kind": ["HelmRelease"]}).content.decode()
    svg = graph_svg(subtree)
    shown = {pk for pk in KubeObject.objects.values_list("pk", flat=True) if f'id="node{pk}"' in svg}
    assert shown == set(KubeObject.objects.filter(kind__in=["HelmRelease"]).values_list("pk", flat=True)) | {apps.pk}


def test_dashboard_on_the_admin_index(client, admin_user, synced):
    client.force_login(admin_user)
    body = client.get(reverse("admin:index")).content.decode()
    assert "Health by kind" in body
    assert "Failing and why" in body and "HelmRelease podinfo/frontend" in body
    assert "staging" in body


@pytest.mark.parametrize("model", LISTS)
def test_staff_without_view_permission_is_refused(client, make_user, synced, model):
    client.force_login(make_user("nobody"))
    assert client.get(reverse(f"admin:graph_{model}_changelist")).status_code == 403
    obj = KubeObject.objects.filter(family=model if model not in ("kubeobject", "imageautomation") else "x").first()
    if obj is not None:
        assert client.get(obj.admin_url()).status_code == 403


def test_view_permission_on_one_family_opens_only_that_family(client, make_user, synced):
    client.force_login(make_user("ks-viewer", perms=("graph.view_kustomization",)))
    apps = KubeObject.objects.get(kind="Kustomization", name="apps")
    assert client.get(reverse("admin:graph_kustomization_changelist")).status_code == 200
    assert client.get(apps.admin_url()).status_code == 200
    assert client.get(reverse("admin:graph_helmrelease_changelist")).status_code == 403
    assert client.get(reverse("admin:graph_kubeobject_graph")).status_code == 403
    assert "Health by kind" not in client.get(reverse("admin:index")).content.decode()


def test_admin_cannot_change_mirrored_objects(client, admin_user, synced):
    client.force_login(admin_user)
    obj = KubeObject.objects.get(kind="Kustomization", name="apps")
    client.post(obj.admin_url(), {"name": "x"})
    assert KubeObject.objects.get(pk=obj.pk).name == "apps"
    assert client.post(reverse("admin:graph_kustomization_delete", args=[obj.pk]), {"post": "yes"}).status_code == 403
    assert KubeObject.objects.filter(pk=obj.pk).exists()
