from django.apps import AppConfig


class AccessConfig(AppConfig):
    """Permission rules (written once), object grants, and the records and rules of just-in-time access."""

    name = "access"
    verbose_name = "Access"

