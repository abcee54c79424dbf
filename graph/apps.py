from django.apps import AppConfig


class GraphConfig(AppConfig):
    """Mirrors of Flux resources and the objects they create, their health, and the Graphviz graph."""

    name = "graph"
    verbose_name = "Flux graph"

    def ready(self) -> None:
        # Register the sync runner and the dashboard panel.
        from graph import jobs, livepanels, panels  # noqa: F401
