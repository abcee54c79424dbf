from django.apps import AppConfig


class AlertsConfig(AppConfig):
    """Alert intake, silences by Flux hierarchy, notification channels."""

    name = "alerts"
    verbose_name = "Alerts and silences"

    def ready(self) -> None:
        from alerts import health, panels  # noqa: F401  (dashboard and object panels)
        from graph.signals import mirror_synced

        # Health transitions become alerts after every sync of a cluster's mirror.
        mirror_synced.connect(health.on_mirror_synced, dispatch_uid="alerts.health")
