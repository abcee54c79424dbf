"""Health of plain Kubernetes objects: kstatus (fluxcd/cli-utils, research/flux.md §4.5) mapped to our words.

kstatus → health: Current → healthy, InProgress → progressing, Failed → failed, Terminating → progressing.
Where kstatus only says "InProgress" but the object is plainly failing-and-retrying (an image that does not pull,
a crash loop, a ReplicaSet that cannot create pods), we say degraded, because "progressing" would tell on-call
to wait for something that will not finish. Deliberate deviations are marked "deviation" and listed in
docs/graph-and-health.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from .base import (
    Assessment,
    Health,
    a,
    as_int,
    cond_text,
    condition,
    is_false,
    is_mapping,
    is_true,
    meta,
    parse_time,
    spec,
    status,
)

# kstatus gives an unschedulable pod this long before calling it Failed (core.go podConditions).
UNSCHEDULABLE_GRACE = timedelta(seconds=15)

# Container waiting reasons that mean "failing, and the kubelet keeps retrying", most telling first: the first one
# found names the problem in a Deployment's message ("0/2 ready, ImagePullBackOff: ...").
BAD_WAITING = (
    "CrashLoopBackOff",
    "ImagePullBackOff",
    "ErrImagePull",
    "InvalidImageName",
    "ErrImageNeverPull",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
    "PreCreateHookError",
    "PostStartHookError",
)

Children = Iterable[Mapping[str, Any]]
Rule = Callable[[Mapping[str, Any], Children, "datetime | None"], Assessment]


def assess_kubernetes(obj: Mapping[str, Any], group: str, children: Children, now: datetime | None) -> Assessment:
    """kstatus ``Compute`` order: Terminating, generation, Reconciling/Stalled, the type rule, Ready, else Current."""
    kind = str(obj.get("kind") or "")
    m, st = meta(obj), status(obj)
    if m.get("deletionTimestamp"):
        return a(Health.PROGRESSING, "Terminating", "being deleted")
    generation, observed = as_int(m.get("generation")), as_int(st.get("observedGeneration"))
    # kstatus: an absent observedGeneration skips the check; a present one must equal the generation.
    if observed is not None and generation is not None and observed != generation:
        return a(Health.PROGRESSING, "LatestGenerationNotObserved",
                 f"generation {generation} not yet observed by its controller (observed: {observed})")
    reconciling, stalled = condition(obj, "Reconciling"), condition(obj, "Stalled")
    if is_true(reconciling):
        return a(Health.PROGRESSING, str(reconciling.get("reason") or "Reconciling"), cond_text(reconciling))
    if is_true(stalled):
        return a(Health.FAILED, str(stalled.get("reason") or "Stalled"), cond_text(stalled))
    rule = RULES.get((group, kind))
    if rule is not None:
        return rule(obj, children, now)
    return generic(obj)


def generic(obj: Mapping[str, Any]) -> Assessment:
    """Any other kind: a Ready condition if there is one, else Current (kstatus steps 5–6).

    Ready=False → degraded (deviation: kstatus says InProgress). A controller that is still working sets
    Reconciling=True or Ready=Unknown (both progressing, above); a Ready=False that it leaves in place is its verdict.
    """
    ready = condition(obj, "Ready")
    if is_true(ready):
        return a(Health.HEALTHY, str(ready.get("reason") or "Ready"), cond_text(ready))
    if is_false(ready):
        return a(Health.DEGRADED, str(ready.get("reason") or "NotReady"), cond_text(ready))
    if ready is not None:
        return a(Health.PROGRESSING, str(ready.get("reason") or "Progressing"), cond_text(ready))
    return a(Health.HEALTHY, "Current", "resource is current")


def static(obj: Mapping[str, Any], children: Children = (), now: datetime | None = None) -> Assessment:
    """ConfigMap, Secret, PodDisruptionBudget, ServiceAccount, RBAC...: no rollout, nothing to wait for."""
    return a(Health.HEALTHY, "Current", "resource is current")


# ------------------------------------------------------------------ pods


def _waiting(st: Mapping[str, Any]) -> list[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    """(containerStatus, waiting) for every init and app container that is waiting."""
    out = []
    for key in ("initContainerStatuses", "containerStatuses"):
        for cs in st.get(key) or ():
            waiting = ((cs.get("state") or {}).get("waiting") or {}) if is_mapping(cs) else {}
            if waiting:
                out.append((cs, waiting))
    return out


def _bad_waiting(st: Mapping[str, Any]) -> tuple[Mapping[str, Any], Mapping[str, Any]] | None:
    """The most telling failing container (BAD_WAITING order), if any."""
    found = [(BAD_WAITING.index(w.get("reason")), cs, w) for cs, w in _waiting(st) if w.get("reason") in BAD_WAITING]
    if not found:
        return None
    _, cs, w = min(found, key=lambda t: t[0])
    return cs, w


def pod(obj: Mapping[str, Any], children: Children = (), now: datetime | None = None) -> Assessment:
    """kstatus pod rule, with failing containers made explicit.

    - Succeeded → healthy. Failed → healthy too, as kstatus says ("completed, not successfully"): a finished pod
      is history; its owner (Job, ReplicaSet) carries the verdict, and an evicted leftover must not turn a healthy
      Deployment's roll-up red. The reason (Evicted, Error) is kept.
    - Pending + PodScheduled=False/Unschedulable → progressing for 15 s after creation, then failed (kstatus):
      no progress without more capacity or a spec change. Without ``now`` the age is unknown and the pod is taken
      as old (a stored snapshot is nearly always read long after 15 s).
    - A container waiting in CrashLoopBackOff → degraded (deviation: kstatus says Failed). The kubelet restarts it
      with back-off and it often heals when a dependency comes back, which is our "failing but retrying"; the
      terminal signal for a stuck rollout is the Deployment's ProgressDeadlineExceeded → failed.
    - ImagePullBackOff, ErrImagePull, CreateContainerConfigError, ... → degraded with that reason.
    - Running + Ready → healthy; other Running/Pending/empty phase → progressing.
    """
    st = status(obj)
    phase = str(st.get("phase") or "")
    if phase == "Succeeded":
        return a(Health.HEALTHY, "Completed", "pod completed")
    if phase == "Failed":
        reason = str(st.get("reason") or "PodFailed")
        return a(Health.HEALTHY, reason, f"pod finished unsuccessfully: {st.get('message') or reason}")
    scheduled = condition(obj, "PodScheduled")
    if phase == "Pending" and is_false(scheduled) and scheduled.get("reason") == "Unschedulable":
        created = parse_time(meta(obj).get("creationTimestamp"))
        young = now is not None and created is not None and now - created <= UNSCHEDULABLE_GRACE
        health = Health.PROGRESSING if young else Health.FAILED
        return a(health, "Unschedulable", cond_text(scheduled))
    bad = _bad_waiting(st)
    if bad is not None:
        cs, waiting = bad
        return a(Health.DEGRADED, str(waiting["reason"]), _waiting_message(cs, waiting))
    ready = condition(obj, "Ready")
    if phase == "Running" and is_true(ready):
        return a(Health.HEALTHY, "Running", "running and ready")
    if phase == "Running":
        return a(Health.PROGRESSING, str((ready or {}).get("reason") or "ContainersNotReady"),
                 cond_text(ready) or "containers not ready")
    if phase in ("Pending", ""):
        waiting = _waiting(st)
        if waiting:
            cs, w = waiting[0]
            return a(Health.PROGRESSING, str(w.get("reason") or "Pending"), _waiting_message(cs, w))
        return a(Health.PROGRESSING, "Pending", cond_text(scheduled) if is_false(scheduled) else "pod pending")
    return a(Health.UNKNOWN, phase or "Unknown", str(st.get("message") or f"pod phase {phase}"))


def _waiting_message(cs: Mapping[str, Any], waiting: Mapping[str, Any]) -> str:
    msg = str(waiting.get("message") or waiting.get("reason") or "waiting")
    extra = []
    restarts = as_int(cs.get("restartCount"), 0)
    if restarts:
        extra.append(f"restarts: {restarts}")
    term = ((cs.get("lastState") or {}).get("terminated") or {}) if isinstance(cs.get("lastState"), Mapping) else {}
    if term:
        extra.append(f"last exit: {term.get('reason') or 'terminated'}, code {term.get('exitCode')}")
    name = cs.get("name")
    head = f"container {name}: {msg}" if name and str(name) not in msg else msg
    return f"{head} ({'; '.join(extra)})" if extra else head


def worst_pod(children: Children, now: datetime | None) -> Assessment | None:
    """The worst failing (degraded or failed) Pod among ``children``; None when no pod is failing."""
    result: Assessment | None = None
    for child in children:
        if not is_mapping(child) or child.get("kind") != "Pod" or meta(child).get("deletionTimestamp"):
            continue
        verdict = pod(child, (), now)
        if verdict.health in (Health.DEGRADED, Health.FAILED) and (
            result is None or verdict.health.severity > result.health.severity
        ):
            result = verdict
    return result


def _workload(counts: str, in_progress: str | None, children: Children, now: datetime | None,
              done: str = "Available") -> Assessment:
    """Common end of the workload rules: Current → healthy; in progress → degraded if a pod is failing, else
    progressing. The message always starts with the ready count and names the worst pod's reason."""
    if in_progress is None:
        return a(Health.HEALTHY, done, counts)
    bad = worst_pod(children, now)
    if bad is not None:
        return a(Health.DEGRADED, bad.reason, f"{counts}, {bad.reason}: {bad.message}")
    return a(Health.PROGRESSING, "RolloutInProgress", f"{counts}, {in_progress}")


