"""Suspend, resume and reconcile exactly as the flux CLI does them, through the Kubernetes adapter.

(../shared/research/flux.md §1): suspend = merge patch ``{"spec":{"suspend":true}}``; resume =
``{"spec":{"suspend":null}}`` then wait until Ready for the current generation; reconcile = the
``reconcile.fluxcd.io/requestedAt`` annotation (RFC 3339 with nanoseconds, retried on conflict), refused when
suspended, then wait until ``status.lastHandledReconcileAt`` changed and the object is Current.

The Flux Operator's kinds have no ``spec.suspend``: as the operator documents (and ``flux-operator suspend|resume``
does), they pause with the annotation ``fluxcd.controlplane.io/reconcile: disabled`` and resume with ``enabled``;
``reconcile.fluxcd.io/requestedAt`` asks for a reconcile as for the toolkit kinds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from controlplane.kube import ApiResource, KubeAdapter, KubeError
from controlplane.runners import JobFailed
from graph.kinds import (
    FLUX_KINDS,
    HELM_GROUP,
    KUSTOMIZE_GROUP,
    OPERATOR_GROUP,
    OPERATOR_RECONCILE_ANNOTATION,
    SOURCE_GROUP,
    is_suspended,
)

REQUESTED_AT = "reconcile.fluxcd.io/requestedAt"
FORCE_AT = "reconcile.fluxcd.io/forceAt"
RESET_AT = "reconcile.fluxcd.io/resetAt"
# Kinds the flux CLI treats as static: no reconcile loop to wait for.
STATIC_KINDS = {"Alert", "Provider"}
CONFLICT_RETRIES = 5


def rfc3339nano(moment: datetime | None = None) -> str:
    """Go's time.RFC3339Nano: nanosecond precision, trailing zeros trimmed, 'Z' for UTC."""
    moment = (moment or datetime.now(UTC)).astimezone(UTC)
    fraction = f"{moment.microsecond:06d}000".rstrip("0")
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if fraction else "") + "Z"


def _condition(obj: dict, type_: str) -> dict | None:
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("type") == type_), None)


def kstatus(obj: dict) -> tuple[str, str]:
    """kstatus for Flux objects (flux.md §4.5): (Current|InProgress|Failed|Terminating, message)."""
    meta, status = obj.get("metadata") or {}, obj.get("status") or {}
    if meta.get("deletionTimestamp"):
        return "Terminating", "object is being deleted"
    observed = status.get("observedGeneration")
    if observed is not None and observed != meta.get("generation"):
        return "InProgress", "the controller has not observed the latest generation"
    reconciling, stalled, ready = _condition(obj, "Reconciling"), _condition(obj, "Stalled"), _condition(obj, "Ready")
    if reconciling and reconciling.get("status") == "True":
        return "InProgress", reconciling.get("message", "")
    if stalled and stalled.get("status") == "True":
        return "Failed", stalled.get("message", "")
    if ready is not None:
        return ("Current", ready.get("message", "")) if ready.get("status") == "True" else (
            "InProgress", ready.get("message", ""))
    return "Current", "resource is current"


def is_ready(obj: dict) -> tuple[bool, str]:
    """The CLI's ``isObjectReady``: reconciled once, Ready for the current generation, and kstatus Current.
    Returns (done, message); raises JobFailed when kstatus says Failed."""
    meta, status = obj.get("metadata") or {}, obj.get("status") or {}
    if not status.get("observedGeneration"):
        return False, "waiting for the first reconciliation"
    ready = _condition(obj, "Ready")
    if ready is None:
        return False, "waiting for a Ready condition"
    generation = meta.get("generation")
    observed = ready.get("observedGeneration") or status.get("observedGeneration")
    if observed != generation:
        return False, "waiting for the controller to observe the latest generation"
    state, message = kstatus(obj)
    if state == "Failed":
        raise JobFailed(f"reconciliation failed: {message or ready.get('message', '')}")
    return state == "Current", message


