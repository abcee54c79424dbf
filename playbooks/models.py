"""Playbook runs and their approvals.

A PlaybookRun is one execution of a playbook on one target: requested → (approved) → queued → running → finished,
or rejected / expired / cancelled. State changes are methods of the model: each validates (with access.rules),
saves and writes its audit event. Approvals are rows (who, decision, reason, when), never flags.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.utils import timezone

from access import rules
from controlplane.models import AuditEvent, Cluster, Run
from graph.models import KubeObject
from playbooks.choices import OPEN_STATUSES, ChangeState, Decision, Mode, PlaybookRunStatus
from playbooks.signals import approval_requested


class PlaybookRun(Run):
    """One execution of a playbook on a target object, with its approvals, log and result."""

    status = models.CharField(max_length=24, choices=PlaybookRunStatus.choices,
                              default=PlaybookRunStatus.PENDING_APPROVAL, db_index=True)
    playbook = models.CharField(max_length=64, db_index=True)
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.EXEC)
    cluster = models.ForeignKey(Cluster, on_delete=models.PROTECT, related_name="playbook_runs")
    target = models.ForeignKey(KubeObject, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs")
    # Copied so the run still names its target after the mirror row is gone.
    target_api_group = models.CharField(max_length=253, blank=True)
    target_kind = models.CharField(max_length=100)
    target_namespace = models.CharField(max_length=253, blank=True)
    target_name = models.CharField(max_length=253)
    approvals_required = models.PositiveSmallIntegerField(default=0)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="a pending request expires unanswered")
    batch = models.CharField(max_length=64, blank=True, db_index=True, help_text="runs requested together")
    batch_position = models.PositiveIntegerField(default=0)
    # GitOps changes: the diff shown to approvers, and where the change went.
    diff = models.TextField(blank=True, help_text="the change as reviewed (git diff)")
    rendered_diff = models.TextField(blank=True, help_text="what Flux will apply differently, per Kustomization "
                                                           "building the changed files (as reviewed)")
    git_connection = models.ForeignKey("controlplane.GitConnection", null=True, blank=True,
                                       on_delete=models.SET_NULL, related_name="+")
    branch = models.CharField(max_length=255, blank=True)
    commit_sha = models.CharField(max_length=64, blank=True)
    pr_number = models.PositiveIntegerField(null=True, blank=True)
    pr_url = models.CharField(max_length=500, blank=True)
    merge_sha = models.CharField(max_length=64, blank=True)
    change_state = models.CharField(max_length=16, choices=ChangeState.choices, blank=True, db_index=True)
    change_updated_at = models.DateTimeField(null=True, blank=True)

    class Meta(Run.Meta):
        verbose_name = "playbook run"
        indexes = [models.Index(fields=["status", "expires_at"])]

    def __str__(self) -> str:
        return f"{self.playbook} {self.target_label} #{self.pk}"

    @property
    def target_label(self) -> str:
        ns = f"{self.target_namespace}/" if self.target_namespace else ""
        return f"{self.target_kind} {ns}{self.target_name}"

    # ------------------------------------------------------------------ state changes
    @classmethod
    def request(cls, playbook, target: KubeObject, user, parameters: dict, batch: str = "",
                position: int = 0, depends_on: str | None = None, diff: str = "",
                rendered_diff: str = "") -> PlaybookRun:
        """Create a run of ``playbook`` on ``target`` for ``user`` (parameters already validated by its form).

        Refused (PermissionDenied / ValidationError) when the playbook is off, does not apply, or the user may not
        run it; queued at once when its policy needs no approval, otherwise pending with an expiry.
        """
        if not playbook.enabled():
            raise ValidationError(f"The {playbook.title} playbook is switched off.")
        if not playbook.applies_to(target):
            raise ValidationError(f"{playbook.title} does not apply to {target}.")
        if not playbook.allowed(user, target):
            raise PermissionDenied(f"You may not run {playbook.title} on {target}.")
        refusal = playbook.refusal(target)
        if refusal:
            raise ValidationError(refusal)
        required = playbook.approvals_required()
        from controlplane import context

        with transaction.atomic():
            run = cls(
                playbook=playbook.name, mode=playbook.mode, runner="playbook", cluster_id=target.cluster_id,
                target=target, target_api_group=target.api_group, target_kind=target.kind,
                target_namespace=target.namespace, target_name=target.name, approvals_required=required,
                requested_by=user, requested_by_username=user.get_username(), request_id=context.current().request_id,
                batch=batch, batch_position=position, diff=diff, rendered_diff=rendered_diff,
            )
            run.set_parameters(parameters)
            if required:
                run.status = PlaybookRunStatus.PENDING_APPROVAL
                run.expires_at = timezone.now() + timezone.timedelta(hours=settings.FLUXPLANE_APPROVAL_EXPIRY_HOURS)
            else:
                run.status = PlaybookRunStatus.QUEUED
            run.save()
            AuditEvent.record("run.requested", run, actor=user, after={"playbook": run.playbook, "target":
                              run.target_label, "parameters": run.parameters, "approvals_required": required},
                              message=f"{playbook.title} requested on {run.target_label}")
            if run.status == PlaybookRunStatus.QUEUED:
                run.enqueue(depends_on=depends_on)
            else:
                # playbooks.notify tells the approvers (a receiver: the model does not import its users).
                transaction.on_commit(lambda: approval_requested.send(sender=cls, run_pk=run.pk), robust=True)
        return run

    def approve(self, user, reason: str = "") -> None:
        """Record an approval by ``user``; enough approvals queue the run. The requester can never approve."""
        self._decide(user, Decision.APPROVE, reason)

    def reject(self, user, reason: str) -> None:
        """Reject with a reason; the run ends and never executes."""
        if not reason.strip():
            raise ValidationError("Give a reason for the rejection.")
        self._decide(user, Decision.REJECT, reason)

    def _decide(self, user, decision: str, reason: str) -> None:
        with transaction.atomic():
            run = type(self).objects.select_for_update().get(pk=self.pk)
            if run.status != PlaybookRunStatus.PENDING_APPROVAL:
                raise ValidationError(f"This run is {run.get_status_display()}, not pending approval.")
            if run.expires_at and run.expires_at <= timezone.now():
                run._expire()
                raise ValidationError("This request has expired.")
            if user.pk == run.requested_by_id:
                raise PermissionDenied("You cannot approve or reject your own request.")
            if not rules.can_approve(user, run):
                raise PermissionDenied("You may not approve runs on this object.")
            if run.approvals.filter(user=user).exists():
                raise ValidationError("You have already decided on this request.")
            Approval.objects.create(run=run, user=user, username=user.get_username(), decision=decision,
                                    reason=reason)
            if decision == Decision.REJECT:
                run.status = PlaybookRunStatus.REJECTED
                run.finished_at = timezone.now()
                run.error = f"rejected by {user.get_username()}: {reason}"
                run.save(update_fields=["status", "finished_at", "error"])
                AuditEvent.record("run.rejected", run, actor=user, message=reason)
            else:
                AuditEvent.record("run.approved", run, actor=user, message=reason)
                if run.approvals.filter(decision=Decision.APPROVE).count() >= run.approvals_required:
                    run.status = PlaybookRunStatus.QUEUED
                    run.save(update_fields=["status"])
                    run.enqueue()
        self.refresh_from_db()

    def cancel(self, user) -> None:
        """The requester (or a superuser) withdraws a run that has not started; a superuser may also end a running
        one that is stuck (its worker's late outcome is then not recorded, see controlplane.runners.finish)."""
        with transaction.atomic():
            run = type(self).objects.select_for_update().get(pk=self.pk)
            cancellable = {PlaybookRunStatus.PENDING_APPROVAL, PlaybookRunStatus.QUEUED}
            if user.is_superuser:
                cancellable.add(PlaybookRunStatus.RUNNING)
            if run.status not in cancellable:
                raise ValidationError(f"A {run.get_status_display()} run cannot be cancelled.")
            if user.pk != run.requested_by_id and not user.is_superuser:
                raise PermissionDenied("Only the requester can cancel this run.")
            run.status = PlaybookRunStatus.CANCELLED
            run.finished_at = timezone.now()
            run.save(update_fields=["status", "finished_at"])
            AuditEvent.record("run.cancelled", run, actor=user)
        self.refresh_from_db()

    def _expire(self) -> None:
        self.status = PlaybookRunStatus.EXPIRED
        self.finished_at = timezone.now()
        self.save(update_fields=["status", "finished_at"])
        AuditEvent.record("run.expired", self, message="no decision before the request expired")

    @classmethod
    def expire_pending(cls) -> int:
        """Sweep: pending requests past their expiry end as expired (idempotent)."""
        expired = 0
        for run in cls.objects.filter(status=PlaybookRunStatus.PENDING_APPROVAL, expires_at__lte=timezone.now()):
            with transaction.atomic():
                locked = cls.objects.select_for_update().get(pk=run.pk)
                if locked.status == PlaybookRunStatus.PENDING_APPROVAL:
                    locked._expire()
                    expired += 1
        return expired

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def advance_change(self, state: str, message: str, **fields) -> None:
        """Move the change along its timeline (PR open → merged → applied → healthy/unhealthy), with a log line and
        an audit event per step; repeating the current step does nothing."""
        if self.change_state == state:
            return
        before = self.change_state
        self.change_state = state
        self.change_updated_at = timezone.now()
        for name, value in fields.items():
            setattr(self, name, value)
        self.save(update_fields=["change_state", "change_updated_at", *fields])
        self.append_log(message)
        after = {k: (str(v) if isinstance(v, models.Model) else v) for k, v in fields.items()}
        AuditEvent.record(f"change.{state}", self, before={"state": before}, after={"state": state, **after},
                          message=message)


class Approval(models.Model):
    """One decision on a run: who, approve or reject, why, when."""

    run = models.ForeignKey(PlaybookRun, on_delete=models.CASCADE, related_name="approvals")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    username = models.CharField(max_length=150)
    decision = models.CharField(max_length=16, choices=Decision.choices)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [models.UniqueConstraint(fields=["run", "user"], name="playbooks_one_decision_per_user")]

    def __str__(self) -> str:
        return f"{self.username} {self.decision}d #{self.run_id}"


class PendingApproval(PlaybookRun):
    """The approvals inbox: runs waiting for a decision (the admin shows only those the user may decide)."""

    class Meta:
        proxy = True
        verbose_name = "approval request"
        verbose_name_plural = "approvals inbox"
