"""API views. Each one asks access/rules.py what the caller may see or do, exactly as the admin does; an object
outside the caller's grants answers 404, the same as one that does not exist."""

from __future__ import annotations

import csv
from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response

from access import rules
from access.jit import rules as jit_rules
from access.jit.models import AccessGrant
from alerts.forms import SilenceForm
from alerts.models import Alert, Silence, coverage
from api import serializers as s
from controlplane.admin.audit import _Echo, csv_safe
from controlplane.models import AuditEvent, Cluster
from gitops import GitOpsError
from graph import render
from graph.choices import HealthChoices
from graph.models import Edge, KubeObject
from jit.playbook import RequestNamespaceAccess, extension_initial, request_access
from playbooks.changes.forms import cleaned_for_storage
from playbooks.changes.merging import merge_change
from playbooks.choices import Mode, PlaybookRunStatus
from playbooks.library import get_playbook
from playbooks.models import PlaybookRun


class Pages(CursorPagination):
    """Cursor pagination: stable while rows are added (the audit log grows as you page)."""

    page_size = 100
    max_page_size = 1000
    page_size_query_param = "limit"
    ordering = "-id"


def _refuse(exc: Exception) -> exceptions.APIException:
    """A model method's refusal as the API's answer (403 for permission, 400 for bad input)."""
    if isinstance(exc, PermissionDenied):
        return exceptions.PermissionDenied(str(exc) or "You may not do this.")
    messages = exc.messages if isinstance(exc, ValidationError) else [str(exc)]
    return exceptions.ValidationError({"detail": messages})


class VisibleRows:
    """A viewset's rows are what its visible_queryset() lets the caller see; drawing the schema (no user) sees none."""

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset  # the model's empty queryset: no user, no rows
        return self.visible_queryset()

    def visible_queryset(self):
        raise NotImplementedError


class ClusterViewSet(VisibleRows, viewsets.ReadOnlyModelViewSet):
    """Clusters Fluxplane mirrors (names and sync state only; connections are never shown)."""

    queryset = Cluster.objects.none()  # the model, for the schema
    serializer_class = s.ClusterSerializer
    pagination_class = None

    def visible_queryset(self):
        if not rules.has_any_grant(self.request.user, rules.VIEW):
            return Cluster.objects.none()
        return Cluster.objects.order_by("name")


class ObjectFilter(filters.FilterSet):
    kind = filters.CharFilter(field_name="kind", lookup_expr="iexact")
    namespace = filters.CharFilter()
    cluster = filters.CharFilter(field_name="cluster__name")
    health = filters.ChoiceFilter(field_name="rollup_health", choices=HealthChoices.choices)
    search = filters.CharFilter(method="filter_search", help_text="name, namespace or kind contains")
    deleted = filters.BooleanFilter(field_name="deleted_at", lookup_expr="isnull", exclude=True)

    class Meta:
        model = KubeObject
        fields = ["kind", "namespace", "cluster", "health", "search", "deleted"]

    def filter_search(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(namespace__icontains=value) | Q(kind__iexact=value))


