"""List filters for mirrored objects."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from graph.admin.listing import list_choices


class NamespaceFilter(admin.SimpleListFilter):
    """Namespaces that actually have objects of this list and the user may see (listing.list_choices)."""

    title = _("namespace")
    parameter_name = "namespace"

    def lookups(self, request, model_admin):
        return [(ns, ns or "(cluster-scoped)") for ns in list_choices(request, model_admin).namespaces]

    def queryset(self, request, queryset):
        if self.value() is not None:
            return queryset.filter(namespace=self.value())
        return queryset


class KindFilter(admin.SimpleListFilter):
    """Kinds that have objects of this list and the user may see (listing.list_choices)."""

    title = _("kind")
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        return [(k, k) for k in list_choices(request, model_admin).kinds]

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
