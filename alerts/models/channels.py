"""Where alerts and silences go: notification channels (with their deliveries) and Alertmanager connections."""

from __future__ import annotations

import os

from django.db import models

from alerts.choices import ChannelKind, DeliveryKind, DeliveryState


class AlertmanagerConnection(models.Model):
    """An Alertmanager (API v2) that Fluxplane pushes its silences to when ``push_silences`` is on.

    The bearer token, if Alertmanager sits behind an authenticating proxy, is referenced by environment variable
    name and never stored.
    """

    name = models.CharField(max_length=100, unique=True)
    url = models.URLField(help_text="base URL, e.g. http://alertmanager:9093")
    push_silences = models.BooleanField(default=True)
    token_env = models.CharField(max_length=100, blank=True, help_text="environment variable holding a bearer token")

    class Meta:
        verbose_name = "Alertmanager connection"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def client(self):
        """The adapter for this connection (alerts.alertmanager)."""
        from django.conf import settings

        from alerts.alertmanager import AlertmanagerClient

        token = os.environ.get(self.token_env, "") if self.token_env else ""
        return AlertmanagerClient(self.url, token=token or None,
                                  timeout=settings.FLUXPLANE_ALERTMANAGER_TIMEOUT_SECONDS)


class Channel(models.Model):
    """A notification channel: unsilenced alerts whose namespace and severity match go here, once per group state;
    with ``approval_requests``, requests waiting for approval on objects in its namespaces too.

    Empty ``namespaces`` / ``severities`` match everything; both are comma-separated lists.
    """

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    url = models.URLField(max_length=1000, blank=True, help_text="webhook and Slack channels")
    emails = models.CharField(max_length=1000, blank=True, help_text="email channels: addresses, comma separated")
    namespaces = models.CharField(max_length=1000, blank=True, help_text="comma separated; empty: every namespace")
    severities = models.CharField(max_length=200, blank=True, help_text="comma separated; empty: every severity")
    send_resolved = models.BooleanField(default=True)
    approval_requests = models.BooleanField(
        default=True, help_text="also send requests waiting for approval on objects in these namespaces (the "
                                "severities do not apply to them)")
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def _split(value: str) -> set[str]:
        return {item.strip() for item in value.split(",") if item.strip()}

    def routes(self, namespace: str, severity: str) -> bool:
        """Whether an alert of this namespace and severity goes to this channel."""
        namespaces, severities = self._split(self.namespaces), self._split(self.severities)
        return (not namespaces or namespace in namespaces) and (not severities or severity in severities)

    def routes_approval(self, namespace: str) -> bool:
        """Whether an approval request on an object in this namespace goes to this channel."""
        namespaces = self._split(self.namespaces)
        return self.enabled and self.approval_requests and (not namespaces or namespace in namespaces)

    def recipients(self) -> list[str]:
        return sorted(self._split(self.emails))


class Delivery(models.Model):
    """One notification to one channel: an alert group state (``alert_ids``) or an approval request (``subject``,
    the message as composed when the request was made); ``dedupe_key`` makes it happen once. Each attempt is
    counted and audited; a failure keeps its error and is retried up to alerts.notify.MAX_ATTEMPTS times."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="deliveries")
    dedupe_key = models.CharField(max_length=64)
    group_key = models.CharField(max_length=500)
    status = models.CharField(max_length=16, choices=DeliveryKind.choices, help_text="firing, resolved or approval")
    alert_ids = models.JSONField(default=list)
    subject = models.JSONField(default=dict, blank=True, help_text="approval requests: title, text, link, run")
    state = models.CharField(max_length=16, choices=DeliveryState.choices, default=DeliveryState.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "deliveries"
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["channel", "dedupe_key"], name="alerts_delivery_once")]

    def __str__(self) -> str:
        return f"{self.channel} {self.status} {self.group_key[:60]} ({self.state})"

    @property
    def is_approval(self) -> bool:
        return self.status == DeliveryKind.APPROVAL