# ------------------------------------------------------------------ workloads


def deployment(obj: Mapping[str, Any], children: Children = (), now: datetime | None = None) -> Assessment:
    """kstatus Deployment rule; ProgressDeadlineExceeded → failed; ``spec.paused`` → suspended.

    Not available once the rollout is over (Progressing=NewReplicaSetAvailable, or no Progressing condition)
    → degraded/MinimumReplicasUnavailable: pods broke after a good rollout. ReplicaFailure=True (quota, admission)
    → degraded. During a rollout: degraded when a child pod is failing (ImagePullBackOff...), else progressing.
    """
    sp, st = spec(obj), status(obj)
    want = as_int(sp.get("replicas"), 1)
    ready_n, updated = as_int(st.get("readyReplicas"), 0), as_int(st.get("updatedReplicas"), 0)
    have, available = as_int(st.get("replicas"), 0), as_int(st.get("availableReplicas"), 0)
    counts = f"{ready_n}/{want} ready"
    if sp.get("paused") is True:
        return a(Health.SUSPENDED, "Paused", f"rollout paused; {counts}")
    progressing, avail = condition(obj, "Progressing"), condition(obj, "Available")
    if progressing is not None and progressing.get("reason") == "ProgressDeadlineExceeded":
        bad = worst_pod(children, now)
        tail = f", {bad.reason}: {bad.message}" if bad else ""
        return a(Health.FAILED, "ProgressDeadlineExceeded", f"{counts}{tail}; {cond_text(progressing)}")
    failure = condition(obj, "ReplicaFailure")
    if is_true(failure):
        return a(Health.DEGRADED, str(failure.get("reason") or "ReplicaFailure"), f"{counts}, {cond_text(failure)}")
    in_progress = None
    if want > have or want > updated:
        in_progress = f"{updated} of {want} updated"
    elif have > want:
        in_progress = f"{have - want} old replicas pending termination"
    elif updated > available:
        in_progress = f"{available} of {updated} updated replicas available"
    elif want > ready_n:
        in_progress = f"{ready_n} of {want} ready"
    elif sp.get("progressDeadlineSeconds") is not None and not (
        is_true(progressing) and progressing.get("reason") == "NewReplicaSetAvailable"
    ):
        in_progress = "rollout not yet complete"
    elif not is_true(avail):
        in_progress = "not available"
    rollout_over = progressing is None or progressing.get("reason") == "NewReplicaSetAvailable"
    if in_progress is not None and is_false(avail) and rollout_over:
        bad = worst_pod(children, now)
        if bad is not None:
            return a(Health.DEGRADED, bad.reason, f"{counts}, {bad.reason}: {bad.message}")
        return a(Health.DEGRADED, str(avail.get("reason") or "MinimumReplicasUnavailable"),
                 f"{counts}, {cond_text(avail)}")
    return _workload(counts, in_progress, children, now)


