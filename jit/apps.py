from django.apps import AppConfig


class JitConfig(AppConfig):
    """Just-in-time namespace access: the request playbook, the RoleBinding files in git, the expiry sweep and the
    admin pages. Its records (AccessGrant) and rules live in ``access``, below playbooks."""

    name = "jit"
    verbose_name = "Just-in-time access"

    def ready(self) -> None:
        # Register the "Request namespace access" playbook and the dashboard panel.
        from jit import panels, playbook  # noqa: F401
