"""The expiry sweep: expiry is data (``AccessGrant.expires_at``) plus this job, run every minute.

Each pass reads every unsettled grant and moves it along from what it finds *now* — the request run, the pull
requests and one list of the cluster's Fluxplane RoleBindings — so a missed tick, a worker down for a day or two
sweeps at once change nothing but timing:

* grant PR merged / closed → merged / not granted; binding seen → active (the duration counts from here);
  not seen before the activation deadline → expired unused;
* past ``expires_at`` → the removal pull request (file + kustomization entry), merged when the policy says so;
* binding still there ``grace`` after the end → deleted through the API and the grant reads *enforced*; back
  again (Flux re-applied the file) → deleted again, audited and alerted;
* a binding labelled with a grant that should not exist (settled, unknown) is deleted the same way.

A Redis lock keeps two sweeps from working at once; every git step is idempotent anyway (same branch, the open
pull request is reused), so a crash between steps repeats the step instead of duplicating it.
"""

from __future__ import annotations

import logging
from datetime import datetime

import django_rq
from django.conf import settings
from django.utils import timezone
from redis.exceptions import LockError

from access.jit import policy
from access.jit.models import GRANT_LABEL, AccessGrant, GrantState
from controlplane import context
from controlplane.kube import KubeAdapter, KubeError, KubeUnreachable
from controlplane.models import Cluster, GitConnection
from gitops import GitOpsError
from gitops.repo import DEFAULT_COMMITTER, branch_name, commit_message
from gitops.validate import build_check
from jit import gitfiles
from playbooks.changes.base import request_source_reconcile, working_copy
from playbooks.changes.tracking import track
from playbooks.choices import ChangeState, PlaybookRunStatus

logger = logging.getLogger(__name__)

LOCK_NAME = "fluxplane:jit-sweep"
RBAC_GROUP = "rbac.authorization.k8s.io"
_NOT_GRANTED_RUNS = (PlaybookRunStatus.REJECTED, PlaybookRunStatus.EXPIRED, PlaybookRunStatus.CANCELLED,
                     PlaybookRunStatus.FAILED, PlaybookRunStatus.ERRORED)
_MERGED = (ChangeState.MERGED, ChangeState.COMMITTED, ChangeState.APPLIED, ChangeState.HEALTHY,
           ChangeState.UNHEALTHY)


class ClusterBindings:
    """The cluster's RoleBindings carrying the grant label (one list call), and deletion through the adapter."""

    def __init__(self, cluster: Cluster):
        self.cluster = cluster
        self.adapter: KubeAdapter | None = None
        self.resource = None
        self.found: dict[tuple[str, str], int | None] | None = None  # (namespace, name) → grant id; None: unknown
        self.uids: dict[tuple[str, str], str] = {}
        try:
            self.adapter = KubeAdapter(cluster)
            self.resource = self.adapter.find_resource(RBAC_GROUP, "RoleBinding", ("v1",))
            if self.resource is None:
                raise KubeError(404, "NotFound", "the cluster serves no rbac.authorization.k8s.io/v1 RoleBinding")
            items = self.adapter.list(self.resource, label_selector=GRANT_LABEL).items
            self.found = {}
            for item in items:
                meta = item.get("metadata") or {}
                label = str((meta.get("labels") or {}).get(GRANT_LABEL, ""))
                key = (meta.get("namespace", ""), meta.get("name", ""))
                self.found[key] = int(label) if label.isdigit() else None
                self.uids[key] = meta.get("uid", "")
        except (KubeUnreachable, KubeError) as exc:
            # Git steps still happen; presence-dependent steps wait for a pass that can see the cluster.
            logger.warning("access sweep: cannot list RoleBindings of cluster %s: %s", cluster.name, exc)

    def present(self, grant: AccessGrant) -> bool | None:
        if self.found is None or not grant.binding_name:
            return None if self.found is None else False
        return (grant.namespace, grant.binding_name) in self.found

    def delete(self, namespace: str, name: str) -> bool:
        """Delete one binding; True when it was there (a 404 means someone was quicker).

        Only a binding this pass listed with the grant label is ever deleted, and only that very object (its uid as
        a precondition: a 409 means the name now belongs to a binding created since, which is left alone). The
        chart's ValidatingAdmissionPolicy refuses any other RoleBinding deletion by Fluxplane's service account."""
        if self.found is None or (namespace, name) not in self.found:
            return False
        try:
            self.adapter.delete(self.resource, namespace, name, uid=self.uids.get((namespace, name), ""))
        except KubeError as exc:
            if exc.status in (404, 409):
                return False
            raise
        self.found.pop((namespace, name), None)
        return True

    def close(self) -> None:
        if self.adapter is not None:
            self.adapter.close()


