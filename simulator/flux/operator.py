"""flux-operator (controlplaneio-fluxcd/flux-operator), simulated enough for a fleet bootstrapped by it to go Ready.

- **FluxInstance**: resolves ``spec.distribution.version`` against the simulator's distribution catalog, applies the
  controllers' ServiceAccounts and Deployments (pods come from the workload controller) and, with ``spec.sync``, the
  sync source and Kustomization named after the namespace (as ``flux bootstrap`` names them); waits for the
  Deployments; writes ``components``, ``inventory``, ``lastAppliedRevision`` and kstatus conditions; maintains the
  ``FluxReport`` ``flux`` of the namespace.
- **ResourceSet**: checks ``dependsOn``, collects inputs (``spec.inputs`` and the ``exportedInputs`` of the
  providers in ``spec.inputsFrom``), renders ``spec.resources`` / ``spec.resourcesTemplate`` once per input with the
  ``<< inputs.field >>`` substitutions (other template actions are refused with a clear BuildFailed), honours
  ``fluxcd.controlplane.io/copyFrom``, applies with the ResourceSet owner labels, prunes what left the inventory.
- **ResourceSetInputProvider**: ``type: Static`` exports ``spec.defaultValues``; the SCM and registry types need a
  network the simulator does not reach and say so (Ready=False).

Every kind pauses on ``fluxcd.controlplane.io/reconcile: disabled`` and answers ``reconcile.fluxcd.io/requestedAt``.
Objects carry no ownerReferences: the owner labels and ``status.inventory`` link them, as the operator does.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from typing import Any

import yaml

from .. import errors
from ..store import Event, clone
from .common import (
    K_GIT,
    K_KS,
    K_OCI,
    Applier,
    FluxController,
    acknowledge_request,
    del_condition,
    describe,
    format_duration,
    inventory,
    is_ready,
    kstatus,
    latest_matching,
    parse_duration,
    parse_object_id,
    set_condition,
    write_status,
)
from .events import EventRecorder

log = logging.getLogger(__name__)
COMPONENT = "flux-operator"
GROUP = "fluxcd.controlplane.io"
K_INSTANCE = f"{GROUP}/fluxinstances"
K_REPORT = f"{GROUP}/fluxreports"
K_RSET = f"{GROUP}/resourcesets"
K_RSIP = f"{GROUP}/resourcesetinputproviders"
RECONCILE = f"{GROUP}/reconcile"
RECONCILE_EVERY = f"{GROUP}/reconcileEvery"
RECONCILE_TIMEOUT = f"{GROUP}/reconcileTimeout"
COPY_FROM = f"{GROUP}/copyFrom"
INSTANCE_LABELS = (f"{GROUP}/name", f"{GROUP}/namespace")
RSET_LABELS = (f"resourceset.{GROUP}/name", f"resourceset.{GROUP}/namespace")
# The distributions the simulator "pulls" (its controllers behave as Flux 2.9's: see docs/flux-simulation.md).
DISTRIBUTIONS = ("2.7.0", "2.8.0", "2.9.0")
DEFAULT_COMPONENTS = ("source-controller", "kustomize-controller", "helm-controller", "notification-controller")
COMPONENT_TAGS = {"source-controller": "v1.9.0", "kustomize-controller": "v1.9.0", "helm-controller": "v1.6.0",
                  "notification-controller": "v1.9.0", "image-reflector-controller": "v1.1.0",
                  "image-automation-controller": "v1.1.0", "source-watcher": "v2.1.0"}
_TEMPLATE = re.compile(r"<<-?\s*(.*?)\s*-?>>", re.S)
_FIELD = re.compile(r"^inputs((?:\.[A-Za-z_][A-Za-z0-9_]*)+)(?:\s*\|\s*(quote))?$")

CRD_KINDS = (
    ("FluxInstance", "fluxinstances", [("Revision", "string", ".status.lastAttemptedRevision")]),
    ("FluxReport", "fluxreports", [("Entitlement", "string", ".spec.distribution.entitlement")]),
    ("ResourceSet", "resourcesets", []),
    ("ResourceSetInputProvider", "resourcesetinputproviders", []),
)


def operator_crds() -> list[dict]:
    """The operator's CustomResourceDefinitions (group fluxcd.controlplane.io, version v1), as its chart installs."""
    out = []
    for kind, plural, extra in CRD_KINDS:
        cols = [{"name": n, "type": t, "jsonPath": p} for n, t, p in extra]
        cols += [{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                 {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
                 {"name": "Status", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].message'}]
        out.append({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{GROUP}", "labels": {"app.kubernetes.io/name": "flux-operator"}},
            "spec": {"group": GROUP, "scope": "Namespaced",
                     "names": {"kind": kind, "listKind": f"{kind}List", "plural": plural, "singular": kind.lower()},
                     "versions": [{"name": "v1", "served": True, "storage": True, "subresources": {"status": {}},
                                   "additionalPrinterColumns": cols,
                                   "schema": {"openAPIV3Schema": {"type": "object",
                                                                  "x-kubernetes-preserve-unknown-fields": True}}}]},
        })
    return out


class RenderError(Exception):
    """A ResourceSet template the simulator cannot render (becomes BuildFailed)."""


def _lookup(inputs: dict, path: str) -> Any:
    value: Any = inputs
    for part in path.strip(".").split("."):
        if not isinstance(value, dict) or part not in value:
            raise RenderError(f"template: map has no entry for key \"{part}\"")
        value = value[part]
    return value


def render_template(text: str, inputs: dict) -> str:
    """Substitute ``<< inputs.a.b >>`` (and ``| quote``) in ``text``; anything else is refused."""

    def sub(m: re.Match) -> str:
        expr = m.group(1)
        field = _FIELD.match(expr)
        if field is None:
            raise RenderError(f"the simulator renders only '<< inputs.field >>' substitutions, not '<< {expr} >>'")
        value = _lookup(inputs, field.group(1))
        if field.group(2) == "quote":
            return json.dumps(str(value))
        return value if isinstance(value, str) else json.dumps(value)

    return _TEMPLATE.sub(sub, text)


def input_id(namespace: str, name: str, values: Any) -> str:
    """A stable short id for an exported input (the operator uses a checksum too)."""
    return hashlib.sha256(f"{namespace}/{name}/{json.dumps(values, sort_keys=True)}".encode()).hexdigest()[:8]


class FluxOperatorController(FluxController):
    """FluxInstance, FluxReport, ResourceSet and ResourceSetInputProvider in one loop, as flux-operator runs them."""

    resources = (K_INSTANCE, K_RSET, K_RSIP, K_KS, K_GIT, K_OCI)

    def __init__(self, recorder: EventRecorder, applier: Applier, dependency_requeue: float = 5.0) -> None:
        super().__init__()
        self.recorder = recorder
        self.applier = applier
        self.dependency_requeue = dependency_requeue
        self._waits: dict[tuple[str, str, str], tuple[float, float, list[tuple[str, str, str, str]]]] = {}
        self._blocked: set[tuple[str, str, str]] = set()  # waiting on a dependency or an input provider

    @staticmethod
    def _token(obj: dict) -> tuple:
        """A change of the pause annotation is a reconcile request too (the operator's predicates watch it)."""
        return (*FluxController._token(obj), (obj["metadata"].get("annotations") or {}).get(RECONCILE))

    # ------------------------------------------------------------ routing
    def handle(self, event: Event) -> None:
        m = event.obj["metadata"]
        ns, name = m.get("namespace", ""), m["name"]
        if event.key in (K_INSTANCE, K_RSET, K_RSIP):
            if event.type == "DELETED":
                self.forget(event.key, ns, name)
            self.enqueue(event.key, ns, name)
        if self.store is None:
            return
        if event.key == K_RSIP:  # a provider's new inputs re-render the ResourceSets reading them
            for ent in self.store.list_entries(self.store.resolve(K_RSET), ns)[0]:
                if any(isinstance(r, dict) and (r.get("name") == name or r.get("selector"))
                       for r in (ent.obj.get("spec") or {}).get("inputsFrom") or []):
                    self.enqueue(K_RSET, ns, ent.obj["metadata"]["name"])
        elif event.key not in (K_INSTANCE, K_RSET) and is_ready(event.obj):  # a dependency may now be ready
            for ent in self.store.list_entries(self.store.resolve(K_RSET))[0]:
                if any(d.get("name") == name for d in (ent.obj.get("spec") or {}).get("dependsOn") or []):
                    self.enqueue(K_RSET, ent.obj["metadata"]["namespace"], ent.obj["metadata"]["name"])

    def resync(self) -> None:
        super().resync()
        for key, ns, name in list(self._waits):
            self.enqueue(key, ns, name)

    def reconcile(self, key: str, namespace: str, name: str) -> None:
        assert self.store is not None
        if key not in (K_INSTANCE, K_RSET, K_RSIP):
            return
        obj = self.store.peek_key(key, namespace, name)
        ident = (key, namespace, name)
        if obj is None:
            self._waits.pop(ident, None)
            return
        ann = obj["metadata"].get("annotations") or {}
        if obj["metadata"].get("deletionTimestamp") or str(ann.get(RECONCILE, "")).lower() == "disabled":
            self._waits.pop(ident, None)
            return
        if ident in self._waits:
            self._poll(key, obj)
            return
        if not (self.should_run(key, obj) or ident in self._blocked):
            return
        self._blocked.discard(ident)
        started = time.monotonic()
        status = clone(obj.get("status") or {})
        gen = obj["metadata"].get("generation", 1)
        set_condition(status, "Reconciling", "True", "Progressing", "Reconciliation in progress", gen)
        set_condition(status, "Ready", "Unknown", "Progressing", "Reconciliation in progress", gen)
        try:
            if key == K_INSTANCE:
                refs = self._instance(obj, status)
            elif key == K_RSET:
                refs = self._resourceset(obj, status)
            else:
                self._provider(obj, status)
                refs = []
        except _Failed as e:
            if e.reason == "DependencyNotReady":
                self._blocked.add(ident)
            self._fail(key, obj, status, e.reason, str(e), e.requeue)
            return
        if refs:
            timeout = parse_duration(ann.get(RECONCILE_TIMEOUT), 300.0)
            self._waits[ident] = (started, started + timeout, refs)
            self._write(key, obj, status)
            self._poll(key, self.store.peek_key(key, namespace, name) or obj)
            return
        self._succeed(key, obj, status, started)

    # ------------------------------------------------------------ outcomes
    def _interval(self, obj: dict) -> float:
        default = 3600.0 if obj["kind"] in ("FluxInstance", "ResourceSet") else 600.0
        return parse_duration((obj["metadata"].get("annotations") or {}).get(RECONCILE_EVERY), default)

    def _write(self, key: str, obj: dict, status: dict) -> None:
        write_status(self.store, key, obj, status)  # type: ignore[arg-type]

    def _finish(self, obj: dict, status: dict) -> None:
        acknowledge_request(obj, status)
        status["observedGeneration"] = obj["metadata"].get("generation", 1)

    def _succeed(self, key: str, obj: dict, status: dict, started: float) -> None:
        gen = obj["metadata"].get("generation", 1)
        took = format_duration(round(time.monotonic() - started, 3))
        message = f"Reconciliation finished in {took}"
        set_condition(status, "Ready", "True", "ReconciliationSucceeded", message, gen)
        del_condition(status, "Reconciling")
        del_condition(status, "Stalled")
        if status.get("lastAttemptedRevision"):
            status["lastAppliedRevision"] = status["lastAttemptedRevision"]
        self._finish(obj, status)
        self._write(key, obj, status)
        self.recorder.record(obj, "Normal", "ReconciliationSucceeded", message, COMPONENT)
        if key == K_INSTANCE:
            self._report(obj)
        self.done(key, obj, self._interval(obj))

    def _fail(self, key: str, obj: dict, status: dict, reason: str, message: str, requeue: float | None) -> None:
        gen = obj["metadata"].get("generation", 1)
        set_condition(status, "Ready", "False", reason, message, gen)
        set_condition(status, "Reconciling", "True", "ProgressingWithRetry", message, gen)
        self._finish(obj, status)
        self._write(key, obj, status)
        if reason != "DependencyNotReady":
            self.recorder.record(obj, "Warning", reason, message, COMPONENT)
        if key == K_INSTANCE:
            self._report(obj)
        self.done(key, obj, requeue if requeue is not None else min(self._interval(obj), 30.0))

    def _poll(self, key: str, obj: dict) -> None:
        ident = (key, obj["metadata"]["namespace"], obj["metadata"]["name"])
        started, deadline, refs = self._waits[ident]
        pending = []
        for api, kind, ns, name in refs:
            rt = self.store.registry.by_kind(api, kind)  # type: ignore[union-attr]
            state = kstatus(self.store.peek(rt, ns or None, name) if rt is not None else None)  # type: ignore
            if state != "Current":
                pending.append(f"{kind}/{ns}/{name} status: '{state}'")
        status = clone(obj.get("status") or {})
        if not pending:
            del self._waits[ident]
            self._succeed(key, obj, status, started)
            return
        if time.monotonic() < deadline:
            return
        del self._waits[ident]
        took = format_duration(round(time.monotonic() - started, 3))
        self._fail(key, obj, status, "HealthCheckFailed",
                   f"health check failed after {took}: timeout waiting for: [{', '.join(pending)}]", None)

    # ------------------------------------------------------------ apply + prune
    def _apply_all(self, owner: dict, labels: tuple[str, str], objs: list[dict], status: dict) -> None:
        m = owner["metadata"]
        for o in objs:
            meta = o.setdefault("metadata", {})
            meta.setdefault("labels", {}).update({labels[0]: m["name"], labels[1]: m["namespace"]})
            rt = self.applier.resolve(o)
            if rt is None:
                raise _Failed("BuildFailed", f"{describe(o)} dry-run failed: no matches for kind \"{o.get('kind')}\" "
                              f"in version \"{o.get('apiVersion')}\"")
            if rt.namespaced and not meta.get("namespace"):
                meta["namespace"] = m["namespace"]
        # Namespaces and CRDs first, as the operator's staged apply does.
        objs = sorted(objs, key=lambda o: o.get("kind") not in ("Namespace", "CustomResourceDefinition"))
        for o in objs:
            ns = o["metadata"].get("namespace")
            rt = self.applier.resolve(o)
            if rt.namespaced and ns and self.store.peek("namespaces", None, ns) is None:  # type: ignore[union-attr]
                raise _Failed("ReconciliationFailed", f"{describe(o)} namespace not specified: namespaces \"{ns}\" "
                              f"not found")
            try:
                self.applier.apply(clone(o))
            except errors.ApiError as e:
                raise _Failed("ReconciliationFailed", f"{describe(o)} apply failed: {e.message}") from e
        new_inv = inventory(objs)
        keep = {e["id"] for e in new_inv["entries"]}
        for entry in (status.get("inventory") or {}).get("entries") or []:
            if entry["id"] in keep:
                continue
            ns, name, group, kind = parse_object_id(entry["id"])
            rt = self.store.registry.by_kind(f"{group}/{entry.get('v')}" if group else entry.get("v", "v1"), kind)  # type: ignore
            live = self.store.peek(rt, ns or None, name) if rt is not None else None  # type: ignore[union-attr]
            if live is not None and (live["metadata"].get("labels") or {}).get(labels[0]) == m["name"]:
                self.applier.delete(rt.key, ns, name)
        status["inventory"] = new_inv

    # ------------------------------------------------------------ FluxInstance
    def _instance(self, obj: dict, status: dict) -> list[tuple[str, str, str, str]]:
        m, spec = obj["metadata"], obj.get("spec") or {}
        ns = m["namespace"]
        dist = spec.get("distribution") or {}
        want = str(dist.get("version") or "")
        version = latest_matching(list(DISTRIBUTIONS), want) if want else None
        if version is None:
            raise _Failed("ArtifactFailed", f"no Flux distribution version matching '{want}' found (the simulator "
                          f"offers {', '.join(DISTRIBUTIONS)})")
        registry = str(dist.get("registry") or "ghcr.io/fluxcd").rstrip("/")
        components = list(spec.get("components") or DEFAULT_COMPONENTS)
        unknown = [c for c in components if c not in COMPONENT_TAGS]
        if unknown:
            raise _Failed("BuildFailed", f"unknown Flux component(s): {', '.join(unknown)}")
        objs: list[dict] = []
        status["components"] = []
        for c in components:
            tag = COMPONENT_TAGS[c]
            digest = hashlib.sha256(f"{registry}/{c}:{tag}".encode()).hexdigest()
            status["components"].append({"name": c, "repository": f"{registry}/{c}", "tag": tag,
                                         "digest": f"sha256:{digest}"})
            objs.append({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": c, "namespace": ns}})
            labels = {"app": c, "app.kubernetes.io/part-of": "flux", "app.kubernetes.io/component": c}
            objs.append({"apiVersion": "apps/v1", "kind": "Deployment",
                         "metadata": {"name": c, "namespace": ns, "labels": dict(labels)},
                         "spec": {"replicas": 1, "selector": {"matchLabels": {"app": c}},
                                  "template": {"metadata": {"labels": dict(labels)},
                                               "spec": {"serviceAccountName": c, "containers": [
                                                   {"name": "manager", "image": f"{registry}/{c}:{tag}"}]}}}})
        sync = spec.get("sync") or {}
        if sync:
            objs.extend(self._sync_objects(ns, sync))
        digest = hashlib.sha256(json.dumps(objs, sort_keys=True).encode()).hexdigest()
        status["lastAttemptedRevision"] = f"v{version}@sha256:{digest}"
        self._apply_all(obj, INSTANCE_LABELS, objs, status)
        return [("apps/v1", "Deployment", ns, c) for c in components]

    @staticmethod
    def _sync_objects(ns: str, sync: dict) -> list[dict]:
        kind = sync.get("kind") or "GitRepository"
        if kind not in ("GitRepository", "OCIRepository"):
            raise _Failed("BuildFailed", f"sync kind {kind} is not simulated (GitRepository and OCIRepository are)")
        ref = str(sync.get("ref") or "")
        if kind == "GitRepository":
            source_ref = {"name": ref} if ref.startswith("refs/") else {"branch": ref or "main"}
        else:
            source_ref = {"tag": ref or "latest"}
        source_spec: dict[str, Any] = {"interval": sync.get("interval") or "1m0s", "url": sync.get("url", ""),
                                       "ref": source_ref}
        if sync.get("pullSecret"):
            source_spec["secretRef"] = {"name": sync["pullSecret"]}
        return [
            {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": kind, "metadata": {"name": ns, "namespace": ns},
             "spec": source_spec},
            {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
             "metadata": {"name": ns, "namespace": ns},
             "spec": {"interval": sync.get("interval") or "10m0s", "path": sync.get("path") or "./", "prune": True,
                      "sourceRef": {"kind": kind, "name": ns}}},
        ]

    def _report(self, instance: dict) -> None:
        """Create or refresh the FluxReport ``flux`` of the instance's namespace (the operator computes it)."""
        ns = instance["metadata"]["namespace"]
        st = instance.get("status") or {}
        live_inst = self.store.peek_key(K_INSTANCE, ns, instance["metadata"]["name"]) or instance  # type: ignore
        st = live_inst.get("status") or st
        sync = (instance.get("spec") or {}).get("sync") or {}
        ks = self.store.peek_key(K_KS, ns, ns) if sync else None  # type: ignore[union-attr]
        rev = str(st.get("lastAppliedRevision") or st.get("lastAttemptedRevision") or "")
        report_spec: dict[str, Any] = {
            "distribution": {"entitlement": "Issued by controlplane", "status": "Installed" if is_ready(live_inst)
                             else "Not Ready", "version": rev.split("@")[0]},
            "components": [{"name": c["name"], "image": f"{c['repository']}:{c['tag']}@{c['digest']}",
                            "ready": True, "status": "Current Deployment is available. Replicas: 1"}
                           for c in st.get("components") or []],
        }
        if sync:
            report_spec["sync"] = {"id": f"kustomization/{ns}", "path": sync.get("path", ""),
                                   "source": sync.get("url", ""), "ready": is_ready(ks),
                                   "status": ((ks or {}).get("status") or {}).get("lastAppliedRevision", "")
                                   or "not yet applied"}
        live = self.store.peek_key(K_REPORT, ns, "flux")  # type: ignore[union-attr]
        if live is None:
            try:
                live = self.store.create({"apiVersion": f"{GROUP}/v1", "kind": "FluxReport",  # type: ignore
                                          "metadata": {"name": "flux", "namespace": ns,
                                                       "labels": {INSTANCE_LABELS[0]: instance["metadata"]["name"],
                                                                  INSTANCE_LABELS[1]: ns}},
                                          "spec": report_spec})
            except errors.ApiError as e:
                log.debug("FluxReport not created: %s", e)
                return
        elif live.get("spec") != report_spec:
            new = clone(live)
            new["spec"] = report_spec
            live = self.store.update(new)  # type: ignore[union-attr]
        status = clone(live.get("status") or {})
        gen = live["metadata"].get("generation", 1)
        set_condition(status, "Ready", "True", "ReconciliationSucceeded", "Reporting finished", gen)
        status["observedGeneration"] = gen
        if status != live.get("status"):
            new = clone(live)
            new["status"] = status
            self.store.update_status(new)  # type: ignore[union-attr]

    # ------------------------------------------------------------ ResourceSet
    def _resourceset(self, obj: dict, status: dict) -> list[tuple[str, str, str, str]]:
        m, spec = obj["metadata"], obj.get("spec") or {}
        self._check_dependencies(obj)
        inputs = self._inputs(obj)
        objs: list[dict] = []
        seen: set[str] = set()
        for values in inputs or [{}]:
            for o in self._render(spec, values):
                self._copy_from(o)
                ident = f"{o.get('apiVersion')}/{o.get('kind')}/{(o.get('metadata') or {}).get('namespace', '')}/" \
                        f"{(o.get('metadata') or {}).get('name')}"
                if ident not in seen:
                    seen.add(ident)
                    objs.append(o)
        digest = hashlib.sha256(json.dumps(objs, sort_keys=True).encode()).hexdigest()
        status["lastAttemptedRevision"] = f"sha256:{digest}"
        self._apply_all(obj, RSET_LABELS, objs, status)
        if not spec.get("wait"):
            return []
        return [(o["apiVersion"], o["kind"], o["metadata"].get("namespace") or m["namespace"], o["metadata"]["name"])
                for o in objs]

    def _check_dependencies(self, obj: dict) -> None:
        for dep in (obj.get("spec") or {}).get("dependsOn") or []:
            rt = self.store.registry.by_kind(dep.get("apiVersion", ""), dep.get("kind", ""))  # type: ignore
            dns = dep.get("namespace") or ""
            live = self.store.peek(rt, dns or None, dep.get("name", "")) if rt is not None else None  # type: ignore
            what = f"{dep.get('kind')}/{dns + '/' if dns else ''}{dep.get('name')}"
            if live is None:
                raise _Failed("DependencyNotReady", f"dependency {what} not found", self.dependency_requeue)
            if dep.get("ready") and not is_ready(live):
                raise _Failed("DependencyNotReady", f"dependency {what} not ready", self.dependency_requeue)

    def _inputs(self, obj: dict) -> list[dict]:
        ns, spec = obj["metadata"]["namespace"], obj.get("spec") or {}
        out = [dict(i) for i in spec.get("inputs") or [] if isinstance(i, dict)]
        providers = self.store.list_entries(self.store.resolve(K_RSIP), ns)[0]  # type: ignore[union-attr]
        for ref in spec.get("inputsFrom") or []:
            if not isinstance(ref, dict):
                continue
            match = ((ref.get("selector") or {}).get("matchLabels") or {}) if isinstance(ref.get("selector"),
                                                                                        dict) else {}
            chosen = [p.obj for p in providers
                      if (ref.get("name") and p.obj["metadata"]["name"] == ref["name"])
                      or (not ref.get("name") and match and all(
                          (p.obj["metadata"].get("labels") or {}).get(k) == v for k, v in match.items()))]
            if ref.get("name") and not chosen:
                raise _Failed("DependencyNotReady", f"ResourceSetInputProvider/{ns}/{ref['name']} not found",
                              self.dependency_requeue)
            for p in chosen:
                if not is_ready(p):
                    raise _Failed("DependencyNotReady", f"ResourceSetInputProvider/{ns}/{p['metadata']['name']} "
                                  f"not ready", self.dependency_requeue)
                out.extend(dict(i) for i in (p.get("status") or {}).get("exportedInputs") or [])
        return out

    @staticmethod
    def _render(spec: dict, values: dict) -> list[dict]:
        texts = []
        if spec.get("resources"):
            texts.append(yaml.safe_dump_all(spec["resources"], sort_keys=False))
        if spec.get("resourcesTemplate"):
            texts.append(str(spec["resourcesTemplate"]))
        out: list[dict] = []
        for text in texts:
            try:
                rendered = render_template(text, values)
                docs = [d for d in yaml.safe_load_all(rendered) if d]
            except RenderError as e:
                raise _Failed("BuildFailed", f"failed to build resources: {e}") from e
            except yaml.YAMLError as e:
                raise _Failed("BuildFailed", f"failed to parse rendered resources: {e}") from e
            for d in docs:
                if not isinstance(d, dict) or not d.get("kind") or not (d.get("metadata") or {}).get("name"):
                    raise _Failed("BuildFailed", "rendered resource without kind or metadata.name")
                out.append(d)
        return out

    def _copy_from(self, o: dict) -> None:
        """``fluxcd.controlplane.io/copyFrom: <ns>/<name>``: a ConfigMap or Secret takes the source's data."""
        src = ((o.get("metadata") or {}).get("annotations") or {}).get(COPY_FROM)
        if not src or o.get("kind") not in ("ConfigMap", "Secret"):
            return
        sns, _, sname = str(src).partition("/")
        live = self.store.peek("configmaps" if o["kind"] == "ConfigMap" else "secrets", sns, sname)  # type: ignore
        if live is None:
            raise _Failed("BuildFailed", f"failed to copy data from {o['kind']}/{src}: not found")
        for k in ("data", "binaryData", "stringData"):
            if live.get(k):
                o[k] = clone(live[k])

    # ------------------------------------------------------------ ResourceSetInputProvider
    def _provider(self, obj: dict, status: dict) -> None:
        m, spec = obj["metadata"], obj.get("spec") or {}
        kind = spec.get("type") or ""
        if kind != "Static":
            where = spec.get("url") or "a remote service"
            raise _Failed("ReconciliationFailed", f"input provider type {kind!r} reads {where}, which the simulator "
                          "does not reach: only type Static is simulated")
        values = dict(spec.get("defaultValues") or {})
        exported = [{"id": input_id(m["namespace"], m["name"], values), **values}]
        status["exportedInputs"] = exported
        status["lastExportedRevision"] = "sha256:" + hashlib.sha256(
            json.dumps(exported, sort_keys=True).encode()).hexdigest()


class _Failed(Exception):
    def __init__(self, reason: str, message: str, requeue: float | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.requeue = requeue


__all__ = ["FluxOperatorController", "operator_crds", "render_template"]
