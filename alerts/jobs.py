"""RQ jobs of the alerts app. Jobs receive primary keys only; periodic ones are idempotent (see controlplane.cron)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from alerts import notify, push
from alerts.choices import AlertStatus
from alerts.enqueue import enqueue_notify
from alerts.models import Alert, Silence, coverage
from controlplane import context

logger = logging.getLogger(__name__)


def notify_job(alert_pks: list[int]) -> int:
    """Job: notify the channels about these alerts' groups (de-duplicated per group state)."""
    with context.work_context(context.Origin.JOB, request_id="alerts:notify"):
        return notify.notify(alert_pks)


def deliver_job(delivery_pk: int) -> int:
    """Job: one attempt of one delivery (an approval request, or a retry of a failed one). A failure is recorded
    on the delivery and schedules the next attempt itself, so the job ends normally."""
    with context.work_context(context.Origin.JOB, request_id=f"alerts:deliver:{delivery_pk}"):
        try:
            return notify.send(delivery_pk)
        except notify.DeliveryFailed as exc:
            logger.warning("delivery #%s failed: %s", delivery_pk, exc)
            return 0


def push_silence_job(silence_pk: int) -> dict[str, str]:
    """Job: make every pushing Alertmanager hold the silence's counterparts (idempotent; failures are retried by
    ``repush_silences``). The creator's permission is re-checked (access.rules.can_silence)."""
    with context.work_context(context.Origin.JOB, request_id=f"alerts:push:{silence_pk}"):
        return push.push_everywhere(silence_pk)


def expire_silences() -> dict[str, int]:
    """Periodic: end silences past their end (and their Alertmanager counterparts), then re-match firing alerts so
    silences that started since the last tick take effect. Idempotent."""
    with context.work_context(context.Origin.JOB, request_id="cron:expire-silences"):
        expired = 0
        for silence in Silence.objects.filter(expired_at__isnull=True, ends_at__lte=timezone.now()):
            expired += silence.expire(message="the silence reached its end")
        with transaction.atomic():
            unsilenced = coverage.rematch(Alert.objects.filter(status=AlertStatus.FIRING))
            enqueue_notify(unsilenced)
        return {"expired": expired, "unsilenced": len(unsilenced)}


def remind_silences() -> int:
    """Periodic: email each creator once when their silence ends within FLUXPLANE_SILENCE_REMINDER_MINUTES."""
    with context.work_context(context.Origin.JOB, request_id="cron:remind-silences"):
        now = timezone.now()
        soon = now + timezone.timedelta(minutes=settings.FLUXPLANE_SILENCE_REMINDER_MINUTES)
        reminded = 0
        for silence in Silence.objects.filter(expired_at__isnull=True, reminded_at__isnull=True, ends_at__gt=now,
                                              ends_at__lte=soon, starts_at__lte=now).select_related("created_by"):
            # Claim first, so two schedulers never send the same reminder twice.
            if not Silence.objects.filter(pk=silence.pk, reminded_at__isnull=True).update(reminded_at=now):
                continue
            email = getattr(silence.created_by, "email", "")
            if not email:
                continue
            link = settings.FLUXPLANE_BASE_URL.rstrip("/") + reverse("admin:alerts_silence_change",
                                                                     args=[silence.pk])
            ends = timezone.localtime(silence.ends_at).strftime("%Y-%m-%d %H:%M %Z")
            send_mail(f"[Fluxplane] your silence on {silence.target_label} ends soon",
                      f"Your silence on {silence.target_label} ({silence.reason}) ends at {ends}.\n\n"
                      f"Extend or end it: {link}\n", settings.DEFAULT_FROM_EMAIL, [email])
            reminded += 1
        return reminded


def repush_silences() -> dict[str, int]:
    """Periodic: push silences whose Alertmanager counterparts failed, are missing or are behind, and retry failed
    notification deliveries. Idempotent."""
    with context.work_context(context.Origin.JOB, request_id="cron:repush-silences"):
        pushed = 0
        for silence_pk in push.needing_push():
            push.push_everywhere(silence_pk)
            pushed += 1
        return {"silences": pushed, "deliveries": notify.retry_failed()}
