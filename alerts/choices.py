"""Choice lists of the alerts app."""

from django.db import models


class AlertSource(models.TextChoices):
    """Where an alert came from."""

    ALERTMANAGER = "alertmanager", "Alertmanager"
    FLUX = "flux", "Flux event"
    HEALTH = "health", "health transition"


class AlertStatus(models.TextChoices):
    """``pending`` is a health alert waiting out FLUXPLANE_HEALTH_ALERT_AFTER_SECONDS; it is not shown as firing."""

    PENDING = "pending", "pending"
    FIRING = "firing", "firing"
    RESOLVED = "resolved", "resolved"


class ChannelKind(models.TextChoices):
    """How a notification channel delivers."""

    WEBHOOK = "webhook", "generic webhook (JSON)"
    SLACK = "slack", "Slack-compatible webhook"
    EMAIL = "email", "email"


class PushState(models.TextChoices):
    """State of one Alertmanager counterpart of a Fluxplane silence."""

    PENDING = "pending", "pending"
    PUSHED = "pushed", "pushed"
    FAILED = "failed", "failed"
    EXPIRED = "expired", "expired"


class DeliveryState(models.TextChoices):
    """State of one notification to one channel. *skipped*: every alert it was about was silenced (or ended)
    before it could be delivered, so it was not sent."""

    PENDING = "pending", "pending"
    SENT = "sent", "sent"
    FAILED = "failed", "failed"
    SKIPPED = "skipped", "skipped"


class DeliveryKind(models.TextChoices):
    """What a delivery tells: an alert group's state, or a request waiting for approval."""

    FIRING = "firing", "firing"
    RESOLVED = "resolved", "resolved"
    APPROVAL = "approval", "approval request"


SEVERITIES = ("critical", "error", "warning", "info", "none")
