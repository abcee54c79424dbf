from django.apps import AppConfig


class PlaybooksConfig(AppConfig):
    """Playbook library (exec and GitOps), runs and approvals."""

    name = "playbooks"
    verbose_name = "Playbooks"

    def ready(self) -> None:
        # Register the playbooks, their job runner and what they add to the dashboard and object pages.
        from playbooks import exec_playbooks, panels, runners  # noqa: F401
        from playbooks.changes import create, library, migrate  # noqa: F401
        from playbooks.notify import on_approval_requested
        from playbooks.signals import approval_requested

        approval_requested.connect(on_approval_requested, dispatch_uid="playbooks.notify")
