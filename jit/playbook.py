"""The "Request namespace access" playbook and the request itself.

A request is validated against the policy *before* anything is written (no run, no grant, no git), then becomes a
PlaybookRun (so the approvals inbox, "requester never approves" and the run log are the playbooks app's) plus an
AccessGrant row. After approval the run commits the grant's RoleBinding file as the requester and opens the pull
request (merged at once when FLUXPLANE_JIT_AUTO_MERGE_GRANT is on: the approval already happened here).
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from access import rules
from access.jit import policy
from access.jit.models import AccessGrant, GrantState, SubjectKind
from controlplane import context
from controlplane.runners import JobFailed
from gitops import GitOpsError
from graph.models import KubeObject
from jit import gitfiles
from playbooks.changes.base import GitOpsPlaybook
from playbooks.changes.merging import merge_change
from playbooks.choices import ChangeState, Decision
from playbooks.library import register
from playbooks.models import PlaybookRun

_TICKET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._#/:-]{0,99}$")
MAX_REASON = 2000


@register
class RequestNamespaceAccess(GitOpsPlaybook):
    """Time-boxed access to a Flux-managed namespace: a RoleBinding to an allowed ClusterRole, proposed in git,
    approved by someone else, removed again by the expiry sweep (jit.sweep)."""

    name = "request-namespace-access"
    setting = "requestNamespaceAccess"
    title = "Request namespace access"
    description = "Just-in-time access: a RoleBinding to an allowed ClusterRole, added by pull request after " \
                  "approval and removed when it expires."
    kinds = frozenset({("", "Namespace")})
    verb = rules.REQUEST_ACCESS

    @classmethod
    def applies_to(cls, obj: KubeObject) -> bool:
        return super().applies_to(obj) and obj.managed_by_kind == "Kustomization"

    @classmethod
    def approvals_required(cls) -> int:
        # At least one: nobody grants themselves access. The role's policy may ask for more (see request_access).
        return max(1, super().approvals_required())

    @classmethod
    def group(cls) -> str:
        return "access"

    @classmethod
    def comparable(cls, diff: str) -> list[str]:
        # Who approved and when the binding expires are only known at approval: the approver saw those two
        # annotations as pending; every other line must be the one they approved.
        pending = (gitfiles.ANNOTATION + "approved-by:", gitfiles.ANNOTATION + "expires-at:")
        return [line for line in super().comparable(diff) if not line[1:].strip().startswith(pending)]

    @classmethod
    def start_url(cls, obj: KubeObject) -> str:
        """The request form (it needs the requester to offer their subject name and the namespace's roles)."""
        return reverse("admin:access_jit_request", args=[obj.pk])

    @classmethod
    def apply(cls, repo_dir: str, ctx, params: dict[str, Any]):
        location = cls.locate(repo_dir, ctx)
        folder = gitfiles.grant_folder(repo_dir, location, ctx.obj.name, ctx.kustomization_ref.target_namespace)
        spec = gitfiles.BindingSpec(**params["binding"])
        change = gitfiles.add_grant(repo_dir, folder, location.build_path, spec)
        # execute() passes its own params dict: this is how it learns where the file went.
        params["written"] = {"file": change.files[0], "build_path": location.build_path}
        return change

    def execute(self) -> dict:
        run = self.run
        grant = AccessGrant.objects.filter(request_run=run).first()
        if grant is None:
            raise JobFailed("this run has no access grant: request access from the namespace's page")
        if grant.state != GrantState.REQUESTED:
            raise JobFailed(f"grant #{grant.pk} is {grant.get_state_display()}, not waiting to be written")
        # The policy may have changed since the request: re-check it before anything reaches git.
        try:
            role = policy.role_policy(grant.namespace, grant.role)
            policy.duration_of(grant.duration_choice, role)
            if grant.subject_kind == SubjectKind.GROUP:
                policy.check_group(grant.subject_name)
            else:
                policy.check_subject_name(grant.subject_name)
        except ValidationError as exc:
            raise JobFailed(" ".join(exc.messages)) from None
        approvals = list(run.approvals.filter(decision=Decision.APPROVE).select_related("user"))
        approvers = [a.username for a in approvals]
        if len(approvers) < role.approvals or grant.requested_by_username in approvers:
            raise JobFailed(f"role {grant.role} needs {role.approvals} approval(s) by someone other than the requester")
        now = timezone.now()
        deadline = now + policy.activation_limit()
        spec = gitfiles.BindingSpec(
            grant_id=grant.pk, run_id=run.pk, namespace=grant.namespace, role=grant.role,
            subject_kind=grant.subject_kind, subject_name=grant.subject_name, requested_by=grant.requested_by_username,
            approved_by=", ".join(approvers), duration=grant.duration_choice,
            expires_at=(deadline + grant.duration).replace(microsecond=0).isoformat(), ticket=grant.ticket)
        self.params = {**self.params, "binding": spec.__dict__}
        grant.approved_by = spec.approved_by
        grant.binding_name = spec.name
        grant.activation_deadline = deadline
        grant.save(update_fields=["approved_by", "binding_name", "activation_deadline"])
        # The decision was the approver's (the last one to approve, whose approval let the run go): the event names
        # that person as its actor, not the requester on whose behalf the job runs.
        decider = next((a.user for a in reversed(approvals) if a.user_id), None)
        grant.record("approved", f"approved by {spec.approved_by}", actor=decider, approvers=approvers)
        result = super().execute()
        ctx = self.context(run.target)
        grant.file_path = self.params["written"]["file"]
        grant.build_path = self.params["written"]["build_path"]
        run.refresh_from_db()
        if run.change_state == ChangeState.PR_OPEN:
            grant.state = GrantState.PR_OPEN
            grant.save(update_fields=["file_path", "build_path", "state"])
            grant.record("pr_opened", f"pull request #{run.pr_number} adds {spec.name}: {run.pr_url}",
                         pr=run.pr_url)
            if settings.FLUXPLANE_JIT_AUTO_MERGE_GRANT:
                self._merge(grant)
        if run.change_state != ChangeState.PR_OPEN:  # merged (by policy or above) or committed to the base branch
            grant.state = GrantState.MERGED
            grant.save(update_fields=["file_path", "build_path", "state"])
            with context.on_behalf_of(grant.requested_by_username):  # Fluxplane merged it, not the requester
                grant.record("merged", f"{spec.name} is on {ctx.connection.base_branch} ({run.merge_sha[:12]})")
        return {**result, "grant": grant.pk, "binding": spec.name, "file": grant.file_path}

    def _merge(self, grant: AccessGrant) -> None:
        """Merge the grant's change request right away: the approval already happened in Fluxplane. Fluxplane
        merges on the requester's behalf (the audit names Fluxplane, not the requester)."""
        run = self.run
        try:
            merge_change(run, None, why="FLUXPLANE_JIT_AUTO_MERGE_GRANT", wait_for_checks=False)
        except ValidationError as exc:
            self.log(f"the grant was not merged automatically: {' '.join(exc.messages)}", "warning")
        run.refresh_from_db()


def _check_reason(reason: str, ticket: str) -> tuple[str, str]:
    reason, ticket = (reason or "").strip(), (ticket or "").strip()
    if len(reason) < 5:
        raise ValidationError("Say why you need access (a reason of at least a few words).")
    if len(reason) > MAX_REASON:
        raise ValidationError(f"Keep the reason under {MAX_REASON} characters.")
    if ticket and not _TICKET.match(ticket):
        raise ValidationError(f"Ticket {ticket!r} is not a ticket reference (letters, digits and . _ # / : - only).")
    return reason, ticket


def validate_request(user, namespace: KubeObject, role: str, duration: str, reason: str, ticket: str = "",
                     subject_kind: str = SubjectKind.USER, group: str = "") -> dict[str, Any]:
    """Every check of a request, in the order a user can act on; returns the grant's fields. Writes nothing."""
    playbook = RequestNamespaceAccess
    if not playbook.enabled():
        raise ValidationError("Just-in-time access is switched off (FLUXPLANE_PLAYBOOK_REQUEST_NAMESPACE_ACCESS).")
    if namespace.kind != "Namespace" or namespace.api_group != "" or namespace.deleted_at is not None:
        raise ValidationError(f"{namespace} is not a namespace in the mirror.")
    if namespace.managed_by_kind != "Kustomization":
        raise ValidationError(f"Namespace {namespace.name} is not managed by a Flux Kustomization: access is granted "
                              f"through git, so only Flux-managed namespaces can be requested.")
    if not rules.can_request_access(user, namespace):
        raise PermissionDenied(f"You may not request access to namespace {namespace.name}.")
    role_policy = policy.role_policy(namespace.name, role)
    length = policy.duration_of(duration, role_policy)
    reason, ticket = _check_reason(reason, ticket)
    if subject_kind == SubjectKind.GROUP:
        subject = policy.check_group((group or "").strip())
    elif subject_kind == SubjectKind.USER:
        subject = policy.user_subject(user)
    else:
        raise ValidationError("The subject is a User or a Group.")
    refusal = playbook.refusal(namespace)
    if refusal:
        raise ValidationError(refusal)
    return {"role": role, "subject_kind": subject_kind, "subject_name": subject, "duration_choice": duration,
            "duration_seconds": int(length.total_seconds()), "reason": reason, "ticket": ticket,
            "approvals": role_policy.approvals}


def request_access(user, namespace: KubeObject, role: str, duration: str, reason: str, ticket: str = "",
                   subject_kind: str = SubjectKind.USER, group: str = "",
                   extends: AccessGrant | None = None) -> AccessGrant:
    """Validate, then create the request run (pending approval) and its grant in one transaction."""
    fields = validate_request(user, namespace, role, duration, reason, ticket, subject_kind, group)
    approvals = fields.pop("approvals")
    params = {"role": role, "duration": duration, "subject": f"{fields['subject_kind']} {fields['subject_name']}",
              "reason": fields["reason"], "ticket": fields["ticket"]}
    if extends is not None:
        params["extends"] = f"grant #{extends.pk}"
    with transaction.atomic():
        run = PlaybookRun.request(RequestNamespaceAccess, namespace, user, params)
        if approvals > run.approvals_required:
            run.approvals_required = approvals
            run.save(update_fields=["approvals_required"])
        grant = AccessGrant.objects.create(
            cluster_id=namespace.cluster_id, namespace=namespace.name, namespace_object=namespace,
            requested_by=user, requested_by_username=user.get_username(), request_run=run, extends=extends, **fields)
        grant.record("requested", f"{grant.subject_kind} {grant.subject_name} asks for {grant.role} on "
                     f"{grant.namespace} for {grant.duration_choice}: {grant.reason}", actor=user,
                     approvals_required=run.approvals_required)
        _attach_preview(run, grant, namespace)
    return grant


PENDING = "(set when approved)"


def _attach_preview(run: PlaybookRun, grant: AccessGrant, namespace: KubeObject) -> None:
    """The RoleBinding file diff the approver reads before approving: the file this request would commit, with the
    approver and the expiry still pending. Best effort: without it the request still stands (the job re-checks)."""
    spec = gitfiles.BindingSpec(
        grant_id=grant.pk, run_id=run.pk, namespace=grant.namespace, role=grant.role,
        subject_kind=str(grant.subject_kind), subject_name=grant.subject_name,
        requested_by=grant.requested_by_username, approved_by=PENDING, duration=grant.duration_choice,
        expires_at=PENDING, ticket=grant.ticket)
    try:
        preview = RequestNamespaceAccess.preview(namespace, {"binding": spec.__dict__})
    except GitOpsError as exc:
        run.append_log(f"no preview of the RoleBinding: {exc}", "warning")
        return
    run.diff = preview.diff
    run.save(update_fields=["diff"])


def extension_initial(grant: AccessGrant) -> dict[str, str]:
    """Form values of an extension: the same access, asked for again (it needs its own approval)."""
    return {"role": grant.role, "duration": grant.duration_choice, "subject_kind": grant.subject_kind,
            "group": grant.subject_name if grant.subject_kind == SubjectKind.GROUP else "",
            "reason": f"extend grant #{grant.pk}: {grant.reason}"[:MAX_REASON], "ticket": grant.ticket}