def sweep(now: datetime | None = None, wait: float = 30.0) -> dict[str, int]:
    """One pass over every unsettled grant (and stray bindings). Returns counts by resulting state.

    A pass already running elsewhere is waited for up to ``wait`` seconds (passes are short), then this one is
    skipped: the next tick does its work. ``now`` exists for tests that move time forward; the job passes nothing."""
    lock = django_rq.get_connection("low").lock(LOCK_NAME, timeout=900)
    if not lock.acquire(blocking=wait > 0, blocking_timeout=wait if wait > 0 else None):
        return {"skipped": 1}
    try:
        with context.work_context(context.Origin.JOB, request_id="cron:jit-sweep"):
            return _sweep(now or timezone.now())
    finally:
        try:
            lock.release()
        except LockError:  # expired while we worked: another sweep may run now, which is harmless
            pass


def _sweep(now: datetime) -> dict[str, int]:
    counts: dict[str, int] = {}
    grants = list(AccessGrant.objects.filter(settled=False).select_related("cluster", "request_run"))
    clusters = {g.cluster_id: g.cluster for g in grants}
    clusters.update({c.pk: c for c in Cluster.objects.filter(access_grants__isnull=False).distinct()})
    for cluster in clusters.values():
        bindings = ClusterBindings(cluster)
        try:
            for grant in (g for g in grants if g.cluster_id == cluster.pk):
                try:
                    with context.on_behalf_of(f"grant #{grant.pk} ({grant.subject_name} {grant.role} on "
                                              f"{grant.namespace})"):
                        step(grant, bindings, now)
                except (GitOpsError, KubeError, KubeUnreachable) as exc:
                    logger.warning("access sweep: grant #%s: %s", grant.pk, exc)
                counts[grant.state] = counts.get(grant.state, 0) + 1
            if bindings.found is not None:
                with context.on_behalf_of(f"the access sweep of cluster {cluster.name}"):
                    counts["strays"] = counts.get("strays", 0) + remove_strays(cluster, bindings)
        finally:
            bindings.close()
    return counts


def step(grant: AccessGrant, bindings: ClusterBindings, now: datetime) -> None:
    """Move one grant along as far as the facts allow (each transition at most once)."""
    run = grant.request_run
    if grant.state == GrantState.REQUESTED:
        if run is None or run.status in _NOT_GRANTED_RUNS:
            why = run.error if run is not None and run.error else (run.get_status_display() if run else "no run")
            _set(grant, GrantState.NOT_GRANTED, settled=True)
            grant.record("not_granted", f"not granted: {why}")
        return  # pending approval, queued or running: the run writes the next state itself
    if grant.state == GrantState.PR_OPEN and run is not None:
        track(run)  # the playbooks app's tracking step: PR merged / closed
        if run.change_state in _MERGED:
            _set(grant, GrantState.MERGED)
            grant.record("merged", f"pull request #{run.pr_number} merged")
        elif run.change_state == ChangeState.CLOSED:
            _set(grant, GrantState.NOT_GRANTED, ends_at=now)
            grant.record("not_granted", f"pull request #{run.pr_number} was closed without merging")
    present = bindings.present(grant)
    if grant.state in (GrantState.PR_OPEN, GrantState.MERGED):
        if present:
            _set(grant, GrantState.ACTIVE, activated_at=now, expires_at=now + grant.duration)
            until = f"{grant.expires_at:%Y-%m-%d %H:%M}"
            grant.record("active", f"{grant.binding_name} is in the cluster: access until {until} UTC",
                         expires_at=grant.expires_at)
        elif grant.activation_deadline and now >= grant.activation_deadline:
            _set(grant, GrantState.UNUSED, ends_at=now, expires_at=now)
            grant.record("unused", "not seen in the cluster before the activation deadline: expired unused")
    if grant.state == GrantState.ACTIVE and grant.expires_at and now >= grant.expires_at:
        _set(grant, GrantState.EXPIRING, ends_at=grant.expires_at)
        grant.record("expiring", f"expired at {grant.expires_at:%Y-%m-%d %H:%M} UTC: removing {grant.binding_name}")
    if grant.state in (GrantState.EXPIRING, GrantState.REVOKED, GrantState.UNUSED, GrantState.ENFORCED,
                       GrantState.REMOVED, GrantState.NOT_GRANTED):
        _remove(grant, bindings, present, now)
    grant.last_checked_at = now
    grant.save(update_fields=["last_checked_at"])


def _set(grant: AccessGrant, state: str, **fields) -> None:
    grant.state = state
    for name, value in fields.items():
        setattr(grant, name, value)
    grant.save(update_fields=["state", *fields])


