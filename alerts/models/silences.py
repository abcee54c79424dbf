"""Silences by Flux hierarchy: a target object, by default everything below it, for a bounded window.

State changes are model methods: each checks the permission rule (access.rules.can_silence on the target or an
ancestor), validates the window against policy, saves, refreshes which objects the silence covers, re-matches the
affected alerts, writes its audit event, and (on commit) enqueues the push to Alertmanager.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.utils import timezone

from access import rules
from alerts.choices import PushState
from alerts.enqueue import enqueue_notify, enqueue_push
from alerts.matchers import validate_matchers
from alerts.models import coverage
from alerts.models.channels import AlertmanagerConnection
from controlplane.models import AuditEvent, Cluster
from graph.models import KubeObject


def max_duration() -> timezone.timedelta:
    return timezone.timedelta(hours=settings.FLUXPLANE_SILENCE_MAX_HOURS)


class Silence(models.Model):
    """Mutes the alerts of a target object and (``include_descendants``) its subtree in the Flux tree.

    The covered objects are precomputed set-wise into :class:`SilenceObject` rows (refreshed after each sync, as
    new Pods appear), so matching an alert is a lookup, never a walk of the tree. Optional label ``matchers``
    narrow it further. ``until_resumed`` silences were opened by a suspend and end with the resume.
    """

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="silences")
    target = models.ForeignKey(KubeObject, null=True, blank=True, on_delete=models.SET_NULL, related_name="silences")
    # Copied so the silence still names its target after the mirror row is gone.
    target_label = models.CharField(max_length=600)
    include_descendants = models.BooleanField(default=True, help_text="also silence everything below the target")
    matchers = models.JSONField(default=list, blank=True, help_text="extra label matchers (all must match)")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    reason = models.TextField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_by_username = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    expired_at = models.DateTimeField(null=True, blank=True, help_text="when it ended (early or at its end)")
    reminded_at = models.DateTimeField(null=True, blank=True)
    until_resumed = models.BooleanField(default=False)
    suspend_run = models.ForeignKey("playbooks.PlaybookRun", null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    revision = models.PositiveIntegerField(default=1, help_text="bumped on every change; pushes follow it")

    class Meta:
        ordering = ["-starts_at"]
        indexes = [models.Index(fields=["expired_at", "ends_at"]), models.Index(fields=["cluster", "expired_at"])]

    def __str__(self) -> str:
        return f"silence #{self.pk} on {self.target_label}"

    @property
    def is_active(self) -> bool:
        now = timezone.now()
        return self.expired_at is None and self.starts_at <= now < self.ends_at

    @property
    def state(self) -> str:
        if self.expired_at is not None or self.ends_at <= timezone.now():
            return "expired"
        return "active" if self.starts_at <= timezone.now() else "scheduled"

    def snapshot(self) -> dict:
        return {"target": self.target_label, "starts_at": self.starts_at, "ends_at": self.ends_at,
                "reason": self.reason, "include_descendants": self.include_descendants, "matchers": self.matchers}

    # ------------------------------------------------------------------ validation
    @staticmethod
    def check_window(starts_at, ends_at, *, maintenance: bool = False) -> None:
        """Policy: the end is in the future, after the start, and within the maximum duration."""
        now = timezone.now()
        if ends_at <= starts_at:
            raise ValidationError("The end must be after the start.")
        if ends_at <= now:
            raise ValidationError("The end must be in the future.")
        limit = timezone.timedelta(hours=settings.FLUXPLANE_MAINTENANCE_SILENCE_HOURS) if maintenance \
            else max_duration()
        if ends_at - max(starts_at, now) > limit:
            hours = limit.total_seconds() / 3600
            raise ValidationError(f"A silence may last at most {hours:g} hours.")

    # ------------------------------------------------------------------ state changes
    @classmethod
    def open(cls, *, target: KubeObject, user, ends_at, reason: str, starts_at=None, include_descendants: bool = True,
             matchers: list[dict] | None = None, until_resumed: bool = False, suspend_run=None) -> Silence:
        """Create a silence on ``target`` for ``user``; refused unless access.rules.can_silence allows it."""
        if not rules.can_silence(user, target):
            raise PermissionDenied(f"You may not silence alerts of {target}.")
        if not reason.strip():
            raise ValidationError("Give a reason for the silence.")
        starts_at = starts_at or timezone.now()
        cls.check_window(starts_at, ends_at, maintenance=until_resumed)
        matchers = validate_matchers(matchers or [])
        with transaction.atomic():
            silence = cls.objects.create(
                cluster_id=target.cluster_id, target=target, target_label=str(target), starts_at=starts_at,
                ends_at=ends_at, reason=reason.strip(), include_descendants=include_descendants, matchers=matchers,
                created_by=user, created_by_username=user.get_username(), until_resumed=until_resumed,
                suspend_run=suspend_run,
            )
            coverage.refresh_coverage([silence])
            AuditEvent.record("silence.created", silence, actor=user, after=silence.snapshot(),
                              message=f"silenced {silence.target_label}: {silence.reason}")
            coverage.rematch(coverage.alerts_of_silence(silence))
            silence.enqueue_push()
        return silence

    def update(self, user, *, ends_at=None, reason: str | None = None) -> None:
        """Change the end and/or reason (extend, shorten); refused unless the user may silence the target."""
        self._check_user(user)
        with transaction.atomic():
            locked = type(self).objects.select_for_update().get(pk=self.pk)
            if locked.state == "expired":
                raise ValidationError("This silence has ended; create a new one.")
            before = locked.snapshot()
            if ends_at is not None:
                self.check_window(locked.starts_at, ends_at, maintenance=locked.until_resumed)
                locked.ends_at = ends_at
                locked.reminded_at = None  # a new end deserves a new reminder
            if reason is not None:
                if not reason.strip():
                    raise ValidationError("Give a reason for the silence.")
                locked.reason = reason.strip()
            locked.revision += 1
            locked.save()
            AuditEvent.record("silence.updated", locked, actor=user, before=before, after=locked.snapshot())
            coverage.rematch(coverage.alerts_of_silence(locked))
            locked.enqueue_push()
        self.refresh_from_db()

    def expire(self, user=None, message: str = "") -> bool:
        """End the silence now (by a user, a resume, or the sweep at its end). Idempotent: False if already ended.

        Alerts it silenced are matched again; those still firing and now unsilenced are notified.
        """
        if user is not None:
            self._check_user(user)
        with transaction.atomic():
            locked = type(self).objects.select_for_update().get(pk=self.pk)
            if locked.expired_at is not None:
                return False
            now = timezone.now()
            before = locked.snapshot()
            locked.expired_at = now
            locked.ends_at = min(locked.ends_at, now)
            locked.revision += 1
            locked.save()
            AuditEvent.record("silence.expired", locked, actor=user, before=before, after=locked.snapshot(),
                              message=message or "silence ended")
            unsilenced = coverage.rematch(coverage.alerts_of_silence(locked))
            enqueue_notify(unsilenced)
            locked.enqueue_push()
        self.refresh_from_db()
        return True

    def _check_user(self, user) -> None:
        if self.target is None:
            if not rules.has_global(user, rules.SILENCE):
                raise PermissionDenied("The target is gone; only a global silencer may change this silence.")
        elif not rules.can_silence(user, self.target):
            raise PermissionDenied(f"You may not silence alerts of {self.target}.")

    def enqueue_push(self) -> None:
        """Push to every Alertmanager connection that takes silences, after the transaction commits."""
        if AlertmanagerConnection.objects.filter(push_silences=True).exists():
            pk = self.pk
            transaction.on_commit(lambda: enqueue_push(pk), robust=True)


class PushedSilence(models.Model):
    """One Alertmanager silence that mirrors (part of) a Fluxplane silence on one connection.

    ``key`` names the matcher set (e.g. ``podinfo/pod``); the Alertmanager id is stored so updates and expiry
    address the same silence, and the comment carries ``[fluxplane:<silence>:<key>]`` so a retry after a lost
    response finds the silence it already created instead of creating a second one.
    """

    silence = models.ForeignKey(Silence, on_delete=models.CASCADE, related_name="pushes")
    connection = models.ForeignKey(AlertmanagerConnection, on_delete=models.CASCADE, related_name="pushes")
    key = models.CharField(max_length=300)
    matchers = models.JSONField(default=list)
    alertmanager_id = models.CharField(max_length=64, blank=True)
    state = models.CharField(max_length=16, choices=PushState.choices, default=PushState.PENDING)
    revision = models.PositiveIntegerField(default=0)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["silence", "connection", "key"], name="alerts_push_once")]

    def __str__(self) -> str:
        return f"{self.silence} → {self.connection} {self.key} ({self.state})"
