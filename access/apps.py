from django.apps import AppConfig


class AccessConfig(AppConfig):
    """Permission rules (written once) and just-in-time namespace access."""

    name = "access"
    verbose_name = "Access"
