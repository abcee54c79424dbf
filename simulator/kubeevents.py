"""core/v1 Events the built-in controllers write (scheduler, kubelet, ReplicaSet/Deployment/Job controllers), so
that a workload's page has what ``kubectl describe`` would show."""

from __future__ import annotations

import datetime as dt
import uuid

from . import errors
from .store import Store


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def record(store: Store, obj: dict, type_: str, reason: str, message: str, component: str) -> None:
    """One Event about ``obj`` (never raises: an event that cannot be written is not worth failing a reconcile)."""
    meta = obj["metadata"]
    ns = meta.get("namespace") or "default"
    ts = _now()
    try:
        store.create({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{meta['name']}.{uuid.uuid4().hex[:16]}", "namespace": ns},
            "involvedObject": {"apiVersion": obj.get("apiVersion"), "kind": obj["kind"], "name": meta["name"],
                               "namespace": ns, "uid": meta.get("uid"),
                               "resourceVersion": meta.get("resourceVersion")},
            "reason": reason, "message": message, "type": type_, "source": {"component": component},
            "reportingComponent": component, "reportingInstance": f"{component}-sim",
            "count": 1, "firstTimestamp": ts, "lastTimestamp": ts, "eventTime": None,
        })
    except errors.ApiError:
        pass  # namespace terminating


def pod_started(store: Store, pod: dict, owner: dict | None, controller: str) -> None:
    """What a new pod's life begins with: the owner's SuccessfulCreate, the scheduler's decision, the kubelet's
    image pull, create and start of each container."""
    meta = pod["metadata"]
    if owner is not None:
        record(store, owner, "Normal", "SuccessfulCreate", f"Created pod: {meta['name']}", controller)
    if not (pod.get("spec") or {}).get("nodeName"):
        record(store, pod, "Warning", "FailedScheduling", "0/1 nodes are available: 1 node(s) didn't match Pod's "
               "node affinity/selector.", "default-scheduler")
        return
    record(store, pod, "Normal", "Scheduled", f"Successfully assigned {meta['namespace']}/{meta['name']} to "
           f"{pod['spec']['nodeName']}", "default-scheduler")
    for c in pod["spec"].get("containers") or []:
        record(store, pod, "Normal", "Pulled", f'Container image "{c.get("image", "")}" already present on machine',
               "kubelet")
        record(store, pod, "Normal", "Created", f"Created container: {c.get('name', '')}", "kubelet")
        record(store, pod, "Normal", "Started", f"Started container {c.get('name', '')}", "kubelet")
