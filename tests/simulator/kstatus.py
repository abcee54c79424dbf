"""A small port of kstatus `Compute` (fluxcd/cli-utils), used by the tests to judge simulated statuses.

Only the rules the simulator's workloads exercise: generic conditions plus Deployment, ReplicaSet,
StatefulSet, DaemonSet, Pod and Job (see the research notes, Flux §4.5).
"""

from __future__ import annotations


def _cond(obj: dict, type_: str) -> dict | None:
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("type") == type_), None)


def compute(obj: dict) -> str:
    """Current, InProgress, Failed or Terminating for one object."""
    meta, status = obj["metadata"], obj.get("status") or {}
    if meta.get("deletionTimestamp"):
        return "Terminating"
    if "observedGeneration" in status and status["observedGeneration"] != meta.get("generation"):
        return "InProgress"
    for t, result in (("Reconciling", "InProgress"), ("Stalled", "Failed")):
        c = _cond(obj, t)
        if c and c.get("status") == "True":
            return result
    rule = {"Deployment": _deployment, "ReplicaSet": _replicaset, "StatefulSet": _statefulset,
            "DaemonSet": _daemonset, "Pod": _pod, "Job": _job}.get(obj["kind"])
    if rule:
        return rule(obj)
    ready = _cond(obj, "Ready")
    if ready:
        return "Current" if ready.get("status") == "True" else "InProgress"
    return "Current"


def _deployment(o: dict) -> str:
    spec, st = o.get("spec") or {}, o.get("status") or {}
    prog = _cond(o, "Progressing")
    if prog and prog.get("reason") == "ProgressDeadlineExceeded":
        return "Failed"
    want = spec.get("replicas", 1)
    if want > st.get("replicas", 0) or want > st.get("updatedReplicas", 0) or st.get("replicas", 0) > want:
        return "InProgress"
    if st.get("updatedReplicas", 0) > st.get("availableReplicas", 0) or want > st.get("readyReplicas", 0):
        return "InProgress"
    if spec.get("progressDeadlineSeconds") is not None and not (
            prog and prog.get("status") == "True" and prog.get("reason") == "NewReplicaSetAvailable"):
        return "InProgress"
    avail = _cond(o, "Available")
    return "Current" if avail and avail.get("status") == "True" else "InProgress"


def _replicaset(o: dict) -> str:
    spec, st = o.get("spec") or {}, o.get("status") or {}
    fail = _cond(o, "ReplicaFailure")
    if fail and fail.get("status") == "True":
        return "InProgress"
    want = spec.get("replicas", 1)
    if min(st.get("fullyLabeledReplicas", 0), st.get("availableReplicas", 0), st.get("readyReplicas", 0)) < want:
        return "InProgress"
    return "InProgress" if st.get("replicas", 0) > want else "Current"


def _statefulset(o: dict) -> str:
    spec, st = o.get("spec") or {}, o.get("status") or {}
    if (spec.get("updateStrategy") or {}).get("type") == "OnDelete":
        return "Current"
    want = spec.get("replicas", 1)
    if want > st.get("replicas", 0) or want > st.get("readyReplicas", 0) or st.get("replicas", 0) > want:
        return "InProgress"
    partition = ((spec.get("updateStrategy") or {}).get("rollingUpdate") or {}).get("partition", 0)
    if partition and st.get("updatedReplicas", 0) < want - partition:
        return "InProgress"
    if not partition and (want > st.get("currentReplicas", 0) or st.get("currentRevision") != st.get(
            "updateRevision")):
        return "InProgress"
    return "Current"


def _daemonset(o: dict) -> str:
    st = o.get("status") or {}
    if "generation" not in o["metadata"] or "observedGeneration" not in st or "desiredNumberScheduled" not in st:
        return "InProgress"
    want = st["desiredNumberScheduled"]
    for f in ("currentNumberScheduled", "updatedNumberScheduled", "numberAvailable", "numberReady"):
        if st.get(f, 0) < want:
            return "InProgress"
    return "Current"


def _pod(o: dict) -> str:
    st = o.get("status") or {}
    phase = st.get("phase", "")
    if phase in ("Succeeded", "Failed"):
        return "Current"
    if phase == "Running":
        ready = _cond(o, "Ready")
        if ready and ready.get("status") == "True":
            return "Current"
        for cs in st.get("containerStatuses") or []:
            if ((cs.get("state") or {}).get("waiting") or {}).get("reason") == "CrashLoopBackOff":
                return "Failed"
        return "InProgress"
    return "InProgress"


def _job(o: dict) -> str:
    for t, result in (("Complete", "Current"), ("Failed", "Failed")):
        c = _cond(o, t)
        if c and c.get("status") == "True":
            return result
    return "Current" if (o.get("status") or {}).get("startTime") else "InProgress"