def statefulset(obj: Mapping[str, Any], children: Children = (), now: datetime | None = None) -> Assessment:
    """kstatus StatefulSet rule: OnDelete → healthy; a partitioned rollout is done once updated ≥ spec − partition."""
    sp, st = spec(obj), status(obj)
    want = as_int(sp.get("replicas"), 1)
    ready_n, have = as_int(st.get("readyReplicas"), 0), as_int(st.get("replicas"), 0)
    counts = f"{ready_n}/{want} ready"
    strategy = sp.get("updateStrategy") or {}
    if strategy.get("type") == "OnDelete":
        # kstatus: the controller never replaces pods by itself, so there is no rollout to wait for.
        return a(Health.HEALTHY, "OnDelete", f"{counts} (updateStrategy OnDelete)")
    if want > have:
        return _workload(counts, f"{have} of {want} replicas created", children, now)
    if want > ready_n:
        return _workload(counts, f"{ready_n} of {want} ready", children, now)
    if have > want:
        return _workload(counts, f"{have - want} extra replicas pending termination", children, now)
    partition = as_int((strategy.get("rollingUpdate") or {}).get("partition"))
    if partition is not None:
        updated = as_int(st.get("updatedReplicas"), 0)
        target = want - partition
        if updated < target:
            return _workload(counts, f"partitioned rollout: {updated} of {target} updated", children, now)
        return a(Health.HEALTHY, "PartitionRolloutComplete", f"{counts}, partitioned rollout complete "
                 f"({updated} updated, partition {partition})")
    current = as_int(st.get("currentReplicas"), 0)
    if want > current:
        return _workload(counts, f"{current} of {want} on the current revision", children, now)
    if st.get("currentRevision") != st.get("updateRevision"):
        return _workload(counts, f"revision {st.get('updateRevision')} rolling out", children, now)
    return a(Health.HEALTHY, "Available", counts)


