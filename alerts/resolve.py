"""Resolve alerts to mirrored objects from their labels, for a whole batch in one query per 300 candidates.

The labels read are the ones kube-state-metrics, kube-prometheus and Flux's own metrics put on alerts: ``namespace``
(or ``exported_namespace``) with ``pod``, ``deployment``, ``statefulset``, ``daemonset``, ``job_name``/``job``,
``cronjob``, ``replicaset``, ``service``, ``persistentvolumeclaim``, ``kustomization``, ``helmrelease``, or
``kind`` + ``name`` (gotk_* metrics). A pod that is not in the mirror (recreated since the last sync) is walked up
to its owners by the names Kubernetes generates: ReplicaSet ``<deployment>-<hash>``, then the Deployment; a
StatefulSet ``<name>-<ordinal>``; a DaemonSet or Job ``<name>-<suffix>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db.models import Q

from controlplane.models import Cluster
from graph.models import KubeObject

LABEL_KINDS = (
    ("pod", "Pod"), ("deployment", "Deployment"), ("statefulset", "StatefulSet"), ("daemonset", "DaemonSet"),
    ("job_name", "Job"), ("cronjob", "CronJob"), ("replicaset", "ReplicaSet"),
    ("persistentvolumeclaim", "PersistentVolumeClaim"), ("service", "Service"),
    ("kustomization", "Kustomization"), ("helmrelease", "HelmRelease"), ("job", "Job"),
)
_ORDINAL = re.compile(r"^(.+)-\d+$")
_CHUNK = 300


@dataclass(frozen=True)
class Candidate:
    """One (kind, namespace, name) an alert may be about, with how it was derived."""

    kind: str
    namespace: str
    name: str
    note: str


def candidates(labels: dict, kind: str = "", namespace: str = "", name: str = "") -> list[Candidate]:
    """Everything the labels could name, most specific first."""
    found: list[Candidate] = []
    namespaces = [ns for ns in (namespace, labels.get("exported_namespace"), labels.get("namespace")) if ns]
    namespaces = list(dict.fromkeys(str(ns) for ns in namespaces))
    if kind and name:
        for ns in namespaces or [""]:
            found.append(Candidate(kind, ns, name, f"{kind} {name}"))
    for ns in namespaces:
        for label, label_kind in LABEL_KINDS:
            value = labels.get(label)
            if not value:
                continue
            value = str(value)
            found.append(Candidate(label_kind, ns, value, f"label {label}"))
            if label_kind == "Pod":
                found += _pod_owners(ns, value)
        if labels.get("kind") and labels.get("name"):
            found.append(Candidate(str(labels["kind"]), ns, str(labels["name"]), "labels kind and name"))
    return found


def _pod_owners(namespace: str, pod: str) -> list[Candidate]:
    owners = []
    parts = pod.rsplit("-", 2)
    if len(parts) >= 2:
        owner = pod.rsplit("-", 1)[0]
        owners.append(Candidate("ReplicaSet", namespace, owner, f"owner of pod {pod}"))
        if len(parts) == 3:
            owners.append(Candidate("Deployment", namespace, parts[0], f"owner of pod {pod}"))
        ordinal = _ORDINAL.match(pod)
        if ordinal:
            owners.append(Candidate("StatefulSet", namespace, ordinal.group(1), f"owner of pod {pod}"))
        owners.append(Candidate("DaemonSet", namespace, owner, f"owner of pod {pod}"))
        owners.append(Candidate("Job", namespace, owner, f"owner of pod {pod}"))
    return owners


def cluster_for(labels: dict, hint: str = "") -> Cluster | None:
    """The ``cluster`` label (or a hint) naming a Cluster, else the only enabled cluster."""
    name = hint or str(labels.get("cluster", "") or "")
    if name:
        found = Cluster.objects.filter(name=name).first()
        if found is not None:
            return found
    enabled = list(Cluster.objects.filter(enabled=True)[:2])
    return enabled[0] if len(enabled) == 1 else None


@dataclass
class Resolution:
    """Where one alert landed: an object (or None) and a sentence saying how."""

    object_id: int | None
    namespace: str
    note: str


def resolve_many(requests: list[tuple[int | None, list[Candidate], str]]) -> list[Resolution]:
    """``requests``: (cluster id, candidates, uid) per alert. Looks every candidate up in bulk and picks, per alert,
    the object with that uid, else the first candidate that exists."""
    wanted = {(c.kind, c.namespace, c.name) for _cluster, cands, _uid in requests for c in cands}
    clusters = {cluster for cluster, _c, _u in requests if cluster is not None}
    uids = {uid for _c, _cands, uid in requests if uid}
    index: dict[tuple, int] = {}
    by_uid: dict[tuple, tuple[int, str]] = {}
    base = KubeObject.objects.filter(deleted_at__isnull=True)
    if clusters:
        base = base.filter(cluster_id__in=clusters)
    keys = sorted(wanted)
    for start in range(0, len(keys), _CHUNK):
        condition = Q()
        for kind, namespace, name in keys[start:start + _CHUNK]:
            condition |= Q(kind=kind, namespace=namespace, name=name)
        for pk, cluster_id, kind, namespace, name in base.filter(condition).values_list(
                "pk", "cluster_id", "kind", "namespace", "name"):
            index.setdefault((cluster_id, kind, namespace, name), pk)
            index.setdefault((None, kind, namespace, name), pk)
    if uids:
        for pk, cluster_id, uid, namespace in base.filter(uid__in=uids).values_list("pk", "cluster_id", "uid",
                                                                                  "namespace"):
            by_uid[(cluster_id, uid)] = (pk, namespace)
    results = []
    for cluster_id, cands, uid in requests:
        if uid and (cluster_id, uid) in by_uid:
            pk, namespace = by_uid[(cluster_id, uid)]
            results.append(Resolution(pk, namespace, "by uid"))
            continue
        for cand in cands:
            pk = index.get((cluster_id, cand.kind, cand.namespace, cand.name))
            if pk is not None:
                results.append(Resolution(pk, cand.namespace, f"{cand.kind} {cand.namespace}/{cand.name} "
                                                              f"({cand.note})"))
                break
        else:
            namespace = cands[0].namespace if cands else ""
            tried = ", ".join(f"{c.kind} {c.name}" for c in cands[:4])
            note = f"no mirrored object for {tried}" if cands else "no label names a Kubernetes object"
            if cluster_id is None:
                note += " (no cluster label, and more than one cluster)" if cands else ""
            results.append(Resolution(None, namespace, note))
    return results
