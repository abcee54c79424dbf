"""Admin for playbooks: runs (read-only, with log and approvals), the approvals inbox, and the views that start
runs (a parameter form per playbook, bulk confirmation pages) and record decisions. Every view checks the rules
server-side."""

from __future__ import annotations

import hashlib
import uuid

from django.contrib import admin, messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from access import rules
from controlplane.admin.runs import RunAdminMixin
from controlplane.dispatch import rq_job_id
from gitops import GitOpsError, InvalidInput
from graph.choices import EdgeType
from graph.models import Edge, KubeObject
from playbooks import runpage
from playbooks.changes import merging
from playbooks.changes.forms import cleaned_for_storage
from playbooks.choices import ChangeState, Mode, PlaybookRunStatus
from playbooks.library import get_playbook
from playbooks.models import PendingApproval, PlaybookRun


def order_for_bulk(objects: list[KubeObject], dependencies_first: bool) -> list[KubeObject]:
    """Order objects along their dependsOn edges (dependencies first, or last for suspend); stable otherwise."""
    ids = {o.pk for o in objects}
    depends = {(s, t) for s, t in Edge.objects.filter(source_id__in=ids, target_id__in=ids,
                                                      type=EdgeType.DEPENDS_ON).values_list("source_id", "target_id")}
    by_pk = {o.pk: o for o in sorted(objects, key=lambda o: (o.namespace, o.name))}
    ordered, placed = [], set()
    while len(ordered) < len(by_pk):
        progress = False
        for pk, obj in by_pk.items():
            if pk in placed:
                continue
            if all(t in placed for s, t in depends if s == pk):  # everything it depends on is placed
                ordered.append(obj)
                placed.add(pk)
                progress = True
        if not progress:  # a dependsOn cycle: keep the remaining ones in name order
            ordered.extend(o for pk, o in by_pk.items() if pk not in placed)
            break
    return ordered if dependencies_first else list(reversed(ordered))


