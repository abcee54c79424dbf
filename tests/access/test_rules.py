"""The permission matrix: every verb × every kind of subject, on the rules and through the admin."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse
from django.utils import timezone
from guardian.shortcuts import assign_perm

from access import rules
from access.models import KubeObjectGroupPermission, KubeObjectUserPermission
from controlplane.models import Cluster
from graph.choices import EdgeType, Family
from graph.models import Edge, KubeObject
from playbooks.models import PlaybookRun

pytestmark = pytest.mark.django_db

VERBS = [rules.VIEW, rules.RUN_PLAYBOOK, rules.REQUEST_CHANGE, rules.APPROVE_RUN, rules.REQUEST_ACCESS,
         rules.SILENCE]


def make(cluster, kind, name, namespace="", group="", family=Family.OTHER, **extra) -> KubeObject:
    now = timezone.now()
    return KubeObject.objects.create(cluster=cluster, uid=f"{kind}-{namespace}-{name}", api_group=group,
                                     api_version="v1", kind=kind, family=family, namespace=namespace, name=name,
                                     first_seen=now, last_seen=now, **extra)


@pytest.fixture
def tree(db):
    """apps (Kustomization) → Namespace podinfo, HelmRelease podinfo → Deployment podinfo; infra unrelated."""
    cluster = Cluster.objects.create(name="c", connection="simulator", server_url="http://127.0.0.1:1")
    ks = "kustomize.toolkit.fluxcd.io"
    objs = {
        "apps": make(cluster, "Kustomization", "apps", "flux-system", ks, Family.KUSTOMIZATION),
        "infra": make(cluster, "Kustomization", "infra", "flux-system", ks, Family.KUSTOMIZATION),
        "ns": make(cluster, "Namespace", "podinfo"),
        "release": make(cluster, "HelmRelease", "podinfo", "podinfo", "helm.toolkit.fluxcd.io", Family.HELMRELEASE),
        "deploy": make(cluster, "Deployment", "podinfo", "podinfo", "apps", Family.WORKLOAD),
        "other_ns_deploy": make(cluster, "Deployment", "web", "other", "apps", Family.WORKLOAD),
    }
    for source, target in (("apps", "ns"), ("apps", "release"), ("release", "deploy")):
        Edge.objects.create(cluster=cluster, source=objs[source], target=objs[target], type=EdgeType.CREATED)
    Edge.objects.create(cluster=cluster, source=objs["apps"], target=objs["infra"], type=EdgeType.DEPENDS_ON)
    return objs


SUBJECTS = ["superuser", "global", "ancestor", "namespace-group", "unrelated", "none"]
EXPECTED = {"superuser": True, "global": True, "ancestor": True, "namespace-group": True, "unrelated": False,
            "none": False}


def subject(kind: str, verb: str, tree, make_user):
    if kind == "superuser":
        return make_user("su", superuser=True)
    if kind == "global":
        return make_user("global", perms=(f"graph.{verb}",))
    user = make_user(kind)
    if kind == "ancestor":
        assign_perm(f"graph.{verb}", user, tree["apps"])
    elif kind == "namespace-group":
        group = Group.objects.create(name="podinfo-team")
        user.groups.add(group)
        assign_perm(f"graph.{verb}", group, tree["ns"])
    elif kind == "unrelated":
        assign_perm(f"graph.{verb}", user, tree["infra"])
    return user


@pytest.mark.parametrize("verb", VERBS)
@pytest.mark.parametrize("who", SUBJECTS)
def test_verb_matrix_on_a_deployment_below_apps(tree, make_user, verb, who):
    user = subject(who, verb, tree, make_user)
    assert rules.has_verb(user, verb, tree["deploy"]) is EXPECTED[who]
    # Grants never leak sideways: a Deployment in another namespace, outside the tree.
    assert rules.has_verb(user, verb, tree["other_ns_deploy"]) is (who in ("superuser", "global"))


def test_grants_use_the_direct_foreign_key_tables(tree, make_user):
    user = make_user("u")
    group = Group.objects.create(name="g")
    assign_perm("graph.run_playbook", user, tree["apps"])
    assign_perm("graph.silence", group, tree["ns"])
    assert KubeObjectUserPermission.objects.filter(user=user, content_object=tree["apps"]).count() == 1
    assert KubeObjectGroupPermission.objects.filter(group=group, content_object=tree["ns"]).count() == 1


def pending_run(tree, requester) -> PlaybookRun:
    return PlaybookRun.objects.create(
        playbook="suspend", runner="playbook", cluster=tree["deploy"].cluster, target=tree["deploy"],
        target_kind="Deployment", target_namespace="podinfo", target_name="podinfo", approvals_required=1,
        requested_by=requester, requested_by_username=requester.username, status="pending_approval",
    )


@pytest.mark.parametrize("who,expected", [(w, EXPECTED[w]) for w in SUBJECTS] + [("requester", False)])
def test_approve_matrix(tree, make_user, who, expected):
    requester = make_user("requester-x")
    if who == "requester":
        user = requester
        user.is_superuser = True
        user.save()
        user.user_permissions.add(Permission.objects.get(codename=rules.APPROVE_RUN))
        assign_perm("graph.approve_run", user, tree["apps"])
    else:
        user = subject(who, rules.APPROVE_RUN, tree, make_user)
    assert rules.can_approve(user, pending_run(tree, requester)) is expected


def test_inactive_or_anonymous_users_may_do_nothing(tree, make_user):
    from django.contrib.auth.models import AnonymousUser

    user = make_user("gone", superuser=True)
    user.is_active = False
    for verb in VERBS:
        assert not rules.has_verb(user, verb, tree["deploy"])
        assert not rules.has_verb(AnonymousUser(), verb, tree["deploy"])


def test_visible_objects_follow_grants_down_the_tree(tree, make_user):
    user = make_user("viewer")
    assign_perm("graph.view_kubeobject", user, tree["release"])
    visible = set(rules.visible_objects(user, KubeObject.objects.all()).values_list("name", "kind"))
    assert visible == {("podinfo", "HelmRelease"), ("podinfo", "Deployment")}
    group_user = make_user("ns-viewer")
    group = Group.objects.create(name="ns")
    group_user.groups.add(group)
    assign_perm("graph.view_kubeobject", group, tree["ns"])
    visible = set(rules.visible_objects(group_user, KubeObject.objects.all()).values_list("kind", "namespace"))
    assert visible == {("Namespace", ""), ("HelmRelease", "podinfo"), ("Deployment", "podinfo")}


# ---------------------------------------------------------------------------------------------- through the admin
@pytest.mark.parametrize("who", SUBJECTS)
def test_run_playbook_through_the_admin(client, tree, make_user, who):
    """Button shown or hidden, bulk action offered or refused, POST to the start view allowed or 403."""
    user = subject(who, rules.RUN_PLAYBOOK, tree, make_user)
    if not user.is_superuser:
        assign_perm("graph.view_kubeobject", user, tree["apps"])
        assign_perm("graph.view_kubeobject", user, tree["infra"])
    client.force_login(user)
    allowed = EXPECTED[who]
    release = KubeObject.objects.get(pk=tree["release"].pk)
    page = client.get(release.admin_url()).content.decode()
    start_url = reverse("admin:playbooks_start", args=["suspend", release.pk])
    assert (start_url in page) is allowed
    changelist = client.get(reverse("admin:graph_helmrelease_changelist")).content.decode()
    assert ('value="playbook_suspend"' in changelist) is (who != "none")  # unrelated grants still offer the action
    bulk = client.post(reverse("admin:playbooks_bulk", args=["suspend"]),
                       {"_selected_action": [release.pk], "confirm": "1"})
    post = client.post(start_url, {})
    if allowed:
        assert post.status_code == 302, post.content.decode()[-3000:]
        assert bulk.status_code == 302, bulk.content.decode()[-2500:]
    else:
        assert post.status_code == 403 and bulk.status_code == 403
        assert not PlaybookRun.objects.exists()


def test_a_grant_survives_its_object_being_deleted_and_re_created(tree, make_user):
    """A cluster rebuilt (or a Kustomization pruned and applied again) gives every object a new uid, so the mirror
    has new rows; a grant on "Kustomization flux-system/apps" keeps applying to the object of that identity."""
    user = make_user("follower")
    assign_perm("graph.run_playbook", user, tree["apps"])
    assign_perm("graph.view_kubeobject", user, tree["apps"])
    cluster, now = tree["apps"].cluster, timezone.now()
    KubeObject.objects.filter(pk__in=[o.pk for o in tree.values()]).update(deleted_at=now)  # all gone from the cluster
    reborn = {name: KubeObject.objects.create(
        cluster=cluster, uid=f"new-{o.uid}", api_group=o.api_group, api_version="v1", kind=o.kind, family=o.family,
        namespace=o.namespace, name=o.name, first_seen=now, last_seen=now) for name, o in tree.items()}
    for source, target in (("apps", "ns"), ("apps", "release"), ("release", "deploy")):
        Edge.objects.create(cluster=cluster, source=reborn[source], target=reborn[target], type=EdgeType.CREATED)
    user = type(user).objects.get(pk=user.pk)
    assert rules.can_run_playbook(user, reborn["apps"]) and rules.can_run_playbook(user, reborn["deploy"])
    assert not rules.can_run_playbook(user, reborn["infra"]) and not rules.can_view(user, reborn["other_ns_deploy"])
    visible = set(rules.visible_objects(user, KubeObject.objects.filter(deleted_at__isnull=True)))
    assert {reborn["apps"], reborn["ns"], reborn["release"], reborn["deploy"]} <= visible
    assert reborn["infra"] not in visible and reborn["other_ns_deploy"] not in visible
    # Another cluster's object of the same kind/namespace/name is a different object.
    elsewhere = Cluster.objects.create(name="other", connection="simulator", server_url="http://127.0.0.1:2")
    twin = KubeObject.objects.create(cluster=elsewhere, uid="twin", api_group=reborn["apps"].api_group,
                                     api_version="v1", kind="Kustomization", family=Family.KUSTOMIZATION,
                                     namespace="flux-system", name="apps", first_seen=now, last_seen=now)
    assert not rules.can_run_playbook(user, twin)


def test_the_navigation_asks_for_any_grant_once_per_request(tree, make_user, django_assert_max_num_queries):
    from django.test import RequestFactory

    user = make_user("viewer")
    assign_perm(rules.VIEW, user, tree["apps"])
    request = RequestFactory().get("/admin/")
    request.user = user
    with django_assert_max_num_queries(3):  # the user's global permissions, then the grant tables once
        answers = [rules.request_has_any_grant(request, rules.VIEW) for _ in range(40)]
    assert answers == [True] * 40
    assert rules.request_has_any_grant(request, rules.SILENCE) is False  # per verb
    other = RequestFactory().get("/admin/")
    other.user = make_user("nobody")
    assert rules.request_has_any_grant(other, rules.VIEW) is False
