"""Workload controllers: Deployment → ReplicaSet → Pod, StatefulSet, DaemonSet, Job, and pod "kubelet".

Pods never run anything. Their status follows markers in the image reference, so tests and the demo can
show unhealthy states: an image containing `broken` never pulls (ImagePullBackOff), `crashloop` crash-loops
(CrashLoopBackOff), `unschedulable` stays Pending/Unschedulable; any other image is Running and Ready at
once (Job pods complete at once).
"""

from __future__ import annotations

import calendar
import hashlib
import json
import math
import time
from typing import Any

from . import errors, kubeevents
from .controllers import Controller
from .store import NODE_NAME, Event, clone, now

MARK_BROKEN, MARK_CRASH, MARK_UNSCHEDULABLE = "broken", "crashloop", "unschedulable"
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def template_hash(template: dict) -> str:
    """A stable short hash of a pod template, spelled like Kubernetes' pod-template-hash."""
    n = int(hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:15], 16)
    out = ""
    while n and len(out) < 10:
        n, r = divmod(n, len(_ALPHABET))
        out += _ALPHABET[r]
    return out


def _suffix(seed: str) -> str:
    return template_hash({"s": seed, "t": time.time_ns()})[:5]


def _epoch(ts: str | None) -> float:
    return calendar.timegm(time.strptime(ts, "%Y-%m-%dT%H:%M:%SZ")) if ts else time.time()


def _cond(type_: str, status: str, reason: str = "", message: str = "", at: str = "") -> dict:
    c = {"type": type_, "status": status, "lastTransitionTime": at or now()}
    if reason:
        c["reason"] = reason
    if message:
        c["message"] = message
    return c


def pod_status(pod: dict, job: bool = False) -> dict:
    """The status the simulated kubelet reports for a pod, from its images and restart policy alone."""
    spec = pod.get("spec") or {}
    t0 = pod["metadata"].get("creationTimestamp") or now()
    images = " ".join(str(c.get("image", "")) for c in spec.get("containers") or [])
    uid = pod["metadata"].get("uid", "0000")
    ip = f"10.244.{int(uid[0:2], 16) % 250 + 1}.{int(uid[2:4], 16) % 250 + 1}"
    base: dict[str, Any] = {"hostIP": "10.0.0.1", "startTime": t0, "qosClass": "BestEffort"}
    if MARK_UNSCHEDULABLE in images:
        return {"phase": "Pending", "qosClass": "BestEffort", "conditions": [
            _cond("PodScheduled", "False", "Unschedulable", "0/1 nodes are available: 1 node(s) didn't match "
                  "Pod's node affinity/selector.", t0)]}

    def cstat(c: dict, state: dict, ready: bool, restarts: int = 0, last: dict | None = None) -> dict:
        out = {"name": c.get("name", ""), "image": c.get("image", ""), "imageID": "", "ready": ready,
               "started": "running" in state, "restartCount": restarts, "state": state}
        if last:
            out["lastState"] = last
        return out

    containers = spec.get("containers") or []
    if MARK_BROKEN in images:
        cs = [cstat(c, {"waiting": {"reason": "ImagePullBackOff",
                                    "message": f'Back-off pulling image "{c.get("image")}"'}}, False)
              for c in containers]
        return {**base, "phase": "Pending", "podIP": ip, "containerStatuses": cs, "conditions": [
            _cond("PodScheduled", "True", at=t0), _cond("Initialized", "True", at=t0),
            _cond("ContainersReady", "False", "ContainersNotReady", "containers with unready status", t0),
            _cond("Ready", "False", "ContainersNotReady", "containers with unready status", t0)]}
    if job or spec.get("restartPolicy") == "Never":
        failed = MARK_CRASH in images
        term = {"terminated": {"exitCode": 1 if failed else 0, "reason": "Error" if failed else "Completed",
                               "startedAt": t0, "finishedAt": t0}}
        cs = [cstat(c, term, False) for c in containers]
        return {**base, "phase": "Failed" if failed else "Succeeded", "podIP": ip, "containerStatuses": cs,
                "conditions": [_cond("PodScheduled", "True", at=t0), _cond("Initialized", "True", at=t0),
                               _cond("ContainersReady", "False", "PodCompleted", at=t0),
                               _cond("Ready", "False", "PodCompleted", at=t0)]}
    if MARK_CRASH in images:
        last = {"terminated": {"exitCode": 1, "reason": "Error", "startedAt": t0, "finishedAt": t0}}
        cs = [cstat(c, {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting failed "
                                    f"container={c.get('name')}"}}, False, 5, last) for c in containers]
        return {**base, "phase": "Running", "podIP": ip, "containerStatuses": cs, "conditions": [
            _cond("PodScheduled", "True", at=t0), _cond("Initialized", "True", at=t0),
            _cond("ContainersReady", "False", "ContainersNotReady", "containers with unready status", t0),
            _cond("Ready", "False", "ContainersNotReady", "containers with unready status", t0)]}
    cs = [cstat(c, {"running": {"startedAt": t0}}, True) for c in containers]
    return {**base, "phase": "Running", "podIP": ip, "containerStatuses": cs, "conditions": [
        _cond("PodScheduled", "True", at=t0), _cond("Initialized", "True", at=t0),
        _cond("ContainersReady", "True", at=t0), _cond("Ready", "True", at=t0)]}


