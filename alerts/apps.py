from django.apps import AppConfig


class AlertsConfig(AppConfig):
    """Alert intake, silences by Flux hierarchy, notification channels."""

    name = "alerts"
    verbose_name = "Alerts and silences"
