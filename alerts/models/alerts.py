"""Alerts as Fluxplane keeps them: one row per (source, fingerprint), resolved to a mirrored object when possible."""

from __future__ import annotations

from django.db import models

from alerts.choices import AlertSource, AlertStatus
from controlplane.models import Cluster
from graph.models import KubeObject


class Alert(models.Model):
    """One alert from Alertmanager, a Flux event or a health transition, de-duplicated by fingerprint.

    ``object`` is the mirrored object its labels name (pods not in the mirror are walked up to their owners by
    name); ``object`` empty means *unresolved*: kept and shown as such. ``silenced_by`` is the Fluxplane silence
    that covers it; silenced alerts are kept, never dropped. ``group_key`` groups alerts for notifications
    (Alertmanager's groupKey, or one group per object for Flux and health alerts).
    """

    source = models.CharField(max_length=16, choices=AlertSource.choices)
    fingerprint = models.CharField(max_length=128)
    status = models.CharField(max_length=16, choices=AlertStatus.choices, default=AlertStatus.FIRING, db_index=True)
    name = models.CharField(max_length=255, help_text="alertname, Flux reason or health reason")
    severity = models.CharField(max_length=32, blank=True, db_index=True)
    summary = models.TextField(blank=True)
    labels = models.JSONField(default=dict, blank=True)
    annotations = models.JSONField(default=dict, blank=True)
    namespace = models.CharField(max_length=253, blank=True, db_index=True)
    cluster = models.ForeignKey(Cluster, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts")
    object = models.ForeignKey(KubeObject, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts")
    resolution = models.CharField(max_length=300, blank=True, help_text="how the labels were resolved, or why not")
    silenced_by = models.ForeignKey("alerts.Silence", null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="silenced_alerts")
    group_key = models.CharField(max_length=500, blank=True, db_index=True)
    generator_url = models.URLField(max_length=1000, blank=True)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True)
    first_received_at = models.DateTimeField(auto_now_add=True)
    last_received_at = models.DateTimeField()
    received_count = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-last_received_at"]
        constraints = [models.UniqueConstraint(fields=["source", "fingerprint"], name="alerts_alert_fingerprint")]
        indexes = [models.Index(fields=["status", "object"]), models.Index(fields=["cluster", "source", "status"])]

    def __str__(self) -> str:
        where = f" on {self.object}" if self.object_id else ""
        return f"{self.name}{where} ({self.status})"

    @property
    def is_silenced(self) -> bool:
        return self.silenced_by_id is not None
