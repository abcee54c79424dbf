"""Read-only admin for mirrored objects, one list per family, with health badges, detail pages and graphs."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models.fields.json import KT
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from access import rules
from controlplane import extensions
from controlplane import live as live_parts
from controlplane.live import LiveChangelistMixin
from controlplane.models import Cluster
from controlplane.presentation import naturaltime
from controlplane.redaction import redact
from graph import render
from graph.admin.filters import KindFilter, NamespaceFilter, PresenceFilter
from graph.admin.listing import FastListMixin, mirror_state
from graph.choices import HealthChoices
from graph.live import WORKLOAD_KINDS
from graph.models import (
    Edge,
    FluxOperatorObject,
    HelmRelease,
    ImageAutomation,
    KubeObject,
    Kustomization,
    Notification,
    Source,
    Workload,
)
from graph.presenters import key_status, origin_file, to_yaml

BADGE = (
    '<span class="fp-health fp-health-{}" title="{}" style="display:inline-block;padding:1px 8px;border-radius:9px;'
    'background:{};color:{};border:1px solid {};white-space:nowrap">{} {}</span>'
)


def health_badge(health: str, title: str = "") -> str:
    fill, line = render.HEALTH_COLOURS.get(health, render.HEALTH_COLOURS[HealthChoices.UNKNOWN])
    return format_html(BADGE, health, title, fill, line, line, render.HEALTH_ICONS.get(health, "?"), health)


def object_url(obj: KubeObject) -> str:
    return obj.admin_url()


class KubeObjectAdmin(FastListMixin, LiveChangelistMixin, admin.ModelAdmin):
    """Base for every mirrored-object list: read-only, filterable, with a detail page and the object's graph."""

    # No "suspended" column: the health word says it. The cluster column only when there is more than one.
    list_display = ["name", "namespace", "kind", "health_display", "why", "cluster", "changed"]
    list_display_links = ["name"]
    list_filter = [PresenceFilter, "cluster", NamespaceFilter, KindFilter, "rollup_health", "health", "suspended"]
    search_fields = ["name", "namespace", "kind", "uid"]
    list_select_related = ["cluster"]
    ordering = ["namespace", "name"]
    list_per_page = 100
    show_full_result_count = False
    change_form_template = "admin/graph/kubeobject/change_form.html"

    class Media:
        css = {"all": ("graph/graph.css",)}

    def has_add_permission(self, request) -> bool:
        return False

    def get_actions(self, request):
        """Bulk actions other apps register (playbooks: suspend, resume, reconcile the selection)."""
        return extensions.actions("bulk", request)

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_queryset(self, request):
        # Large JSON columns are only needed on the detail page.
        qs = super().get_queryset(request).defer("spec", "status", "annotations", "labels", "events",
                                                 "owner_references")
        if self._has_model_view(request):
            return qs
        # A list asks for its queryset three times (the rows, the namespace and kind choices): the user's visible
        # set (a walk down the Flux tree) is worked out once per request.
        if not hasattr(request, "_fluxplane_visible"):
            request._fluxplane_visible = rules.visible_filter(request.user)
        condition = request._fluxplane_visible
        return qs if condition is None else qs.filter(condition)

    def _has_model_view(self, request) -> bool:
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.view_{opts.model_name}") or rules.has_global(
            request.user, rules.VIEW)

    def has_view_permission(self, request, obj=None) -> bool:
        """Model-level view permission, or (object scoping) a view grant on the object or one of its ancestors."""
        if self._has_model_view(request):
            return True
        if obj is not None:
            return rules.can_view(request.user, obj)
        return rules.request_has_any_grant(request, rules.VIEW)

    def has_module_permission(self, request) -> bool:
        return self.has_view_permission(request)

    @admin.display(description="health", ordering="rollup_health")
    def health_display(self, obj: KubeObject) -> str:
        if obj.is_flux and obj.rollup_health != obj.health:
            return format_html("{} <small>self: {}</small>", health_badge(obj.rollup_health, obj.rollup_message),
                               obj.health)
        return health_badge(obj.rollup_health if obj.is_flux else obj.health)

    def get_list_display(self, request):
        shown = list(super().get_list_display(request))
        if "cluster" in shown and mirror_state(request).clusters <= 1:
            shown.remove("cluster")
        return shown

    @admin.display(description="changed", ordering="changed_at")
    def changed(self, obj: KubeObject) -> str:
        if obj.changed_at is None:
            return "—"
        return format_html('<span title="{}">{}</span>', obj.changed_at.isoformat(timespec="seconds"),
                           naturaltime(obj.changed_at))

    @admin.display(description="why")
    def why(self, obj: KubeObject) -> str:
        text = obj.rollup_message if obj.rollup_health != HealthChoices.HEALTHY else ""
        # One line in the list; the whole text on hover and on the object's page.
        return format_html('<span class="fp-clip" title="{}">{}</span>', text, text) if text else ""

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        obj = self.get_object(request, object_id)  # scoped: objects outside the user's grants are not found
        if obj is None:
            raise Http404("No such object")
        if not self.has_view_permission(request, obj):
            raise PermissionDenied
        obj = KubeObject.objects.select_related("cluster").get(pk=obj.pk)
        summary = {
            "object": obj,
            "health_badge": health_badge(obj.health, obj.health_message),
            "rollup_badge": health_badge(obj.rollup_health, obj.rollup_message),
            "key_status": key_status(obj),
            "conditions": obj.conditions(),
            "origin": origin_file(obj),
            "stale": cluster_is_stale(obj.cluster),
        }
        if live_parts.requested(request, "object"):  # the live part: health, status and conditions only
            return live_parts.fragment(request, "admin/graph/kubeobject/summary.html", summary, "object")
        data = render.select(render.GraphScope(root_id=obj.pk), visible=rules.visible_filter(request.user))
        svg = render.render_svg(render.to_dot(data, url_for=object_url))
        in_edges = Edge.objects.filter(target=obj).select_related("source").order_by("type")
        out_edges = Edge.objects.filter(source=obj).select_related("target").order_by("type")[:200]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": str(obj),
            **summary,
            "original": obj,
            "graph_svg": mark_safe(svg),  # noqa: S308 - generated by graphviz from escaped labels (render.to_dot)
            "graph_truncated": data.truncated,
            "in_edges": in_edges,
            "out_edges": out_edges,
            # Pods and workloads show the events read live (graph/livepanels.py); other kinds the synced ones.
            "synced_events": [] if obj.kind in WORKLOAD_KINDS else obj.events,
            # a viewer reads the object, not its secrets: values under secret keys, env values of secret names
            # and credentials in URLs are masked (Helm values and container env hold them in real repositories)
            "spec_yaml": to_yaml(redact(obj.spec)),
            "status_yaml": to_yaml(redact(obj.status)),
            "legend": render.legend(),
            "has_change_permission": False,
            **(extra_context or {}),
        }
        return TemplateResponse(request, self.change_form_template, context)

    def get_urls(self):
        urls = super().get_urls()
        if self.model is not KubeObject:
            return urls
        info = self.model._meta.app_label, self.model._meta.model_name
        return [path("graph/", self.admin_site.admin_view(self.graph_view), name=f"{info[0]}_{info[1]}_graph"), *urls]

    def graph_view(self, request):
        """The whole-cluster / namespace / subtree graph with health and kind filters."""
        if not rules.request_has_any_grant(request, rules.VIEW):
            raise PermissionDenied
        clusters = list(Cluster.objects.order_by("name"))
        cluster_id = _int(request.GET.get("cluster")) or (clusters[0].pk if clusters else None)
        root_id = _int(request.GET.get("root"))
        # A root outside the user's grants is "not found", exactly like an id that does not exist.
        root = rules.object_or_404(request.user, root_id) if request.GET.get("root") else None
        cluster_id = root.cluster_id if root is not None else cluster_id
        namespace = request.GET.get("namespace") or None
        healths = {h for h in request.GET.getlist("health") if h in HealthChoices.values}
        kinds = set(request.GET.getlist("kind"))
        scope = render.GraphScope(cluster_id=cluster_id, root_id=root_id, namespace=namespace, healths=healths,
                                  kinds=kinds)
        cluster = next((c for c in clusters if c.pk == cluster_id), None)
        change_token = graph_token(request.user, cluster)
        not_modified = live_parts.unchanged(request, "graph", change_token)
        if not_modified is not None:  # live.js shows this graph already: no selection, no layout
            return not_modified
        data = render.select(scope, visible=rules.visible_filter(request.user)) if cluster_id else \
            render.GraphData({}, [])
        svg = render.render_svg(render.to_dot(data, url_for=object_url)) if data.nodes else ""
        drawing = {
            "graph_svg": mark_safe(svg),  # noqa: S308 - see change_view
            "graph_truncated": data.truncated,
            "node_count": len(data.nodes),
            "clusters": clusters,
            "stale": cluster_is_stale(cluster) if cluster is not None else False,
        }
        if live_parts.requested(request, "graph"):
            return live_parts.fragment(request, "admin/graph/graph_drawing.html", drawing, "graph", change_token)
        present = rules.visible_objects(request.user, KubeObject.objects.filter(cluster_id=cluster_id,
                                                                                deleted_at__isnull=True))
        context = {
            **self.admin_site.each_context(request),
            **drawing,
            "opts": self.model._meta,
            "title": "Graph",
            "scope": scope,
            "namespaces": sorted(set(present.order_by().values_list("namespace", flat=True).distinct()) - {""}),
            "all_kinds": sorted(set(present.order_by().values_list("kind", flat=True).distinct())),
            "health_choices": HealthChoices.choices,
            "legend": render.legend(),
            "root": root,
            "live_token": change_token,
        }
        return TemplateResponse(request, "admin/graph/graph.html", context)


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def graph_token(user, cluster: Cluster | None) -> str:
    """The graph page's change token (controlplane.live): the cluster's last full sync and last delta batch, and the
    user's direct view grants (a grant given or taken back changes what the graph may show). No object is read."""
    if cluster is None:
        return live_parts.token("none")
    grants = "*" if rules.has_global(user, rules.VIEW) else sorted(rules.granted_object_ids(user, rules.VIEW))
    return live_parts.token(cluster.pk, cluster.last_sync_at, cluster.mirror_changed_at, grants)