def daemonset(obj: Mapping[str, Any], children: Children = (), now: datetime | None = None) -> Assessment:
    """kstatus DaemonSet rule: needs both generations and desiredNumberScheduled ≤ every other count."""
    m, st = meta(obj), status(obj)
    if m.get("generation") is None or st.get("observedGeneration") is None:
        return a(Health.PROGRESSING, "LatestGenerationNotObserved", "status.observedGeneration not yet reported")
    desired = as_int(st.get("desiredNumberScheduled"))
    if desired is None:
        return a(Health.PROGRESSING, "RolloutInProgress", "desiredNumberScheduled not yet reported")
    ready_n = as_int(st.get("numberReady"), 0)
    counts = f"{ready_n}/{desired} ready"
    for field, words in (
        ("currentNumberScheduled", "scheduled"),
        ("updatedNumberScheduled", "updated"),
        ("numberAvailable", "available"),
        ("numberReady", "ready"),
    ):
        n = as_int(st.get(field), 0)
        if n < desired:
            return _workload(counts, f"{n} of {desired} {words}", children, now)
    return a(Health.HEALTHY, "Available", counts)


def replicaset(obj: Mapping[str, Any], children: Children = (), now: datetime | None = None) -> Assessment:
    """kstatus ReplicaSet rule; ReplicaFailure=True → degraded (deviation: kstatus says InProgress) because the
    controller cannot create pods (quota, admission) and retries."""
    sp, st = spec(obj), status(obj)
    failure = condition(obj, "ReplicaFailure")
    want = as_int(sp.get("replicas"), 1)
    ready_n = as_int(st.get("readyReplicas"), 0)
    counts = f"{ready_n}/{want} ready"
    if is_true(failure):
        return a(Health.DEGRADED, str(failure.get("reason") or "ReplicaFailure"), f"{counts}, {cond_text(failure)}")
    for field, words in (
        ("fullyLabeledReplicas", "labeled"),
        ("availableReplicas", "available"),
        ("readyReplicas", "ready"),
    ):
        n = as_int(st.get(field), 0)
        if n < want:
            return _workload(counts, f"{n} of {want} {words}", children, now)
    have = as_int(st.get("replicas"), 0)
    if have > want:
        return _workload(counts, f"{have - want} extra replicas pending termination", children, now)
    return a(Health.HEALTHY, "Available", counts)


def job(obj: Mapping[str, Any], children: Children = (), now: datetime | None = None) -> Assessment:
    """kstatus Job rule; ``spec.suspend`` → suspended; a running Job → progressing (deviation: kstatus says Current
    so that Flux health checks do not block on long Jobs; a user still wants to see "not finished")."""
    sp, st = spec(obj), status(obj)
    complete, failed = condition(obj, "Complete"), condition(obj, "Failed")
    if is_true(complete):
        return a(Health.HEALTHY, "Complete", f"{as_int(st.get('succeeded'), 0)} succeeded")
    if is_true(failed):
        return a(Health.FAILED, str(failed.get("reason") or "JobFailed"), cond_text(failed))
    if sp.get("suspend") is True:
        return a(Health.SUSPENDED, "Suspended", "job suspended")
    if not st.get("startTime"):
        return a(Health.PROGRESSING, "NotStarted", "job not started")
    bad = worst_pod(children, now)
    if bad is not None:
        return a(Health.DEGRADED, bad.reason, f"job running, {bad.reason}: {bad.message}")
    return a(Health.PROGRESSING, "JobRunning",
             f"job running: {as_int(st.get('active'), 0)} active, {as_int(st.get('succeeded'), 0)} succeeded, "
             f"{as_int(st.get('failed'), 0)} failed")


