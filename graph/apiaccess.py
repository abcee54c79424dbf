"""What Fluxplane does with the Kubernetes API, as one table: which component lists, watches, gets, patches or
deletes which resource, and why.

The table is built from the same constants the code reads — the Flux kinds (graph/kinds.py FLUX_KINDS) the sync
lists and the exec playbooks get and patch, the kinds the sync lists by Flux label (DEFAULT_MANAGED_KINDS) and
through owner references (OWNED_CHILD_KINDS), the kinds the watcher watches (graph/watch.py WATCHED_CHILD_KINDS),
the RoleBindings the JIT sweep lists and deletes — so a kind added there changes the table. The Helm chart's
ClusterRoles are generated from it (``manage.py chart_rbac`` writes deploy/chart/files/rbac.yaml; a test fails
when the file is stale) and tests/deploy/test_rbac.py records every request the real code makes against the
simulator and checks each one is in the table, and each table entry is used.

Verbs RBAC cannot narrow are narrowed in the code: every Secret list carries a label selector (Flux's labels, or
Helm's ``owner=helm``), and the sweep deletes only RoleBindings labelled ``fluxplane.io/jit-grant`` (with the
listed uid as a precondition) — the chart adds a ValidatingAdmissionPolicy that refuses any other RoleBinding
deletion by Fluxplane's service account.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from graph.kinds import DEFAULT_MANAGED_KINDS, FLUX_KINDS, HELM_NAME_LABEL, KUSTOMIZE_NAME_LABEL, OWNED_CHILD_KINDS
from graph.watch import WATCHED_CHILD_KINDS

WORKER = "worker"  # syncs, playbooks, the JIT sweep (RQ jobs)
WATCHER = "watcher"  # watch_clusters: read-only
WEB = "web"  # object pages read a workload's events and pod logs, and a HelmRelease's history, live (graph/live.py)
RBAC_GROUP = "rbac.authorization.k8s.io"
JIT_GRANT_LABEL = "fluxplane.io/jit-grant"  # access/jit/models.py GRANT_LABEL (a test keeps them equal)

# Plurals of the built-in kinds in the table (Flux kinds carry theirs): RBAC names resources, the code names kinds.
BUILTIN_PLURALS: dict[tuple[str, str], str] = {
    ("", "Namespace"): "namespaces", ("", "Service"): "services", ("", "ConfigMap"): "configmaps",
    ("", "ServiceAccount"): "serviceaccounts", ("", "Secret"): "secrets",
    ("", "PersistentVolumeClaim"): "persistentvolumeclaims", ("", "Pod"): "pods", ("", "Event"): "events",
    ("apps", "Deployment"): "deployments", ("apps", "StatefulSet"): "statefulsets",
    ("apps", "DaemonSet"): "daemonsets", ("apps", "ReplicaSet"): "replicasets", ("batch", "Job"): "jobs",
    ("batch", "CronJob"): "cronjobs", ("networking.k8s.io", "Ingress"): "ingresses",
    (RBAC_GROUP, "Role"): "roles", (RBAC_GROUP, "RoleBinding"): "rolebindings",
    (RBAC_GROUP, "ClusterRole"): "clusterroles", (RBAC_GROUP, "ClusterRoleBinding"): "clusterrolebindings",
    ("apiextensions.k8s.io", "CustomResourceDefinition"): "customresourcedefinitions",
    ("autoscaling", "HorizontalPodAutoscaler"): "horizontalpodautoscalers",
}


@dataclass(frozen=True)
class ApiUse:
    """One thing a component does: ``verb`` on ``group``/``resource``; ``selector`` when every call carries a
    label selector (RBAC cannot express it: the code guarantees it); ``toggle`` names the chart value that grants
    it (``secrets``: rbac.secrets)."""

    component: str
    group: str
    resource: str
    verb: str
    why: str
    selector: str = ""
    toggle: str = ""


def plural(group: str, kind: str) -> str:
    for flux in FLUX_KINDS:
        if (flux.group, flux.kind) == (group, kind):
            return flux.plural
    return BUILTIN_PLURALS[(group, kind)]


def api_uses() -> tuple[ApiUse, ...]:
    """Every use, in a stable order."""
    uses: list[ApiUse] = []
    for kind in FLUX_KINDS:
        uses.append(ApiUse(WORKER, kind.group, kind.plural, "list", "sync: every Flux object (graph/sync.py)"))
        uses.append(ApiUse(WORKER, kind.group, kind.plural, "get", "suspend/resume/reconcile read the object "
                                                                   "(playbooks/fluxexec.py)"))
        uses.append(ApiUse(WORKER, kind.group, kind.plural, "patch", "suspend/resume (spec.suspend), reconcile "
                                                                     "(requestedAt annotation)"))
    labels = f"{KUSTOMIZE_NAME_LABEL} | {HELM_NAME_LABEL}"
    for group, kind in DEFAULT_MANAGED_KINDS:
        secret = (group, kind) == ("", "Secret")
        uses.append(ApiUse(WORKER, group, plural(group, kind), "list", "sync: objects carrying the Flux labels",
                           selector=labels + (" | owner=helm (Helm release storage)" if secret else ""),
                           toggle="secrets" if secret else ""))
    for group, kind in OWNED_CHILD_KINDS:
        uses.append(ApiUse(WORKER, group, plural(group, kind), "list", "sync: children of mirrored objects "
                                                                       "(ownerReferences)"))
    uses.append(ApiUse(WORKER, "", "events", "list", "sync: events of mirrored objects"))
    uses.append(ApiUse(WORKER, RBAC_GROUP, "rolebindings", "delete", "JIT sweep: an expired grant's binding "
                                                                     "(jit/sweep.py)", selector=JIT_GRANT_LABEL))
    for kind in FLUX_KINDS:
        uses.append(ApiUse(WATCHER, kind.group, kind.plural, "list", "watch: a resourceVersion to start from"))
        uses.append(ApiUse(WATCHER, kind.group, kind.plural, "watch", "watch: changes to Flux objects"))
    for group, kind in WATCHED_CHILD_KINDS:
        uses.append(ApiUse(WATCHER, group, plural(group, kind), "list", "watch: a resourceVersion to start from"))
        uses.append(ApiUse(WATCHER, group, plural(group, kind), "watch", "watch: changes to workloads"))
    # The watcher's first list is a full sync (graph.watch): it reads the events of mirrored objects too.
    uses.append(ApiUse(WATCHER, "", "events", "list", "watch: the first list (a full sync) attaches events"))
    uses.append(ApiUse(WEB, "", "events", "list", "object pages: a Pod's or workload's events (graph/live.py)",
                       selector="fieldSelector involvedObject.kind/name"))
    uses.append(ApiUse(WEB, "events.k8s.io", "events", "list", "object pages: the same events through "
                                                                "events.k8s.io/v1 (regarding)"))
    uses.append(ApiUse(WEB, "", "pods/log", "get", "object pages: the last log lines of each container"))
    uses.append(ApiUse(WEB, "", "secrets", "list", "HelmRelease pages: the release history from Helm storage",
                       selector="owner=helm,name=<release>", toggle="secrets"))
    return tuple(dict.fromkeys(uses))


def allowed(component: str, toggles: frozenset[str] = frozenset({"secrets"})) -> set[tuple[str, str, str]]:
    """(group, resource, verb) the component needs, with the optional uses whose toggle is on."""
    return {(u.group, u.resource, u.verb) for u in api_uses()
            if u.component == component and (not u.toggle or u.toggle in toggles)}


def rules(component: str, verbs: tuple[str, ...] | None = None, toggle: str = "") -> list[dict]:
    """ClusterRole rules for one component: resources grouped by (API group, verbs), sorted; only the uses with
    ``toggle`` (empty: only the unconditional ones); only ``verbs`` when given."""
    per_resource: dict[tuple[str, str], set[str]] = defaultdict(set)
    for use in api_uses():
        if use.component == component and use.toggle == toggle and (verbs is None or use.verb in verbs):
            per_resource[(use.group, use.resource)].add(use.verb)
    grouped: dict[tuple[str, tuple[str, ...]], list[str]] = defaultdict(list)
    order = ("get", "list", "watch", "patch", "delete")  # pods/log: a subresource, named as RBAC names it
    for (group, resource), found in per_resource.items():
        grouped[(group, tuple(v for v in order if v in found))].append(resource)
    return [{"apiGroups": [group], "resources": sorted(resources), "verbs": list(vs)}
            for (group, vs), resources in sorted(grouped.items())]


def chart_rbac() -> dict:
    """The content of deploy/chart/files/rbac.yaml."""
    return {
        "worker": rules(WORKER, verbs=("get", "list", "watch", "patch")),
        "workerSecrets": rules(WORKER, toggle="secrets"),
        "workerDelete": rules(WORKER, verbs=("delete",)),
        "watcher": rules(WATCHER),
        "web": rules(WEB),
        "webSecrets": rules(WEB, toggle="secrets"),
        "deleteOnlyLabelled": {"group": RBAC_GROUP, "resource": "rolebindings", "label": JIT_GRANT_LABEL},
    }
