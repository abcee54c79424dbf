"""Just-in-time namespace access grants.

A grant is the data that makes expiry guaranteed: who gets which ClusterRole in which namespace, for how long, the
request run that proposed the RoleBinding in git, when the binding was first seen in the cluster (the duration
counts from then), and how its removal went (removal pull request, merged, or enforced through the API). The
sweep (jit.sweep) moves grants along; every transition writes an audit event.
"""

from __future__ import annotations

from datetime import timedelta

from django.apps import apps
from django.conf import settings
from django.db import models
from django.utils import timezone

from controlplane.models import AuditEvent, Cluster

GRANT_LABEL = "fluxplane.io/jit-grant"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"


class GrantState(models.TextChoices):
    """Lifecycle of a grant; ``settled`` on the row says whether the sweep still has work to do."""

    REQUESTED = "requested", "requested (waiting for approval)"
    PR_OPEN = "pr_open", "grant pull request open"
    MERGED = "merged", "merged, waiting for Flux"
    ACTIVE = "active", "active"
    EXPIRING = "expiring", "expired, being removed"
    REVOKED = "revoked", "revoked, being removed"
    REMOVED = "removed", "removed"
    ENFORCED = "enforced", "enforced (deleted through the API)"
    UNUSED = "unused", "expired unused"
    NOT_GRANTED = "not_granted", "not granted"


class SubjectKind(models.TextChoices):
    USER = "User", "User"
    GROUP = "Group", "Group"


OPEN_STATES = (GrantState.REQUESTED, GrantState.PR_OPEN, GrantState.MERGED, GrantState.ACTIVE)


class AccessGrant(models.Model):
    """One just-in-time RoleBinding: a ClusterRole for a subject in a namespace, time-boxed from activation.

    Created with its request run (a PlaybookRun of the "Request namespace access" playbook) after the policy
    accepted it; never deleted (the history is the table plus the audit log).
    """

    cluster = models.ForeignKey(Cluster, on_delete=models.PROTECT, related_name="access_grants")
    namespace = models.CharField(max_length=63, db_index=True)
    # graph and playbooks sit above access: their models are named by string (the same below for PlaybookRun).
    namespace_object = models.ForeignKey("graph.KubeObject", null=True, blank=True, on_delete=models.SET_NULL,
                                         related_name="+")
    role = models.CharField(max_length=253, help_text="the ClusterRole bound in the namespace")
    subject_kind = models.CharField(max_length=8, choices=SubjectKind.choices, default=SubjectKind.USER)
    subject_name = models.CharField(max_length=253)
    duration_choice = models.CharField(max_length=8)
    duration_seconds = models.PositiveIntegerField()
    reason = models.TextField()
    ticket = models.CharField(max_length=100, blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                     related_name="access_grants")
    requested_by_username = models.CharField(max_length=150)
    request_run = models.OneToOneField("playbooks.PlaybookRun", null=True, on_delete=models.SET_NULL,
                                       related_name="access_grant")
    extends = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="extensions")
    state = models.CharField(max_length=16, choices=GrantState.choices, default=GrantState.REQUESTED, db_index=True)
    settled = models.BooleanField(default=False, db_index=True, help_text="nothing left for the sweep to do")
    # Where the binding lives in git and in the cluster.
    binding_name = models.CharField(max_length=253, blank=True)
    file_path = models.CharField(max_length=1000, blank=True)
    build_path = models.CharField(max_length=1000, blank=True, help_text="the Flux Kustomization's path")
    approved_by = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    activation_deadline = models.DateTimeField(null=True, blank=True,
                                               help_text="not seen in the cluster by then: expires unused")
    activated_at = models.DateTimeField(null=True, blank=True, help_text="first seen in the cluster")
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    ends_at = models.DateTimeField(null=True, blank=True, help_text="when removal started being due")
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.CharField(max_length=150, blank=True)
    # Removal: a pull request deleting the file (or the grant PR closed when it never merged), then enforcement.
    removal_branch = models.CharField(max_length=255, blank=True)
    removal_pr_number = models.PositiveIntegerField(null=True, blank=True)
    removal_pr_url = models.CharField(max_length=500, blank=True)
    removed_from_git_at = models.DateTimeField(null=True, blank=True)
    removed_at = models.DateTimeField(null=True, blank=True, help_text="binding seen gone from the cluster")
    enforced_at = models.DateTimeField(null=True, blank=True)
    enforcement_count = models.PositiveIntegerField(default=0)
    last_checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "access grant"
        indexes = [models.Index(fields=["settled", "state"])]

    def __str__(self) -> str:
        return f"{self.subject_kind} {self.subject_name} {self.role} on {self.namespace} (#{self.pk})"

    @property
    def duration(self) -> timedelta:
        return timedelta(seconds=self.duration_seconds)

    @property
    def time_left(self) -> timedelta | None:
        """Time until expiry of an active grant (None otherwise)."""
        if self.state != GrantState.ACTIVE or self.expires_at is None:
            return None
        return max(self.expires_at - timezone.now(), timedelta(0))

    def record(self, verb: str, message: str, actor=None, **after) -> None:
        """Audit one step of this grant (``jit.<verb>``) and keep its request run's log in step."""
        AuditEvent.record(f"jit.{verb}", self, actor=actor, after={"state": self.state, **after}, message=message)
        if self.request_run_id:
            run_model = apps.get_model("playbooks", "PlaybookRun")
            # A fresh row: append_log writes the whole log column, so a stale copy would drop newer lines.
            run = run_model.objects.filter(pk=self.request_run_id).first()
            if run is not None:
                run.append_log(f"access: {message}")


class MyAccessGrant(AccessGrant):
    """Proxy: the current user's own requests and grants."""

    class Meta:
        proxy = True
        verbose_name = "my access"
        verbose_name_plural = "my access"


class ActiveAccessGrant(AccessGrant):
    """Proxy: grants whose RoleBinding may be in a cluster now (active, or ended and still being removed)."""

    class Meta:
        proxy = True
        verbose_name = "active grant"
        verbose_name_plural = "active grants"
