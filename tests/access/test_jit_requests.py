"""JIT access requests: the policy table, bad input refused with a clear message and nothing written (no run, no
grant, no commit, no pull request), self-approval refused, and the admin views checking the rules server-side."""

from __future__ import annotations

import subprocess
import uuid
from datetime import timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured, PermissionDenied, ValidationError
from django.urls import reverse
from guardian.shortcuts import assign_perm

from access.jit import policy
from access.jit.models import AccessGrant, GrantState
from access.jit.rules import revoke
from graph.models import KubeObject
from jit.playbook import request_access
from playbooks.choices import PlaybookRunStatus
from playbooks.models import PlaybookRun
from tests.playbooks.test_gitops_e2e import demo, people  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db(transaction=True)  # the simulators answer from other threads

POLICY = [
    # (namespace, role, duration, expected error or None)
    ("podinfo", "view", "7d", None),
    ("podinfo", "edit", "1d", None),
    ("podinfo", "admin", "8h", None),
    ("podinfo", "cluster-admin", "1h", "cannot be requested in namespace podinfo (allowed: view, edit, admin)"),
    ("podinfo", "edit", "3d", "3d is longer than the 1d allowed for role edit"),
    ("podinfo", "admin", "1d", "1d is longer than the 8h allowed for role admin"),
    ("podinfo", "view", "30d", "Choose a duration among 1h, 4h, 8h, 1d, 3d, 7d"),
    ("kube-system", "view", "1h", "Access to namespace kube-system cannot be requested"),
]


@pytest.mark.parametrize("namespace,role,duration,error", POLICY)
def test_policy_table(namespace, role, duration, error):
    def check():
        policy.duration_of(duration, policy.role_policy(namespace, role))
    if error is None:
        check()
    else:
        with pytest.raises(ValidationError, match=error.replace("(", r"\(").replace(")", r"\)")):
            check()


def test_admin_role_needs_two_approvals_and_namespace_patterns_narrow_the_roles(settings):
    assert policy.roles()["admin"].approvals == 2 and policy.roles()["view"].approvals == 1
    settings.FLUXPLANE_JIT_NAMESPACE_ROLES = "prod-*=view,*=view|edit"
    assert policy.roles_for_namespace("prod-web") == ["view"]
    assert policy.roles_for_namespace("podinfo") == ["view", "edit"]
    settings.FLUXPLANE_JIT_ROLES = "cluster-admin:1h:1"
    with pytest.raises(ImproperlyConfigured, match="can never be requested"):
        policy.roles()
    settings.FLUXPLANE_JIT_ROLES = "edit:1d:0"
    assert policy.roles()["edit"].approvals == 1  # never fewer than one: nobody approves their own access


SUBJECTS = ["a;b", "$(x)", "a\nb", "system:masters", "bob smith", "`id`", "a'b"]


@pytest.mark.parametrize("name", SUBJECTS)
def test_subject_names_with_injection_attempts_are_refused(name):
    with pytest.raises(ValidationError, match="not a valid Kubernetes subject name|reserved by Kubernetes"):
        policy.check_subject_name(name)


def _main_sha(sim) -> str:
    return subprocess.run(["git", "-C", str(sim.bare_repo), "rev-parse", "main"], capture_output=True, text=True,
                          check=True).stdout.strip()


def _other_namespace(like: KubeObject, name: str) -> KubeObject:
    """A namespace created by hand (no Flux labels), mirrored like any other object."""
    return KubeObject.objects.create(
        cluster=like.cluster, uid=str(uuid.uuid4()), api_group="", api_version="v1", kind="Namespace",
        family=like.family, name=name, first_seen=like.first_seen, last_seen=like.last_seen)


