"""Read-only admin for runs, with the log rendered and refreshed while the run is in progress."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from controlplane import live as live_parts
from controlplane.dispatch import registered_runners
from controlplane.jobs import start_system_job
from controlplane.live import LiveChangelistMixin
from controlplane.models import SystemRun


class RunAdminMixin(LiveChangelistMixin):
    """Shared by every Run admin: nothing can be added, changed or deleted by hand; the log is shown as a table and,
    while the run is active, the pages' static script (live.js, see controlplane/live.py) polls ``<pk>/live/`` for
    the live part of the page as an HTML fragment and swaps it in. Internal fields (job id, request id,
    traceback) are for administrators, folded away."""

    change_form_template = "admin/controlplane/run_change_form.html"
    live_template = "admin/controlplane/run_live.html"
    live_interval_ms = 2000
    # Status, error and log are in the live part of the page (run_live_body.html), not repeated as fields.
    run_fields = ["requested_by_username", "created_at", "started_at", "finished_at", "parameters", "result"]
    internal_fields = ["request_id", "rq_job_id", "attempts", "enqueued_at", "traceback"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_fieldsets(self, request, obj=None):
        fields = [f for f in self.get_fields(request, obj) if f not in self.internal_fields]
        sets = [(None, {"fields": fields})]
        if self.shows_internals(request):
            sets.append(("Details for administrators", {"classes": ["collapse"], "fields": self.internal_fields}))
        return sets

    def shows_internals(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)

    @admin.display(description="log")
    def log_table(self, obj) -> str:
        if not obj.log:
            return "—"
        rows = format_html_join(
            "", "<tr class='log-{}'><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((line.get("level"), _clock(line.get("time")), line.get("level"), line.get("message"))
             for line in obj.log),
        )
        return format_html("<table class='run-log'><tbody>{}</tbody></table>", rows)

    def is_live(self, obj) -> bool:
        return obj is not None and not obj.is_finished

    def live_context(self, request: HttpRequest, obj) -> dict:
        """What the live fragment shows; subclasses add their own."""
        return {"original": obj, "log": self.log_table(obj), "live": self.is_live(obj)}

    def live_view(self, request: HttpRequest, object_id: str):
        """The live part of the run's page as an HTML fragment (polled by live.js, part ``run``); the same permission
        as the page itself. Its ``data-active`` says whether to keep polling."""
        obj = self.get_object(request, object_id)
        if obj is None or not self.has_view_permission(request, obj):
            raise PermissionDenied
        return live_parts.fragment(request, self.live_template, self.live_context(request, obj), "run")

    def get_urls(self):
        name = f"{self.model._meta.app_label}_{self.model._meta.model_name}_live"
        return [
            path("<path:object_id>/live/", self.admin_site.admin_view(self.live_view), name=name),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        info = self.model._meta.app_label, self.model._meta.model_name
        extra = {"live_url": reverse(f"admin:{info[0]}_{info[1]}_live", args=[obj.pk]) if obj is not None else "",
                 "live_interval_ms": self.live_interval_ms}
        if obj is not None:
            extra.update(self.live_context(request, obj))
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})


def _clock(value) -> str:
    """A log line's time as HH:MM:SS (the date is the run's)."""
    text = str(value or "")
    return text[11:19] if len(text) >= 19 else text


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
        return ["runner", *self.run_fields, *self.internal_fields]

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