def _remove(grant: AccessGrant, bindings: ClusterBindings, present: bool | None, now: datetime) -> None:
    """Take the file out of git (close the grant PR, or the removal PR) and make sure the binding is gone."""
    if grant.removed_from_git_at is None:
        _remove_from_git(grant, now)
    # A revocation is immediate; an expiry first gives Flux the grace period to remove the binding itself.
    deadline = grant.ends_at if grant.revoked_at else (grant.ends_at + policy.grace() if grant.ends_at else None)
    if present and deadline and now >= deadline:
        if bindings.delete(grant.namespace, grant.binding_name):
            grant.enforcement_count += 1
            if grant.enforced_at is not None:
                _set(grant, GrantState.ENFORCED, enforcement_count=grant.enforcement_count)
                reappeared(grant, f"{grant.binding_name} came back in {grant.namespace} (re-applied from git?) and "
                                  f"was deleted again ({grant.enforcement_count} times)")
            else:
                _set(grant, GrantState.ENFORCED, enforced_at=now, enforcement_count=grant.enforcement_count)
                grant.record("enforced", f"{grant.binding_name} was still in the cluster "
                             f"{policy.grace()} after the end: deleted through the API")
        present = False
    if present is False and grant.removed_from_git_at is not None:
        if grant.state in (GrantState.EXPIRING, GrantState.REVOKED):
            _set(grant, GrantState.REMOVED, removed_at=now)
            grant.record("removed", f"{grant.binding_name} is gone from git and from the cluster")
        _set(grant, grant.state, settled=True)


def _connection(grant: AccessGrant) -> GitConnection | None:
    run = grant.request_run
    return run.git_connection if run is not None else None


def _remove_from_git(grant: AccessGrant, now: datetime) -> None:
    run = grant.request_run
    connection = _connection(grant)
    if run is None or connection is None or not grant.file_path:
        _set(grant, grant.state, removed_from_git_at=now)  # nothing was ever written
        return
    hosted = connection.hosted  # GitHub, GitLab or Gitea: the pull request lives on the provider
    provider = connection.pull_requests() if hosted else None
    if hosted and run.pr_number and run.change_state == ChangeState.PR_OPEN:
        pr = provider.get(run.pr_number)
        if not pr.merged:
            # Never merged: closing the grant PR is the whole removal (nobody can merge it later by mistake).
            if pr.state != "closed":
                provider.close(run.pr_number)
                run.advance_change(ChangeState.CLOSED, f"pull request #{run.pr_number} closed: the grant ended")
            _set(grant, grant.state, removed_from_git_at=now)
            grant.record("grant_pr_closed", f"grant pull request #{run.pr_number} closed unmerged")
            return
    if hosted and grant.removal_pr_number:
        pr = provider.get(grant.removal_pr_number)
        if pr.state == "closed" and not pr.merged:
            grant.record("removal_pr_closed", f"removal pull request #{pr.number} was closed unmerged: opening "
                         f"another")
            _set(grant, grant.state, removal_pr_number=None, removal_pr_url="")
        elif not pr.merged and settings.FLUXPLANE_JIT_AUTO_MERGE_REMOVAL:
            pr = provider.merge(pr.number, message=f"Merge removal of access grant #{grant.pk}")
        if pr.merged:
            _removal_merged(grant, now, f"removal pull request #{pr.number} merged")
            return
        if grant.removal_pr_number:
            return  # open, waiting for a human; enforcement covers the wait
    wc = working_copy(connection, connection.repository_url, "runs")
    with wc.lock():
        wc.prepare()
        change = gitfiles.remove_grant(str(wc.path), grant.file_path, grant.build_path or ".")
        if not change.files:
            _removal_merged(grant, now, f"{grant.file_path} is no longer on {connection.base_branch}")
            return
        errors = build_check(str(wc.path), change.build_paths)
        if errors:
            raise GitOpsError("the removal does not build: " + "; ".join(errors))
        body = (f"Access grant #{grant.pk} ({grant.subject_kind} {grant.subject_name}, {grant.role} on "
                f"{grant.namespace}) ended at {grant.ends_at:%Y-%m-%d %H:%M} UTC; Fluxplane removes its RoleBinding.")
        message = commit_message("RoleBinding", f"{grant.namespace}/{grant.binding_name}",
                                 f"expire access grant {grant.pk}", body, f"jit-remove-{grant.pk}")
        result = wc.commit_branch(branch_name("jit-remove", grant.pk), DEFAULT_COMMITTER, message)
        if grant.removal_branch != result.branch:
            _set(grant, grant.state, removal_branch=result.branch)
        if hosted:
            pr = provider.open_pull_request(result.branch, f"Expire access grant #{grant.pk}: {grant.subject_name} "
                                            f"{grant.role} on {grant.namespace}", body, labels=("fluxplane",))
            if grant.removal_pr_number != pr.number:
                _set(grant, grant.state, removal_pr_number=pr.number, removal_pr_url=pr.url)
                grant.record("removal_pr", f"removal pull request #{pr.number} opened: {pr.url}", pr=pr.url)
            if settings.FLUXPLANE_JIT_AUTO_MERGE_REMOVAL:
                merged = provider.merge(pr.number, message=f"Merge removal of access grant #{grant.pk}")
                _removal_merged(grant, now, f"removal pull request #{merged.number} merged (auto-merge)")
            return
        plain = connection.pull_requests(wc)
        if settings.FLUXPLANE_JIT_AUTO_MERGE_REMOVAL:
            merged = plain.merge(result.branch, f"Merge {result.branch}: expire access grant #{grant.pk}",
                                 merger=DEFAULT_COMMITTER)
        else:
            merged = plain.get(result.branch)
        if grant.removal_pr_url != result.branch:
            _set(grant, grant.state, removal_pr_url=result.branch)
            grant.record("removal_pr", f"removal branch {result.branch} pushed")
    if merged.merged:
        _removal_merged(grant, now, f"removal branch {result.branch} merged")


