"""Change tracking: a GitOps run follows its change after the job ended — PR open → merged (or closed) → the
GitRepository revision contains the merge → the owning Kustomization applied it → the target is healthy or not.

A periodic, idempotent sweep: each step reads the provider and the mirror and moves the run along at most one
way; nothing depends on the sweep running at any particular moment.
"""

from __future__ import annotations

import logging

from controlplane import context
from controlplane.models import GitConnection
from gitops import GitOpsError
from graph.choices import HealthChoices
from graph.models import KubeObject
from playbooks.changes.base import merge_by_policy
from playbooks.changes.gitwork import kustomization_of, request_source_reconcile, working_copy
from playbooks.choices import TRACKED_CHANGE_STATES, ChangeState
from playbooks.models import PlaybookRun

logger = logging.getLogger(__name__)


def _contains(connection: GitConnection, url: str, ancestor: str, revision: str) -> bool:
    """Whether commit ``revision`` contains ``ancestor`` (in the cached working copy, fetched first)."""
    if ancestor == revision:
        return True
    wc = working_copy(connection, url, "runs")
    with wc.lock():
        wc.prepare()
        return wc.git("merge-base", "--is-ancestor", ancestor, revision, check=False).returncode == 0


def applied_revision_of(ks: KubeObject) -> str:
    """The revision whose objects are in the cluster: ``lastAppliedRevision``, or — while Flux checks health after
    applying (the ``Healthy`` condition exists and is not True, as kustomize-controller sets it with ``wait``) —
    ``lastAttemptedRevision``, so a change whose pods never get ready still reads "applied, unhealthy"."""
    status = ks.status or {}
    healthy = next((c for c in status.get("conditions") or [] if c.get("type") == "Healthy"), None)
    if healthy is not None and healthy.get("status") != "True" and status.get("lastAttemptedRevision"):
        return str(status["lastAttemptedRevision"])
    revision = str(status.get("lastAppliedRevision") or "")
    source = (ks.spec or {}).get("sourceRef") or {}
    if source.get("kind") == "OCIRepository" and "sha1:" not in revision:
        # An artifact pushed from git: the commit it was built from is its org.opencontainers.image.revision.
        oci = KubeObject.objects.filter(cluster_id=ks.cluster_id, kind="OCIRepository", name=source.get("name"),
                                        namespace=source.get("namespace") or ks.namespace,
                                        deleted_at__isnull=True).first()
        artifact = ((oci.status or {}).get("artifact") or {}) if oci is not None else {}
        if revision and artifact.get("revision") == revision:
            return str((artifact.get("metadata") or {}).get("org.opencontainers.image.revision") or revision)
    return revision


def _merge_by_policy(run: PlaybookRun) -> None:
    """on-approval / on-checks connections: Fluxplane merges an open change once it may (checks may pass later)."""
    from playbooks.changes.merging import auto_merge

    auto_merge(run, None)


def track(run: PlaybookRun) -> str:
    """Advance one run by at most one step; returns its change state."""
    if run.target is None or run.git_connection is None:
        return run.change_state
    connection = run.git_connection
    if run.change_state == ChangeState.PR_OPEN and connection.hosted:
        provider = connection.pull_requests()
        pr = provider.get(run.pr_number)
        what = connection.change_request_label(pr.number)
        if pr.state == "open" and connection.effective_merge_policy == GitConnection.MergePolicy.ON_CHECKS:
            if merge_by_policy(run, connection, provider, pr.number):
                pr = provider.get(run.pr_number)
        if pr.merged:
            run.advance_change(ChangeState.MERGED, f"{what} merged as {pr.merge_sha[:12]}", merge_sha=pr.merge_sha)
        elif pr.state == "closed":
            run.advance_change(ChangeState.CLOSED, f"{what} closed without merging")
        if run.change_state == ChangeState.MERGED:
            ks = kustomization_of(run)
            if ks is not None:
                request_source_reconcile(run.cluster, ks, run.append_log)
        return run.change_state
    if run.change_state == ChangeState.PR_OPEN and run.branch:  # plain git: the pushed branch is the request
        wc = working_copy(connection, connection.repository_url, "runs")
        with wc.lock():
            info = connection.pull_requests(wc).get(run.branch)
        if info.merged:
            run.advance_change(ChangeState.MERGED, f"branch {run.branch} merged into {connection.base_branch}",
                               merge_sha=info.head_sha)
        elif info.state == "closed":
            run.advance_change(ChangeState.CLOSED, f"branch {run.branch} was deleted without merging")
        else:
            _merge_by_policy(run)
        return run.change_state
    if run.change_state in (ChangeState.MERGED, ChangeState.COMMITTED):
        ks = kustomization_of(run)
        revision = applied_revision_of(ks) if ks is not None else ""
        sha = revision.rsplit(":", 1)[-1] if "sha1:" in revision else ""
        if sha and run.merge_sha and _contains(connection, connection.repository_url, run.merge_sha, sha):
            run.advance_change(ChangeState.APPLIED, f"Kustomization {ks.namespace}/{ks.name} applied {revision} "
                               f"(contains {run.merge_sha[:12]})")
        return run.change_state
    if run.change_state == ChangeState.APPLIED:
        target = KubeObject.objects.get(pk=run.target_id)
        # Flux objects and namespaces answer for their whole subtree; a workload for itself and its pods.
        health = target.rollup_health
        if health == HealthChoices.HEALTHY:
            run.advance_change(ChangeState.HEALTHY, f"{run.target_label} is healthy")
        elif health in (HealthChoices.DEGRADED, HealthChoices.FAILED):
            why = target.rollup_message or target.health_message
            run.advance_change(ChangeState.UNHEALTHY, f"{run.target_label} is {health}: {why}")
    return run.change_state


def track_changes() -> dict[str, int]:
    """Periodic: move every open change along its timeline. One failing run never stops the others."""
    counts: dict[str, int] = {}
    with context.work_context(context.Origin.JOB, request_id="cron:track-changes"):
        for run in PlaybookRun.objects.filter(change_state__in=TRACKED_CHANGE_STATES).select_related(
                "target", "git_connection", "cluster"):
            try:
                state = track(run)
            except GitOpsError as exc:
                logger.warning("tracking %s: %s", run, exc)
                continue
            counts[state] = counts.get(state, 0) + 1
    return counts

