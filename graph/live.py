"""What an object's page reads from the cluster at page load, not from the mirror: a workload's Kubernetes events
and its pods' last log lines, and a HelmRelease's history from Helm's release storage.

Everything goes through the Kubernetes adapter (controlplane.kube) with a short timeout: a page must not hang on a
cluster that does not answer, it says so instead. Log lines, event messages and release values are shown after
controlplane.redaction (applications log credentials; Helm values hold passwords). The callers (graph/livepanels.py)
check access.rules first.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

import yaml

from controlplane.kube import KubeAdapter, KubeError, KubeUnreachable
from controlplane.redaction import redact, redact_text
from graph import helmstorage
from graph.choices import EdgeType
from graph.models import KubeObject

LIVE_TIMEOUT = (2.0, 5.0)  # connect, read (seconds): a page load waits at most this per request
WORKLOAD_KINDS = ("Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job")
MAX_PODS = 5  # a workload's page shows the logs of its newest pods only
TAIL_LINES = 50
MAX_REVISIONS = 10  # Helm keeps 10 by default (--history-max)


class ClusterSilent(Exception):
    """The cluster did not answer (or refused): the page shows this message instead of the live part."""


@dataclass
class ContainerLog:
    """The last lines of one container of one pod, or why they could not be read."""

    pod: str
    container: str
    lines: list[str] = field(default_factory=list)
    error: str = ""


@dataclass
class WorkloadLive:
    """Events about the object (newest first) and the logs of its (or its pods') containers."""

    events: list[dict] = field(default_factory=list)
    logs: list[ContainerLog] = field(default_factory=list)
    pods_shown: int = 0
    pods_total: int = 0
    error: str = ""


def _adapter(cluster) -> KubeAdapter:
    try:
        return KubeAdapter(cluster, timeout=LIVE_TIMEOUT)
    except KubeUnreachable as exc:
        raise ClusterSilent(str(exc)) from None


def pods_of(obj: KubeObject) -> tuple[list[KubeObject], int]:
    """The live pods under a workload through the mirror's owner edges (Deployment → ReplicaSet → Pod), newest
    first and at most MAX_PODS, with how many there are in all; a Pod is its own."""
    if obj.kind == "Pod":
        return [obj], 1
    frontier, pods = {obj.pk}, []
    for _ in range(3):  # Deployment → ReplicaSet → Pod is the deepest chain
        children = list(KubeObject.objects.filter(
            in_edges__source_id__in=frontier, in_edges__type=EdgeType.OWNS, deleted_at__isnull=True,
        ).only("pk", "kind", "name", "namespace", "spec", "created_in_cluster").distinct())
        pods += [c for c in children if c.kind == "Pod"]
        frontier = {c.pk for c in children if c.kind != "Pod"}
        if not frontier:
            break
    pods.sort(key=lambda p: (p.created_in_cluster is not None, p.created_in_cluster, p.name), reverse=True)
    return pods[:MAX_PODS], len(pods)


def containers_of(pod: KubeObject) -> list[str]:
    spec = pod.spec or {}
    return [c.get("name", "") for c in (spec.get("initContainers") or []) + (spec.get("containers") or [])
            if c.get("name")]


def workload_live(obj: KubeObject, tail_lines: int = TAIL_LINES) -> WorkloadLive:
    """Events and logs of a Pod or workload, read now. A cluster that does not answer gives ``error`` (and what was
    read before it stopped answering); a container without logs (waiting to start) gives its own error line."""
    result = WorkloadLive()
    pods, result.pods_total = pods_of(obj)
    result.pods_shown = len(pods)
    try:
        adapter = _adapter(obj.cluster)
    except ClusterSilent as exc:
        result.error = str(exc)
        return result
    try:
        result.events = [{**e, "message": redact_text(e["message"])}
                         for e in adapter.events_for(obj.kind, obj.namespace, obj.name)]
        for pod in pods:
            for container in containers_of(pod):
                log = ContainerLog(pod.name, container)
                try:
                    log.lines = [redact_text(line) for line in adapter.pod_log(pod.namespace, pod.name, container,
                                                                               tail_lines)]
                except KubeError as exc:  # 400: waiting to start; 404: the pod is gone since the last sync
                    log.error = exc.message or str(exc)
                result.logs.append(log)
    except KubeUnreachable as exc:
        result.error = f"The cluster did not answer ({exc}); what is shown is what was read before."
    except KubeError as exc:
        result.error = f"The cluster refused: {exc}"
    finally:
        adapter.close()
    return result


@dataclass
class Revision:
    """One revision of a Helm release as Helm storage records it, with the (redacted) values diff from the one
    before."""

    number: int
    status: str
    chart: str
    chart_version: str
    app_version: str
    updated: str
    description: str
    values: dict
    diff: list[str] = field(default_factory=list)


def _values_yaml(values: dict) -> list[str]:
    text = yaml.safe_dump(redact(values or {}), sort_keys=True, default_flow_style=False) if values else ""
    return text.splitlines()


def revisions_from_secrets(secrets: list[dict], release: str) -> list[Revision]:
    """Decode a release's storage Secrets into revisions, newest first, each with the unified diff of its values
    against the previous revision's."""
    found: list[Revision] = []
    for secret in secrets:
        labels = (secret.get("metadata") or {}).get("labels") or {}
        if labels.get("owner") != "helm" or labels.get("name") != release:
            continue
        record = helmstorage.decode_release(secret)
        if record is None:
            continue
        info, meta = record.get("info") or {}, ((record.get("chart") or {}).get("metadata") or {})
        found.append(Revision(int(record.get("version") or labels.get("version") or 0), str(info.get("status", "")),
                              str(meta.get("name", "")), str(meta.get("version", "")),
                              str(meta.get("appVersion", "")), str(info.get("last_deployed", "")),
                              redact_text(str(info.get("description", ""))), record.get("config") or {}))
    found.sort(key=lambda r: r.number)
    for before, after in zip(found, found[1:], strict=False):
        after.diff = list(difflib.unified_diff(_values_yaml(before.values), _values_yaml(after.values),
                                               f"values (revision {before.number})",
                                               f"values (revision {after.number})", lineterm=""))
    return list(reversed(found))[:MAX_REVISIONS]


def release_history(release: KubeObject) -> list[Revision]:
    """A mirrored HelmRelease's revisions, read now from the Secrets ``sh.helm.release.v1.<release>.v<N>`` in its
    storage namespace (listed by Helm's labels owner=helm,name=<release>). Raises ClusterSilent."""
    history = (release.status or {}).get("history") or [{}]
    storage_ns, name = helmstorage.release_name({"spec": release.spec or {}, "metadata": {
        "namespace": release.namespace, "name": release.name}})
    name = (history[0] or {}).get("name") or name
    adapter = _adapter(release.cluster)
    try:
        resource = adapter.find_resource("", "Secret", ("v1",))
        if resource is None:
            return []
        secrets = adapter.list(resource, storage_ns, label_selector=f"owner=helm,name={name}").items
    except KubeUnreachable as exc:
        raise ClusterSilent(f"The cluster did not answer ({exc}).") from None
    except KubeError as exc:
        raise ClusterSilent(f"Helm storage cannot be read: {exc}" + (
            " (the web role may not list Secrets: rbac.secrets)" if exc.status == 403 else "")) from None
    finally:
        adapter.close()
    return revisions_from_secrets(secrets, name)

