"""Server-side printing: `meta.k8s.io/v1 Table` responses, the columns kubectl shows by default."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from .registry import ResourceType


def human_duration(seconds: float) -> str:
    """Kubernetes' duration.HumanDuration, as shown in AGE columns."""
    s = int(seconds)
    if s < 0:
        return "<invalid>"
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 180:
        return f"{m}m"
    h = s // 3600
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    d = h // 24
    if h < 24 * 8:
        return f"{d}d{h % 24}h" if h % 24 else f"{d}d"
    if d < 365 * 2:
        return f"{d}d"
    return f"{d // 365}y{d % 365}d" if d < 365 * 8 else f"{d // 365}y"


def age(ts: str | None) -> str:
    if not ts:
        return "<unknown>"
    try:
        t = dt.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return "<unknown>"
    return human_duration((dt.datetime.now(dt.UTC) - t).total_seconds())


_SEG = re.compile(r'\.([A-Za-z0-9_\-/]+)|\[(\d+)\]|\[\?\(@\.([A-Za-z0-9_.]+)\s*==\s*["\']([^"\']*)["\']\)\]|\[\*\]')


def jsonpath(obj: Any, path: str) -> list[Any]:
    """The subset of JSONPath CRD printer columns use: fields, [n], [*] and [?(@.f=="v")] filters."""
    path = path.strip().strip("{}")
    if path.startswith("$"):
        path = path[1:]
    cur = [obj]
    pos = 0
    while pos < len(path):
        m = _SEG.match(path, pos)
        if not m:
            return []
        pos = m.end()
        nxt: list[Any] = []
        for c in cur:
            if m.group(1) is not None:
                if isinstance(c, dict) and m.group(1) in c:
                    nxt.append(c[m.group(1)])
            elif m.group(2) is not None:
                if isinstance(c, list) and int(m.group(2)) < len(c):
                    nxt.append(c[int(m.group(2))])
            elif m.group(3) is not None:
                if isinstance(c, list):
                    for item in c:
                        v = item
                        for part in m.group(3).split("."):
                            v = v.get(part) if isinstance(v, dict) else None
                        if v is not None and str(v) == m.group(4):
                            nxt.append(item)
            elif isinstance(c, list):
                nxt.extend(c)
        cur = nxt
    return cur


def _g(obj: dict, *path: str, default: Any = None) -> Any:
    cur: Any = obj
    for p in path:
        if not isinstance(cur, dict):
            return default
        cur = cur.get(p)
    return default if cur is None else cur


def _pod_cells(o: dict) -> list[Any]:
    st = o.get("status") or {}
    cs = st.get("containerStatuses") or []
    total = len((o.get("spec") or {}).get("containers") or []) or len(cs)
    ready = sum(1 for c in cs if c.get("ready"))
    restarts = sum(int(c.get("restartCount", 0)) for c in cs)
    reason = st.get("reason") or st.get("phase") or "Pending"
    for c in cs:
        state = c.get("state") or {}
        if "waiting" in state and state["waiting"].get("reason"):
            reason = state["waiting"]["reason"]
        elif "terminated" in state and st.get("phase") not in ("Succeeded",):
            reason = state["terminated"].get("reason") or reason
    if st.get("phase") == "Succeeded":
        reason = "Completed"
    if o["metadata"].get("deletionTimestamp"):
        reason = "Terminating"
    return [f"{ready}/{total}", reason, restarts]


def _ports(o: dict) -> str:
    ps = _g(o, "spec", "ports", default=[])
    return ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in ps) or "<none>"


Col = tuple[str, str, Callable[[dict], Any]]


def _status_field(name: str) -> Callable[[dict], Any]:
    return lambda o: _g(o, "status", name, default=0)

