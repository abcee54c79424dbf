"""Notifications: unsilenced alerts go to the channels that route their namespace and severity, once per alert
group state (the group key, firing or resolved, and each alert's firing episode), whatever number of webhooks,
retries or workers deliver the same state again. An alert that resolves and fires again starts a new episode and
is notified again. Approval requests (composed by playbooks.notify) travel the same way.

Every attempt is recorded on the Delivery (attempts, error, state) and in the audit log, and is committed even
when it fails; a failed delivery is retried with backoff up to MAX_ATTEMPTS times. A retry sends only the alerts
that are still unsilenced (and, for *firing*, still firing): one silenced meanwhile is not delivered."""

from __future__ import annotations

import hashlib
import json
import logging
import urllib.error
import urllib.request
from collections import defaultdict

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from alerts.choices import AlertStatus, ChannelKind, DeliveryKind, DeliveryState
from alerts.enqueue import enqueue_delivery
from alerts.models import Alert, Channel, Delivery
from controlplane.models import AuditEvent

logger = logging.getLogger(__name__)
MAX_ATTEMPTS = 5


class DeliveryFailed(Exception):
    """A channel did not take the notification (the delivery stays *failed* and is retried)."""


def _dedupe_key(group_key: str, status: str, episodes: list[str]) -> str:
    return hashlib.sha256(f"{group_key}|{status}|{','.join(sorted(episodes))}".encode()).hexdigest()


def episode(alert: Alert) -> str:
    """One firing episode of an alert: its fingerprint and when it (last) started firing. Every writer (intake,
    health) moves ``starts_at`` when an alert fires again after resolving, so a new episode is a new delivery."""
    return f"{alert.fingerprint}@{alert.starts_at.isoformat()}"


def groups_for(alert_ids: list[int]) -> dict[tuple[str, str], list[Alert]]:
    """(group key, status) → alerts to notify: every unsilenced firing alert of each touched group, and the
    touched alerts that resolved."""
    touched = list(Alert.objects.filter(pk__in=alert_ids))
    firing_groups = {a.group_key for a in touched if a.status == AlertStatus.FIRING}
    groups: dict[tuple[str, str], list[Alert]] = defaultdict(list)
    for alert in Alert.objects.filter(group_key__in=firing_groups, status=AlertStatus.FIRING,
                                      silenced_by__isnull=True).select_related("object").order_by("pk"):
        groups[(alert.group_key, AlertStatus.FIRING)].append(alert)
    for alert in touched:
        if alert.status == AlertStatus.RESOLVED and alert.silenced_by_id is None:
            groups[(alert.group_key, AlertStatus.RESOLVED)].append(alert)
    return groups


def notify(alert_ids: list[int]) -> int:
    """Deliver the groups of these alerts to every routed channel; returns the number of deliveries sent now."""
    sent = 0
    channels = list(Channel.objects.filter(enabled=True))
    for (group_key, status), members in groups_for(alert_ids).items():
        for channel in channels:
            routed = [a for a in members if channel.routes(a.namespace, a.severity)]
            if not routed or (status == AlertStatus.RESOLVED and not channel.send_resolved):
                continue
            key = _dedupe_key(group_key, status, [episode(a) for a in routed])
            delivery, _ = Delivery.objects.get_or_create(channel=channel, dedupe_key=key, defaults={
                "group_key": group_key[:500], "status": status, "alert_ids": [a.pk for a in routed]})
            try:
                sent += send(delivery.pk)
            except DeliveryFailed as exc:
                logger.warning("notification to %s failed: %s", channel, exc)
    return sent


def send(delivery_pk: int) -> int:
    """Attempt one delivery unless it was sent, skipped or gave up already (row lock: two workers never both send).
    Returns 1 if sent now. A failure is saved and audited (committed), a retry is scheduled while attempts remain,
    and DeliveryFailed is raised to the caller."""
    failure: DeliveryFailed | None = None
    with transaction.atomic():
        delivery = Delivery.objects.select_for_update().select_related("channel").get(pk=delivery_pk)
        if delivery.state in (DeliveryState.SENT, DeliveryState.SKIPPED) or delivery.attempts >= MAX_ATTEMPTS:
            return 0
        alerts: list[Alert] = []
        if not delivery.is_approval:
            alerts = _still_to_tell(delivery)
            if not alerts:
                delivery.state = DeliveryState.SKIPPED
                delivery.error = "not sent: every alert in it was silenced or ended before it could be delivered"
                delivery.save(update_fields=["state", "error"])
                AuditEvent.record("notification.skipped", delivery, after={"state": delivery.state},
                                  message=f"{delivery.channel}: {delivery.error}")
                return 0
        delivery.attempts += 1
        try:
            _deliver(delivery.channel, delivery, alerts)
        except DeliveryFailed as exc:
            failure = exc
            delivery.state, delivery.error = DeliveryState.FAILED, str(exc)[:2000]
            if delivery.attempts >= MAX_ATTEMPTS:
                delivery.error = f"{delivery.error} (gave up after {MAX_ATTEMPTS} attempts)"
            delivery.save(update_fields=["state", "error", "attempts"])
            AuditEvent.record("notification.failed", delivery, after={"state": delivery.state, "attempts":
                                                                      delivery.attempts},
                              message=f"attempt {delivery.attempts} to {delivery.channel} failed: {delivery.error}")
        else:
            delivery.state, delivery.error, delivery.sent_at = DeliveryState.SENT, "", timezone.now()
            delivery.save(update_fields=["state", "error", "attempts", "sent_at"])
            AuditEvent.record("notification.sent", delivery, after={
                "state": delivery.state, "attempts": delivery.attempts, "alerts": [a.pk for a in alerts]},
                              message=f"{delivery.get_status_display()} sent to {delivery.channel} "
                                      f"(attempt {delivery.attempts})")
    if failure is not None:
        # Outside the transaction: the failure above is committed whatever happens next.
        if delivery.attempts < MAX_ATTEMPTS:
            enqueue_delivery(delivery.pk, delay_seconds=retry_delay(delivery.attempts),
                             job_id=f"fluxplane-delivery-{delivery.pk}-{delivery.attempts + 1}")
        raise failure
    return 1


