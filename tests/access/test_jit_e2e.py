"""Just-in-time access end to end on the simulators: request → approval → grant PR (PyGithub on the GitHub
simulator) merged → the simulated Flux applies the RoleBinding → the grant is active → time moves past the expiry
(``now`` passed to the sweep: no real waiting) → removal PR merged → Flux prunes the binding. Variants: the
removal PR is never merged (enforced through the API, and again when Flux re-applies it), the worker was down
across the expiry, the sweep runs twice."""

from __future__ import annotations

from datetime import timedelta

import django_rq
import pytest
from guardian.shortcuts import assign_perm

from access.jit import policy
from access.jit.models import AccessGrant, GrantState
from alerts.models import Alert
from controlplane.kube import KubeAdapter, KubeError
from controlplane.models import AuditEvent
from graph.models import KubeObject
from jit.playbook import request_access
from jit.sweep import LOCK_NAME, sweep
from playbooks.choices import ChangeState, PlaybookRunStatus
from playbooks.fluxexec import REQUESTED_AT, rfc3339nano
from tests.graph.conftest import wait_for
from tests.playbooks.test_gitops_e2e import demo, people  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db(transaction=True)


def binding(cluster, namespace: str, name: str) -> dict | None:
    """The RoleBinding as the API server has it (None when absent)."""
    adapter = KubeAdapter(cluster)
    try:
        resource = adapter.find_resource("rbac.authorization.k8s.io", "RoleBinding", ("v1",))
        return adapter.get(resource, namespace, name)
    except KubeError as exc:
        if exc.status == 404:
            return None
        raise
    finally:
        adapter.close()


def pulls(gh_repo, prefix: str) -> list:
    return [p for p in gh_repo.get_pulls(state="all") if p.head.ref.startswith(prefix)]


def verbs(grant: AccessGrant) -> list[str]:
    return list(AuditEvent.objects.filter(target_id=str(grant.pk), verb__startswith="jit.").order_by("id")
                .values_list("verb", flat=True))


def granted(demo, people, drain, role: str = "edit", duration: str = "4h") -> AccessGrant:  # noqa: F811
    """Request, approve, let the worker open and merge the grant PR, sweep until Flux applied the binding."""
    sim, cluster, gh_repo = demo
    dev, lead = people
    namespace = KubeObject.objects.get(kind="Namespace", name="podinfo")
    assign_perm("graph.request_access", dev, namespace)
    grant = request_access(dev, namespace, role, duration, "debug the podinfo rollout", "INC-42")
    run = grant.request_run
    assert run.status == PlaybookRunStatus.PENDING_APPROVAL and grant.state == GrantState.REQUESTED
    run.approve(lead, "go ahead")
    drain()
    run.refresh_from_db()
    grant.refresh_from_db()
    assert run.status == PlaybookRunStatus.SUCCEEDED, (run.error, run.log)
    assert grant.state == GrantState.MERGED and run.change_state == ChangeState.MERGED

    def active():
        sweep()
        grant.refresh_from_db()
        return grant.state == GrantState.ACTIVE
    wait_for(active, timeout=60, interval=0.3, what=f"grant #{grant.pk} to become active (at {grant.state})")
    return grant


