"""The append-only audit log."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from controlplane import context
from controlplane.redaction import redact, redact_text


class AuditImmutableError(Exception):
    """Raised on any attempt to change or delete an audit event."""


class AuditEventQuerySet(models.QuerySet):
    """Refuses bulk changes: the audit log is append-only even for code that bypasses ``Model.save``."""

    def update(self, **kwargs):
        raise AuditImmutableError("audit events are append-only: they cannot be updated")

    def delete(self):
        raise AuditImmutableError("audit events are append-only: they cannot be deleted")

    _raw_delete = delete


class AuditEvent(models.Model):
    """One thing that happened: who (actor + copied username), where from (web/job/command + request or run id),
    what (verb), to what (generic target + its text at the time), the before/after state, and a message.

    Rows are written explicitly by every state transition through :meth:`record`, never by signals, so the
    verb and message say what the user meant. Rows are never changed or deleted; secrets are redacted before
    they are stored.
    """

    class Context(models.TextChoices):
        WEB = context.Origin.WEB, "web"
        JOB = context.Origin.JOB, "job"
        COMMAND = context.Origin.COMMAND, "command"
        SYSTEM = context.Origin.SYSTEM, "system"

    time = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Copied so the log still says who acted after the user is renamed or deleted.
    actor_username = models.CharField(max_length=150, blank=True, db_index=True)
    context = models.CharField(max_length=16, choices=Context.choices, db_index=True)
    request_id = models.CharField(max_length=64, blank=True, db_index=True, help_text="web request id or run id")
    verb = models.CharField(max_length=64, db_index=True)
    target_type = models.ForeignKey(ContentType, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    target_id = models.CharField(max_length=64, blank=True)
    target = GenericForeignKey("target_type", "target_id")
    target_repr = models.CharField(max_length=300, blank=True)
    before = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    after = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    message = models.TextField(blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-time", "-id"]
        indexes = [models.Index(fields=["target_type", "target_id"])]
        permissions = [("export_auditevent", "Can export audit events")]

    def __str__(self) -> str:
        who = self.actor_username or "system"
        return f"{self.time:%Y-%m-%d %H:%M:%S} {who} {self.verb} {self.target_repr}".strip()

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise AuditImmutableError("audit events are append-only: they cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditImmutableError("audit events are append-only: they cannot be deleted")

    @classmethod
    def record(
        cls,
        verb: str,
        target: models.Model | None = None,
        *,
        message: str = "",
        before: Any = None,
        after: Any = None,
        actor=None,
        request_id: str | None = None,
    ) -> AuditEvent:
        """Write one event. Actor, origin and request id default to the current work context; work that no person
        started (a webhook, a periodic job) is recorded as done by Fluxplane."""
        ctx = context.current()
        actor_id = getattr(actor, "pk", None) if actor is not None else ctx.user_id
        username = actor.get_username() if actor is not None else (ctx.username or context.FLUXPLANE_ACTOR)
        event = cls(
            actor_id=actor_id,
            actor_username=username,
            context=ctx.origin,
            request_id=request_id or ctx.request_id,
            verb=verb,
            before=redact(before),
            after=redact(after),
            message=redact_text(message),
        )
        if target is not None:
            event.target_type = ContentType.objects.get_for_model(target, for_concrete_model=False)
            event.target_id = str(target.pk)
            event.target_repr = str(target)[:300]
        event.save(force_insert=True)
        return event