def pod_ready(pod: dict) -> bool:
    if pod["metadata"].get("deletionTimestamp"):
        return False
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def _owner_ref(obj: dict) -> dict:
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": obj["metadata"]["name"],
            "uid": obj["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


def _controller_of(obj: dict) -> dict | None:
    return next((r for r in obj["metadata"].get("ownerReferences") or [] if r.get("controller")), None)


def _max_unavailable(spec: dict) -> int:
    replicas = spec.get("replicas", 1)
    strat = spec.get("strategy") or {}
    if strat.get("type") == "Recreate":
        return 0
    v = (strat.get("rollingUpdate") or {}).get("maxUnavailable", "25%")
    if isinstance(v, str) and v.endswith("%"):
        return math.floor(replicas * int(v[:-1]) / 100)
    return int(v)


_CONTROLLERS = {"Deployment": "deployment-controller", "ReplicaSet": "replicaset-controller",
                "StatefulSet": "statefulset-controller", "DaemonSet": "daemonset-controller", "Job": "job-controller"}
_KIND_KEYS = {"Deployment": "apps/deployments", "ReplicaSet": "apps/replicasets", "StatefulSet": "apps/statefulsets",
              "DaemonSet": "apps/daemonsets", "Job": "batch/jobs"}


class WorkloadController(Controller):
    """Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs and pod status, in one reconcile loop."""

    resources = ("apps/deployments", "apps/replicasets", "apps/statefulsets", "apps/daemonsets", "batch/jobs",
                 "/pods")
    resync_seconds = 0.5

    def __init__(self) -> None:
        super().__init__()
        self._deadlines: dict[tuple[str, str], float] = {}

    def handle(self, event: Event) -> None:
        m = event.obj["metadata"]
        ns = m.get("namespace", "")
        if event.type != "DELETED":
            self.enqueue(event.key, ns, m["name"])
        owner = _controller_of(event.obj)
        if owner and owner.get("kind") in _KIND_KEYS:
            self.enqueue(_KIND_KEYS[owner["kind"]], ns, owner["name"])

    def resync(self) -> None:
        t = time.time()
        for (ns, name), deadline in list(self._deadlines.items()):
            if t >= deadline:
                self.enqueue("apps/deployments", ns, name)

    def reconcile(self, key: str, namespace: str, name: str) -> None:
        store = self.store
        assert store is not None
        obj = store.peek_key(key, namespace, name)
        if obj is None:
            self._deadlines.pop((namespace, name), None)
            return
        if obj["metadata"].get("deletionTimestamp"):
            return
        handler = {"/pods": self._pod, "apps/replicasets": self._replicaset, "apps/deployments": self._deployment,
                   "apps/statefulsets": self._statefulset, "apps/daemonsets": self._daemonset,
                   "batch/jobs": self._job}[key]
        handler(obj)

    # ------------------------------------------------------------ helpers
    def _write_status(self, obj: dict, status: dict) -> None:
        if obj.get("status") == status:
            return
        new = clone(obj)
        new["status"] = status
        try:
            self.store.update(new, subresource="status")  # type: ignore[union-attr]
        except errors.ApiError:
            pass  # changed or deleted meanwhile; the next event brings us back

    def _pods_of(self, owner: dict) -> list[dict]:
        return [p for p in self.store.owned(owner["metadata"]["uid"]) if p.get("kind") == "Pod"]  # type: ignore

    def _new_pod(self, owner: dict, name: str, template: dict, extra_labels: dict, job: bool = False) -> None:
        meta = clone(template.get("metadata") or {})
        meta["labels"] = {**(meta.get("labels") or {}), **extra_labels}
        meta.update(name=name, namespace=owner["metadata"]["namespace"], ownerReferences=[_owner_ref(owner)])
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": clone(template.get("spec") or {})}
        images = " ".join(str(c.get("image", "")) for c in pod["spec"].get("containers") or [])
        if MARK_UNSCHEDULABLE not in images:
            pod["spec"]["nodeName"] = NODE_NAME
        try:
            created = self.store.create(pod)  # type: ignore[union-attr]
            self._write_status(created, pod_status(created, job))
        except errors.ApiError:
            return  # name clash or namespace going away
        controller = _CONTROLLERS.get(owner["kind"], "controller-manager")
        kubeevents.pod_started(self.store, created, owner, controller)  # type: ignore[arg-type]

    def _delete(self, obj: dict) -> None:
        try:
            self.store.delete(obj["kind"] if obj["kind"] == "Pod" else "replicasets.apps",  # type: ignore
                              obj["metadata"].get("namespace"), obj["metadata"]["name"])
        except errors.ApiError:
            return
        owner = _controller_of(obj)
        if obj["kind"] == "Pod" and owner and owner.get("kind") in _KIND_KEYS:
            parent = self.store.peek_key(_KIND_KEYS[owner["kind"]], obj["metadata"].get("namespace"),  # type: ignore
                                         owner["name"])
            if parent is not None:
                kubeevents.record(self.store, parent, "Normal", "SuccessfulDelete",  # type: ignore[arg-type]
                                  f"Deleted pod: {obj['metadata']['name']}", _CONTROLLERS[owner["kind"]])

    def _scaled(self, d: dict, rs: dict, old: int, new: int) -> None:
        """The Deployment's ScalingReplicaSet event (what `kubectl describe deployment` shows first)."""
        if old != new:
            kubeevents.record(self.store, d, "Normal", "ScalingReplicaSet",  # type: ignore[arg-type]
                              f"Scaled {'up' if new > old else 'down'} replica set {rs['metadata']['name']} from "
                              f"{old} to {new}", "deployment-controller")

    # ------------------------------------------------------------ pods
    def _pod(self, pod: dict) -> None:
        owner = _controller_of(pod)
        job = bool(owner and owner.get("kind") == "Job")
        if not pod["spec"].get("nodeName") and MARK_UNSCHEDULABLE not in json.dumps(pod["spec"].get("containers")):
            try:
                pod = self.store.patch("pods", pod["metadata"]["namespace"], pod["metadata"]["name"],  # type: ignore
                                       {"spec": {"nodeName": NODE_NAME}}, "merge")
            except errors.ApiError:
                return
        self._write_status(pod, pod_status(pod, job))

    # ------------------------------------------------------------ replicasets
    def _replicaset(self, rs: dict) -> None:
        pods = [p for p in self._pods_of(rs) if not p["metadata"].get("deletionTimestamp")]
        want = rs["spec"].get("replicas", 1)
        tmpl = rs["spec"].get("template") or {}
        for _ in range(want - len(pods)):
            self._new_pod(rs, f"{rs['metadata']['name']}-{_suffix(rs['metadata']['name'])}", tmpl, {})
        if len(pods) > want:
            # Delete not-ready pods first, then the newest, as the ReplicaSet controller prefers.
            victims = sorted(pods, key=lambda p: (pod_ready(p), p["metadata"].get("creationTimestamp", "")))
            for p in victims[: len(pods) - want]:
                self._delete(p)
        pods = [p for p in self._pods_of(rs) if not p["metadata"].get("deletionTimestamp")]
        ready = sum(1 for p in pods if pod_ready(p))
        status = {"replicas": len(pods), "fullyLabeledReplicas": len(pods), "readyReplicas": ready,
                  "availableReplicas": ready, "observedGeneration": rs["metadata"].get("generation", 1)}
        self._write_status(rs, status)

    # ------------------------------------------------------------ deployments
    def _deployment(self, d: dict) -> None:
        spec = d["spec"]
        ns, name = d["metadata"]["namespace"], d["metadata"]["name"]
        want = spec.get("replicas", 1)
        tmpl = spec.get("template") or {}
        h = template_hash(tmpl)
        rss = [o for o in self.store.owned(d["metadata"]["uid"]) if o.get("kind") == "ReplicaSet"]  # type: ignore
        new = next((r for r in rss if (r["metadata"].get("labels") or {}).get("pod-template-hash") == h), None)
        revisions = [int((r["metadata"].get("annotations") or {}).get("deployment.kubernetes.io/revision", "0"))
                     for r in rss]
        if new is None and not spec.get("paused"):
            t = clone(tmpl)
            t.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = h
            sel = clone(spec.get("selector") or {})
            sel.setdefault("matchLabels", {})["pod-template-hash"] = h
            rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {
                "name": f"{name}-{h}", "namespace": ns, "labels": t["metadata"]["labels"],
                "annotations": {"deployment.kubernetes.io/revision": str(max(revisions, default=0) + 1),
                                "deployment.kubernetes.io/desired-replicas": str(want)},
                "ownerReferences": [_owner_ref(d)]},
                "spec": {"replicas": want, "selector": sel, "template": t}}
            try:
                new = self.store.create(rs)  # type: ignore[union-attr]
            except errors.ApiError:
                return
            self._scaled(d, new, 0, want)
            self._replicaset(self.store.peek("replicasets.apps", ns, new["metadata"]["name"]))  # type: ignore
            new = self.store.peek("replicasets.apps", ns, new["metadata"]["name"])  # type: ignore
            rss = [o for o in self.store.owned(d["metadata"]["uid"]) if o.get("kind") == "ReplicaSet"]  # type: ignore
        if new is not None and new["spec"].get("replicas") != want:
            upd = clone(new)
            upd["spec"]["replicas"] = want
            self.store.update(upd)  # type: ignore[union-attr]
            self._scaled(d, new, new["spec"].get("replicas", 0), want)
            self._replicaset(self.store.peek("replicasets.apps", ns, new["metadata"]["name"]))  # type: ignore
            new = self.store.peek("replicasets.apps", ns, new["metadata"]["name"])  # type: ignore
        olds = [r for r in rss if new is None or r["metadata"]["uid"] != new["metadata"]["uid"]]
        new_available = ((new or {}).get("status") or {}).get("availableReplicas", 0)
        recreate = (spec.get("strategy") or {}).get("type") == "Recreate"
        if new is not None and (recreate or new_available >= want):
            # The new ReplicaSet carries the load (or Recreate): retire the old ones.
            for r in olds:
                if r["spec"].get("replicas", 0) != 0:
                    upd = clone(r)
                    upd["spec"]["replicas"] = 0
                    self.store.update(upd)  # type: ignore[union-attr]
                    self._scaled(d, r, r["spec"].get("replicas", 0), 0)
                    self._replicaset(self.store.peek("replicasets.apps", ns, r["metadata"]["name"]))  # type: ignore
            limit = spec.get("revisionHistoryLimit", 10)
            idle = sorted((r for r in olds if r["spec"].get("replicas", 0) == 0),
                          key=lambda r: int((r["metadata"].get("annotations") or {}).get(
                              "deployment.kubernetes.io/revision", "0")))
            for r in idle[: max(0, len(idle) - limit)]:
                self._delete(r)
        rss = [o for o in self.store.owned(d["metadata"]["uid"]) if o.get("kind") == "ReplicaSet"]  # type: ignore
        self._deployment_status(d, rss, new, want)

    def _deployment_status(self, d: dict, rss: list[dict], new: dict | None, want: int) -> None:
        def s(r: dict | None, f: str) -> int:
            return int(((r or {}).get("status") or {}).get(f, 0))

        replicas = sum(s(r, "replicas") for r in rss)
        ready = sum(s(r, "readyReplicas") for r in rss)
        available = sum(s(r, "availableReplicas") for r in rss)
        updated = s(new, "replicas")
        old = d.get("status") or {}
        old_conds = {c["type"]: c for c in old.get("conditions") or []}
        stamp = now()
        rsname = (new or {}).get("metadata", {}).get("name", "")

        def cond(type_: str, status: str, reason: str, message: str) -> dict:
            prev = old_conds.get(type_)
            if prev and prev.get("status") == status and prev.get("reason") == reason and \
                    prev.get("message") == message:
                return prev
            changed_status = not prev or prev.get("status") != status
            return {"type": type_, "status": status, "lastUpdateTime": stamp,
                    "lastTransitionTime": stamp if changed_status else prev.get("lastTransitionTime", stamp),
                    "reason": reason, "message": message}

        if available >= want - _max_unavailable(d["spec"]):
            avail = cond("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
        else:
            avail = cond("Available", "False", "MinimumReplicasUnavailable",
                         "Deployment does not have minimum availability.")
        key = (d["metadata"]["namespace"], d["metadata"]["name"])
        done = new is not None and updated == want and replicas == want and s(new, "availableReplicas") >= want
        deadline_s = d["spec"].get("progressDeadlineSeconds")
        prev = old_conds.get("Progressing")
        if done:
            prog = cond("Progressing", "True", "NewReplicaSetAvailable",
                        f'ReplicaSet "{rsname}" has successfully progressed.')
            self._deadlines.pop(key, None)
        elif prev and prev.get("reason") == "ProgressDeadlineExceeded" and \
                prev.get("message", "").startswith(f'ReplicaSet "{rsname}"'):
            prog = prev
        else:
            prog = cond("Progressing", "True", "ReplicaSetUpdated", f'ReplicaSet "{rsname}" is progressing.')
            if deadline_s is not None:
                deadline = _epoch(prog.get("lastUpdateTime")) + int(deadline_s)
                if time.time() >= deadline:
                    prog = cond("Progressing", "False", "ProgressDeadlineExceeded",
                                f'ReplicaSet "{rsname}" has timed out progressing.')
                    self._deadlines.pop(key, None)
                else:
                    self._deadlines[key] = deadline
        status: dict[str, Any] = {"observedGeneration": d["metadata"].get("generation", 1), "replicas": replicas,
                                  "updatedReplicas": updated, "readyReplicas": ready,
                                  "availableReplicas": available, "conditions": [avail, prog]}
        if want - available > 0:
            status["unavailableReplicas"] = want - available
        for k in ("readyReplicas", "availableReplicas", "updatedReplicas", "replicas"):
            if not status[k]:
                del status[k]  # the API server omits zero counts
        self._write_status(d, status)

    # ------------------------------------------------------------ statefulsets
    def _statefulset(self, sts: dict) -> None:
        spec, name = sts["spec"], sts["metadata"]["name"]
        want = spec.get("replicas", 1)
        rev = f"{name}-{template_hash(spec.get('template') or {})}"
        pods = {p["metadata"]["name"]: p for p in self._pods_of(sts)}
        on_delete = (spec.get("updateStrategy") or {}).get("type") == "OnDelete"
        partition = ((spec.get("updateStrategy") or {}).get("rollingUpdate") or {}).get("partition", 0)
        for i in range(want):
            pname = f"{name}-{i}"
            if pname not in pods:
                self._new_pod(sts, pname, spec.get("template") or {},
                              {"controller-revision-hash": rev, "statefulset.kubernetes.io/pod-name": pname,
                               "apps.kubernetes.io/pod-index": str(i)})
        for pname, p in pods.items():
            if int(pname.rsplit("-", 1)[1]) >= want:
                self._delete(p)
        # Rolling update: replace the highest old pod only while every updated pod is ready.
        pods = {p["metadata"]["name"]: p for p in self._pods_of(sts)}
        stale = sorted((p for p in pods.values() if p["metadata"]["labels"].get("controller-revision-hash") != rev
                        and int(p["metadata"]["name"].rsplit("-", 1)[1]) >= partition),
                       key=lambda p: -int(p["metadata"]["name"].rsplit("-", 1)[1]))
        fresh_ready = all(pod_ready(p) for p in pods.values()
                          if p["metadata"]["labels"].get("controller-revision-hash") == rev)
        if stale and not on_delete and fresh_ready:
            victim = stale[0]
            self._delete(victim)
            pname = victim["metadata"]["name"]
            self._new_pod(sts, pname, spec.get("template") or {},
                          {"controller-revision-hash": rev, "statefulset.kubernetes.io/pod-name": pname,
                           "apps.kubernetes.io/pod-index": pname.rsplit("-", 1)[1]})
        pods = {p["metadata"]["name"]: p for p in self._pods_of(sts)}
        updated = sum(1 for p in pods.values() if p["metadata"]["labels"].get("controller-revision-hash") == rev)
        ready = sum(1 for p in pods.values() if pod_ready(p))
        cur_rev = (sts.get("status") or {}).get("currentRevision") or rev
        if updated == len(pods) == want:
            cur_rev = rev
        current = sum(1 for p in pods.values() if p["metadata"]["labels"].get("controller-revision-hash") == cur_rev)
        self._write_status(sts, {"observedGeneration": sts["metadata"].get("generation", 1), "replicas": len(pods),
                                 "readyReplicas": ready, "currentReplicas": current, "updatedReplicas": updated,
                                 "availableReplicas": ready, "currentRevision": cur_rev, "updateRevision": rev,
                                 "collisionCount": 0})

    # ------------------------------------------------------------ daemonsets
    def _daemonset(self, ds: dict) -> None:
        rev = template_hash(ds["spec"].get("template") or {})
        pods = [p for p in self._pods_of(ds) if not p["metadata"].get("deletionTimestamp")]
        for p in pods:
            if p["metadata"]["labels"].get("controller-revision-hash") != rev:
                self._delete(p)
        pods = [p for p in self._pods_of(ds) if not p["metadata"].get("deletionTimestamp")]
        if not pods:
            self._new_pod(ds, f"{ds['metadata']['name']}-{_suffix(ds['metadata']['name'])}",
                          ds["spec"].get("template") or {}, {"controller-revision-hash": rev})
            pods = self._pods_of(ds)
        ready = sum(1 for p in pods if pod_ready(p))
        updated = sum(1 for p in pods if p["metadata"]["labels"].get("controller-revision-hash") == rev)
        self._write_status(ds, {"observedGeneration": ds["metadata"].get("generation", 1),
                                "desiredNumberScheduled": 1, "currentNumberScheduled": len(pods),
                                "numberMisscheduled": 0, "numberReady": ready, "updatedNumberScheduled": updated,
                                "numberAvailable": ready, **({"numberUnavailable": 1 - ready} if ready < 1 else {})})

    # ------------------------------------------------------------ jobs
    def _job(self, job: dict) -> None:
        spec = job["spec"]
        st = clone(job.get("status") or {})
        conds = st.get("conditions") or []
        if any(c["type"] in ("Complete", "Failed") and c["status"] == "True" for c in conds):
            return
        if spec.get("suspend"):
            return
        pods = self._pods_of(job)
        succeeded = sum(1 for p in pods if (p.get("status") or {}).get("phase") == "Succeeded")
        failed = sum(1 for p in pods if (p.get("status") or {}).get("phase") == "Failed")
        active = [p for p in pods if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
        completions, parallelism = spec.get("completions", 1), spec.get("parallelism", 1)
        st.setdefault("startTime", now())
        stamp = now()
        if succeeded >= completions:
            st["conditions"] = [_cond("SuccessCriteriaMet", "True", "CompletionsReached", "Reached expected number "
                                      "of succeeded pods", stamp),
                                _cond("Complete", "True", "CompletionsReached", "Reached expected number of "
                                      "succeeded pods", stamp)]
            st["completionTime"] = stamp
            kubeevents.record(self.store, job, "Normal", "Completed", "Job completed", "job-controller")  # type: ignore
        elif failed > spec.get("backoffLimit", 6):
            st["conditions"] = [_cond("FailureTarget", "True", "BackoffLimitExceeded",
                                      "Job has reached the specified backoff limit", stamp),
                                _cond("Failed", "True", "BackoffLimitExceeded",
                                      "Job has reached the specified backoff limit", stamp)]
        else:
            labels = {"batch.kubernetes.io/job-name": job["metadata"]["name"], "job-name": job["metadata"]["name"],
                      "batch.kubernetes.io/controller-uid": job["metadata"]["uid"]}
            for _ in range(min(parallelism, completions - succeeded) - len(active)):
                self._new_pod(job, f"{job['metadata']['name']}-{_suffix(job['metadata']['name'])}",
                              spec.get("template") or {}, labels, job=True)
        pods = self._pods_of(job)
        st["active"] = sum(1 for p in pods if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed"))
        st["succeeded"] = sum(1 for p in pods if (p.get("status") or {}).get("phase") == "Succeeded")
        st["failed"] = sum(1 for p in pods if (p.get("status") or {}).get("phase") == "Failed")
        st["ready"] = 0
        for k in ("active", "succeeded", "failed"):
            if not st[k]:
                del st[k]
        self._write_status(job, st)