def test_request_approve_apply_expire_remove(demo, people, drain):  # noqa: F811
    sim, cluster, gh_repo = demo
    grant = granted(demo, people, drain)
    run = grant.request_run
    # The grant PR: one file of its own, listed in the staging overlay (the Namespace's base is shared).
    pr = gh_repo.get_pull(run.pr_number)
    assert pr.merged and pr.head.ref == f"fluxplane/request-namespace-access-{run.pk}"
    assert sorted(f.filename for f in pr.get_files()) == sorted([grant.file_path, "apps/staging/kustomization.yaml"])
    assert grant.file_path == f"apps/staging/fluxplane-access-{grant.pk}.yaml"
    live = binding(cluster, "podinfo", grant.binding_name)
    annotations = live["metadata"]["annotations"]
    assert annotations["fluxplane.io/requested-by"] == "dev" and annotations["fluxplane.io/approved-by"] == "lead"
    assert annotations["fluxplane.io/request-id"] == f"grant-{grant.pk}/run-{run.pk}"
    assert annotations["fluxplane.io/expires-at"] and annotations["fluxplane.io/ticket"] == "INC-42"
    assert live["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"}
    assert live["subjects"] == [{"kind": "User", "name": "dev", "apiGroup": "rbac.authorization.k8s.io"}]
    # The duration counts from activation.
    assert grant.expires_at - grant.activated_at == timedelta(hours=4)

    later = grant.expires_at + timedelta(seconds=1)
    sweep(now=later - timedelta(seconds=2))
    grant.refresh_from_db()
    assert grant.state == GrantState.ACTIVE and not pulls(gh_repo, "fluxplane/jit-remove-")

    def removed():
        sweep(now=later)  # within the grace period: Flux, not the API, removes the binding
        grant.refresh_from_db()
        return grant.state == GrantState.REMOVED
    wait_for(removed, timeout=60, interval=0.3, what=f"grant #{grant.pk} removed (at {grant.state})")
    assert binding(cluster, "podinfo", grant.binding_name) is None
    removal = pulls(gh_repo, "fluxplane/jit-remove-")
    assert len(removal) == 1 and removal[0].merged and removal[0].number == grant.removal_pr_number
    assert sorted(f.filename for f in removal[0].get_files()) == sorted([grant.file_path,
                                                                         "apps/staging/kustomization.yaml"])
    assert grant.settled and grant.enforced_at is None and grant.enforcement_count == 0
    assert verbs(grant) == ["jit.requested", "jit.approved", "jit.pr_opened", "jit.merged", "jit.active",
                            "jit.expiring", "jit.removal_pr", "jit.removal_merged", "jit.removed"]
    # Who acted: the requester asked, the approver approved, Fluxplane did the rest on behalf of the named grant.
    actors = dict(AuditEvent.objects.filter(target_id=str(grant.pk), verb__startswith="jit.").values_list(
        "verb", "actor_username"))
    sweep_actor = f"Fluxplane on behalf of grant #{grant.pk} (dev edit on podinfo)"
    assert (actors["jit.requested"], actors["jit.approved"]) == ("dev", "lead")
    assert {actors[v] for v in ("jit.active", "jit.expiring", "jit.removal_pr", "jit.removal_merged",
                                "jit.removed")} == {sweep_actor}


def test_removal_never_merged_is_enforced_and_again_when_flux_reapplies(demo, people, drain,  # noqa: F811
                                                                        settings):
    sim, cluster, gh_repo = demo
    settings.FLUXPLANE_JIT_AUTO_MERGE_REMOVAL = False
    grant = granted(demo, people, drain)
    expired = grant.expires_at + timedelta(seconds=1)
    sweep(now=expired)
    grant.refresh_from_db()
    assert grant.state == GrantState.EXPIRING and grant.removal_pr_number
    assert not gh_repo.get_pull(grant.removal_pr_number).merged
    assert binding(cluster, "podinfo", grant.binding_name) is not None  # still inside the grace period

    sweep(now=expired + policy.grace())
    grant.refresh_from_db()
    assert grant.state == GrantState.ENFORCED and grant.enforcement_count == 1 and not grant.settled
    assert binding(cluster, "podinfo", grant.binding_name) is None
    assert "jit.enforced" in verbs(grant)

    # The file is still in git: Flux puts the binding back at its next reconcile; the sweep deletes it again.
    adapter = KubeAdapter(cluster)
    resource = adapter.find_resource("kustomize.toolkit.fluxcd.io", "Kustomization", ("v1",))
    adapter.patch(resource, "flux-system", "apps", {"metadata": {"annotations": {REQUESTED_AT: rfc3339nano()}}})
    adapter.close()
    wait_for(lambda: binding(cluster, "podinfo", grant.binding_name), timeout=60, interval=0.3,
             what="Flux to re-apply the binding")
    sweep(now=expired + policy.grace() + timedelta(minutes=1))
    grant.refresh_from_db()
    assert binding(cluster, "podinfo", grant.binding_name) is None
    assert grant.state == GrantState.ENFORCED and grant.enforcement_count == 2
    assert "jit.reappeared" in verbs(grant)
    assert Alert.objects.filter(name="AccessBindingReapplied", namespace="podinfo", status="firing").count() == 1

    # Someone finally merges the removal PR: the grant settles, still reading "enforced".
    gh_repo.get_pull(grant.removal_pr_number).merge()
    sweep(now=expired + policy.grace() + timedelta(minutes=2))
    grant.refresh_from_db()
    assert grant.settled and grant.state == GrantState.ENFORCED and grant.removed_from_git_at is not None
    assert len(pulls(gh_repo, "fluxplane/jit-remove-")) == 1