def applied_revision(obj: dict) -> str:
    """What the object reports as applied: lastAppliedRevision, the Helm release, or the source artifact."""
    status = obj.get("status") or {}
    if status.get("lastAppliedRevision"):
        return status["lastAppliedRevision"]
    history = status.get("history") or []
    if history and isinstance(history[0], dict):
        h = history[0]
        return f"{h.get('chartName', '')}@{h.get('chartVersion', '')}".strip("@") or str(h.get("version", ""))
    return ((status.get("artifact") or {}).get("revision")) or ""


class FluxExecutor:
    """Runs the CLI's behaviour for one object through a KubeAdapter, logging each step."""

    def __init__(self, adapter: KubeAdapter, log: Callable[[str], None], poll_seconds: float = 2.0,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self.adapter = adapter
        self.log = log
        self.poll_seconds = poll_seconds
        self.clock = clock
        self.sleep = sleep

    def resource(self, group: str, kind: str) -> ApiResource:
        versions = next((k.versions for k in FLUX_KINDS if k.group == group and k.kind == kind), ())
        found = self.adapter.find_resource(group, kind, versions)
        if found is None:
            raise JobFailed(f"the cluster does not serve {kind} ({group})")
        return found

    def get(self, group: str, kind: str, namespace: str, name: str) -> dict:
        try:
            return self.adapter.get(self.resource(group, kind), namespace, name)
        except KubeError as exc:
            if exc.status == 404:
                raise JobFailed(f"{kind} {namespace}/{name} not found") from None
            raise

    # ------------------------------------------------------------------ suspend / resume
    @staticmethod
    def _pause_patch(group: str, paused: bool) -> dict:
        if group == OPERATOR_GROUP:
            return {"metadata": {"annotations": {OPERATOR_RECONCILE_ANNOTATION: "disabled" if paused else "enabled"}}}
        return {"spec": {"suspend": True if paused else None}}

    def suspend(self, group: str, kind: str, namespace: str, name: str) -> dict:
        self.get(group, kind, namespace, name)
        self.adapter.patch(self.resource(group, kind), namespace, name, self._pause_patch(group, True))
        self.log(f"{kind} {namespace}/{name} suspended")
        return {"suspended": True}

    def resume(self, group: str, kind: str, namespace: str, name: str, timeout: float,
               on_resumed: Callable[[], None] | None = None) -> dict:
        """Remove ``spec.suspend``, then wait until Ready. ``on_resumed`` runs as soon as the patch is in, before the
        wait: whatever the wait brings, the object is no longer suspended from then on."""
        self.get(group, kind, namespace, name)
        obj = self.adapter.patch(self.resource(group, kind), namespace, name, self._pause_patch(group, False))
        self.log(f"{kind} {namespace}/{name} resumed; waiting for it to be Ready")
        if on_resumed is not None:
            on_resumed()
        if kind in STATIC_KINDS:
            return {"resumed": True}
        obj = self._wait(group, kind, namespace, name, timeout, lambda o: is_ready(o))
        revision = applied_revision(obj)
        self.log(f"applied revision {revision}" if revision else "ready")
        return {"resumed": True, "revision": revision}

    # ------------------------------------------------------------------ reconcile
    def reconcile(self, group: str, kind: str, namespace: str, name: str, timeout: float, with_source: bool = False,
                  force: bool = False, reset: bool = False) -> dict:
        obj = self.get(group, kind, namespace, name)
        if is_suspended(group, obj.get("spec"), (obj.get("metadata") or {}).get("annotations")):
            raise JobFailed(f"{kind} {namespace}/{name} is suspended: resume it before reconciling")
        if kind in STATIC_KINDS:
            raise JobFailed("reconciliation not supported by the object")
        deadline = self.clock() + timeout
        if with_source:
            for source in self.sources_of(obj, group, kind):
                self._reconcile_one(*source, deadline=deadline)
        return self._reconcile_one(group, kind, namespace, name, deadline=deadline, force=force, reset=reset)

    def sources_of(self, obj: dict, group: str, kind: str) -> list[tuple[str, str, str, str]]:
        """The sources the CLI reconciles first for ``--with-source``, in order."""
        spec, namespace = obj.get("spec") or {}, obj["metadata"]["namespace"]
        if (group, kind) == (KUSTOMIZE_GROUP, "Kustomization"):
            ref = spec.get("sourceRef") or {}
            if ref.get("kind") not in ("GitRepository", "OCIRepository", "Bucket"):
                raise JobFailed(f"cannot reconcile source of kind {ref.get('kind')}")
            return [(SOURCE_GROUP, ref["kind"], ref.get("namespace") or namespace, ref["name"])]
        if (group, kind) == (HELM_GROUP, "HelmRelease"):
            if spec.get("chartRef"):
                ref = spec["chartRef"]
                return [(SOURCE_GROUP, ref["kind"], ref.get("namespace") or namespace, ref["name"])]
            chart = (spec.get("chart") or {}).get("spec") or {}
            ref = chart.get("sourceRef") or {}
            source_ns = ref.get("namespace") or namespace
            chain = []
            if ref.get("kind") in ("HelmRepository", "GitRepository", "Bucket"):
                chain.append((SOURCE_GROUP, ref["kind"], source_ns, ref["name"]))
            chain.append((SOURCE_GROUP, "HelmChart", source_ns, f"{namespace}-{obj['metadata']['name']}"))
            return chain
        if (group, kind) == (SOURCE_GROUP, "HelmChart"):
            ref = spec.get("sourceRef") or {}
            return [(SOURCE_GROUP, ref["kind"], namespace, ref["name"])] if ref.get("name") else []
        return []

    def _reconcile_one(self, group: str, kind: str, namespace: str, name: str, deadline: float, force: bool = False,
                       reset: bool = False) -> dict:
        before = (self.get(group, kind, namespace, name).get("status") or {}).get("lastHandledReconcileAt")
        token = rfc3339nano()
        annotations = {REQUESTED_AT: token}
        if force:
            annotations[FORCE_AT] = token
        if reset:
            annotations[RESET_AT] = token
        for attempt in range(CONFLICT_RETRIES):
            try:
                self.adapter.patch(self.resource(group, kind), namespace, name, {"metadata": {"annotations":
                                                                                               annotations}})
                break
            except KubeError as exc:
                if exc.status != 409 or attempt == CONFLICT_RETRIES - 1:
                    raise
        self.log(f"annotated {kind} {namespace}/{name} with requestedAt {token}; waiting for the controller")

        def handled(obj: dict) -> tuple[bool, str]:
            status = obj.get("status") or {}
            if status.get("lastHandledReconcileAt") in (None, before):
                return False, "waiting for the controller to pick up the request"
            state, message = kstatus(obj)
            if state in ("Failed", "Terminating", "Unknown"):
                raise JobFailed(f"reconciliation failed: {message}")
            return state == "Current", message

        obj = self._wait(group, kind, namespace, name, max(0.0, deadline - self.clock()), handled)
        ready = _condition(obj, "Ready") or {}
        if ready.get("status") != "True":
            raise JobFailed(f"reconciliation failed: {ready.get('message', 'not ready')}")
        revision = applied_revision(obj)
        verb = "fetched" if group == SOURCE_GROUP else "applied"
        self.log(f"{kind} {namespace}/{name}: {verb} revision {revision}" if revision else f"{kind} reconciled")
        return {"revision": revision, "lastHandledReconcileAt": (obj.get("status") or {}).get("lastHandledReconcileAt")}

    def _wait(self, group: str, kind: str, namespace: str, name: str, timeout: float,
              done: Callable[[dict], tuple[bool, str]]) -> dict:
        deadline = self.clock() + timeout
        message = ""
        while True:
            obj = self.get(group, kind, namespace, name)
            finished, message = done(obj)
            if finished:
                return obj
            if self.clock() >= deadline:
                ready = _condition(obj, "Ready") or {}
                why = ready.get("message") or message
                raise JobFailed(f"timed out after {timeout:.0f}s waiting for {kind} {namespace}/{name}: {why}")
            self.sleep(self.poll_seconds)