def _removal_merged(grant: AccessGrant, now: datetime, message: str) -> None:
    _set(grant, grant.state, removed_from_git_at=now)
    grant.record("removal_merged", message)
    namespace = grant.namespace_object
    if namespace is None or grant.request_run is None:
        return
    from jit.playbook import RequestNamespaceAccess

    try:
        ks = RequestNamespaceAccess.context(namespace).kustomization
    except GitOpsError:
        return
    request_source_reconcile(grant.cluster, ks, grant.request_run.append_log)


def reappeared(grant: AccessGrant | None, message: str, cluster: Cluster | None = None,
               namespace: str = "", name: str = "") -> None:
    """A binding Fluxplane removed was back: audit, log a warning and raise an alert (best effort)."""
    logger.warning("access sweep: %s", message)
    if grant is not None:
        grant.record("reappeared", message, enforcement_count=grant.enforcement_count)
        cluster, namespace, name = grant.cluster, grant.namespace, grant.binding_name
    else:
        from controlplane.models import AuditEvent

        AuditEvent.record("jit.stray_deleted", cluster, message=message)
    try:
        from alerts.choices import AlertSource
        from alerts.enqueue import enqueue_notify
        from alerts.intake import AlertData, store

        stored = store(AlertSource.FLUX, [AlertData(
            fingerprint=f"jit:{cluster.pk}:{namespace}/{name}", status="firing", name="AccessBindingReapplied",
            severity="critical", summary=message, labels={"alertname": "AccessBindingReapplied", "cluster":
                                                          cluster.name, "namespace": namespace, "name": name,
                                                          "kind": "RoleBinding"},
            annotations={}, starts_at=timezone.now(), ends_at=None, group_key=f"jit:{cluster.name}:{namespace}",
            cluster_hint=cluster.name, kind="RoleBinding", namespace=namespace, object_name=name)])
        enqueue_notify(stored.notify_ids)  # critical: routed to the channels like every other alert
    except Exception:  # an alerting failure must never stop enforcement
        logger.exception("access sweep: could not raise the alert for %s/%s", namespace, name)


def remove_strays(cluster: Cluster, bindings: ClusterBindings) -> int:
    """Delete bindings labelled as grants that must not exist: unknown ids, or grants already settled (removed,
    enforced, unused, not granted). Active and in-flight grants are left to :func:`step`."""
    ids = {gid for gid in bindings.found.values() if gid is not None}
    live = set(AccessGrant.objects.filter(pk__in=ids, settled=False).values_list("pk", flat=True))
    deleted = 0
    for (namespace, name), gid in list(bindings.found.items()):
        if gid in live:
            continue
        grant = AccessGrant.objects.filter(pk=gid, cluster=cluster).first() if gid is not None else None
        if grant is not None and (grant.namespace, grant.binding_name) != (namespace, name):
            grant = None
        if bindings.delete(namespace, name):
            deleted += 1
            if grant is not None:
                grant.enforcement_count += 1
                grant.save(update_fields=["enforcement_count"])
            reappeared(grant, f"RoleBinding {namespace}/{name} carries {GRANT_LABEL}={gid} but no live grant: "
                              f"deleted", cluster, namespace, name)
    return deleted
