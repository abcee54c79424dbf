"""Admin of just-in-time access: *My access* (own requests and grants with time left), *Active grants*, the full
history, the request form, revoke and extend. Read-only lists; every view checks access.jit.rules server-side."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from access import rules as access_rules
from access.jit import policy, rules
from access.jit.models import OPEN_STATES, AccessGrant, ActiveAccessGrant, GrantState, MyAccessGrant, SubjectKind
from controlplane.live import LiveChangelistMixin
from controlplane.models import AuditEvent
from controlplane.presentation import naturaldelta
from jit.playbook import RequestNamespaceAccess, extension_initial, request_access
from playbooks.runpage import diff_lines


class AccessRequestForm(forms.Form):
    """The request. Choices only guide the user: the values are checked by the policy on the server, whatever
    the browser sends (a crafted POST gets the policy's message, not a silent fallback)."""

    role = forms.CharField(max_length=253, widget=forms.Select)
    duration = forms.CharField(max_length=8, widget=forms.Select(choices=policy.DURATION_CHOICES))
    subject_kind = forms.CharField(max_length=8, initial=SubjectKind.USER,
                                   widget=forms.Select(choices=SubjectKind.choices), label="Subject kind")
    group = forms.CharField(max_length=253, required=False, help_text="only for a Group subject (allowed by policy)")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)
    ticket = forms.CharField(max_length=100, required=False)

    def __init__(self, *args, namespace: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].widget.choices = [(r, r) for r in policy.roles_for_namespace(namespace)]


_TONES = {GrantState.ACTIVE: "ok", GrantState.REMOVED: "quiet", GrantState.NOT_GRANTED: "failed",
          GrantState.UNUSED: "quiet", GrantState.ENFORCED: "failed"}


