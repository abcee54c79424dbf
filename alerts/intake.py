"""Turning payloads into Alert rows: Alertmanager webhooks (version 4) and Flux notification-controller events.

Parsing raises :class:`PayloadError` with a reason the endpoint returns as a 400. Storing is set-based: one query
for the existing rows of a batch, one bulk resolution of labels to objects, bulk create/update, one re-match of
silences; unsilenced alerts whose state changed are handed to the notification job.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from alerts import audit, resolve
from alerts.choices import AlertSource, AlertStatus
from alerts.enqueue import enqueue_notify
from alerts.models import Alert, coverage

# Alertmanager sends this for alerts that have not ended.
_ZERO_TIME = "0001-01-01T00:00:00Z"


class PayloadError(ValueError):
    """A payload that cannot be accepted; the message says why (returned with HTTP 400)."""


@dataclass
class AlertData:
    """One alert as parsed from a payload, before it is stored."""

    fingerprint: str
    status: str
    name: str
    severity: str
    summary: str
    labels: dict
    annotations: dict
    starts_at: datetime
    ends_at: datetime | None
    group_key: str
    generator_url: str = ""
    cluster_hint: str = ""
    kind: str = ""
    namespace: str = ""
    object_name: str = ""
    uid: str = ""


@dataclass
class Ingested:
    """What a batch did: the stored alert ids and those to notify."""

    alert_ids: list[int] = field(default_factory=list)
    notify_ids: list[int] = field(default_factory=list)


def _time(value, what: str) -> datetime | None:
    if value in (None, "", _ZERO_TIME):
        return None
    if not isinstance(value, str):
        raise PayloadError(f"{what} must be an RFC 3339 time string")
    parsed = parse_datetime(value)
    if parsed is None:
        raise PayloadError(f"{what} {value!r} is not an RFC 3339 time")
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, timezone.UTC)
    if parsed.year < 1970:
        return None
    return parsed


def _str_dict(value, what: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise PayloadError(f"{what} must be an object of strings")
    return {k: v if isinstance(v, str) else str(v) for k, v in value.items()}


def parse_alertmanager(payload) -> list[AlertData]:
    """Validate an Alertmanager webhook payload (version 4) and return its alerts."""
    if not isinstance(payload, dict):
        raise PayloadError("the body must be a JSON object")
    if str(payload.get("version")) != "4":
        raise PayloadError(f"unsupported payload version {payload.get('version')!r}: Alertmanager sends version 4")
    alerts = payload.get("alerts")
    if not isinstance(alerts, list):
        raise PayloadError("'alerts' must be a list")
    group_key = payload.get("groupKey") or ""
    if not isinstance(group_key, str):
        raise PayloadError("'groupKey' must be a string")
    result = []
    for position, item in enumerate(alerts):
        if not isinstance(item, dict):
            raise PayloadError(f"alerts[{position}] must be an object")
        labels = _str_dict(item.get("labels"), f"alerts[{position}].labels")
        annotations = _str_dict(item.get("annotations"), f"alerts[{position}].annotations")
        status = item.get("status")
        if status not in (AlertStatus.FIRING, AlertStatus.RESOLVED):
            raise PayloadError(f"alerts[{position}].status must be 'firing' or 'resolved'")
        starts_at = _time(item.get("startsAt"), f"alerts[{position}].startsAt") or timezone.now()
        fingerprint = item.get("fingerprint") or hashlib.sha256(
            repr(sorted(labels.items())).encode()).hexdigest()[:16]
        if not isinstance(fingerprint, str) or len(fingerprint) > 128:
            raise PayloadError(f"alerts[{position}].fingerprint must be a short string")
        result.append(AlertData(
            fingerprint=fingerprint, status=status, name=labels.get("alertname", "") or "alert",
            severity=labels.get("severity", ""),
            summary=annotations.get("summary") or annotations.get("description") or annotations.get("message", ""),
            labels=labels, annotations=annotations, starts_at=starts_at,
            ends_at=_time(item.get("endsAt"), f"alerts[{position}].endsAt") if status == "resolved" else None,
            group_key=group_key or f"alertmanager:{fingerprint}",
            generator_url=str(item.get("generatorURL") or "")[:1000],
        ))
    return result


# Reasons of info events that mean "it works again": they resolve the object's Flux alert.
FLUX_RECOVERY_REASONS = {
    "ReconciliationSucceeded", "Succeeded", "InstallSucceeded", "UpgradeSucceeded", "TestSucceeded",
    "RollbackSucceeded", "UninstallSucceeded", "Progressing", "ArtifactUpToDate", "NewArtifact", "ChartPullSucceeded",
    "ChartPackageSucceeded", "HealthCheckSucceeded",
}


def parse_flux_event(payload, cluster_hint: str = "") -> AlertData:
    """Validate a notification-controller event (generic provider) and turn it into one alert per object.

    An ``error`` event fires the object's Flux alert; an ``info`` event with a success reason resolves it; other
    info events are recorded on the alert if one exists (see :func:`store`).
    """
    if not isinstance(payload, dict):
        raise PayloadError("the body must be a JSON object")
    involved = payload.get("involvedObject")
    if not isinstance(involved, dict):
        raise PayloadError("'involvedObject' must be an object")
    kind, name = involved.get("kind"), involved.get("name")
    namespace = involved.get("namespace") or ""
    if not isinstance(kind, str) or not kind or not isinstance(name, str) or not name:
        raise PayloadError("'involvedObject' needs 'kind' and 'name'")
    if not isinstance(namespace, str):
        raise PayloadError("'involvedObject.namespace' must be a string")
    severity = payload.get("severity")
    if severity not in ("info", "error", "trace"):
        raise PayloadError("'severity' must be 'info' or 'error'")
    reason, message = payload.get("reason", ""), payload.get("message", "")
    if not isinstance(reason, str) or not isinstance(message, str):
        raise PayloadError("'reason' and 'message' must be strings")
    metadata = _str_dict(payload.get("metadata"), "'metadata'")
    timestamp = _time(payload.get("timestamp"), "'timestamp'") or timezone.now()
    cluster = cluster_hint or metadata.get("cluster", "")
    identity = f"{cluster}|{involved.get('apiVersion', '')}|{kind}|{namespace}|{name}"
    labels = {"alertname": f"Flux{kind}{'Failed' if severity == 'error' else 'Event'}", "kind": kind,
              "namespace": namespace, "name": name, "reason": reason, "severity": severity,
              "reporting_controller": str(payload.get("reportingController", "")), **metadata}
    status = AlertStatus.FIRING if severity == "error" else (
        AlertStatus.RESOLVED if reason in FLUX_RECOVERY_REASONS else "info")
    return AlertData(
        fingerprint="flux:" + hashlib.sha256(identity.encode()).hexdigest()[:32], status=status,
        name=reason or labels["alertname"], severity="error" if severity == "error" else "info", summary=message,
        labels=labels, annotations={"message": message}, starts_at=timestamp,
        ends_at=timestamp if status == AlertStatus.RESOLVED else None,
        group_key=f"flux:{cluster}:{kind}/{namespace}/{name}", cluster_hint=cluster, kind=kind, namespace=namespace,
        object_name=name, uid=str(involved.get("uid") or ""),
    )


def store(source: str, items: list[AlertData]) -> Ingested:
    """Upsert a batch of alerts, resolve them to objects, match silences; returns ids and ids to notify.

    Flux ``info`` events that are not a recovery only refresh an existing alert; they never create one.
    """
    now = timezone.now()
    result = Ingested()
    if not items:
        return result
    with transaction.atomic():
        existing = {a.fingerprint: a for a in Alert.objects.select_for_update().filter(
            source=source, fingerprint__in=[i.fingerprint for i in items])}
        clusters = [resolve.cluster_for(i.labels, i.cluster_hint) for i in items]
        resolutions = resolve.resolve_many([
            (c.pk if c else None, resolve.candidates(i.labels, i.kind, i.namespace, i.object_name), i.uid)
            for i, c in zip(items, clusters, strict=True)])
        to_create, to_update, changed = [], [], set()
        before: dict[str, str | None] = {}
        for item, cluster, where in zip(items, clusters, resolutions, strict=True):
            alert = existing.get(item.fingerprint)
            status = item.status
            if status == "info":  # a plain Flux info event: note it on a firing alert, nothing else
                if alert is None:
                    continue
                status = alert.status
            if alert is None:
                if status == AlertStatus.RESOLVED and source == AlertSource.FLUX:
                    continue  # recovery of something that never failed here
                alert = Alert(source=source, fingerprint=item.fingerprint, received_count=0)
                to_create.append(alert)
            else:
                to_update.append(alert)
            if alert.status != status or alert.pk is None:
                changed.add(item.fingerprint)
                before[item.fingerprint] = None if alert.pk is None else alert.status
            if status == AlertStatus.FIRING and alert.status == AlertStatus.RESOLVED:
                alert.ends_at = None
            alert.status = status
            alert.name = item.name[:255]
            alert.severity = item.severity[:32]
            alert.summary = item.summary
            alert.labels = item.labels
            alert.annotations = item.annotations
            alert.group_key = item.group_key[:500]
            alert.generator_url = item.generator_url
            alert.starts_at = item.starts_at if (alert.pk is None or item.fingerprint in changed) else alert.starts_at
            alert.ends_at = item.ends_at if status == AlertStatus.RESOLVED else None
            if status == AlertStatus.RESOLVED and alert.ends_at is None:
                alert.ends_at = now
            alert.cluster = cluster
            alert.object_id = where.object_id
            alert.namespace = (where.namespace or item.namespace or item.labels.get("namespace", ""))[:253]
            alert.resolution = where.note[:300]
            alert.last_received_at = now
            alert.received_count += 1
        Alert.objects.bulk_create(to_create, batch_size=500)
        Alert.objects.bulk_update(to_update, [
            "status", "name", "severity", "summary", "labels", "annotations", "group_key", "generator_url",
            "starts_at", "ends_at", "cluster", "object", "namespace", "resolution", "last_received_at",
            "received_count"], batch_size=500)
        stored = Alert.objects.filter(source=source, fingerprint__in=[i.fingerprint for i in items])
        for alert in stored.filter(fingerprint__in=changed).select_related("object"):
            audit.state_changed(alert, before[alert.fingerprint])
        coverage.rematch(stored)
        for alert_id, fingerprint, silenced in stored.values_list("pk", "fingerprint", "silenced_by_id"):
            result.alert_ids.append(alert_id)
            if fingerprint in changed and silenced is None:
                result.notify_ids.append(alert_id)
    return result


def ingest_alertmanager(payload) -> Ingested:
    """Parse and store an Alertmanager webhook payload; notifications are enqueued on commit."""

    result = store(AlertSource.ALERTMANAGER, parse_alertmanager(payload))
    enqueue_notify(result.notify_ids)
    return result


def ingest_flux_event(payload, cluster_hint: str = "") -> Ingested:
    """Parse and store one Flux event; notifications are enqueued on commit."""

    result = store(AlertSource.FLUX, [parse_flux_event(payload, cluster_hint)])
    enqueue_notify(result.notify_ids)
    return result
