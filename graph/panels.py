"""What graph adds to the dashboard (controlplane.extensions): health by kind family, what is failing and why,
recent changes, cluster syncs."""

from __future__ import annotations

from collections import defaultdict

from django.db.models import Count
from django.urls import reverse

from access import rules
from controlplane import extensions
from controlplane.models import Cluster
from graph.admin.listing import cached
from graph.admin.objects import cluster_is_stale, health_badge
from graph.choices import Family, HealthChoices
from graph.models import KubeObject


def _filtered(family: str, health: str | None) -> str:
    """The family's list, filtered to one health (counts on the dashboard link to what they count)."""
    url = reverse(f"admin:graph_{_FAMILY_MODELS[family]}_changelist")
    return f"{url}?rollup_health__exact={health}" if health else url


FLUX_FAMILIES = [Family.KUSTOMIZATION, Family.HELMRELEASE, Family.SOURCE, Family.NOTIFICATION, Family.IMAGE,
                 Family.OPERATOR]


@extensions.register_panel("dashboard", "admin/graph/dashboard.html", order=40)
def health_dashboard(request) -> dict | None:
    """Health by kind family, what is failing and why, recent changes and cluster syncs, within the user's grants."""
    if not rules.request_has_any_grant(request, rules.VIEW):
        return None

    live = rules.visible_objects(request.user, KubeObject.objects.filter(deleted_at__isnull=True))
    by_health = live.filter(family__in=[*FLUX_FAMILIES, Family.WORKLOAD]).values("family", "rollup_health").annotate(
        n=Count("pk")).order_by()
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    # A pass over every live row: counted once per change of the mirror, as the lists are (graph.admin.listing).
    for family, health, n in cached(request, "dashboard", by_health,
                                    lambda: [(r["family"], r["rollup_health"], r["n"]) for r in by_health]):
        counts[family][health] = n
    families = [
        (Family(f).label, [(h, counts[f].get(h, 0), _filtered(f, h)) for h in HealthChoices.values],
         sum(counts[f].values()), _filtered(f, None))
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


# What Flux users call them (the models' own names stay, so no migration renames them).
_LABELS = {"kubeobject": "All objects", "notification": "Notifications (Flux)", "imageautomation": "Image automation"}
_FAMILY_MODELS = {Family.KUSTOMIZATION: "kustomization", Family.HELMRELEASE: "helmrelease", Family.SOURCE: "source",
                  Family.NOTIFICATION: "notification", Family.IMAGE: "imageautomation",
                  Family.OPERATOR: "fluxoperatorobject", Family.WORKLOAD: "workload"}


def navigation(request, app: dict) -> None:
    """The cluster graph first in graph's section of the sidebar, and the lists named as Flux users say them."""
    for model in app["models"]:
        model["name"] = _LABELS.get(model["object_name"].lower(), model["name"])
    if rules.request_has_any_grant(request, rules.VIEW):
        app["models"].insert(0, {"name": "Cluster graph", "object_name": "ClusterGraph", "admin_url": reverse(
            "admin:graph_kubeobject_graph"), "add_url": None, "view_only": True, "model": None,
            "perms": {"add": False, "change": False, "delete": False, "view": True}})


extensions.register_nav("graph", navigation)
