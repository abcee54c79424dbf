"""Remote targets: a Kustomization or HelmRelease with ``spec.kubeConfig`` (a hub applying to a spoke) creates its
objects in another cluster. When that cluster is registered, the hub's applier gets ``created`` edges to the
spoke's mirrored objects (the edge row belongs to the hub) and the hub's roll-ups include the spoke subtrees.

Run after every sync (graph.sync): a hub's sync relinks the hub, a spoke's sync relinks the hubs targeting it, so
whichever side changed, the roll-up is recomputed from both mirrors. The target is found by the explicit mapping
``Cluster.kubeconfig_secrets`` (``<hub>/<namespace>/<secret>``), else by the Cluster API convention that a
cluster's kubeconfig Secret is named ``<cluster name>-kubeconfig``.
"""

from __future__ import annotations

from collections import defaultdict

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from controlplane.models import Cluster
from graph import health as health_rules
from graph.builder import inventory_keys
from graph.choices import EdgeType
from graph.kinds import HELM_GROUP, KUSTOMIZE_GROUP
from graph.models import Edge, KubeObject

CONVENTION_SUFFIX = "-kubeconfig"
_APPLIERS = Q(api_group=KUSTOMIZE_GROUP, kind="Kustomization") | Q(api_group=HELM_GROUP, kind="HelmRelease")


def kubeconfig_ref(spec: dict) -> tuple[str, str] | None:
    """("Secret"|"ConfigMap", name) of ``spec.kubeConfig``, or None for an applier of its own cluster."""
    kc = (spec or {}).get("kubeConfig") if isinstance(spec, dict) else None
    if not isinstance(kc, dict):
        return None
    for field, kind in (("secretRef", "Secret"), ("configMapRef", "ConfigMap")):
        ref = kc.get(field)
        if isinstance(ref, dict) and ref.get("name"):
            return kind, str(ref["name"])
    return None


def target_cluster(hub: Cluster, namespace: str, secret: str, clusters: list[Cluster]) -> Cluster | None:
    """The registered cluster a hub's kubeconfig Secret points at: explicit mapping first, then the convention."""
    for cluster in clusters:
        if (hub.name, namespace, secret) in cluster.kubeconfig_secret_refs() and cluster.pk != hub.pk:
            return cluster
    for cluster in clusters:
        if cluster.pk != hub.pk and secret == f"{cluster.name}{CONVENTION_SUFFIX}" and \
                not cluster.kubeconfig_secret_refs():
            return cluster
    return None


def _hub_ids() -> set[int]:
    """Clusters with a live applier that has a kubeConfig."""
    return set(KubeObject.objects.filter(_APPLIERS, deleted_at__isnull=True, spec__has_key="kubeConfig")
               .values_list("cluster_id", flat=True).distinct())


def hubs_of(cluster: Cluster) -> list[Cluster]:
    """``cluster`` itself (as a hub) and every cluster with an applier that has a kubeConfig (possible hubs)."""
    return list(Cluster.objects.filter(pk__in=_hub_ids() | {cluster.pk}).order_by("name"))


def link_after_sync(cluster: Cluster) -> int:
    """Relink ``cluster`` as a hub and every hub that may target it; returns the cross-cluster edges written."""
    clusters = list(Cluster.objects.all())
    return sum(link_hub(hub, clusters) for hub in hubs_of(cluster))


def relink_after_delta(cluster: Cluster) -> int:
    """After a batch of watch deltas changed ``cluster`` (graph.watch): relink the hubs it concerns, as a full sync
    would (link_after_sync) — ``cluster`` itself when it is a hub (it has kubeConfig appliers, or cross-cluster edges
    left to remove), and every other hub whose appliers target it or that holds edges into it. Returns the number of
    hubs relinked; with one registered cluster, or no hub at all, it costs one or two queries and relinks nothing.

    A relink recomputes the hub's roll-ups as a whole (``_rollup_hub``), so it is done only for the hubs concerned."""
    clusters = list(Cluster.objects.all())
    if len(clusters) < 2:
        return 0
    hub_ids = _hub_ids()
    relinked = 0
    for hub in clusters:
        if hub.pk == cluster.pk:
            concerned = hub.pk in hub_ids or Edge.objects.filter(cluster=hub).exclude(target__cluster=hub).exists()
        elif hub.pk in hub_ids:
            concerned = cluster.pk in _targets(hub, clusters) or Edge.objects.filter(
                cluster=hub, target__cluster=cluster).exists()
        else:
            concerned = Edge.objects.filter(cluster=hub, target__cluster=cluster).exists()
        if concerned:
            link_hub(hub, clusters)
            relinked += 1
    return relinked


