"""Alerts from health transitions, evaluated after every sync (graph.signals.mirror_synced calls :func:`evaluate`).

A mirrored Flux resource whose own health is degraded or failed gets a *pending* health alert; once it has been
unhealthy for FLUXPLANE_HEALTH_ALERT_AFTER_SECONDS the alert fires; when the resource is healthy again (or gone)
the alert resolves, and a pending one that never fired is dropped. Everything is set-based: a handful of queries
per cluster whatever the number of objects. Silence coverage is refreshed here too, because a sync brings new
descendants (new Pods of a covered Deployment).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from alerts import audit
from alerts.choices import AlertSource, AlertStatus
from alerts.enqueue import enqueue_notify
from alerts.models import Alert, Silence, coverage
from controlplane.models import AuditEvent, Cluster
from graph.choices import Family, HealthChoices
from graph.models import KubeObject

logger = logging.getLogger(__name__)

UNHEALTHY = (HealthChoices.DEGRADED, HealthChoices.FAILED)
FLUX_FAMILIES = (Family.KUSTOMIZATION, Family.HELMRELEASE, Family.SOURCE, Family.NOTIFICATION, Family.IMAGE)


def fingerprint(cluster_pk: int, uid: str) -> str:
    return f"health:{cluster_pk}:{uid}"


def on_mirror_synced(sender, cluster: Cluster, **kwargs) -> None:
    """Receiver of graph.signals.mirror_synced (connected in AlertsConfig.ready)."""
    evaluate(cluster)


def evaluate(cluster: Cluster) -> dict[str, int]:
    """Open, fire and resolve the cluster's health alerts, refresh silence coverage. Never raises into the sync."""
    try:
        with transaction.atomic():
            counts = _evaluate(cluster)
    except Exception:  # the mirror is written already; an alerting bug must not fail the sync
        logger.exception("health alert evaluation failed for cluster %s", cluster.name)
        return {}
    return counts


def _evaluate(cluster: Cluster) -> dict[str, int]:

    now = timezone.now()
    after = timezone.timedelta(seconds=settings.FLUXPLANE_HEALTH_ALERT_AFTER_SECONDS)
    unhealthy = {
        fingerprint(cluster.pk, row[1]): row for row in KubeObject.objects.filter(
            cluster=cluster, deleted_at__isnull=True, family__in=FLUX_FAMILIES, health__in=UNHEALTHY,
        ).values_list("pk", "uid", "kind", "namespace", "name", "health", "health_reason", "health_message")
    }
    current = {a.fingerprint: a for a in Alert.objects.select_for_update().filter(
        cluster=cluster, source=AlertSource.HEALTH)}
    counts = {"pending": 0, "fired": 0, "resolved": 0}
    create, update, fired, resolved, dropped = [], [], [], [], []
    transitions: dict[str, str | None] = {}  # fingerprint → the status it left (None: new)
    for key, (pk, _uid, kind, namespace, name, health, reason, message) in unhealthy.items():
        alert = current.get(key)
        fields = {"name": f"Flux{kind}Unhealthy", "severity": "critical" if health == HealthChoices.FAILED else
                  "warning", "summary": f"{kind} {namespace}/{name} is {health}: {reason} {message}".strip(),
                  "labels": {"alertname": f"Flux{kind}Unhealthy", "kind": kind, "namespace": namespace, "name": name,
                             "health": health, "reason": reason, "cluster": cluster.name},
                  "namespace": namespace, "object_id": pk, "resolution": "health of the mirrored object",
                  "group_key": f"health:{cluster.name}:{kind}/{namespace}/{name}", "last_received_at": now}
        if alert is None or alert.status == AlertStatus.RESOLVED:
            transitions[key] = None if alert is None else alert.status
            alert = alert or Alert(source=AlertSource.HEALTH, fingerprint=key, cluster=cluster, received_count=0)
            alert.status, alert.starts_at, alert.ends_at = AlertStatus.PENDING, now, None
            counts["pending"] += 1
        for name_, value in fields.items():
            setattr(alert, name_, value)
        alert.received_count += 1
        if alert.status == AlertStatus.PENDING and now - alert.starts_at >= after:
            transitions.setdefault(key, AlertStatus.PENDING)
            alert.status = AlertStatus.FIRING
            fired.append(key)
        (update if alert.pk else create).append(alert)
    for key, alert in current.items():
        if key in unhealthy or alert.status == AlertStatus.RESOLVED:
            continue
        if alert.status == AlertStatus.PENDING:
            dropped.append(alert.pk)  # never fired: nothing to tell anyone
        else:
            transitions[key] = alert.status
            alert.status, alert.ends_at, alert.last_received_at = AlertStatus.RESOLVED, now, now
            update.append(alert)
            resolved.append(key)
    Alert.objects.bulk_create(create, batch_size=500)
    Alert.objects.bulk_update(update, ["status", "starts_at", "ends_at", "name", "severity", "summary", "labels",
                                       "namespace", "object", "resolution", "group_key", "last_received_at",
                                       "received_count"], batch_size=500)
    for alert in Alert.objects.filter(cluster=cluster, source=AlertSource.HEALTH, fingerprint__in=transitions):
        audit.state_changed(alert, transitions[alert.fingerprint])
    for alert in Alert.objects.filter(pk__in=dropped):
        AuditEvent.record("alert.dropped", alert, before={"status": alert.status},
                          message=f"{alert.name}: healthy again before it fired")
    Alert.objects.filter(pk__in=dropped).delete()
    counts.update(fired=len(fired), resolved=len(resolved))

    # New descendants (Pods of a rollout) join the silences that cover their ancestors.
    live = list(Silence.objects.filter(cluster=cluster, expired_at__isnull=True, ends_at__gt=now))
    coverage.refresh_coverage(live)
    coverage.rematch(Alert.objects.filter(cluster=cluster, status__in=[AlertStatus.FIRING, AlertStatus.PENDING]))
    changed = fired + resolved
    if changed:
        enqueue_notify(list(Alert.objects.filter(source=AlertSource.HEALTH, fingerprint__in=changed,
                                                 silenced_by__isnull=True).values_list("pk", flat=True)))
    return counts
