"""The reconcile loop kustomize- and helm-controller share (each reconciles one Flux kind)."""

from __future__ import annotations

from typing import Any

from .common import (
    Applier,
    FluxController,
    acknowledge_request,
    get_condition,
    parse_object_id,
    remote_applier,
    set_condition,
    write_status,
)


class FluxKindController(FluxController):
    """The reconcile loop kustomize- and helm-controller share for their one kind (``kind_key``): objects waiting
    on their health or a release (``_waits``), on a dependency or a source (``_blocked``), deleted ones to clean
    up; the target cluster (``spec.kubeConfig``), status writes and the Ready=False outcome."""

    kind_key = ""  # storage key of the kind reconciled (K_KS, K_HR)
    component = ""  # the controller's name on Events

    def __init__(self, recorder: Any, applier: Applier, dependency_requeue: float = 5.0) -> None:
        super().__init__()
        self.recorder = recorder
        self.applier = applier
        self.target = applier  # the applier of the object being reconciled (remote with spec.kubeConfig)
        self._remote: dict[int, Applier] = {}
        self.dependency_requeue = dependency_requeue
        self._waits: dict[tuple[str, str], Any] = {}  # in-flight waits, re-checked on every resync
        self._blocked: set[tuple[str, str]] = set()  # waiting on dependencies or a source
        self._deleted: dict[tuple[str, str], dict] = {}

    def _note(self, event: Any) -> tuple[str, str]:
        """(namespace, name) of the event's object; an event of the own kind queues it (a deletion is kept for
        the clean-up, which needs the object's last spec and status)."""
        m = event.obj["metadata"]
        ns, name = m.get("namespace", ""), m["name"]
        if event.key == self.kind_key:
            if event.type == "DELETED":
                self._deleted[(ns, name)] = event.obj
            self.enqueue(self.kind_key, ns, name)
        return ns, name

    def resync(self) -> None:
        super().resync()
        for ns, name in list(self._waits):
            self.enqueue(self.kind_key, ns, name)

    def _begin(self, key: str, namespace: str, name: str) -> dict | None:
        """The live object to reconcile, or None when there is nothing to do: another kind, an object being
        deleted, or one gone (its wait and schedule are dropped and a deletion seen is cleaned up)."""
        assert self.store is not None
        if key != self.kind_key:
            return None
        self.target = self.applier
        ident = (namespace, name)
        obj = self.store.peek_key(self.kind_key, namespace, name)
        gone = self._deleted.pop(ident, None)
        if obj is None:
            self._waits.pop(ident, None)
            self._blocked.discard(ident)
            self.forget(self.kind_key, namespace, name)
            if gone is not None:
                self._finalize_delete(gone)
            return None
        return None if obj["metadata"].get("deletionTimestamp") else obj

    def _finalize_delete(self, gone: dict) -> None:
        """Clean up after a deleted object (the finalizer's job)."""

    def _needs_run(self, obj: dict, offered: str | None) -> bool:
        """Whether to reconcile now: should_run, waiting on a dependency or source, or the source offers a
        revision not attempted yet; a due object is no longer blocked."""
        ident = (obj["metadata"]["namespace"], obj["metadata"]["name"])
        attempted = (obj.get("status") or {}).get("lastAttemptedRevision")
        if not (self.should_run(self.kind_key, obj) or ident in self._blocked or (offered and offered != attempted)):
            return False
        self._blocked.discard(ident)
        return True

    def _target_of(self, obj: dict) -> Applier:
        """This cluster's applier, or with ``spec.kubeConfig`` the other simulator's (KubeConfigError)."""
        return remote_applier(self.store, obj, self.applier, self._remote)  # type: ignore[arg-type]

    def _entry_type(self, entry: dict) -> Any:
        """The resource type of an inventory entry in the target cluster, or None when it does not serve it."""
        _, _, group, kind = parse_object_id(entry["id"])
        api = f"{group}/{entry.get('v')}" if group else entry.get("v", "v1")
        return self.target.store.registry.by_kind(api, kind)

    def _not_ready(self, obj: dict, status: dict, reason: str, message: str, requeue: float,
                   live: dict | None = None, event: bool = True, revision: str | None = None) -> None:
        """Ready=False with the reason (Reconciling turns ProgressingWithRetry), a Warning event, and a requeue."""
        gen = obj["metadata"].get("generation", 1)
        set_condition(status, "Ready", "False", reason, message, gen)
        rc = get_condition({"status": status}, "Reconciling")
        if rc is not None:
            set_condition(status, "Reconciling", "True", "ProgressingWithRetry", rc.get("message", ""), gen)
        self._finalize(obj, status)
        self._write(live or obj, status)
        if event:
            self.recorder.record(obj, "Warning", reason, message, self.component, revision)
        self.done(self.kind_key, obj, requeue)

    _finalize = staticmethod(acknowledge_request)

    def _write(self, obj: dict, status: dict) -> None:
        write_status(self.store, self.kind_key, obj, status)  # type: ignore[arg-type]