def cronjob(obj: Mapping[str, Any], children: Children = (), now: datetime | None = None) -> Assessment:
    """kstatus: always Current; we add ``spec.suspend`` → suspended, the same switch Flux users flip."""
    if spec(obj).get("suspend") is True:
        return a(Health.SUSPENDED, "Suspended", "cronjob suspended")
    return a(Health.HEALTHY, "Current", f"schedule {spec(obj).get('schedule', '')}".strip())


def pvc(obj: Mapping[str, Any], children: Children = (), now: datetime | None = None) -> Assessment:
    """kstatus: Bound → Current, else InProgress; ``Lost`` → failed (deviation: the volume is gone for good)."""
    phase = str(status(obj).get("phase") or "Pending")
    if phase == "Bound":
        return a(Health.HEALTHY, "Bound", f"bound to {spec(obj).get('volumeName') or 'a volume'}")
    if phase == "Lost":
        return a(Health.FAILED, "Lost", "the bound PersistentVolume no longer exists")
    return a(Health.PROGRESSING, phase, f"claim is {phase}")


def service(obj: Mapping[str, Any], children: Children = (), now: datetime | None = None) -> Assessment:
    """kstatus: only a LoadBalancer without a clusterIP is InProgress. A LoadBalancer still waiting for its external
    address stays healthy (kstatus does not wait for it: clusters without a load-balancer controller would
    otherwise be "progressing" forever), with reason ExternalAddressPending so the UI can say so."""
    sp = spec(obj)
    if sp.get("type") != "LoadBalancer":
        return a(Health.HEALTHY, "Current", f"{sp.get('type') or 'ClusterIP'} service")
    if not sp.get("clusterIP"):
        return a(Health.PROGRESSING, "ClusterIPPending", "LoadBalancer service waiting for a cluster IP")
    ingress = ((status(obj).get("loadBalancer") or {}).get("ingress")) or []
    if not ingress:
        return a(Health.HEALTHY, "ExternalAddressPending", "LoadBalancer: external address not yet assigned")
    addresses = ", ".join(str(i.get("ip") or i.get("hostname")) for i in ingress if is_mapping(i))
    return a(Health.HEALTHY, "Current", f"LoadBalancer at {addresses}")


def crd(obj: Mapping[str, Any], children: Children = (), now: datetime | None = None) -> Assessment:
    """kstatus CRD rule: NamesAccepted=False → failed; Established=True → healthy; Established=False (not
    Installing) → failed; otherwise progressing."""
    names, established = condition(obj, "NamesAccepted"), condition(obj, "Established")
    if is_false(names):
        return a(Health.FAILED, str(names.get("reason") or "NamesNotAccepted"), cond_text(names))
    if is_true(established):
        return a(Health.HEALTHY, "Established", cond_text(established))
    if is_false(established) and established.get("reason") != "Installing":
        return a(Health.FAILED, str(established.get("reason") or "NotEstablished"), cond_text(established))
    return a(Health.PROGRESSING, "Installing", cond_text(established) or "waiting to be established")


def namespace(obj: Mapping[str, Any], children: Children = (), now: datetime | None = None) -> Assessment:
    """Active → healthy; phase Terminating (finalizers still running) → progressing."""
    if status(obj).get("phase") == "Terminating":
        return a(Health.PROGRESSING, "Terminating", "namespace is terminating")
    return a(Health.HEALTHY, "Active", "namespace is active")


# The rules that read more than the object itself: its children (to name the worst failing pod) or the clock. A
# resync keeps an unchanged object's stored verdict only when its rule is not one of these (health.self_contained);
# a new rule that reads children or ``now`` belongs here.
READS_MORE_THAN_ITSELF = frozenset({deployment, statefulset, daemonset, replicaset, job, pod})

RULES: dict[tuple[str, str], Rule] = {
    ("apps", "Deployment"): deployment,
    ("apps", "StatefulSet"): statefulset,
    ("apps", "DaemonSet"): daemonset,
    ("apps", "ReplicaSet"): replicaset,
    ("", "Pod"): pod,
    ("batch", "Job"): job,
    ("batch", "CronJob"): cronjob,
    ("", "PersistentVolumeClaim"): pvc,
    ("", "Service"): service,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): crd,
    ("", "Namespace"): namespace,
    # Always healthy (kstatus "always Current" list, plus objects with no rollout at all).
    ("", "ConfigMap"): static,
    ("", "Secret"): static,
    ("", "ServiceAccount"): static,
    ("policy", "PodDisruptionBudget"): static,
    ("rbac.authorization.k8s.io", "Role"): static,
    ("rbac.authorization.k8s.io", "ClusterRole"): static,
    ("rbac.authorization.k8s.io", "RoleBinding"): static,
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): static,
}
