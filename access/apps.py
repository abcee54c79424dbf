from django.apps import AppConfig


class AccessConfig(AppConfig):
    """Permission rules (written once) and just-in-time namespace access."""

    name = "access"
    verbose_name = "Access"

    def ready(self) -> None:
        # Register the "Request namespace access" playbook and the JIT admin (access.jit).
        from access.jit import admin, playbook  # noqa: F401
