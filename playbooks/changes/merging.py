"""Merging an approved change from Fluxplane: what the provider says about the change request (state, checks,
reviews), whether it may be merged now, and the merge itself — by a person pressing Merge (``merge_change``), or by
Fluxplane on the requester's behalf when the connection's merge policy says so (``on-approval`` / ``on-checks``).

Hosted providers (GitHub, GitLab, Gitea) merge through their API, behind gitops.providers' one interface; plain git
is merged by Fluxplane itself with a merge commit. Both are idempotent: merging a change that is already merged only
records what happened. Automatic merges of hosted requests follow the connection's merge policy in
playbooks.changes.base.merge_by_policy (GitLab can merge when its pipeline succeeds); ``auto_merge`` here applies the
policy to plain git, where Fluxplane is the only one who can merge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from access import rules
from controlplane import context
from controlplane.models import AuditEvent, GitConnection
from gitops import GitOpsError
from gitops.providers import PullRequestInfo
from gitops.repo import DEFAULT_COMMITTER
from playbooks.changes.gitwork import identity_of, kustomization_of, request_source_reconcile, working_copy
from playbooks.choices import ChangeState, Decision
from playbooks.models import PlaybookRun

_PASSED = {"success", "neutral", "skipped"}
_FAILED = {"failure", "error", "cancelled", "timed_out", "action_required", "startup_failure"}


@dataclass
class ChangeRequestStatus:
    """A run's open change as the provider sees it, and what stands between it and a merge."""

    state: str = ""  # open | closed | merged ("" when unknown)
    checks: str = "none"  # none | passing | pending | failing
    check_items: list[tuple[str, str]] = field(default_factory=list)
    reviews: list[dict[str, str]] = field(default_factory=list)
    approvals_met: bool = False
    blockers: list[str] = field(default_factory=list)
    error: str = ""

    @property
    def mergeable(self) -> bool:
        return not self.blockers


def checks_verdict(checks: dict[str, Any]) -> tuple[str, list[tuple[str, str]]]:
    """Fold commit statuses, check runs and pipelines into none | passing | pending | failing (GitHub's combined
    state is "pending" when there are no statuses at all; a repository without CI must not block merges forever)."""
    items = sorted({**(checks.get("statuses") or {}), **(checks.get("check_runs") or {})}.items())
    pipeline = checks.get("pipeline") or {}
    if pipeline:
        items.append((f"pipeline #{pipeline.get('id')}", str(pipeline.get("status", ""))))
    items = [(name, {"success": "success", "failed": "failure", "canceled": "cancelled"}.get(state, state))
             for name, state in items]
    states = {str(state) for _name, state in items}
    if not items:
        return "none", []
    if states & _FAILED:
        return "failing", items
    if states <= _PASSED:
        return "passing", items
    return "pending", items


def approvals_met(run: PlaybookRun) -> bool:
    return run.approvals.filter(decision=Decision.APPROVE).count() >= run.approvals_required


def _connection(run: PlaybookRun) -> GitConnection:
    if run.git_connection is None:
        raise ValidationError("This run has no git connection: there is nothing to merge.")
    return run.git_connection


def _plain_git(run: PlaybookRun):
    """The plain-git provider of the run's connection, on the jobs' working copy."""
    connection = _connection(run)
    return connection.pull_requests(working_copy(connection, connection.repository_url, "runs"))


def change_request_status(run: PlaybookRun, with_reviews: bool = True) -> ChangeRequestStatus:
    """Read the run's change request from the provider (one call per piece; the run page asks once per view)."""
    status = ChangeRequestStatus(approvals_met=approvals_met(run))
    if not status.approvals_met:
        status.blockers.append(f"{run.approvals_required} approval(s) needed")
    if run.change_state != ChangeState.PR_OPEN or run.git_connection is None:
        status.blockers.append("the change is not open")
        return status
    connection = run.git_connection
    try:
        if connection.hosted:
            provider = connection.pull_requests()
            info = provider.get(run.pr_number)
            status.checks, status.check_items = checks_verdict(info.checks)
            if with_reviews:
                status.reviews = [{"user": r.user, "state": r.state.upper(), "body": r.body}
                                  for r in provider.reviews(run.pr_number)]
        else:
            wc = _plain_git(run).wc
            with wc.lock():
                info = connection.pull_requests(wc).get(run.branch)
        status.state = info.state
    except (GitOpsError, Exception) as exc:  # noqa: BLE001 - a provider outage shows on the page, never a 500
        status.error = str(exc) or type(exc).__name__
        status.blockers.append(f"the provider could not be read: {status.error}")
        return status
    if status.state != "open":
        status.blockers.append(f"the change request is {status.state}")
    if status.checks == "failing":
        status.blockers.append("checks are failing")
    elif status.checks == "pending":
        status.blockers.append("checks are still running")
    return status