class _GrantAdminBase(LiveChangelistMixin, admin.ModelAdmin):
    list_display = ["__str__", "state", "namespace", "role", "subject_name", "requested_by_username", "activated_at",
                    "expires_at", "time_left_display", "removal_link"]
    list_filter = ["state", "settled", "role", "cluster"]
    search_fields = ["namespace", "subject_name", "requested_by_username", "role", "reason", "ticket"]
    change_form_template = "admin/access/accessgrant/change_form.html"

    def get_queryset(self, request):
        return rules.visible_grants(request.user, super().get_queryset(request).select_related("cluster",
                                                                                                "request_run"))

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in AccessGrant._meta.fields] + ["time_left_display", "run_link", "removal_link",
                                                             "duration_display", "subject_display",
                                                             "binding_diff"]

    def get_fieldsets(self, request, obj=None):
        """What a person needs first (who gets what where, for how long, why), then time, then the git side;
        bookkeeping of the sweep folded away for administrators."""
        sets = [
            ("Access", {"fields": ["state", "subject_display", "role", "namespace", "cluster", "duration_display",
                                   "reason", "ticket", "requested_by_username", "approved_by"]}),
            ("Time", {"fields": ["created_at", "activated_at", "expires_at", "time_left_display", "revoked_at",
                                 "revoked_by", "removed_from_git_at", "removed_at"]}),
            ("In git", {"fields": ["run_link", "binding_diff", "removal_link"]}),
        ]
        if request.user.is_superuser:
            sets.append(("Details for administrators", {"classes": ["collapse"], "fields": [
                "binding_name", "file_path", "build_path", "activation_deadline", "ends_at", "settled",
                "removal_branch", "enforced_at", "enforcement_count", "last_checked_at", "extends"]}))
        return sets

    @admin.display(description="subject")
    def subject_display(self, obj: AccessGrant) -> str:
        return f"{obj.subject_kind} {obj.subject_name}"

    @admin.display(description="duration")
    def duration_display(self, obj: AccessGrant) -> str:
        return f"{naturaldelta(obj.duration)} from the moment Flux applies it"

    @admin.display(description="RoleBinding file (as approved; approver and expiry filled in at approval)")
    def binding_diff(self, obj: AccessGrant) -> str:
        run = obj.request_run
        if run is None or not run.diff:
            return "—"
        return format_html('<pre class="fp-diff fp-diff-colored">{}</pre>', format_html_join(
            "", '<span class="{}">{}</span>', diff_lines(run.diff)))

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # grants are history; access ends by revocation or expiry, never by deleting the row

    def has_view_permission(self, request, obj=None) -> bool:
        if obj is not None:
            return rules.can_view(request.user, obj)
        return bool(request.user.is_active and request.user.is_staff)

    def has_module_permission(self, request) -> bool:
        return bool(request.user.is_active and request.user.is_staff)

    @admin.display(description="time left")
    def time_left_display(self, obj: AccessGrant) -> str:
        left = obj.time_left
        if left is None:
            return "—"
        hours, rest = divmod(int(left.total_seconds()), 3600)
        return f"{hours}h {rest // 60:02d}m"

    def grant_timeline(self, grant: AccessGrant) -> list[dict]:
        """requested → approved → pull request → merged → active → ended, time-stamped from the grant's audit
        events (one query); the failing or final step says why."""
        events = {}
        for event in AuditEvent.objects.filter(target_type=ContentType.objects.get_for_model(AccessGrant),
                                               target_id=str(grant.pk), verb__startswith="jit.").order_by("time"):
            events.setdefault(event.verb.removeprefix("jit."), event)
        steps = [("requested", "requested"), ("approved", "approved"), ("pr_opened", "pull request opened"),
                 ("merged", "merged"), ("active", "active")]
        ended = [v for v in ("not_granted", "unused", "expiring", "revoked", "removed", "enforced") if v in events]
        out, current_marked = [], False
        for verb, label in steps:
            event = events.get(verb)
            if event is not None:
                out.append({"label": label, "state": "done", "at": event.time, "detail": event.message})
            elif ended or grant.state == GrantState.NOT_GRANTED:
                continue  # never reached: the grant ended before
            else:
                out.append({"label": label, "state": "todo" if current_marked else "current", "at": None,
                            "detail": ""})
                current_marked = True
        for verb in ended:
            failed = verb in ("not_granted", "unused")
            out.append({"label": verb.replace("_", " "), "state": "failed" if failed else "done",
                        "at": events[verb].time, "detail": events[verb].message})
        if grant.state == GrantState.ACTIVE and grant.expires_at:
            out.append({"label": "expires", "state": "todo", "at": grant.expires_at, "detail": ""})
        return out

    @admin.display(description="request")
    def run_link(self, obj: AccessGrant) -> str:
        if not obj.request_run_id:
            return "—"
        return format_html('<a href="{}">run #{}</a>', reverse("admin:playbooks_playbookrun_change",
                                                                args=[obj.request_run_id]), obj.request_run_id)

    @admin.display(description="removal")
    def removal_link(self, obj: AccessGrant) -> str:
        if obj.removal_pr_url.startswith(("http://", "https://")):
            return format_html('<a href="{}" rel="noopener noreferrer">#{}</a>', obj.removal_pr_url,
                               obj.removal_pr_number)
        return obj.removal_pr_url or "—"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        grant = self.get_object(request, object_id)
        extra = {
            "timeline": self.grant_timeline(grant) if grant is not None else [],
            "state_tone": _TONES.get(grant.state, "waiting") if grant is not None else "",
            "can_revoke": grant is not None and grant.state in rules.REVOCABLE and rules.can_revoke(request.user,
                                                                                                    grant),
            "can_extend": grant is not None and grant.state in OPEN_STATES and rules.can_extend(request.user, grant),
        }
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})


