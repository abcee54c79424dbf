from django.apps import AppConfig


class PlaybooksConfig(AppConfig):
    """Playbook library (exec and GitOps), runs and approvals."""

    name = "playbooks"
    verbose_name = "Playbooks"