def test_worker_down_across_the_expiry_is_caught_up_by_the_next_sweep(demo, people, drain):  # noqa: F811
    sim, cluster, gh_repo = demo
    grant = granted(demo, people, drain, role="view", duration="1h")
    back = grant.expires_at + timedelta(days=2)  # no sweep ran for two days after the expiry
    sweep(now=back)
    grant.refresh_from_db()
    # One pass does everything that was due: the removal PR (merged by policy) and, the grace period being long
    # past, the binding deleted at once instead of waiting for Flux.
    assert binding(cluster, "podinfo", grant.binding_name) is None
    assert grant.state == GrantState.ENFORCED and grant.enforced_at == back
    removal = pulls(gh_repo, "fluxplane/jit-remove-")
    assert len(removal) == 1 and removal[0].merged
    assert grant.settled


def test_double_sweep_opens_one_removal_pr_and_a_held_lock_skips(demo, people, drain, settings):  # noqa: F811
    sim, cluster, gh_repo = demo
    settings.FLUXPLANE_JIT_AUTO_MERGE_REMOVAL = False
    grant = granted(demo, people, drain)
    expired = grant.expires_at + timedelta(minutes=1)
    lock = django_rq.get_connection("low").lock(LOCK_NAME, timeout=60)
    assert lock.acquire(blocking=False)
    try:
        assert sweep(now=expired, wait=0) == {"skipped": 1}  # another sweep is working: this one does nothing
        grant.refresh_from_db()
        assert grant.state == GrantState.ACTIVE
    finally:
        lock.release()
    sweep(now=expired)
    sweep(now=expired)
    sweep(now=expired + timedelta(seconds=30))
    grant.refresh_from_db()
    assert grant.state == GrantState.EXPIRING
    assert len(pulls(gh_repo, "fluxplane/jit-remove-")) == 1
    assert verbs(grant).count("jit.removal_pr") == 1 and verbs(grant).count("jit.expiring") == 1


def test_revoke_now_removes_the_binding_without_waiting(demo, people, drain):  # noqa: F811
    from access.jit.rules import revoke

    sim, cluster, gh_repo = demo
    grant = granted(demo, people, drain)
    dev, lead = people
    revoke(grant, dev, "done early")
    drain()  # the sweep enqueued by the revocation
    grant.refresh_from_db()
    assert binding(cluster, "podinfo", grant.binding_name) is None
    # Revoking skips the grace period: the sweep deletes the binding itself ("enforced") unless Flux already
    # pruned it after the removal PR merged ("removed") — which one wins is a race, both end the access at once.
    assert grant.state in (GrantState.ENFORCED, GrantState.REMOVED) and grant.revoked_by == "dev"
    assert grant.expires_at < grant.activated_at + timedelta(hours=4)
    removal = pulls(gh_repo, "fluxplane/jit-remove-")
    assert len(removal) == 1 and removal[0].merged
    final = "jit.enforced" if grant.state == GrantState.ENFORCED else "jit.removed"
    assert verbs(grant)[-4:] == ["jit.revoked", "jit.removal_pr", "jit.removal_merged", final]
