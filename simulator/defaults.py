"""Server-side defaulting for the fields kstatus and kubectl read (a small subset of the real defaulters)."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

from .registry import ResourceType

if TYPE_CHECKING:
    from .store import Store

_ips = itertools.count(10)


def _pod_spec(spec: dict) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    for c in spec.get("containers") or []:
        c.setdefault("imagePullPolicy", "Always" if str(c.get("image", "")).endswith(":latest") else "IfNotPresent")
        c.setdefault("terminationMessagePath", "/dev/termination-log")


def apply_defaults(store: Store, rt: ResourceType, obj: dict) -> None:
    """Fill in defaults for one object of type `rt`, in place (before it is stored)."""
    kind = (rt.group, rt.kind)
    spec = obj.get("spec")
    if kind == ("", "Namespace"):
        obj.setdefault("spec", {"finalizers": ["kubernetes"]})
        if not obj["metadata"].get("deletionTimestamp"):
            obj["status"] = {"phase": "Active"}
    elif kind == ("apps", "Deployment") and isinstance(spec, dict):
        spec.setdefault("replicas", 1)
        spec.setdefault("progressDeadlineSeconds", 600)
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("strategy", {"type": "RollingUpdate",
                                     "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}})
        _pod_spec((spec.get("template") or {}).setdefault("spec", {}))
    elif kind in (("apps", "ReplicaSet"), ("apps", "StatefulSet")) and isinstance(spec, dict):
        spec.setdefault("replicas", 1)
        if rt.kind == "StatefulSet":
            spec.setdefault("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
            spec.setdefault("podManagementPolicy", "OrderedReady")
        _pod_spec((spec.get("template") or {}).setdefault("spec", {}))
    elif kind == ("apps", "DaemonSet") and isinstance(spec, dict):
        spec.setdefault("updateStrategy", {"type": "RollingUpdate",
                                           "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}})
        _pod_spec((spec.get("template") or {}).setdefault("spec", {}))
    elif kind == ("batch", "Job") and isinstance(spec, dict):
        spec.setdefault("completions", 1)
        spec.setdefault("parallelism", 1)
        spec.setdefault("backoffLimit", 6)
        tmpl = (spec.get("template") or {}).setdefault("spec", {})
        tmpl.setdefault("restartPolicy", "Never")
        _pod_spec(tmpl)
    elif kind == ("", "Pod") and isinstance(spec, dict):
        _pod_spec(spec)
    elif kind == ("", "Service"):
        spec = obj.setdefault("spec", {})
        spec.setdefault("type", "ClusterIP")
        if spec["type"] != "ExternalName" and not spec.get("clusterIP"):
            n = next(_ips)
            spec["clusterIP"] = f"10.96.{n // 250 % 250}.{n % 250 + 1}"
            spec["clusterIPs"] = [spec["clusterIP"]]
        spec.setdefault("sessionAffinity", "None")
        for p in spec.get("ports") or []:
            p.setdefault("protocol", "TCP")
            p.setdefault("targetPort", p.get("port"))
    elif kind == ("apiextensions.k8s.io", "CustomResourceDefinition"):
        names = dict((obj.get("spec") or {}).get("names") or {})
        if names:
            names.setdefault("singular", str(names.get("kind", "")).lower())
            names.setdefault("listKind", f"{names.get('kind')}List")
        obj["status"] = {
            "acceptedNames": names,
            "storedVersions": [v["name"] for v in (obj.get("spec") or {}).get("versions") or [] if v.get("storage")],
            "conditions": [
                {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
                 "message": "no conflicts found", "lastTransitionTime": obj["metadata"]["creationTimestamp"]},
                {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
                 "message": "the initial names have been accepted",
                 "lastTransitionTime": obj["metadata"]["creationTimestamp"]},
            ],
        }
