"""List filters for mirrored objects."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from graph.admin.listing import cached

_SIDEBAR = "_fluxplane_sidebar"


def sidebar_choices(request, model_admin) -> tuple[list[str], list[str]]:
    """(namespaces, kinds) that have objects of this list the user may see: one DISTINCT query over (namespace, kind)
    for both filters (a pass over the list's rows each, where two would read them twice), cached per change of the
    mirror (graph.admin.listing). At most 500 namespaces are offered."""
    memo = request.__dict__.setdefault(_SIDEBAR, {})  # both filters of one list ask: one look-up per request
    found = memo.get(model_admin.opts.label)
    if found is None:
        qs = model_admin.get_queryset(request).order_by().values_list("namespace", "kind").distinct()

        def compute():
            pairs = list(qs)
            return sorted({ns for ns, _kind in pairs})[:500], sorted({kind for _ns, kind in pairs})

        found = cached(request, "sidebar", qs, compute)
        memo[model_admin.opts.label] = found
    return found


class NamespaceFilter(admin.SimpleListFilter):
    """Namespaces that actually have objects of this list and the user may see (sidebar_choices)."""

    title = _("namespace")
    parameter_name = "namespace"

    def lookups(self, request, model_admin):
        return [(ns, ns or "(cluster-scoped)") for ns in sidebar_choices(request, model_admin)[0]]

    def queryset(self, request, queryset):
        if self.value() is not None:
            return queryset.filter(namespace=self.value())
        return queryset


class KindFilter(admin.SimpleListFilter):
    """Kinds that have objects of this list and the user may see (sidebar_choices)."""

    title = _("kind")
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        return [(k, k) for k in sidebar_choices(request, model_admin)[1]]

    def queryset(self, request, queryset):
        return queryset.filter(kind=self.value()) if self.value() else queryset


class PresenceFilter(admin.SimpleListFilter):
    """Live objects by default; tombstones (deleted from the cluster) on request."""

    title = _("presence")
    parameter_name = "presence"

    def lookups(self, request, model_admin):
        return [("deleted", _("deleted from the cluster")), ("all", _("all"))]

    def choices(self, changelist):
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": _("in the cluster"),
        }
        for value, label in self.lookup_choices:
            yield {
                "selected": self.value() == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }

    def queryset(self, request, queryset):
        if self.value() == "deleted":
            return queryset.filter(deleted_at__isnull=False)
        if self.value() == "all":
            return queryset
        return queryset.filter(deleted_at__isnull=True)
