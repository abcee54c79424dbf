"""Models of the alerts app: alerts, silences (with their covered objects and Alertmanager counterparts),
notification channels and deliveries."""

from alerts.models.alerts import Alert
from alerts.models.channels import AlertmanagerConnection, Channel, Delivery
from alerts.models.coverage import SilenceObject
from alerts.models.silences import PushedSilence, Silence

__all__ = ["Alert", "AlertmanagerConnection", "Channel", "Delivery", "PushedSilence", "Silence", "SilenceObject"]
