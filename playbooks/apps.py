from django.apps import AppConfig


class PlaybooksConfig(AppConfig):
    """Playbook library (exec and GitOps), runs and approvals."""

    name = "playbooks"
    verbose_name = "Playbooks"

    def ready(self) -> None:
        # Register the playbooks and their job runner.
        from playbooks import exec_playbooks, runners  # noqa: F401
        from playbooks.changes import create, library  # noqa: F401