def test_bad_requests_are_refused_and_nothing_is_written(demo, people, make_user, settings):  # noqa: F811
    sim, cluster, gh_repo = demo
    dev, lead = people
    podinfo = KubeObject.objects.get(kind="Namespace", name="podinfo")
    flux_system = KubeObject.objects.get(kind="Namespace", name="flux-system")
    scratch = _other_namespace(podinfo, "scratch")
    for ns in (podinfo, flux_system, scratch):
        assign_perm("graph.request_access", dev, ns)
    # Django's forms would refuse these user names, but accounts also come from code and SSO back-ends.
    nasty = {name: make_user(name) for name in ("a;b", "$(x)", "a\nb", "system:masters")}
    for user in nasty.values():
        assign_perm("graph.request_access", user, podinfo)
    stranger = make_user("stranger")
    settings.FLUXPLANE_JIT_GROUPS = ["oncall"]
    reason = "debug the rollout"
    cases = [
        ((dev, podinfo, "cluster-admin", "1h"), {}, ValidationError, "cannot be requested in namespace podinfo"),
        ((dev, podinfo, "edit", "7d"), {}, ValidationError, "longer than the 1d allowed for role edit"),
        ((dev, podinfo, "view", "forever"), {}, ValidationError, "Choose a duration"),
        ((dev, scratch, "view", "1h"), {}, ValidationError, "not managed by a Flux Kustomization"),
        ((dev, flux_system, "view", "1h"), {}, ValidationError, "Access to namespace flux-system cannot be requested"),
        ((nasty["a;b"], podinfo, "view", "1h"), {}, ValidationError, "not a valid Kubernetes subject name"),
        ((nasty["$(x)"], podinfo, "view", "1h"), {}, ValidationError, "not a valid Kubernetes subject name"),
        ((nasty["a\nb"], podinfo, "view", "1h"), {}, ValidationError, "not a valid Kubernetes subject name"),
        ((nasty["system:masters"], podinfo, "view", "1h"), {}, ValidationError, "reserved by Kubernetes"),
        ((dev, podinfo, "view", "1h"), {"subject_kind": "Group", "group": "$(x)"}, ValidationError,
         "not a valid Kubernetes subject name"),
        ((dev, podinfo, "view", "1h"), {"subject_kind": "Group", "group": "system:masters"}, ValidationError,
         "reserved by Kubernetes"),
        ((dev, podinfo, "view", "1h"), {"subject_kind": "Group", "group": "admins"}, ValidationError,
         "Group 'admins' cannot be requested (allowed: oncall)"),
        ((dev, podinfo, "view", "1h"), {"ticket": "INC-1\nrm -rf"}, ValidationError, "is not a ticket reference"),
        ((dev, podinfo, "view", "1h"), {"reason": ""}, ValidationError, "Say why you need access"),
        ((stranger, podinfo, "view", "1h"), {}, PermissionDenied, "may not request access to namespace podinfo"),
    ]
    before = _main_sha(sim)
    for (user, ns, role, duration), extra, error, message in cases:
        kwargs = {"reason": reason, **extra}
        with pytest.raises(error) as caught:
            request_access(user, ns, role, duration, **kwargs)
        assert message in " ".join(getattr(caught.value, "messages", [str(caught.value)])), (role, extra)
    assert PlaybookRun.objects.count() == 0 and AccessGrant.objects.count() == 0
    assert _main_sha(sim) == before and list(gh_repo.get_pulls(state="all")) == []
    assert list(gh_repo.get_branches()) and not [b for b in gh_repo.get_branches() if b.name.startswith("fluxplane/")]


def test_self_approval_is_refused_and_nothing_reaches_git(demo, make_user, drain):  # noqa: F811
    sim, cluster, gh_repo = demo
    podinfo = KubeObject.objects.get(kind="Namespace", name="podinfo")
    boss = make_user("boss", superuser=True)
    lead = make_user("lead2", perms=("graph.approve_run", "graph.request_access"))
    before = _main_sha(sim)
    for requester in (boss, lead):
        grant = request_access(requester, podinfo, "view", "1h", "look at the logs")
        with pytest.raises(PermissionDenied, match="cannot approve or reject your own request"):
            grant.request_run.approve(requester, "me, myself")
        drain()
        grant.refresh_from_db()
        assert grant.request_run.status == PlaybookRunStatus.PENDING_APPROVAL and grant.state == GrantState.REQUESTED
        assert grant.request_run.approvals.count() == 0
    assert _main_sha(sim) == before and list(gh_repo.get_pulls(state="all")) == []