def retry_delay(attempts: int) -> int:
    """Seconds before attempt ``attempts + 1``: FLUXPLANE_NOTIFY_RETRY_SECONDS, doubling each time."""
    return settings.FLUXPLANE_NOTIFY_RETRY_SECONDS * 2 ** max(attempts - 1, 0)


def _still_to_tell(delivery: Delivery) -> list[Alert]:
    """The delivery's alerts that must still be told now: unsilenced, and still firing for a *firing* one."""
    alerts = Alert.objects.filter(pk__in=delivery.alert_ids, silenced_by__isnull=True).select_related(
        "object", "cluster").order_by("pk")
    if delivery.status == DeliveryKind.FIRING:
        alerts = alerts.filter(status=AlertStatus.FIRING)
    return list(alerts)


def alert_url(alert: Alert) -> str:
    return settings.FLUXPLANE_BASE_URL.rstrip("/") + reverse("admin:alerts_alert_change", args=[alert.pk])


def describe(alert: Alert) -> dict:
    return {
        "fingerprint": alert.fingerprint, "name": alert.name, "status": alert.status, "severity": alert.severity,
        "summary": alert.summary, "namespace": alert.namespace, "labels": alert.labels, "source": alert.source,
        "object": str(alert.object) if alert.object_id else None, "cluster": str(alert.cluster or ""),
        "startsAt": alert.starts_at.isoformat(), "endsAt": alert.ends_at.isoformat() if alert.ends_at else None,
        "url": alert_url(alert),
    }


def _line(alert: Alert) -> str:
    where = str(alert.object) if alert.object_id else f"unresolved ({alert.resolution})"
    return f"[{alert.severity or 'none'}] {alert.name} — {where}: {alert.summary}".strip()


def _deliver(channel: Channel, delivery: Delivery, alerts: list[Alert]) -> None:
    if delivery.is_approval:
        subject = delivery.subject or {}
        title, text = subject.get("title", "[Fluxplane] approval needed"), subject.get("text", "")
        if channel.kind == ChannelKind.EMAIL:
            _mail(channel, title, text)
        elif channel.kind == ChannelKind.SLACK:
            post_json(channel.url, {"text": f"{title}\n{text}"})
        else:
            post_json(channel.url, {"source": "fluxplane", "status": DeliveryKind.APPROVAL, "title": title,
                                    "text": text, **(subject.get("payload") or {})})
        return
    title = f"[Fluxplane] {delivery.status.upper()}: {len(alerts)} alert(s) — {alerts[0].name if alerts else ''}"
    if channel.kind == ChannelKind.EMAIL:
        _mail(channel, title, "\n".join(_line(a) + f"\n  {alert_url(a)}" for a in alerts))
        return
    if channel.kind == ChannelKind.SLACK:
        body = {"text": title + "\n" + "\n".join(f"• {_line(a)} <{alert_url(a)}|open>" for a in alerts)}
    else:
        body = {"source": "fluxplane", "status": delivery.status, "groupKey": delivery.group_key,
                "alerts": [describe(a) for a in alerts]}
    post_json(channel.url, body)


def _mail(channel: Channel, title: str, body: str) -> None:
    recipients = channel.recipients()
    if not recipients:
        raise DeliveryFailed("the channel has no email address")
    try:
        send_mail(title, body, settings.DEFAULT_FROM_EMAIL, recipients)
    except OSError as exc:
        raise DeliveryFailed(f"mail server: {exc}") from None


def post_json(url: str, body: dict) -> None:
    """POST JSON to a channel URL; any non-2xx answer or network error is a DeliveryFailed."""
    if not url:
        raise DeliveryFailed("the channel has no URL")
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "User-Agent": "Fluxplane"})
    try:
        with urllib.request.urlopen(request, timeout=settings.FLUXPLANE_NOTIFY_TIMEOUT_SECONDS) as response:  # noqa: S310
            response.read()
    except urllib.error.HTTPError as exc:
        raise DeliveryFailed(f"{url} answered {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise DeliveryFailed(f"{url} unreachable: {getattr(exc, 'reason', exc)}") from None


def retry_failed() -> int:
    """Send again deliveries that failed or were never attempted (at most MAX_ATTEMPTS attempts each)."""
    sent = 0
    for pk in Delivery.objects.filter(state__in=[DeliveryState.FAILED, DeliveryState.PENDING],
                                      attempts__lt=MAX_ATTEMPTS).values_list("pk", flat=True):
        try:
            sent += send(pk)
        except DeliveryFailed:
            continue
    return sent
