"""Read-only admin for runs, with the log rendered and refreshed while the run is in progress."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from controlplane.dispatch import registered_runners
from controlplane.jobs import start_system_job
from controlplane.models import SystemRun


class RunAdminMixin:
    """Shared by every Run admin: nothing can be added, changed or deleted by hand; the log is shown as a table,
    and the page reloads itself (meta refresh, no script) until the run has finished."""

    change_form_template = "admin/controlplane/run_change_form.html"
    run_fields = [
        "status", "requested_by_username", "request_id", "created_at", "enqueued_at", "started_at", "finished_at",
        "attempts", "rq_job_id", "parameters", "result", "error", "traceback", "log_table",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="log")
    def log_table(self, obj) -> str:
        if not obj.log:
            return "—"
        rows = format_html_join(
            "", "<tr class='log-{}'><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((line.get("level"), line.get("time"), line.get("level"), line.get("message")) for line in obj.log),
        )
        return format_html("<table class='run-log'><tbody>{}</tbody></table>", rows)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        extra_context = {**(extra_context or {}), "refresh_seconds": 0 if obj is None or obj.is_finished else 3}
        return super().change_view(request, object_id, form_url, extra_context)


class StartSystemJobForm(forms.Form):
    job = forms.ChoiceField(label="Job")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["job"].choices = [
            (name, f"{name} — {runner.description}") for name, runner in registered_runners(SystemRun).items()
        ]


@admin.register(SystemRun)
class SystemRunAdmin(RunAdminMixin, admin.ModelAdmin):
    list_display = ["__str__", "runner", "status", "requested_by_username", "created_at", "finished_at"]
    list_filter = ["status", "runner", "created_at"]
    search_fields = ["runner", "requested_by_username", "error", "request_id"]
    change_list_template = "admin/controlplane/systemrun/change_list.html"

    def get_readonly_fields(self, request, obj=None):
        return ["runner", *self.run_fields]

    def get_fields(self, request, obj=None):
        return self.get_readonly_fields(request, obj)

    def get_urls(self):
        return [
            path("start/", self.admin_site.admin_view(self.start_view), name="controlplane_systemrun_start"),
            *super().get_urls(),
        ]

    def has_start_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("controlplane.start_systemrun")

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_start": self.has_start_permission(request)}
        return super().changelist_view(request, extra_context)

    def start_view(self, request: HttpRequest):
        """Start a system job: GET shows the form, POST (CSRF-protected) creates the run and enqueues it."""
        if not self.has_start_permission(request):
            raise PermissionDenied
        form = StartSystemJobForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            run = start_system_job(form.cleaned_data["job"], user=request.user)
            messages.success(request, f"{run.runner} queued as run #{run.pk}.")
            return HttpResponseRedirect(reverse("admin:controlplane_systemrun_change", args=[run.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Start a system job",
            "form": form,
        }
        return TemplateResponse(request, "admin/controlplane/systemrun/start.html", context)