class ObjectViewSet(VisibleRows, viewsets.ReadOnlyModelViewSet):
    """Mirrored objects the caller may view, with health and why; one object with conditions and edges; its graph."""

    queryset = KubeObject.objects.none()  # the model, for the schema
    filterset_class = ObjectFilter
    pagination_class = Pages

    def visible_queryset(self):
        qs = KubeObject.objects.select_related("cluster").defer("spec", "status", "events", "owner_references")
        if self.action == "list" and "deleted" not in self.request.query_params:
            qs = qs.filter(deleted_at__isnull=True)
        return rules.visible_objects(self.request.user, qs)

    def get_serializer_class(self):
        return s.ObjectDetailSerializer if self.action == "retrieve" else s.ObjectSerializer

    def retrieve(self, request: Request, *args, **kwargs) -> Response:
        obj = self.get_object()
        visible = rules.visible_filter(request.user)
        related = []
        for edge in Edge.objects.filter(Q(source=obj) | Q(target=obj)).select_related("source__cluster",
                                                                                       "target__cluster")[:500]:
            other, direction = (edge.target, "out") if edge.source_id == obj.pk else (edge.source, "in")
            related.append((edge.type, direction, other))
        allowed = {o.pk for o in KubeObject.objects.filter(pk__in=[o.pk for _, _, o in related]).filter(
            visible if visible is not None else Q())}
        edges = [{"type": t, "direction": d, "object": o} for t, d, o in related if o.pk in allowed]
        return Response(s.ObjectDetailSerializer(obj, context={"edges": edges}).data)

    @extend_schema(responses={200: dict})
    @action(detail=True)
    def graph(self, request: Request, pk=None) -> Response:
        """The object's subtree with sources and dependsOn, as nodes and edges (what the admin draws)."""
        obj = self.get_object()
        data = render.select(render.GraphScope(root_id=obj.pk), visible=rules.visible_filter(request.user))
        return Response({
            "root": obj.pk,
            "nodes": s.ObjectSerializer(list(data.nodes.values()), many=True).data,
            "edges": [{"source": a, "target": b, "type": t} for a, b, t in data.edges],
            "truncated": data.truncated,
        })


class RunFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=PlaybookRunStatus.choices)
    playbook = filters.CharFilter()
    mine = filters.BooleanFilter(method="filter_mine", help_text="only runs I requested")

    class Meta:
        model = PlaybookRun
        fields = ["status", "playbook", "mine"]

    def filter_mine(self, queryset, name, value):
        return queryset.filter(requested_by=self.request.user) if value else queryset


