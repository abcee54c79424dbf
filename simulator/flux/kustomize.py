"""kustomize-controller: build each Kustomization from its source artifact with the real kustomize, apply,
prune, wait, and write status exactly as kustomize-controller does (research notes, Flux §4.2)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from .. import errors
from ..store import Event, clone
from .build import BuildError, kustomize_build, secret_values, substitute
from .common import (
    K_GIT,
    K_KS,
    K_OCI,
    KS_GROUP,
    SOURCE_KEYS,
    Applier,
    KubeConfigError,
    del_condition,
    describe,
    format_duration,
    inventory,
    is_ready,
    kstatus,
    parse_duration,
    parse_object_id,
    set_condition,
)
from .events import EventRecorder
from .reconciler import FluxKindController
from .source import ArtifactStorage

log = logging.getLogger(__name__)
COMPONENT = "kustomize-controller"
FIRST_STAGE = {"CustomResourceDefinition", "Namespace", "ClusterRole"}


@dataclass
class HealthWait:
    """An in-flight health assessment: re-checked on every resync until healthy, failed or timed out."""

    started_obj: dict
    revision: str
    refs: list[tuple[str, str, str, str]]  # (apiVersion, kind, namespace, name)
    started: float
    deadline: float
    changes: list[str] = field(default_factory=list)
    target: Applier | None = None  # where the objects were applied (another simulator for spec.kubeConfig)


class ReconcileError(Exception):
    """A failed step: `reason` becomes the Ready=False reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class KustomizeController(FluxKindController):
    """Reconciles Kustomizations; watches sources so a new revision triggers a build at once."""

    resources = (K_KS, K_GIT, K_OCI)
    kind_key, component = K_KS, COMPONENT

    def __init__(self, storage: ArtifactStorage, recorder: EventRecorder, applier: Applier,
                 dependency_requeue: float = 5.0) -> None:
        super().__init__(recorder, applier, dependency_requeue)
        self.storage = storage
        self._waits: dict[tuple[str, str], HealthWait] = {}  # health checks in flight

    # ------------------------------------------------------------ event routing
    def handle(self, event: Event) -> None:
        ns, name = self._note(event)
        if event.key == K_KS:
            # Dependents wait on this one: wake them instead of waiting for their requeue.
            if self.store is not None and is_ready(event.obj):
                for ent in self.store.list_entries(self.store.resolve(K_KS))[0]:
                    o = ent.obj
                    for dep in (o.get("spec") or {}).get("dependsOn") or []:
                        if dep.get("name") == name and (dep.get("namespace") or o["metadata"]["namespace"]) == ns:
                            self.enqueue(K_KS, o["metadata"]["namespace"], o["metadata"]["name"])
            return
        kind = event.obj.get("kind")
        if self.store is None:
            return
        for ent in self.store.list_entries(self.store.resolve(K_KS))[0]:
            ref = (ent.obj.get("spec") or {}).get("sourceRef") or {}
            if ref.get("kind") == kind and ref.get("name") == name and \
                    (ref.get("namespace") or ent.obj["metadata"]["namespace"]) == ns:
                self.enqueue(K_KS, ent.obj["metadata"]["namespace"], ent.obj["metadata"]["name"])

    # ------------------------------------------------------------ reconcile
    def reconcile(self, key: str, namespace: str, name: str) -> None:
        obj = self._begin(key, namespace, name)
        if obj is None:
            return
        ident = (namespace, name)
        if (obj.get("spec") or {}).get("suspend"):
            self._waits.pop(ident, None)
            return  # "Reconciliation is suspended for this object": nothing changes, not even status
        src = self._source(obj)
        src_rev = ((src or {}).get("status") or {}).get("artifact", {}).get("revision")
        wait = self._waits.get(ident)
        if wait is not None:
            if self._token(wait.started_obj) == self._token(obj) and src_rev == wait.revision:
                self.target = wait.target or self.applier
                self._poll_health(obj, wait)
                return
            self._waits.pop(ident)  # spec, request or revision changed: start over, as a new reconcile would
        if self._needs_run(obj, src_rev):
            self._reconcile(obj, src)

    def _source(self, obj: dict) -> dict | None:
        ref = (obj.get("spec") or {}).get("sourceRef") or {}
        key = SOURCE_KEYS.get(ref.get("kind", ""))
        if key is None:
            return None
        return self.store.peek_key(key, ref.get("namespace") or obj["metadata"]["namespace"],  # type: ignore
                                   ref.get("name", ""))

    def _reconcile(self, obj: dict, src: dict | None) -> None:
        spec, m = obj.get("spec") or {}, obj["metadata"]
        gen = m.get("generation", 1)
        status = clone(obj.get("status") or {})
        interval = parse_duration(spec.get("interval"), 600.0)
        timeout = parse_duration(spec.get("timeout"), interval)
        if status.get("observedGeneration") != gen:
            set_condition(status, "Reconciling", "True", "Progressing", "Reconciliation in progress", gen)
        ref = spec.get("sourceRef") or {}
        src_id = f"{ref.get('kind')}/{ref.get('namespace') or m['namespace']}/{ref.get('name')}"
        artifact = ((src or {}).get("status") or {}).get("artifact")
        if src is None or not artifact:
            msg = (f"Source '{src_id}' not found" if src is None
                   else f"Source artifact not found, retrying in {format_duration(self.dependency_requeue)}")
            self._blocked.add((m["namespace"], m["name"]))
            self._fail(obj, status, "ArtifactFailed", msg, self.dependency_requeue)
            return
        revision = artifact["revision"]
        try:
            self._check_dependencies(obj, ref, revision)
        except ReconcileError as e:
            self._blocked.add((m["namespace"], m["name"]))
            self._fail(obj, status, e.reason, str(e), self.dependency_requeue, event=False)
            return
        status["lastAttemptedRevision"] = revision
        retry = parse_duration(spec.get("retryInterval"), interval)
        try:
            self.target = self._target_of(obj)
        except ReconcileError as e:
            self._fail(obj, status, e.reason, str(e), retry)
            return
        set_condition(status, "Ready", "Unknown", "Progressing", "Reconciliation in progress", gen)
        set_condition(status, "Reconciling", "True", "Progressing",
                      f"Fetching manifests for revision {revision} with a timeout of {format_duration(timeout)}", gen)
        self._write(obj, status)
        started = time.monotonic()
        try:
            objs = self._build(obj, ref, revision)
            changes = self._apply(obj, objs)
            new_inv = inventory(objs)
            changes += self._prune(obj, status.get("inventory"), new_inv)
            status["inventory"] = new_inv
        except ReconcileError as e:
            self._fail(obj, status, e.reason, str(e), retry)
            return
        checks = self._health_refs(obj, objs)
        if not checks:
            del_condition(status, "Healthy")
            self._succeed(obj, status, revision, changes, started, interval)
            return
        msg = f"Running health checks for revision {revision} with a timeout of {format_duration(timeout)}"
        set_condition(status, "Healthy", "Unknown", "Progressing", msg, gen)
        set_condition(status, "Reconciling", "True", "Progressing", msg, gen)
        self._write(obj, status)
        wait = HealthWait(obj, revision, checks, started, started + timeout, changes, self.target)
        self._waits[(m["namespace"], m["name"])] = wait
        self._poll_health(self.store.peek_key(K_KS, m["namespace"], m["name"]) or obj, wait)  # type: ignore

    def _target_of(self, obj: dict) -> Applier:
        """This cluster's applier, or with ``spec.kubeConfig`` the other simulator's (common.remote_applier)."""
        try:
            return super()._target_of(obj)
        except KubeConfigError as e:
            raise ReconcileError("ReconciliationFailed", str(e)) from e

    def _check_dependencies(self, obj: dict, ref: dict, revision: str) -> None:
        m = obj["metadata"]
        for dep in (obj.get("spec") or {}).get("dependsOn") or []:
            dns = dep.get("namespace") or m["namespace"]
            d = self.store.peek_key(K_KS, dns, dep.get("name", ""))  # type: ignore[union-attr]
            dname = f"{dns}/{dep.get('name')}"
            if d is None:
                raise ReconcileError("DependencyNotReady", f"unable to get '{dname}' dependency: Kustomization"
                                     f".{KS_GROUP} \"{dep.get('name')}\" not found")
            dst = d.get("status") or {}
            if not is_ready(d) or dst.get("observedGeneration") != d["metadata"].get("generation"):
                raise ReconcileError("DependencyNotReady", f"dependency '{dname}' is not ready")
            dref = (d.get("spec") or {}).get("sourceRef") or {}
            same = (dref.get("kind"), dref.get("name"), dref.get("namespace") or dns) == (
                ref.get("kind"), ref.get("name"), ref.get("namespace") or m["namespace"])
            if same and dst.get("lastAppliedRevision") != revision:
                raise ReconcileError("DependencyNotReady", f"dependency '{dname}' revision is not up to date")

    def _build(self, obj: dict, ref: dict, revision: str) -> list[dict]:
        spec, m = obj.get("spec") or {}, obj["metadata"]
        root = self.storage.dir_for(ref.get("kind", ""), ref.get("namespace") or m["namespace"], ref.get("name", ""),
                                    revision)
        if not root.is_dir():
            raise ReconcileError("ArtifactFailed", f"failed to download artifact for revision {revision}: "
                                 "artifact not found in storage")
        try:
            objs = kustomize_build(root, spec.get("path") or "./", spec)
            post = spec.get("postBuild") or {}
            if post.get("substitute") or post.get("substituteFrom"):
                objs = substitute(objs, self._variables(obj, post))
        except FileNotFoundError as e:
            raise ReconcileError("ArtifactFailed", str(e)) from e
        except BuildError as e:
            raise ReconcileError("BuildFailed", str(e)) from e
        for o in objs:
            meta = o.setdefault("metadata", {})
            # fluxcd/pkg ssa SetOwnerLabels: every applied object is labelled with its Kustomization.
            meta.setdefault("labels", {}).update({f"{KS_GROUP}/name": m["name"], f"{KS_GROUP}/namespace":
                                                  m["namespace"]})
            rt = self.target.resolve(o)
            if rt is not None and rt.namespaced and not meta.get("namespace"):
                meta["namespace"] = spec.get("targetNamespace") or "default"
        return objs

    def _variables(self, obj: dict, post: dict) -> dict[str, str]:
        out: dict[str, str] = {}
        for ref in post.get("substituteFrom") or []:
            kind, rname = ref.get("kind"), ref.get("name", "")
            src = self.store.peek("configmaps" if kind == "ConfigMap" else "secrets",  # type: ignore[union-attr]
                                  obj["metadata"]["namespace"], rname)
            if src is None:
                if ref.get("optional"):
                    continue
                raise BuildError(f"substitute from '{kind}/{rname}' error: {kind.lower()}s \"{rname}\" not found")
            data = src.get("data") or {}
            out.update(secret_values(data) if kind == "Secret" else {k: str(v) for k, v in data.items()})
        out.update({k: str(v) for k, v in (post.get("substitute") or {}).items()})
        return out

    def _apply(self, obj: dict, objs: list[dict]) -> list[str]:
        changes: list[str] = []
        first = [o for o in objs if o.get("kind") in FIRST_STAGE]
        rest = [o for o in objs if o.get("kind") not in FIRST_STAGE]
        for stage in (first, rest):
            # Dry-run the stage first, as ssa.ApplyAllStaged does: one bad object applies nothing of it.
            for o in stage:
                self._dry_run(o, objs)
            for o in stage:
                if ((o["metadata"].get("annotations") or {}).get(f"{KS_GROUP}/reconcile") == "disabled"
                        and self.target.store.peek(self.target.resolve(o), o["metadata"].get("namespace"),
                                                    o["metadata"]["name"]) is not None):
                    continue
                try:
                    verb = self.target.apply(clone(o))
                except errors.ApiError as e:
                    raise ReconcileError("ReconciliationFailed", f"{describe(o)} apply failed: {e.message}") from e
                if verb != "unchanged":
                    changes.append(f"{describe(o)} {verb}")
        return changes

    def _dry_run(self, o: dict, objs: list[dict]) -> None:
        rt = self.target.resolve(o)
        if rt is None:
            raise ReconcileError("ReconciliationFailed", f"{describe(o)} dry-run failed: no matches for kind "
                                 f"\"{o.get('kind')}\" in version \"{o.get('apiVersion')}\"")
        ns = o["metadata"].get("namespace")
        if rt.namespaced and ns and self.target.store.peek("namespaces", None, ns) is None:
            raise ReconcileError("ReconciliationFailed",
                                 f"{describe(o)} namespace not specified: namespaces \"{ns}\" not found")

    def _prune(self, obj: dict, old_inv: dict | None, new_inv: dict) -> list[str]:
        if not (obj.get("spec") or {}).get("prune"):
            return []
        keep = {e["id"] for e in new_inv["entries"]}
        return self._delete_entries(obj, [e for e in (old_inv or {}).get("entries") or [] if e["id"] not in keep])

    def _delete_entries(self, obj: dict, entries: list[dict]) -> list[str]:
        out = []
        m = obj["metadata"]
        # Namespaces last, so their contents are pruned by name first (as ssa.DeleteAll orders them).
        for e in sorted(entries, key=lambda e: e["id"].endswith("__Namespace")):
            ns, name, _, _ = parse_object_id(e["id"])
            rt = self._entry_type(e)
            if rt is None:
                continue
            live = self.target.store.peek(rt, ns or None, name)  # type: ignore[union-attr]
            labels = (live or {}).get("metadata", {}).get("labels") or {}
            ann = (live or {}).get("metadata", {}).get("annotations") or {}
            # Only delete what this Kustomization still owns, and respect the prune: disabled opt-out.
            if live is None or labels.get(f"{KS_GROUP}/name") != m["name"] or \
                    labels.get(f"{KS_GROUP}/namespace") != m["namespace"] or ann.get(f"{KS_GROUP}/prune") == "disabled":
                continue
            if self.target.delete(rt.key, ns, name):
                out.append(f"{describe(live)} deleted")
        return out

    def _finalize_delete(self, gone: dict) -> None:
        """A deleted Kustomization with prune garbage-collects its inventory (the finalizer's job)."""
        try:
            self.target = self._target_of(gone)
        except ReconcileError:
            return  # the remote cluster is unreachable: its objects stay, as they would with Flux
        if (gone.get("spec") or {}).get("prune") and not (gone.get("spec") or {}).get("suspend"):
            entries = ((gone.get("status") or {}).get("inventory") or {}).get("entries") or []
            self._delete_entries(gone, entries)

    def _health_refs(self, obj: dict, objs: list[dict]) -> list[tuple[str, str, str, str]]:
        spec = obj.get("spec") or {}
        if spec.get("wait"):
            return [(o["apiVersion"], o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"])
                    for o in objs]
        return [(h.get("apiVersion", ""), h.get("kind", ""), h.get("namespace") or "", h.get("name", ""))
                for h in spec.get("healthChecks") or []]

    def _poll_health(self, obj: dict, wait: HealthWait) -> None:
        results = []
        for api, kind, ns, name in wait.refs:
            rt = self.target.store.registry.by_kind(api, kind)  # type: ignore[union-attr]
            live = self.target.store.peek(rt, ns or None, name) if rt is not None else None  # type: ignore[union-attr]
            ident = f"{kind}/{ns}/{name}" if ns else f"{kind}/{name}"
            results.append((ident, kstatus(live)))
        pending = [(i, s) for i, s in results if s != "Current"]
        elapsed = format_duration(round(time.monotonic() - wait.started, 3))
        m = obj["metadata"]
        status = clone(obj.get("status") or {})
        gen = m.get("generation", 1)
        if not pending:
            self._waits.pop((m["namespace"], m["name"]), None)
            set_condition(status, "Healthy", "True", "Succeeded", f"Health check passed in {elapsed}", gen)
            self._succeed(wait.started_obj, status, wait.revision, wait.changes, wait.started,
                          parse_duration((obj.get("spec") or {}).get("interval"), 600.0), live=obj)
            return
        failed = [(i, s) for i, s in pending if s == "Failed"]
        if failed:
            msg = f"health check failed after {elapsed}: failed early due to stalled resources: [" + \
                  ", ".join(f"{i} status: '{s}'" for i, s in failed) + "]"
        elif time.monotonic() >= wait.deadline:
            msg = f"health check failed after {elapsed}: timeout waiting for: [" + \
                  ", ".join(f"{i} status: '{s}'" for i, s in pending) + "]"
        else:
            return
        self._waits.pop((m["namespace"], m["name"]), None)
        set_condition(status, "Healthy", "False", "HealthCheckFailed", msg, gen)
        spec = obj.get("spec") or {}
        retry = parse_duration(spec.get("retryInterval"), parse_duration(spec.get("interval"), 600.0))
        self._fail(wait.started_obj, status, "HealthCheckFailed", msg, retry, live=obj)

    # ------------------------------------------------------------ outcomes
    def _succeed(self, obj: dict, status: dict, revision: str, changes: list[str], started: float,
                 interval: float, live: dict | None = None) -> None:
        gen = obj["metadata"].get("generation", 1)
        set_condition(status, "Ready", "True", "ReconciliationSucceeded", f"Applied revision: {revision}", gen)
        del_condition(status, "Reconciling")
        del_condition(status, "Stalled")
        status["observedGeneration"] = gen
        status["lastAppliedRevision"] = revision
        self._finalize(obj, status)
        self._write(live or obj, status)
        if changes:
            self.recorder.record(obj, "Normal", "Progressing", "\n".join(changes), COMPONENT, revision)
        took = format_duration(round(time.monotonic() - started, 3))
        self.recorder.record(obj, "Normal", "ReconciliationSucceeded", f"Reconciliation finished in {took}, next "
                             f"run in {format_duration(interval)}", COMPONENT, revision)
        self.done(K_KS, obj, interval)

    def _fail(self, obj: dict, status: dict, reason: str, message: str, requeue: float, live: dict | None = None,
              event: bool = True) -> None:
        self._not_ready(obj, status, reason, message, requeue, live, event, status.get("lastAttemptedRevision"))
