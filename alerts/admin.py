"""Admin for alerts (firing/resolved/silenced, by resource), silences (active/expired; created from an object's
page with a preview), notification channels, deliveries and Alertmanager connections.

Every view checks access.rules on the server: who sees which alerts follows who may view their objects; creating,
changing and ending a silence needs ``silence`` on its target or an ancestor.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from access import rules
from alerts.forms import SilenceChangeForm, SilenceForm
from alerts.matchers import format_matchers
from alerts.models import Alert, AlertmanagerConnection, Channel, Delivery, Silence, coverage
from controlplane.admin.connections import AuditedModelAdmin
from controlplane.live import LiveChangelistMixin
from graph.models import KubeObject


def _visible_objects(user):
    condition = rules.visible_filter(user)
    return KubeObject.objects.all() if condition is None else KubeObject.objects.filter(condition)


class AlertStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("firing", "firing (not silenced)"), ("silenced", "silenced"), ("resolved", "resolved"),
                ("pending", "pending"), ("unresolved", "not resolved to an object")]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "firing":
            return queryset.filter(status="firing", silenced_by__isnull=True)
        if value == "silenced":
            return queryset.filter(silenced_by__isnull=False).exclude(status="resolved")
        if value in ("resolved", "pending"):
            return queryset.filter(status=value)
        if value == "unresolved":
            return queryset.filter(object__isnull=True)
        return queryset


@admin.register(Alert)
class AlertAdmin(LiveChangelistMixin, admin.ModelAdmin):
    """Read-only list of alerts with their object (or "unresolved") and the silence that covers them."""

    list_display = ["name", "state_display", "severity", "object_link", "namespace", "source", "silenced_link",
                    "starts_at", "last_received_at"]
    list_filter = [AlertStateFilter, "source", "severity", "cluster", "namespace"]
    search_fields = ["name", "summary", "namespace", "fingerprint", "object__name"]
    list_select_related = ["object", "silenced_by", "cluster"]
    readonly_fields = ["name", "status", "severity", "summary", "source", "fingerprint", "cluster", "object_link",
                       "resolution", "silenced_link", "namespace", "labels", "annotations", "group_key",
                       "generator_url", "starts_at", "ends_at", "first_received_at", "last_received_at",
                       "received_count"]
    fields = readonly_fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def _sees_all(self, request) -> bool:
        return request.user.has_perm("alerts.view_alert") or rules.has_global(request.user, rules.VIEW)

    def has_view_permission(self, request, obj=None) -> bool:
        if self._sees_all(request):
            return True
        if obj is not None:
            return obj.object is not None and rules.can_view(request.user, obj.object)
        return rules.request_has_any_grant(request, rules.VIEW)

    def has_module_permission(self, request) -> bool:
        return self.has_view_permission(request)

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if self._sees_all(request):
            return qs
        # Unresolved alerts belong to no object the user was granted: only global viewers see them.
        return qs.filter(object__in=_visible_objects(request.user))

    @admin.display(description="state", ordering="status")
    def state_display(self, obj: Alert) -> str:
        if obj.status != "resolved" and obj.silenced_by_id:
            return f"{obj.status}, silenced"
        return obj.status

    @admin.display(description="resource", ordering="object__name")
    def object_link(self, obj: Alert) -> str:
        if obj.object_id is None:
            return format_html('<span title="{}">unresolved</span>', obj.resolution)
        return format_html('<a href="{}">{}</a>', obj.object.admin_url(), obj.object)

    @admin.display(description="silenced by")
    def silenced_link(self, obj: Alert) -> str:
        if obj.silenced_by_id is None:
            return "—"
        return format_html('<a href="{}">#{}</a>', reverse("admin:alerts_silence_change", args=[obj.silenced_by_id]),
                           obj.silenced_by_id)


class SilenceStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("active", "active"), ("scheduled", "scheduled"), ("expired", "expired")]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "active":
            return queryset.filter(coverage.active_silences_q(now))
        if self.value() == "scheduled":
            return queryset.filter(expired_at__isnull=True, starts_at__gt=now)
        if self.value() == "expired":
            return queryset.filter(Q(expired_at__isnull=False) | Q(ends_at__lte=now))
        return queryset


@admin.register(Silence)
class SilenceAdmin(LiveChangelistMixin, admin.ModelAdmin):
    """Silences: list, detail page with change/end forms; new silences start from an object's page."""

    list_display = ["__str__", "state", "starts_at", "ends_at", "reason", "created_by_username", "silenced_count",
                    "until_resumed"]
    list_filter = [SilenceStateFilter, "until_resumed", "cluster"]
    search_fields = ["target_label", "reason", "created_by_username"]
    list_select_related = ["target"]

    def has_add_permission(self, request) -> bool:
        return False  # a silence starts from its target's page ("Silence alerts")

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # changes go through the model methods (update/expire), from the detail page

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # silences end (and stay for the record); they are never deleted

    def _sees_all(self, request) -> bool:
        return request.user.has_perm("alerts.view_silence") or rules.has_global(request.user, rules.VIEW)

    def has_view_permission(self, request, obj=None) -> bool:
        if self._sees_all(request):
            return True
        if obj is not None:
            return obj.created_by_id == request.user.pk or (obj.target is not None
                                                             and rules.can_view(request.user, obj.target))
        return rules.request_has_any_grant(request, rules.VIEW) or rules.request_has_any_grant(request, rules.SILENCE)

    def has_module_permission(self, request) -> bool:
        return self.has_view_permission(request)

    def get_queryset(self, request):
        qs = super().get_queryset(request).annotate(silenced_total=Count("silenced_alerts"))
        if self._sees_all(request):
            return qs
        return qs.filter(Q(created_by=request.user) | Q(target__in=_visible_objects(request.user)))

    @admin.display(description="alerts silenced", ordering="silenced_total")
    def silenced_count(self, obj: Silence) -> int:
        return obj.silenced_total

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("new/<int:object_id>/", wrap(self.new_view), name="alerts_silence_new"),
            path("<int:silence_id>/update/", wrap(require_POST(self.update_view)), name="alerts_silence_update"),
            path("<int:silence_id>/expire/", wrap(require_POST(self.expire_view)), name="alerts_silence_expire"),
            *super().get_urls(),
        ]

    def new_view(self, request, object_id: int):
        """The create form with a preview of the covered resources and the firing alerts it would silence."""
        target = rules.object_or_404(request.user, object_id, rules.SILENCE, deleted_at__isnull=True)
        if not rules.can_silence(request.user, target):
            raise PermissionDenied
        form = SilenceForm(request.POST if request.method == "POST" else None)
        preview = None
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            starts_at, ends_at = form.window()
            if "_save" in request.POST:
                try:
                    silence = Silence.open(target=target, user=request.user, starts_at=starts_at, ends_at=ends_at,
                                           reason=data["reason"], include_descendants=data["include_descendants"],
                                           matchers=data["matchers"])
                except ValidationError as exc:
                    form.add_error(None, exc)
                else:
                    messages.success(request, f"{silence} saved; it silences {silence.silenced_alerts.count()} "
                                              f"firing alert(s).")
                    return HttpResponseRedirect(reverse("admin:alerts_silence_change", args=[silence.pk]))
            preview = coverage.preview(target, data["include_descendants"], data["matchers"])
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "title": f"Silence {target}",
                   "target": target, "form": form, "preview": preview}
        return TemplateResponse(request, "admin/alerts/silence_new.html", context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        silence = self.get_object(request, object_id)
        if silence is None:
            raise Http404("No such silence")
        if not self.has_view_permission(request, silence):
            raise PermissionDenied
        may_change = silence.state != "expired" and _may_change(request.user, silence)
        context = {
            **self.admin_site.each_context(request), "opts": self.model._meta, "title": str(silence),
            "silence": silence, "original": silence, "matchers": format_matchers(silence.matchers),
            "covered": silence.covered.count(), "may_change": may_change,
            "alerts": silence.silenced_alerts.select_related("object").order_by("-last_received_at")[:100],
            "pushes": silence.pushes.select_related("connection").order_by("connection__name", "key"),
            "change_form": SilenceChangeForm(initial={"ends_at": timezone.localtime(silence.ends_at)
                                                      .strftime("%Y-%m-%d %H:%M"), "reason": silence.reason}),
        }
        return TemplateResponse(request, "admin/alerts/silence_detail.html", context)

    def _silence_or_404(self, request, silence_id: int) -> Silence:
        silence = get_object_or_404(Silence, pk=silence_id)
        if not self.has_view_permission(request, silence) and not _may_change(request.user, silence):
            raise Http404("No such silence")  # as for an id that does not exist
        return silence

    def update_view(self, request, silence_id: int):
        silence = self._silence_or_404(request, silence_id)
        form = SilenceChangeForm(request.POST)
        if not form.is_valid():
            messages.error(request, "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()))
        else:
            try:
                silence.update(request.user, ends_at=form.cleaned_data["ends_at"],
                               reason=form.cleaned_data["reason"] or None)
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
            else:
                messages.success(request, f"{silence} updated.")
        return HttpResponseRedirect(reverse("admin:alerts_silence_change", args=[silence.pk]))

    def expire_view(self, request, silence_id: int):
        silence = self._silence_or_404(request, silence_id)
        if silence.expire(request.user, message=f"ended early by {request.user.get_username()}"):
            messages.success(request, f"{silence} ended.")
        return HttpResponseRedirect(reverse("admin:alerts_silence_change", args=[silence.pk]))


def _may_change(user, silence: Silence) -> bool:
    if silence.target is None:
        return rules.has_global(user, rules.SILENCE)
    return rules.can_silence(user, silence.target)


@admin.register(Channel)
class ChannelAdmin(AuditedModelAdmin):
    """Notification channels (Django model permissions; changes audited)."""

    list_display = ["name", "kind", "namespaces", "severities", "send_resolved", "approval_requests", "enabled"]
    list_filter = ["kind", "enabled"]


@admin.register(AlertmanagerConnection)
class AlertmanagerConnectionAdmin(AuditedModelAdmin):
    """Alertmanager connections that receive pushed silences (changes audited)."""

    list_display = ["name", "url", "push_silences"]


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    """Read-only record of notifications per channel: sent, failing (attempts and the last error), or skipped."""

    list_display = ["channel", "status", "group_key", "state", "attempts", "created_at", "sent_at"]
    list_filter = ["state", "status", "channel"]
    readonly_fields = ["channel", "dedupe_key", "group_key", "status", "alert_ids", "subject", "state", "attempts",
                       "error", "created_at", "sent_at"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