def _targets(hub: Cluster, clusters: list[Cluster]) -> set[int]:
    """The clusters the hub's kubeConfig appliers apply to."""
    found = set()
    for namespace, spec in KubeObject.objects.filter(_APPLIERS, cluster=hub, deleted_at__isnull=True,
                                                     spec__has_key="kubeConfig").values_list("namespace", "spec"):
        ref = kubeconfig_ref(spec)
        target = target_cluster(hub, namespace, ref[1], clusters) if ref else None
        if target is not None:
            found.add(target.pk)
    return found


def link_hub(hub: Cluster, clusters: list[Cluster] | None = None) -> int:
    """Replace the hub's cross-cluster edges and recompute its roll-ups with the remote subtrees."""
    clusters = clusters if clusters is not None else list(Cluster.objects.all())
    appliers = [o for o in KubeObject.objects.filter(_APPLIERS, cluster=hub, deleted_at__isnull=True,
                                                     spec__has_key="kubeConfig")]
    with transaction.atomic():
        stale = Edge.objects.filter(cluster=hub).exclude(target__cluster=hub)
        had_remote = stale.exists()
        stale.delete()
        cross: list[tuple[KubeObject, KubeObject]] = []
        for applier in appliers:
            ref = kubeconfig_ref(applier.spec)
            if ref is None:
                continue
            target = target_cluster(hub, applier.namespace, ref[1], clusters)
            if target is None:
                continue
            keys = inventory_keys({"status": applier.status})
            if not keys:
                continue
            names = {name for _g, _k, _ns, name in keys}
            wanted = set(keys)
            for obj in KubeObject.objects.filter(cluster=target, deleted_at__isnull=True, name__in=names):
                if (obj.api_group, obj.kind, obj.namespace, obj.name) in wanted:
                    cross.append((applier, obj))
        Edge.objects.bulk_create([Edge(cluster=hub, source=a, target=o, type=EdgeType.CREATED) for a, o in cross],
                                 ignore_conflicts=True)
        if cross or had_remote:
            _rollup_hub(hub, cross, {c.pk: c.name for c in clusters})
            # The hub's mirror changed (its edges, its roll-ups) after the batch or sync that moved the spoke's token
            # committed: the hub's token moves too (graph.admin.listing, controlplane.live).
            Cluster.objects.filter(pk=hub.pk).update(mirror_changed_at=timezone.now())
    return len(cross)


def _rollup_hub(hub: Cluster, cross: list[tuple[KubeObject, KubeObject]], names: dict[int, str]) -> None:
    """The hub's roll-ups again, with each remote object as a leaf carrying its own (spoke-side) roll-up."""
    fields = ("pk", "kind", "namespace", "name", "health", "health_reason", "health_message", "rollup_health",
              "rollup_message")
    rows = {r["pk"]: r for r in KubeObject.objects.filter(cluster=hub, deleted_at__isnull=True).values(*fields)}
    assessments: dict = {}
    labels: dict = {}
    for pk, r in rows.items():
        assessments[pk] = health_rules.Assessment(health_rules.Health(r["health"]), r["health_reason"],
                                                  r["health_message"])
        labels[pk] = f"{r['kind']} {r['namespace'] + '/' if r['namespace'] else ''}{r['name']}"
    children: dict = defaultdict(list)
    for source, target in Edge.objects.filter(cluster=hub, type__in=(EdgeType.CREATED, EdgeType.OWNS),
                                              target__cluster=hub).values_list("source_id", "target_id"):
        if source in rows and target in rows:
            children[source].append(target)
    for applier, remote in cross:
        leaf = ("remote", remote.pk)
        label = f"{remote.kind} {remote.namespace + '/' if remote.namespace else ''}{remote.name}"
        message = remote.rollup_message or remote.health_message
        if message.startswith(f"{label} → "):
            message = message[len(label) + 3:]
        assessments[leaf] = health_rules.Assessment(health_rules.Health(remote.rollup_health), remote.health_reason,
                                                    message)
        labels[leaf] = f"[{names.get(remote.cluster_id, '?')}] {label}"
        children[applier.pk].append(leaf)
    rolled = health_rules.rollup_all(assessments, children, lambda n: labels[n])
    changed = []
    for pk, r in rows.items():
        up = rolled[pk]
        if (str(up.health), up.message) != (r["rollup_health"], r["rollup_message"]):
            changed.append(KubeObject(pk=pk, rollup_health=str(up.health), rollup_message=up.message))
    KubeObject.objects.bulk_update(changed, ["rollup_health", "rollup_message"], batch_size=500)