def merge_change(run: PlaybookRun, user=None, why: str = "", wait_for_checks: bool = True) -> PlaybookRun:
    """Merge the run's open change. ``user`` is the person who pressed Merge (checked with ``rules.can_merge``);
    None means Fluxplane merges by policy, recorded as Fluxplane acting on behalf of the requester.

    Refuses (ValidationError) unless the approvals are met, the provider's checks pass and the change is open;
    nothing reaches git then. ``wait_for_checks=False`` (an on-approval merge) lets checks that are still running or
    absent through; failing checks always block. Returns the run, moved to "merged"."""
    if user is not None and not rules.can_merge(user, run):
        raise PermissionDenied("You may not merge changes on this object.")
    with transaction.atomic():
        # of=("self",): PostgreSQL cannot lock the nullable side of the outer joins select_related makes.
        run = PlaybookRun.objects.select_for_update(of=("self",)).select_related(
            "git_connection", "cluster", "target").get(pk=run.pk)
        if run.change_state != ChangeState.PR_OPEN:
            raise ValidationError(f"This change is {run.get_change_state_display() or 'not open'}: nothing to merge.")
        status = change_request_status(run, with_reviews=False)
        if status.state == "merged":
            status.blockers = []  # merged elsewhere meanwhile: record it below
        if not wait_for_checks:
            status.blockers = [b for b in status.blockers if b != "checks are still running"]
        if status.blockers:
            raise ValidationError("Not merged: " + "; ".join(status.blockers) + ".")
        connection = _connection(run)
        actor = user.get_username() if user is not None else f"Fluxplane on behalf of {run.requested_by_username}"
        message = f"Merge {run.playbook} #{run.pk} ({run.target_label}), approved in Fluxplane; merged by {actor}"
        if connection.hosted:
            merged: PullRequestInfo = connection.pull_requests().merge(
                run.pr_number, message=message, expected_head=run.commit_sha)
            what = connection.change_request_label(run.pr_number)
        else:
            provider = _plain_git(run)
            with provider.wc.lock():
                merged = provider.merge(run.branch, message,
                                        merger=identity_of(user) if user is not None else DEFAULT_COMMITTER)
            what = f"branch {run.branch}"
        verb = "merged" if user is not None else "merged automatically"
        detail = f" ({why})" if why else ""
        text = f"{what} {verb} by {actor}{detail} as {merged.merge_sha[:12]}"
        # Automatic merges are Fluxplane's own act: no user in the context, the requester named in the message.
        with context.work_context(context.current().origin, context.current().request_id, user=user) \
                if user is not None else context.on_behalf_of(run.requested_by_username):
            AuditEvent.record("change.merge", run, actor=user, message=text,
                              after={"merge_sha": merged.merge_sha, "policy": connection.effective_merge_policy,
                                     "on_behalf_of": run.requested_by_username if user is None else ""})
            run.advance_change(ChangeState.MERGED, text, merge_sha=merged.merge_sha)
    if run.target is not None:
        ks = kustomization_of(run)
        if ks is not None:
            request_source_reconcile(run.cluster, ks, run.append_log)
    return run


def auto_merge(run: PlaybookRun, log=None) -> bool:
    """Merge by the connection's policy when it allows it now (on-approval: once open; on-checks: once checks
    pass). Returns whether the change was merged. Never raises for a change that simply is not ready yet."""
    connection = run.git_connection
    if connection is None or run.change_state != ChangeState.PR_OPEN or connection.hosted:
        return False  # hosted requests: merge_by_policy (playbooks.changes.base) right after opening, and tracking
    policy = connection.effective_merge_policy
    if policy not in (GitConnection.MergePolicy.ON_APPROVAL, GitConnection.MergePolicy.ON_CHECKS):
        return False
    status = change_request_status(run, with_reviews=False)
    if policy == GitConnection.MergePolicy.ON_APPROVAL and status.checks in ("pending", "none"):
        status.blockers = [b for b in status.blockers if b != "checks are still running"]
    if status.blockers:
        if log is not None:
            log(f"not merged automatically yet ({policy}): " + "; ".join(status.blockers))
        return False
    try:
        merge_change(run, None, why=f"merge policy {policy}")
    except (ValidationError, GitOpsError) as exc:
        if log is not None:
            log(f"automatic merge failed: {exc}", "warning")
        return False
    run.refresh_from_db()
    return True
