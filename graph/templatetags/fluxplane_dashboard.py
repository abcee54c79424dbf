"""The admin index dashboard: health by kind family, what is failing and why, recent changes, cluster syncs."""

from __future__ import annotations

from collections import defaultdict

from django import template
from django.db.models import Count
from django.utils import timezone

from access import rules
from controlplane.models import Cluster
from graph.choices import Family, HealthChoices
from graph.models import KubeObject

register = template.Library()

FLUX_FAMILIES = [Family.KUSTOMIZATION, Family.HELMRELEASE, Family.SOURCE, Family.NOTIFICATION, Family.IMAGE]


@register.inclusion_tag("admin/graph/dashboard_runs.html", takes_context=True)
def fluxplane_runs(context) -> dict:
    """Approvals waiting for the user and the user's recent runs (shown to every staff user: only their own)."""
    from playbooks.choices import PlaybookRunStatus
    from playbooks.models import PlaybookRun

    user = context["request"].user
    pending = PlaybookRun.objects.filter(status=PlaybookRunStatus.PENDING_APPROVAL).exclude(
        requested_by=user).select_related("target", "cluster").order_by("-created_at")[:50]
    from access.jit.models import AccessGrant, GrantState
    from alerts.models import Silence

    now = timezone.now()
    silences = Silence.objects.filter(expired_at__isnull=True, starts_at__lte=now, ends_at__gt=now).select_related(
        "target").order_by("ends_at")[:50]
    return {
        "approvals": [run for run in pending if rules.can_approve(user, run)][:10],
        "my_runs": list(PlaybookRun.objects.filter(requested_by=user).order_by("-created_at")[:8]),
        "my_grants": list(AccessGrant.objects.filter(requested_by=user, state=GrantState.ACTIVE).order_by(
            "expires_at")[:10]),
        "silences": [s for s in silences if s.target is not None and rules.can_view(user, s.target)][:10],
    }


@register.inclusion_tag("admin/graph/dashboard.html", takes_context=True)
def fluxplane_dashboard(context) -> dict:
    request = context["request"]
    if not rules.has_any_grant(request.user, rules.VIEW):
        return {"visible": False}
    from graph.admin.objects import cluster_is_stale, health_badge

    live = rules.visible_objects(request.user, KubeObject.objects.filter(deleted_at__isnull=True))
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for row in live.filter(family__in=[*FLUX_FAMILIES, Family.WORKLOAD]).values("family", "rollup_health").annotate(
            n=Count("pk")).order_by():
        counts[row["family"]][row["rollup_health"]] = row["n"]
    families = [
        (Family(f).label, [(h, counts[f].get(h, 0)) for h in HealthChoices.values], sum(counts[f].values()))
        for f in [*FLUX_FAMILIES, Family.WORKLOAD]
    ]
    failing = list(
        live.filter(family__in=[Family.KUSTOMIZATION, Family.HELMRELEASE, Family.SOURCE],
                    rollup_health__in=[HealthChoices.FAILED, HealthChoices.DEGRADED])
        .select_related("cluster").only("pk", "kind", "name", "namespace", "family", "rollup_health",
                                        "rollup_message", "cluster__name")
        .order_by("-rollup_health", "namespace", "name")[:15]
    )
    recent = list(live.filter(changed_at__isnull=False).select_related("cluster").only(
        "pk", "kind", "name", "namespace", "family", "health", "rollup_health", "changed_at", "cluster__name",
    ).order_by("-changed_at")[:10])
    clusters = [(c, cluster_is_stale(c)) for c in Cluster.objects.order_by("name")]
    return {
        "visible": True,
        "health_words": HealthChoices.values,
        "families": families,
        "failing": [(o, health_badge(o.rollup_health)) for o in failing],
        "recent": recent,
        "clusters": clusters,
    }