def cluster_is_stale(cluster: Cluster) -> bool:
    """The mirror is stale when the last sync did not succeed or is older than three intervals."""
    from django.utils import timezone

    if cluster.last_sync_state != Cluster.SyncState.OK or cluster.last_sync_at is None:
        return True
    return timezone.now() - cluster.last_sync_at > timezone.timedelta(seconds=3 * cluster.sync_interval_seconds)


@admin.register(KubeObject)
class AllObjectsAdmin(KubeObjectAdmin):
    """Every mirrored object, and the standalone graph view."""

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "graph_url": reverse("admin:graph_kubeobject_graph")}
        return super().changelist_view(request, extra_context)


@admin.register(Kustomization)
class KustomizationAdmin(KubeObjectAdmin):
    list_display = ["name", "namespace", "health_display", "why", "revision", "cluster", "changed"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(applied_revision=KT("status__lastAppliedRevision"))

    @admin.display(description="applied revision", ordering="applied_revision")
    def revision(self, obj: KubeObject) -> str:
        """``main@sha1:0123456789…`` read as ``main@0123456`` (the whole revision on hover)."""
        full = obj.applied_revision or ""
        ref, _, digest = full.rpartition("@")
        short = f"{ref}@{digest.split(':')[-1][:7]}" if ref and digest else full[:20]
        return format_html('<span title="{}">{}</span>', full, short) if full else ""


@admin.register(HelmRelease)
class HelmReleaseAdmin(KubeObjectAdmin):
    list_display = ["name", "namespace", "health_display", "why", "cluster", "changed"]


@admin.register(Source)
class SourceAdmin(KubeObjectAdmin):
    pass


@admin.register(Notification)
class NotificationAdmin(KubeObjectAdmin):
    pass


@admin.register(ImageAutomation)
class ImageAutomationAdmin(KubeObjectAdmin):
    pass


@admin.register(FluxOperatorObject)
class FluxOperatorObjectAdmin(KubeObjectAdmin):
    list_display = ["name", "namespace", "kind", "health_display", "why", "suspended", "cluster", "changed_at"]
    list_filter = [PresenceFilter, "cluster", NamespaceFilter, KindFilter, "health"]


@admin.register(Workload)
class WorkloadAdmin(KubeObjectAdmin):
    list_display = ["name", "namespace", "kind", "health_display", "message", "cluster", "changed"]

    @admin.display(description="message")
    def message(self, obj: KubeObject) -> str:
        text = obj.health_message
        return format_html('<span class="fp-clip" title="{}">{}</span>', text, text) if text else ""
    list_filter = [PresenceFilter, "cluster", NamespaceFilter, KindFilter, "health"]
