"""Admin for the mirrored Flux graph: one read-only list per kind family, detail pages, the graph view."""

from graph.admin import objects  # noqa: F401  (registers the ModelAdmins)