@admin.register(PlaybookRun)
class PlaybookRunAdmin(RunAdminMixin, admin.ModelAdmin):
    """A run's page is made for the people who follow it: what/where/who, the state as a timeline, the change
    request with its checks and reviews (and Merge), the coloured diff, approvals with reasons, the parameters as
    a table, the live log; internal fields folded away for administrators (see runpage and the templates)."""

    list_display = ["__str__", "playbook", "target_label", "state_display", "requested_by_username",
                    "created_at", "finished_at"]
    list_filter = ["status", "change_state", "playbook", "mode", "cluster", "created_at"]
    search_fields = ["target_name", "target_namespace", "requested_by_username", "playbook", "batch"]
    change_form_template = "admin/playbooks/playbookrun/change_form.html"
    live_template = "admin/playbooks/playbookrun/live.html"

    def get_readonly_fields(self, request, obj=None):
        return ["playbook", "mode", "cluster", "target_link", "approvals_required", "approvals_list", "expires_at",
                "batch", "change_state", "pr_link", "branch", "commit_sha", "merge_sha", "diff_display",
                "rendered_diff_display", *self.run_fields, *self.internal_fields]

    def get_fields(self, request, obj=None):
        return self.get_readonly_fields(request, obj)

    def get_queryset(self, request):
        # Users see their own runs and those on objects they may view.
        return rules.visible_runs(request.user, super().get_queryset(request).select_related(
            "cluster", "target", "git_connection"))

    def has_view_permission(self, request, obj=None) -> bool:
        if obj is not None:
            return rules.can_view_run(request.user, obj)
        return request.user.is_authenticated and request.user.is_staff

    def has_module_permission(self, request) -> bool:
        return request.user.is_active and request.user.is_staff

    @admin.display(description="state", ordering="status")
    def state_display(self, obj: PlaybookRun) -> str:
        words, tone = runpage.state_words(obj)
        return format_html('<span class="fp-state fp-tone-{}">{}</span>', tone, words)

    @admin.display(description="target")
    def target_link(self, obj: PlaybookRun) -> str:
        if obj.target_id:
            return format_html('<a href="{}">{}</a>', obj.target.admin_url(), obj.target_label)
        return obj.target_label

    @admin.display(description="pull request")
    def pr_link(self, obj: PlaybookRun) -> str:
        if obj.pr_url:
            return format_html('<a href="{}" rel="noopener noreferrer">#{}</a>', obj.pr_url, obj.pr_number)
        return "—"

    @admin.display(description="diff")
    def diff_display(self, obj: PlaybookRun) -> str:
        if not obj.diff:
            return "—"
        return format_html('<pre class="fp-diff fp-diff-colored">{}</pre>', format_html_join(
            "", '<span class="{}">{}</span>', runpage.diff_lines(obj.diff)))

    @admin.display(description="rendered diff (what Flux will apply)")
    def rendered_diff_display(self, obj: PlaybookRun) -> str:
        if not obj.rendered_diff:
            return "—"
        return format_html('<pre class="fp-rendered-diff" style="white-space:pre-wrap;font-size:12px">{}</pre>',
                           obj.rendered_diff)

    @admin.display(description="approvals")
    def approvals_list(self, obj: PlaybookRun) -> str:
        items = list(obj.approvals.all())
        if not items:
            return "—"
        return format_html_join("", "<div>{} {} {}: {}</div>", (
            (a.created_at.strftime("%Y-%m-%d %H:%M"), a.username, a.get_decision_display(), a.reason or "—")
            for a in items))

    # ------------------------------------------------------------------ the page
    def is_live(self, obj) -> bool:
        return obj is not None and runpage.is_live(obj)

    def change_request(self, obj: PlaybookRun):
        """The provider's view of the open change (state, checks, reviews), cached briefly so a page polled by
        several people does not multiply calls to the provider."""
        if obj.change_state != ChangeState.PR_OPEN:
            return None
        key = f"fp:change-request:{obj.pk}:{obj.change_updated_at.timestamp() if obj.change_updated_at else 0}"
        found = cache.get(key)
        if found is None:
            found = merging.change_request_status(obj)
            cache.set(key, found, 5)
        return found

    def live_context(self, request, obj: PlaybookRun) -> dict:
        words, tone = runpage.state_words(obj)
        status = self.change_request(obj)
        return {
            **super().live_context(request, obj),
            "state_words": words, "state_tone": tone, "timeline": runpage.timeline(obj), "cr": status,
            "can_merge": status is not None and rules.can_merge(request.user, obj),
            "approvals": list(obj.approvals.all()),
            # The requester (or a superuser) withdraws a run that has not started; a superuser also stops a stuck
            # running one (its worker's late result is then only logged).
            "can_cancel": (obj.status in (PlaybookRunStatus.PENDING_APPROVAL, PlaybookRunStatus.QUEUED)
                           and (obj.requested_by_id == request.user.pk or request.user.is_superuser))
                          or (obj.status == PlaybookRunStatus.RUNNING and request.user.is_superuser),
            "is_requester": obj.requested_by_id == request.user.pk,
            "merge_policy": obj.git_connection.effective_merge_policy if obj.git_connection else "",
        }

    def change_view(self, request, object_id, form_url="", extra_context=None):
        run = self.get_object(request, object_id)
        extra = {
            "can_decide": run is not None and run.status == PlaybookRunStatus.PENDING_APPROVAL and rules.can_approve(
                request.user, run),
            "show_internals": self.shows_internals(request),
        }
        if run is not None:
            try:
                playbook = get_playbook(run.playbook)
            except LookupError:
                playbook = None
            extra.update({
                "playbook_title": playbook.title if playbook else run.playbook,
                "playbook_description": playbook.description if playbook else "",
                "diff_rows": runpage.diff_lines(run.diff), "parameter_rows": runpage.parameter_rows(run),
                "rendered_rows": runpage.diff_lines(run.rendered_diff),
                "title": f"{playbook.title if playbook else run.playbook}"
                f" · {run.target_label}", "subtitle": f"run #{run.pk}",
            })
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    # ------------------------------------------------------------------ views
    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("start/<str:playbook>/<int:object_id>/", wrap(self.start_view), name="playbooks_start"),
            path("bulk/<str:playbook>/", wrap(self.bulk_view), name="playbooks_bulk"),
            path("<int:run_id>/decide/", wrap(require_POST(self.decide_view)), name="playbooks_decide"),
            path("<int:run_id>/cancel/", wrap(require_POST(self.cancel_view)), name="playbooks_cancel"),
            path("<int:run_id>/merge/", wrap(require_POST(self.merge_view)), name="playbooks_merge"),
            *super().get_urls(),
        ]

    def _playbook(self, name: str):
        try:
            playbook = get_playbook(name)
        except LookupError:
            raise PermissionDenied(f"unknown playbook {name!r}") from None
        if not playbook.enabled():
            raise PermissionDenied(f"the {playbook.title} playbook is switched off")
        return playbook

    def start_view(self, request, playbook: str, object_id: int):
        """The parameter form of one playbook on one object; POST creates the run. GitOps playbooks first show
        the exact diff (computed in a working copy) and only a confirmation of that same diff creates the run."""
        playbook = self._playbook(playbook)
        target = rules.object_or_404(request.user, object_id, playbook.verb)  # invisible reads as non-existent
        if not playbook.applies_to(target) or not playbook.allowed(request.user, target):
            raise PermissionDenied
        if hasattr(playbook, "start_url"):  # a playbook with its own request form (e.g. namespace access)
            return HttpResponseRedirect(playbook.start_url(target))
        refusal = playbook.refusal(target)
        gitops = playbook.mode == Mode.GITOPS
        initial = playbook.form_initial(target) if gitops else {}
        if gitops and playbook.name == "edit" and request.method != "POST" and not refusal:
            try:
                initial["document"] = playbook.source_text(target)
            except GitOpsError as exc:
                refusal = str(exc)
        form = playbook.form_for(target)(request.POST if request.method == "POST" else None, initial=initial)
        preview, digest = None, ""
        if request.method == "POST" and form.is_valid() and not refusal:
            params = cleaned_for_storage(form.cleaned_data)
            try:
                if gitops:
                    preview = playbook.preview(target, params)
                    digest = hashlib.sha256(preview.diff.encode()).hexdigest()
                if not gitops or ("confirm" in request.POST and not preview.errors
                                  and request.POST.get("diff_digest") == digest):
                    run = PlaybookRun.request(playbook, target, request.user, params,
                                              diff=preview.diff if preview else "",
                                              rendered_diff=preview.rendered_text() if preview else "")
                    messages.success(request, f"{playbook.title} on {target}: run #{run.pk} "
                                              f"{run.get_status_display()}.")
                    return HttpResponseRedirect(reverse("admin:playbooks_playbookrun_change", args=[run.pk]))
                if "confirm" in request.POST and request.POST.get("diff_digest") != digest:
                    form.add_error(None, "The change differs from the preview you confirmed (the repository moved "
                                         "meanwhile): review the new diff.")
            except ValidationError as exc:
                form.add_error(None, exc)
            except InvalidInput as exc:  # e.g. a container the picked workload does not have: on its field
                form.add_error(exc.field if exc.field in form.fields else None, str(exc))
            except GitOpsError as exc:
                form.add_error(None, str(exc))
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "title": playbook.title,
                   "playbook": playbook, "target": target, "form": form, "refusal": refusal,
                   "approvals_required": playbook.approvals_required(), "preview": preview, "diff_digest": digest,
                   "warnings": playbook.warnings(target) if gitops and not refusal else []}
        return TemplateResponse(request, "admin/playbooks/start.html", context)

    def bulk_view(self, request, playbook: str):
        """Confirmation page of a bulk action: every selected object with whether it will run; POST confirm runs."""
        playbook = self._playbook(playbook)
        if request.method != "POST":
            raise PermissionDenied("bulk playbooks are started from a list page")
        ids = [int(i) for i in request.POST.getlist("_selected_action") if str(i).isdigit()][:10_000]
        # Ids outside the user's grants are dropped exactly like ids that do not exist: no name, kind or namespace
        # of an invisible object is ever shown (access.rules.reachable_objects).
        selected = rules.reachable_objects(request.user, KubeObject.objects.filter(pk__in=ids), playbook.verb)
        objects = order_for_bulk(list(selected), playbook.bulk_dependencies_first)
        ids = [obj.pk for obj in objects]
        rows = []
        for obj in objects:
            if not playbook.applies_to(obj):
                why = f"{playbook.title} does not apply to a {obj.kind}"
            elif not playbook.allowed(request.user, obj):
                why = "you may not run it here"
            else:
                why = playbook.refusal(obj)
            rows.append((obj, why))
        form = playbook.form_class(request.POST if "confirm" in request.POST else None)
        if "confirm" in request.POST and form.is_valid():
            runnable = [obj for obj, why in rows if why is None]
            if not runnable:
                raise PermissionDenied("nothing selected may be run")
            batch, previous, created = uuid.uuid4().hex[:12], None, []
            with transaction.atomic():
                for position, obj in enumerate(runnable):
                    run = PlaybookRun.request(playbook, obj, request.user, form.cleaned_data, batch=batch,
                                              position=position, depends_on=previous)
                    created.append(run)
                    previous = rq_job_id(run) if run.status == PlaybookRunStatus.QUEUED else previous
            messages.success(request, f"{playbook.title}: {len(created)} run(s) requested, in dependsOn order.")
            url = reverse("admin:playbooks_playbookrun_changelist") + f"?q={batch}"
            return HttpResponseRedirect(url)
        context = {**self.admin_site.each_context(request), "opts": self.model._meta,
                   "title": f"{playbook.title} {len(objects)} objects", "playbook": playbook, "rows": rows,
                   "form": form, "ids": ids}
        return TemplateResponse(request, "admin/playbooks/bulk_confirm.html", context)

    def _run_or_404(self, request, run_id: int, *, deciding: bool = False) -> PlaybookRun:
        """A run the user may see (or decide): any other id reads as one that does not exist."""
        run = get_object_or_404(PlaybookRun, pk=run_id)
        if not self.has_view_permission(request, run) and not (deciding and rules.can_approve(request.user, run)):
            raise Http404("No such run")
        return run

    def decide_view(self, request, run_id: int):
        run = self._run_or_404(request, run_id, deciding=True)
        decision, reason = request.POST.get("decision"), request.POST.get("reason", "").strip()
        try:
            if decision == "approve":
                run.approve(request.user, reason)
            elif decision == "reject":
                run.reject(request.user, reason)
            else:
                raise ValidationError("Choose approve or reject.")
        except PermissionDenied:
            raise
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"Run #{run.pk}: {run.get_status_display()}.")
        if self.has_view_permission(request, run):
            return HttpResponseRedirect(reverse("admin:playbooks_playbookrun_change", args=[run.pk]))
        # An approver holding approve_run but not view on the target cannot open the run page once it left the
        # inbox (the admin would answer "does not exist"): back to the request in the inbox, or to the inbox.
        if run.status == PlaybookRunStatus.PENDING_APPROVAL and rules.can_approve(request.user, run):
            return HttpResponseRedirect(reverse("admin:playbooks_pendingapproval_change", args=[run.pk]))
        return HttpResponseRedirect(reverse("admin:playbooks_pendingapproval_changelist"))

    def merge_view(self, request, run_id: int):
        """Merge the run's approved change (``merge_change``, checked again by merging.merge_change)."""
        run = self._run_or_404(request, run_id)
        if not rules.can_merge(request.user, run):
            raise PermissionDenied
        try:
            run = merging.merge_change(run, request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        except GitOpsError as exc:
            messages.error(request, f"Not merged: {exc}")
        else:
            messages.success(request, f"Merged: {run.target_label} is on its way to the cluster.")
        return HttpResponseRedirect(reverse("admin:playbooks_playbookrun_change", args=[run.pk]))

    def cancel_view(self, request, run_id: int):
        run = self._run_or_404(request, run_id)
        try:
            run.cancel(request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        return HttpResponseRedirect(reverse("admin:playbooks_playbookrun_change", args=[run.pk]))


@admin.register(PendingApproval)
class ApprovalInboxAdmin(PlaybookRunAdmin):
    """Requests waiting for a decision that the current user may make (never their own)."""

    list_display = ["__str__", "playbook", "target_label", "requested_by_username", "parameters_short", "created_at",
                    "expires_at"]
    list_filter = ["playbook", "cluster"]
    list_display_links = ["__str__"]

    def get_urls(self):
        return RunAdminMixin.get_urls(self)  # the live fragment, not the run views (they live on PlaybookRunAdmin)

    def get_queryset(self, request):
        qs = PlaybookRun.objects.filter(status=PlaybookRunStatus.PENDING_APPROVAL).exclude(
            requested_by=request.user).select_related("target", "cluster")
        decidable = [run.pk for run in qs if rules.can_approve(request.user, run)]
        return PendingApproval.objects.filter(pk__in=decidable).select_related("target", "cluster")

    def has_view_permission(self, request, obj=None) -> bool:
        if obj is not None:
            return rules.can_approve(request.user, obj)
        return rules.request_has_any_grant(request, rules.APPROVE_RUN)

    def has_module_permission(self, request) -> bool:
        return self.has_view_permission(request)

    @admin.display(description="parameters")
    def parameters_short(self, obj: PlaybookRun) -> str:
        return ", ".join(f"{k}={v}" for k, v in (obj.parameters or {}).items()) or "—"