BUILTIN_COLUMNS: dict[str, list[Col]] = {
    "Namespace": [("Status", "string", lambda o: _g(o, "status", "phase", default=""))],
    "Node": [("Status", "string", lambda o: "Ready"), ("Roles", "string", lambda o: "<none>"),
             ("Version", "string", lambda o: _g(o, "status", "nodeInfo", "kubeletVersion", default=""))],
    "ConfigMap": [("Data", "integer", lambda o: len(o.get("data") or {}) + len(o.get("binaryData") or {}))],
    "Secret": [("Type", "string", lambda o: o.get("type", "Opaque")),
               ("Data", "integer", lambda o: len(o.get("data") or {}))],
    "ServiceAccount": [("Secrets", "integer", lambda o: len(o.get("secrets") or []))],
    "Service": [("Type", "string", lambda o: _g(o, "spec", "type", default="ClusterIP")),
                ("Cluster-IP", "string", lambda o: _g(o, "spec", "clusterIP", default="<none>")),
                ("External-IP", "string", lambda o: "<none>"), ("Port(s)", "string", _ports)],
    "Pod": [("Ready", "string", lambda o: _pod_cells(o)[0]), ("Status", "string", lambda o: _pod_cells(o)[1]),
            ("Restarts", "string", lambda o: str(_pod_cells(o)[2]))],
    "Deployment": [
        ("Ready", "string", lambda o: f"{_g(o, 'status', 'readyReplicas', default=0)}/{_g(o, 'spec', 'replicas')}"),
        ("Up-to-date", "integer", lambda o: _g(o, "status", "updatedReplicas", default=0)),
        ("Available", "integer", lambda o: _g(o, "status", "availableReplicas", default=0))],
    "ReplicaSet": [("Desired", "integer", lambda o: _g(o, "spec", "replicas", default=0)),
                   ("Current", "integer", lambda o: _g(o, "status", "replicas", default=0)),
                   ("Ready", "integer", lambda o: _g(o, "status", "readyReplicas", default=0))],
    "StatefulSet": [("Ready", "string",
                     lambda o: f"{_g(o, 'status', 'readyReplicas', default=0)}/{_g(o, 'spec', 'replicas')}")],
    "DaemonSet": [(n, "integer", _status_field(f)) for n, f in [
        ("Desired", "desiredNumberScheduled"), ("Current", "currentNumberScheduled"), ("Ready", "numberReady"),
        ("Up-to-date", "updatedNumberScheduled"), ("Available", "numberAvailable")]],
    "Job": [("Status", "string", lambda o: next((c["type"] for c in _g(o, "status", "conditions", default=[])
                                                 if c.get("status") == "True"), "Running")),
            ("Completions", "string",
             lambda o: f"{_g(o, 'status', 'succeeded', default=0)}/{_g(o, 'spec', 'completions', default=1)}")],
    "CronJob": [("Schedule", "string", lambda o: _g(o, "spec", "schedule", default="")),
                ("Suspend", "boolean", lambda o: bool(_g(o, "spec", "suspend", default=False))),
                ("Active", "integer", lambda o: len(_g(o, "status", "active", default=[])))],
    "RoleBinding": [("Role", "string", lambda o: f"{_g(o, 'roleRef', 'kind')}/{_g(o, 'roleRef', 'name')}")],
    "ClusterRoleBinding": [("Role", "string", lambda o: f"{_g(o, 'roleRef', 'kind')}/{_g(o, 'roleRef', 'name')}")],
    "Ingress": [("Class", "string", lambda o: _g(o, "spec", "ingressClassName", default="<none>")),
                ("Hosts", "string", lambda o: ",".join(r.get("host", "*") for r in _g(o, "spec", "rules",
                                                                                       default=[])) or "*")],
    "Event": [("Type", "string", lambda o: o.get("type", "")), ("Reason", "string", lambda o: o.get("reason", "")),
              ("Object", "string", lambda o: f"{_g(o, 'involvedObject', 'kind', default='').lower()}/"
                                             f"{_g(o, 'involvedObject', 'name', default='')}"),
              ("Message", "string", lambda o: o.get("message", ""))],
}


def columns_for(rt: ResourceType) -> list[Col]:
    """Name first, then kind-specific columns, Age where kubectl puts it."""
    name: Col = ("Name", "string", lambda o: o["metadata"]["name"])
    agecol: Col = ("Age", "date", lambda o: age(o["metadata"].get("creationTimestamp")))
    if rt.from_crd is not None:
        cols: list[Col] = [name]
        has_age = False
        for cname, ctype, path in rt.columns:
            if path == ".metadata.creationTimestamp":
                has_age = True
                cols.append((cname, ctype, lambda o: age(o["metadata"].get("creationTimestamp"))))
            else:
                cols.append((cname, ctype, (lambda p: lambda o: _cell(jsonpath(o, p)))(path)))
        return cols if has_age else [*cols, agecol]
    return [name, *BUILTIN_COLUMNS.get(rt.kind, []), agecol]


def _cell(vals: list[Any]) -> Any:
    if not vals:
        return None
    v = vals[0]
    return v if isinstance(v, (str, int, float, bool)) else str(v)


def to_table(rt: ResourceType, objs: list[dict], meta: dict, include_object: str = "Metadata") -> dict:
    """A Table with one row per object; each row carries PartialObjectMetadata (what kubectl -A needs)."""
    cols = columns_for(rt)
    rows = []
    for o in objs:
        if include_object == "None":
            embedded = None
        elif include_object == "Object":
            embedded = o
        else:
            embedded = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"]}
        rows.append({"cells": [c[2](o) for c in cols], "object": embedded})
    return {
        "kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta,
        "columnDefinitions": [{"name": n, "type": t, "format": "name" if n == "Name" else "",
                               "description": "", "priority": 0} for n, t, _ in cols],
        "rows": rows,
    }
