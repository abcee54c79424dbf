from django.apps import AppConfig


class ControlplaneConfig(AppConfig):
    """The core app: connections, audit log, runs and the job-runner base."""

    name = "controlplane"
    verbose_name = "Fluxplane core"

    def ready(self) -> None:
        # Registers the built-in job runners so a worker can resolve them by name.
        from controlplane import jobs  # noqa: F401
