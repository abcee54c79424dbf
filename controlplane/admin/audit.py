"""Read-only audit log with filters, search and CSV export."""

from __future__ import annotations

import csv
import json

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone
from django.utils.html import format_html

from controlplane.live import LiveChangelistMixin
from controlplane.models import AuditEvent

_CSV_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value) -> str:
    """Neutralise spreadsheet formulas (CSV injection) in exported cells."""
    text = "" if value is None else value if isinstance(value, str) else json.dumps(value, default=str)
    return "'" + text if text.startswith(_CSV_FORMULA_START) else text


class _Echo:
    """A file-like object whose write returns the line, for streaming CSV."""

    def write(self, value: str) -> str:
        return value


EXPORT_COLUMNS = [
    "time", "actor_username", "context", "request_id", "verb", "target_type", "target_id", "target_repr",
    "before", "after", "message",
]


@admin.register(AuditEvent)
class AuditEventAdmin(LiveChangelistMixin, admin.ModelAdmin):
    """Append-only: nobody (superusers included) can add, change or delete events through the admin."""

    # The request id is searchable and on the event's page; in the list it would push the message off the screen.
    list_display = ["time", "actor_username", "verb", "target_short", "message_short", "context"]
    list_filter = ["context", "verb", ("actor", admin.RelatedOnlyFieldListFilter), "time", "target_type"]
    search_fields = ["actor_username", "verb", "target_repr", "message", "request_id"]
    date_hierarchy = "time"
    list_select_related = ["target_type"]
    actions = ["export_csv"]
    readonly_fields = [f.name for f in AuditEvent._meta.fields if f.name != "id"]
    show_full_result_count = False  # a COUNT(*) over millions of rows on every page is not worth it

    @admin.display(description="message")
    def message_short(self, obj: AuditEvent) -> str:
        return format_html('<span class="fp-clip" title="{}">{}</span>', obj.message, obj.message)

    @admin.display(description="target", ordering="target_repr")
    def target_short(self, obj: AuditEvent) -> str:
        return format_html('<span class="fp-clip fp-clip-short" title="{}">{}</span>', obj.target_repr, obj.target_repr)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_export_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("controlplane.export_auditevent")

    def get_actions(self, request: HttpRequest):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @admin.action(description="Export selected events as CSV", permissions=["export"])
    def export_csv(self, request: HttpRequest, queryset):
        limit = settings.FLUXPLANE_AUDIT_EXPORT_LIMIT
        rows = queryset.select_related("target_type").order_by("time", "id")[:limit]
        writer = csv.writer(_Echo())

        def lines():
            yield writer.writerow(EXPORT_COLUMNS)
            for event in rows.iterator(chunk_size=2000):
                values = {name: getattr(event, name) for name in EXPORT_COLUMNS}
                values["time"] = event.time.isoformat()
                values["target_type"] = event.target_type.model if event.target_type else ""
                yield writer.writerow([csv_safe(values[name]) for name in EXPORT_COLUMNS])

        AuditEvent.record("audit.exported", message=f"exported {min(queryset.count(), limit)} audit events")
        response = StreamingHttpResponse(lines(), content_type="text/csv")
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        response["Content-Disposition"] = f'attachment; filename="fluxplane-audit-{stamp}.csv"'
        return response