class RunViewSet(VisibleRows, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Playbook runs: list and read the runs the caller may see, request one, approve, reject or cancel it."""

    queryset = PlaybookRun.objects.none()  # the model, for the schema
    serializer_class = s.RunSerializer
    filterset_class = RunFilter
    pagination_class = Pages

    def visible_queryset(self):
        qs = PlaybookRun.objects.select_related("cluster", "target").prefetch_related("approvals")
        return rules.visible_runs(self.request.user, qs)

    @extend_schema(request=s.RunRequestSerializer, responses={201: s.RunSerializer, 200: dict})
    def create(self, request: Request, *args, **kwargs) -> Response:
        """Request a playbook: the same checks and the same form validation as the admin's playbook page."""
        body = s.RunRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            playbook = get_playbook(body.validated_data["playbook"])
        except LookupError as exc:
            raise exceptions.ValidationError({"playbook": [str(exc)]}) from None
        target = get_object_or_404(rules.visible_objects(request.user, KubeObject.objects.all()),
                                   pk=body.validated_data["target"])
        if not playbook.enabled():
            raise exceptions.ValidationError({"playbook": [f"The {playbook.title} playbook is switched off."]})
        if not playbook.applies_to(target):
            raise exceptions.ValidationError({"playbook": [f"{playbook.title} does not apply to {target}."]})
        if not playbook.allowed(request.user, target):
            raise exceptions.PermissionDenied(f"You may not run {playbook.title} on {target}.")
        if hasattr(playbook, "start_url"):
            raise exceptions.ValidationError({"playbook": ["Request namespace access in the admin."]})
        refusal = playbook.refusal(target)
        if refusal:
            raise exceptions.ValidationError({"detail": [refusal]})
        form = playbook.form_class(data=_with_defaults(playbook, target, body.validated_data["parameters"]))
        if not form.is_valid():
            raise exceptions.ValidationError({"parameters": form.errors.get_json_data()})
        params = cleaned_for_storage(form.cleaned_data)
        diff = rendered = ""
        try:
            if playbook.mode == Mode.GITOPS:
                preview = playbook.preview(target, params)
                if preview.errors:
                    raise exceptions.ValidationError({"detail": preview.errors, "diff": preview.diff})
                diff, rendered = preview.diff, preview.rendered_text()
                if body.validated_data["dry_run"]:
                    # the verification notes, the impact warning and the rendered diff per Kustomization, as in the
                    # admin's preview (docs/clickops.md)
                    return Response({"diff": diff, "files": preview.files, "summary": preview.summary,
                                     "notes": preview.notes, "impact_warning": preview.impact_warning,
                                     "rendered_diff": rendered})
            elif body.validated_data["dry_run"]:
                return Response({"diff": "", "summary": f"{playbook.title} on {target}"})
            run = PlaybookRun.request(playbook, target, request.user, params, diff=diff, rendered_diff=rendered)
        except (ValidationError, PermissionDenied, GitOpsError) as exc:
            raise _refuse(exc) from None
        return Response(s.RunSerializer(run).data, status=status.HTTP_201_CREATED)

    def _decide(self, request: Request, method: str) -> Response:
        run = self.get_object()
        body = s.DecisionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            if method == "cancel":
                run.cancel(request.user)
            else:
                getattr(run, method)(request.user, body.validated_data["reason"])
        except (ValidationError, PermissionDenied) as exc:
            raise _refuse(exc) from None
        run.refresh_from_db()
        return Response(s.RunSerializer(run).data)

    @extend_schema(request=s.DecisionSerializer, responses=s.RunSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk=None) -> Response:
        """Approve (never your own request; needs approve_run on the target or an ancestor)."""
        return self._decide(request, "approve")

    @extend_schema(request=s.DecisionSerializer, responses=s.RunSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk=None) -> Response:
        """Reject with a reason."""
        return self._decide(request, "reject")

    @extend_schema(request=None, responses=s.RunSerializer)
    @action(detail=True, methods=["post"])
    def merge(self, request: Request, pk=None) -> Response:
        """Merge the run's approved change (needs merge_change on the target; approvals met, checks passing)."""
        run = self.get_object()
        try:
            merge_change(run, request.user)
        except (ValidationError, PermissionDenied, GitOpsError) as exc:
            raise _refuse(exc) from None
        run.refresh_from_db()
        return Response(s.RunSerializer(run).data)

    @extend_schema(request=None, responses=s.RunSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk=None) -> Response:
        """Withdraw a run that has not started (its requester)."""
        return self._decide(request, "cancel")


def _with_defaults(playbook, target: KubeObject, given: dict) -> dict:
    """The parameters as the admin's form would submit them: what the page pre-fills (field initials, and for GitOps
    playbooks the target's current values), overridden by what the caller gave."""
    data = {}
    for name, field in playbook.form_class.base_fields.items():
        if field.initial is not None:
            data[name] = field.initial() if callable(field.initial) else field.initial
    if playbook.mode == Mode.GITOPS:
        data.update({k: v for k, v in playbook.form_initial(target).items() if v is not None})
    return {**data, **given}


class ApprovalViewSet(VisibleRows, viewsets.ReadOnlyModelViewSet):
    """Runs waiting for the caller's decision (never their own)."""

    queryset = PlaybookRun.objects.none()  # the model, for the schema
    serializer_class = s.RunSerializer
    pagination_class = None

    def visible_queryset(self):
        user = self.request.user
        pending = PlaybookRun.objects.filter(status=PlaybookRunStatus.PENDING_APPROVAL).exclude(
            requested_by=user).select_related("target", "cluster").prefetch_related("approvals")
        return PlaybookRun.objects.filter(pk__in=[r.pk for r in pending if rules.can_approve(user, r)]).select_related(
            "target", "cluster").prefetch_related("approvals").order_by("-id")


class AlertViewSet(VisibleRows, viewsets.ReadOnlyModelViewSet):
    """Alerts on objects the caller may view."""

    queryset = Alert.objects.none()  # the model, for the schema
    serializer_class = s.AlertSerializer
    pagination_class = Pages
    filterset_fields = ["status", "source", "severity", "namespace"]

    def visible_queryset(self):
        visible = rules.visible_objects(self.request.user, KubeObject.objects.all())
        return Alert.objects.filter(object__in=visible)


class SilenceViewSet(VisibleRows, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Silences whose target the caller may view; create one (or preview its coverage) on a subtree; end one."""

    queryset = Silence.objects.none()  # the model, for the schema
    serializer_class = s.SilenceSerializer
    pagination_class = Pages

    def visible_queryset(self):
        visible = rules.visible_objects(self.request.user, KubeObject.objects.all())
        return Silence.objects.filter(target__in=visible).select_related("target")

    @extend_schema(request=s.SilenceRequestSerializer, responses={201: s.SilenceSerializer, 200: dict})
    def create(self, request: Request, *args, **kwargs) -> Response:
        """The admin's silence form, validated the same way (durations, matchers, the policy's maximum)."""
        body = s.SilenceRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        target = get_object_or_404(rules.visible_objects(request.user, KubeObject.objects.filter(
            deleted_at__isnull=True)), pk=data["target"])
        if not rules.can_silence(request.user, target):
            raise exceptions.PermissionDenied(f"You may not silence alerts of {target}.")
        form = SilenceForm(data={"duration_minutes": data["duration_minutes"], "reason": data["reason"],
                                 "include_descendants": data["include_descendants"], "matchers": data["matchers"],
                                 "starts_at": data["starts_at"] or ""})
        if not form.is_valid():
            raise exceptions.ValidationError(form.errors.get_json_data())
        clean = form.cleaned_data
        if data["preview"]:
            found = coverage.preview(target, clean["include_descendants"], clean["matchers"])
            return Response({"objects": s.ObjectSerializer(found["objects"], many=True).data,
                             "alerts": s.AlertSerializer(found["alerts"], many=True).data})
        starts_at, ends_at = form.window()
        try:
            silence = Silence.open(target=target, user=request.user, ends_at=ends_at, starts_at=starts_at,
                                   reason=clean["reason"], include_descendants=clean["include_descendants"],
                                   matchers=clean["matchers"])
        except (ValidationError, PermissionDenied) as exc:
            raise _refuse(exc) from None
        return Response(s.SilenceSerializer(silence).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=s.SilenceSerializer)
    @action(detail=True, methods=["post"])
    def end(self, request: Request, pk=None) -> Response:
        """End the silence now (alerts it silenced are matched again)."""
        silence = self.get_object()
        try:
            silence.expire(request.user, f"ended by {request.user.get_username()} through the API")
        except (ValidationError, PermissionDenied) as exc:
            raise _refuse(exc) from None
        silence.refresh_from_db()
        return Response(s.SilenceSerializer(silence).data)


class GrantViewSet(VisibleRows, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Just-in-time access grants the caller may see (their own, those they may approve, all for admins); request
    access to a namespace, revoke, or ask to extend. Approving is the request run's approval (``/api/runs/``)."""

    queryset = AccessGrant.objects.none()  # the model, for the schema
    serializer_class = s.GrantSerializer
    pagination_class = Pages
    filterset_fields = ["state", "namespace", "role"]

    def visible_queryset(self):
        return jit_rules.visible_grants(self.request.user, AccessGrant.objects.select_related("request_run"))

    def _request(self, request: Request, namespace: KubeObject, given: dict,
                 extends: AccessGrant | None = None) -> Response:
        body = s.GrantRequestSerializer(data={**given, "namespace": namespace.pk})
        body.is_valid(raise_exception=True)
        data = body.validated_data
        if not RequestNamespaceAccess.enabled() or not rules.can_request_access(request.user, namespace):
            raise exceptions.PermissionDenied(f"You may not request access to namespace {namespace.name}.")
        try:
            grant = request_access(request.user, namespace, data["role"], data["duration"], data["reason"],
                                   data["ticket"], data["subject_kind"], data["group"], extends=extends)
        except (ValidationError, PermissionDenied) as exc:
            raise _refuse(exc) from None
        return Response(s.GrantSerializer(grant).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.GrantRequestSerializer, responses={201: s.GrantSerializer})
    def create(self, request: Request, *args, **kwargs) -> Response:
        """Request access: the policy's roles, durations and approvals, exactly as the admin's request form."""
        namespace_id = request.data.get("namespace")
        namespace = get_object_or_404(rules.visible_objects(request.user, KubeObject.objects.filter(
            kind="Namespace", api_group="")), pk=namespace_id if str(namespace_id).isdigit() else 0)
        return self._request(request, namespace, dict(request.data))

    @extend_schema(request=s.DecisionSerializer, responses=s.GrantSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk=None) -> Response:
        """End the access now (its requester, approvers on the namespace, superusers)."""
        grant = self.get_object()
        body = s.DecisionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            grant = jit_rules.revoke(grant, request.user, body.validated_data["reason"])
        except (ValidationError, PermissionDenied) as exc:
            raise _refuse(exc) from None
        return Response(s.GrantSerializer(grant).data)

    @extend_schema(request=s.GrantRequestSerializer, responses={201: s.GrantSerializer})
    @action(detail=True, methods=["post"])
    def extend(self, request: Request, pk=None) -> Response:
        """Ask for more time: a new request, pre-filled from the grant, approved again."""
        grant = self.get_object()
        if not jit_rules.can_extend(request.user, grant):
            raise exceptions.PermissionDenied("Only the requester asks for more time.")
        # The extension's defaults (the same access, asked for again), overridden by what the caller gave.
        return self._request(request, grant.namespace_object, {**extension_initial(grant), **request.data},
                             extends=grant)


class AuditFilter(filters.FilterSet):
    verb = filters.CharFilter(lookup_expr="startswith")
    actor = filters.CharFilter(field_name="actor_username")
    since = filters.CharFilter(method="filter_since", help_text="an ISO time or a duration such as 30m, 12h, 7d")
    target_type = filters.CharFilter(method="filter_type", help_text="app_label.model, e.g. playbooks.playbookrun")

    class Meta:
        model = AuditEvent
        fields = ["verb", "actor", "since", "target_type", "request_id"]

    def filter_since(self, queryset, name, value):
        return queryset.filter(time__gte=parse_since(value))

    def filter_type(self, queryset, name, value):
        app_label, _, model = value.partition(".")
        return queryset.filter(target_type__app_label=app_label, target_type__model=model)


def parse_since(value: str):
    """``7d``/``12h``/``30m`` before now, or an ISO time; anything else is a 400 with the accepted forms."""
    units = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
    if value[:-1].isdigit() and value[-1:] in units:
        return timezone.now() - timedelta(**{units[value[-1]]: int(value[:-1])})
    when = parse_datetime(value)
    if when is None:
        raise exceptions.ValidationError({"since": ["Use a duration such as 30m, 12h, 7d or an ISO time."]})
    return when if timezone.is_aware(when) else timezone.make_aware(when)


class AuditViewSet(VisibleRows, viewsets.ReadOnlyModelViewSet):
    """The audit log (needs the permission to view audit events, as in the admin); ``export/`` streams CSV."""

    queryset = AuditEvent.objects.none()  # the model, for the schema
    serializer_class = s.AuditEventSerializer
    filterset_class = AuditFilter
    pagination_class = Pages

    def visible_queryset(self):
        if not self.request.user.has_perm("controlplane.view_auditevent"):
            raise exceptions.PermissionDenied("Reading the audit log needs the 'view audit event' permission.")
        return AuditEvent.objects.select_related("target_type")

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR}, filters=True)
    @action(detail=False, pagination_class=None, filter_backends=[filters.DjangoFilterBackend])
    def export(self, request: Request) -> StreamingHttpResponse:
        """The filtered audit log as CSV (spreadsheet formulas defused, as in the admin's export), oldest first."""
        rows = self.filter_queryset(self.get_queryset()).order_by("id")
        header = ["id", "time", "actor_username", "context", "request_id", "verb", "target_type", "target_id",
                  "target_repr", "message"]

        def stream():
            writer = csv.writer(_Echo())
            yield writer.writerow(header)
            for data in (s.AuditEventSerializer(e).data for e in rows.iterator(chunk_size=1000)):
                yield writer.writerow([csv_safe(data[k]) for k in header])

        response = StreamingHttpResponse(stream(), content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="fluxplane-audit.csv"'
        return response