def test_admin_role_waits_for_a_second_approver(demo, make_user, drain):  # noqa: F811
    sim, cluster, gh_repo = demo
    podinfo = KubeObject.objects.get(kind="Namespace", name="podinfo")
    dev = make_user("dev3", perms=("graph.request_access",))
    first, second = (make_user(n, perms=("graph.approve_run",)) for n in ("lead-a", "lead-b"))
    grant = request_access(dev, podinfo, "admin", "1h", "fix the broken release")
    run = grant.request_run
    assert run.approvals_required == 2
    run.approve(first, "ok")
    drain()
    run.refresh_from_db()
    assert run.status == PlaybookRunStatus.PENDING_APPROVAL and list(gh_repo.get_pulls(state="all")) == []
    run.approve(second, "ok too")
    drain()
    run.refresh_from_db()
    grant.refresh_from_db()
    assert run.status == PlaybookRunStatus.SUCCEEDED, run.log
    assert grant.approved_by == "lead-a, lead-b" and grant.state == GrantState.MERGED


def test_admin_views_check_the_rules(client, demo, make_user, drain):  # noqa: F811
    sim, cluster, gh_repo = demo
    podinfo = KubeObject.objects.get(kind="Namespace", name="podinfo")
    dev = make_user("dev4")
    lead = make_user("lead4", perms=("graph.approve_run",))
    stranger = make_user("stranger4")
    assign_perm("graph.request_access", dev, podinfo)
    url = reverse("admin:access_jit_request", args=[podinfo.pk])
    # The playbook button on the namespace leads to the request form.
    client.force_login(dev)
    start = client.get(reverse("admin:playbooks_start", args=["request-namespace-access", podinfo.pk]))
    assert start.status_code == 302 and start["Location"] == url
    page = client.get(url)
    assert page.status_code == 200 and b"your Kubernetes user:</strong> dev4" in page.content
    crafted = client.post(url, {"role": "cluster-admin", "duration": "1h", "subject_kind": "User",
                                "reason": "please"})
    assert crafted.status_code == 200 and b"cannot be requested in namespace podinfo" in crafted.content
    assert AccessGrant.objects.count() == 0
    created = client.post(url, {"role": "view", "duration": "1h", "subject_kind": "User", "reason": "read logs"})
    grant = AccessGrant.objects.get()
    assert created.status_code == 302 and grant.subject_name == "dev4" and grant.requested_by == dev
    # A user without request_access cannot even open the form; nor see or revoke someone else's grant: to them the
    # namespace and the grant do not exist (404, as for an id that was never used).
    client.force_login(stranger)
    assert client.get(url).status_code == 404
    assert client.get(reverse("admin:access_accessgrant_change", args=[grant.pk])).status_code == 302
    assert client.post(reverse("admin:access_jit_revoke", args=[grant.pk])).status_code == 404
    # The approver approves; the grant becomes revocable by them.
    grant.request_run.approve(lead, "ok")
    drain()
    grant.refresh_from_db()
    assert grant.state == GrantState.MERGED
    with pytest.raises(PermissionDenied):
        revoke(grant, stranger)
    client.force_login(lead)
    assert client.get(reverse("admin:access_accessgrant_change", args=[grant.pk])).status_code == 200
    response = client.post(reverse("admin:access_jit_revoke", args=[grant.pk]), {"reason": "incident over"})
    assert response.status_code == 302
    grant.refresh_from_db()
    assert grant.state == GrantState.REVOKED and grant.revoked_by == "lead4"
    assert grant.ends_at is not None and grant.expires_at <= grant.ends_at + timedelta(seconds=1)
    # My access lists only the requester's own grants.
    client.force_login(dev)
    mine = client.get(reverse("admin:access_myaccessgrant_changelist"))
    assert mine.status_code == 200 and f"#{grant.pk}".encode() in mine.content
    client.force_login(lead)
    assert f"#{grant.pk}".encode() not in client.get(reverse("admin:access_myaccessgrant_changelist")).content