@admin.register(AccessGrant)
class AccessGrantAdmin(_GrantAdminBase):
    """History: every grant the user may see, in every state."""

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("request/<int:namespace_id>/", wrap(self.request_view), name="access_jit_request"),
            path("<int:grant_id>/revoke/", wrap(require_POST(self.revoke_view)), name="access_jit_revoke"),
            path("<int:grant_id>/extend/", wrap(self.extend_view), name="access_jit_extend"),
            *super().get_urls(),
        ]

    def request_view(self, request, namespace_id: int, initial: dict | None = None, extends: AccessGrant | None = None):
        """The request form on a Flux-managed namespace; POST validates with the policy and creates the request."""
        namespace = access_rules.object_or_404(request.user, namespace_id, access_rules.REQUEST_ACCESS,
                                               kind="Namespace")
        if not RequestNamespaceAccess.enabled() or not access_rules.can_request_access(request.user, namespace):
            raise PermissionDenied
        if extends is None and request.POST.get("extends", "").isdigit():
            extends = self._grant_or_404(request, int(request.POST["extends"]))
            if not rules.can_extend(request.user, extends):
                raise PermissionDenied
        bound = request.method == "POST" and "reason" in request.POST
        form = AccessRequestForm(request.POST if bound else None, initial=initial, namespace=namespace.name)
        if bound and form.is_valid():
            data = form.cleaned_data
            try:
                grant = request_access(request.user, namespace, data["role"], data["duration"], data["reason"],
                                       data["ticket"], data["subject_kind"], data["group"], extends=extends)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, f"Access requested: {grant}. It needs "
                                          f"{grant.request_run.approvals_required} approval(s) by someone else.")
                return HttpResponseRedirect(reverse("admin:access_accessgrant_change", args=[grant.pk]))
        try:
            subject = policy.user_subject(request.user)
        except ValidationError as exc:
            subject = " ".join(exc.messages)
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "form": form,
                   "title": f"Request access to namespace {namespace.name}", "namespace": namespace,
                   "subject": subject, "extends": extends, "refusal": RequestNamespaceAccess.refusal(namespace),
                   "roles": [policy.roles()[r] for r in policy.roles_for_namespace(namespace.name)]}
        return TemplateResponse(request, "admin/access/accessgrant/request.html", context)

    def _grant_or_404(self, request, grant_id: int) -> AccessGrant:
        """A grant the user may see; any other id reads as one that does not exist."""
        grant = get_object_or_404(AccessGrant, pk=grant_id)
        if not rules.can_view(request.user, grant):
            raise Http404("No such access grant")
        return grant

    def revoke_view(self, request, grant_id: int):
        grant = self._grant_or_404(request, grant_id)
        if not rules.can_revoke(request.user, grant):
            raise PermissionDenied
        try:
            rules.revoke(grant, request.user, request.POST.get("reason", "").strip())
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"{grant} revoked: the RoleBinding is being removed now.")
        return HttpResponseRedirect(reverse("admin:access_accessgrant_change", args=[grant.pk]))

    def extend_view(self, request, grant_id: int):
        """An extension is a new request (approved again) pre-filled from the grant."""
        grant = self._grant_or_404(request, grant_id)
        if not rules.can_extend(request.user, grant):
            raise PermissionDenied
        return self.request_view(request, grant.namespace_object_id, initial=extension_initial(grant), extends=grant)


@admin.register(MyAccessGrant)
class MyAccessAdmin(_GrantAdminBase):
    def get_queryset(self, request):
        return super().get_queryset(request).filter(requested_by=request.user)

    def has_view_permission(self, request, obj=None) -> bool:
        if obj is not None:
            return obj.requested_by_id == request.user.pk
        return bool(request.user.is_active and request.user.is_staff)


@admin.register(ActiveAccessGrant)
class ActiveGrantAdmin(_GrantAdminBase):
    def get_queryset(self, request):
        live = [GrantState.ACTIVE, GrantState.EXPIRING, GrantState.REVOKED, GrantState.ENFORCED]
        return super().get_queryset(request).filter(state__in=live, settled=False)
