"""helm-controller: HelmRelease → generated HelmChart → the catalog's chart package rendered by Helm's engine,
applied, waited for, with history, Helm storage, inventory, failure counters, remediation retries and conditions as
helm-controller writes them."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from .. import errors
from ..store import Event, clone
from . import charts
from .common import (
    FORCE_AT,
    HELM_GROUP,
    K_CHART,
    K_HR,
    K_OCI,
    REQUESTED_AT,
    RESET_AT,
    SOURCE_GROUP,
    Applier,
    KubeConfigError,
    del_condition,
    describe,
    format_duration,
    get_condition,
    inventory,
    is_ready,
    kstatus,
    parse_duration,
    parse_object_id,
    set_condition,
)
from .events import EventRecorder
from .helmengine import RenderError
from .reconciler import FluxKindController
from .release import (
    ValuesError,
    compose_values,
    config_digest,
    history_entry,
    manifest_text,
    mark_storage,
    release_name,
    render,
    write_storage,
)

log = logging.getLogger(__name__)
COMPONENT = "helm-controller"


@dataclass
class ReleaseWait:
    """An install/upgrade whose resources are being waited for (re-checked on every resync)."""

    started_obj: dict
    action: str
    chart: charts.Chart
    version: str
    values: dict
    objs: list[dict]
    started: float
    deadline: float


class HelmController(FluxKindController):
    """Reconciles HelmReleases; watches HelmCharts and OCIRepositories for new chart versions."""

    resources = (K_HR, K_CHART, K_OCI)
    kind_key, component = K_HR, COMPONENT

    def __init__(self, recorder: EventRecorder, applier: Applier, dependency_requeue: float = 5.0) -> None:
        super().__init__(recorder, applier, dependency_requeue)
        self._waits: dict[tuple[str, str], ReleaseWait] = {}  # installs/upgrades waiting for their resources

    def handle(self, event: Event) -> None:
        ns, name = self._note(event)
        if self.store is None:
            return
        for ent in self.store.list_entries(self.store.resolve(K_HR))[0]:
            o, on = ent.obj, ent.obj["metadata"]
            spec = o.get("spec") or {}
            hit = False
            if event.key == K_HR:
                hit = is_ready(event.obj) and any(
                    d.get("name") == name and (d.get("namespace") or on["namespace"]) == ns
                    for d in spec.get("dependsOn") or [])
            elif event.key == K_CHART:
                hit = (o.get("status") or {}).get("helmChart") == f"{ns}/{name}" or (
                    (spec.get("chartRef") or {}).get("kind") == "HelmChart" and spec["chartRef"].get("name") == name)
            else:
                ref = spec.get("chartRef") or {}
                hit = ref.get("kind") == "OCIRepository" and ref.get("name") == name and \
                    (ref.get("namespace") or on["namespace"]) == ns
            if hit:
                self.enqueue(K_HR, on["namespace"], on["name"])

    # ------------------------------------------------------------ reconcile
    def reconcile(self, key: str, namespace: str, name: str) -> None:
        obj = self._begin(key, namespace, name)
        if obj is None or (obj.get("spec") or {}).get("suspend"):
            return
        ident = (namespace, name)
        wait = self._waits.get(ident)
        if wait is not None:
            if self._token(wait.started_obj) == self._token(obj):
                try:
                    self.target = self._target_of(obj)
                except KubeConfigError:
                    self._waits.pop(ident)
                    return
                self._poll(obj, wait)
                return
            self._waits.pop(ident)
        if self._needs_run(obj, self._chart_hint(obj)):
            self._reconcile(obj)

    def _chart_hint(self, obj: dict) -> str | None:
        """The chart version the source offers now, to notice new versions without a spec change."""
        src = self._chart_source(obj)
        rev = (((src or {}).get("status") or {}).get("artifact") or {}).get("revision")
        return rev.split("@")[0] if rev else None

    def _chart_source(self, obj: dict) -> dict | None:
        spec, ns = obj.get("spec") or {}, obj["metadata"]["namespace"]
        ref = spec.get("chartRef")
        if ref:
            key = K_OCI if ref.get("kind") == "OCIRepository" else K_CHART
            return self.store.peek_key(key, ref.get("namespace") or ns, ref.get("name", ""))  # type: ignore
        tmpl = ((spec.get("chart") or {}).get("spec") or {})
        src_ns = (tmpl.get("sourceRef") or {}).get("namespace") or ns
        return self.store.peek_key(K_CHART, src_ns, f"{ns}-{obj['metadata']['name']}")  # type: ignore

    def _reconcile(self, obj: dict) -> None:
        m, spec = obj["metadata"], obj.get("spec") or {}
        ident = (m["namespace"], m["name"])
        gen = m.get("generation", 1)
        status = clone(obj.get("status") or {})
        ann = m.get("annotations") or {}
        req = ann.get(REQUESTED_AT)
        interval = parse_duration(spec.get("interval"), 600.0)
        force = bool(ann.get(FORCE_AT) and ann[FORCE_AT] == req and ann[FORCE_AT] != status.get("lastHandledForceAt"))
        if ann.get(RESET_AT) and ann[RESET_AT] == req and ann[RESET_AT] != status.get("lastHandledResetAt"):
            status["lastHandledResetAt"] = ann[RESET_AT]
            self._clear_failures(status)
        if force:
            status["lastHandledForceAt"] = ann[FORCE_AT]
        if status.get("lastAttemptedGeneration") not in (None, gen):
            self._clear_failures(status)  # a spec change earns a fresh set of attempts
        if status.get("observedGeneration") != gen:
            set_condition(status, "Reconciling", "True", "Progressing", "Reconciliation in progress", gen)
        # The cluster to install into: this one, or the kubeConfig's (a missing Secret fails, never the hub).
        try:
            self.target = self._target_of(obj)
        except KubeConfigError as e:
            return self._fail_early(obj, status, "InitFailed", str(e), parse_duration(spec.get("interval"), 600.0))
        # Dependencies.
        for dep in spec.get("dependsOn") or []:
            dns = dep.get("namespace") or m["namespace"]
            d = self.store.peek_key(K_HR, dns, dep.get("name", ""))  # type: ignore[union-attr]
            if d is None or not is_ready(d) or (d.get("status") or {}).get("observedGeneration") != \
                    d["metadata"].get("generation"):
                self._blocked.add(ident)
                return self._fail_early(obj, status, "DependencyNotReady",
                                        f"dependency '{dns}/{dep.get('name')}' is not ready", self.dependency_requeue)
        # Chart.
        try:
            chart, version = self._resolve_chart(obj, status)
        except _NotReady as e:
            self._blocked.add(ident)
            return self._fail_early(obj, status, e.reason, str(e), self.dependency_requeue)
        try:
            values = compose_values(self.store, obj)  # type: ignore[arg-type]
        except ValuesError as e:
            return self._fail_early(obj, status, "ValuesError", str(e), interval)
        history = status.get("history") or []
        latest = history[0] if history else None
        digest = config_digest(values)
        action = "install" if latest is None or (latest["status"] != "deployed" and len(history) == 1
                                                 and status.get("lastAttemptedReleaseAction") == "install") \
            else "upgrade"
        in_sync = latest is not None and latest["status"] == "deployed" and latest["chartVersion"] == version \
            and latest.get("configDigest") == digest and not force
        if in_sync:
            if (spec.get("driftDetection") or {}).get("mode") == "enabled":
                self._apply(obj, chart, version, values, action="upgrade", drift_only=True)
            return self._finish_ok(obj, status, latest, "upgrade" if len(history) > 1 else "install", interval,
                                   event=False)
        if latest is not None and latest["status"] == "failed" and not force and \
                latest["chartVersion"] == version and latest.get("configDigest") == digest:
            stalled = get_condition({"status": status}, "Stalled")
            if stalled and stalled.get("status") == "True":
                self._finalize(obj, status)
                self._write(obj, status)
                self.done(K_HR, obj, interval)
                return None
        self._start(obj, status, action, chart, version, values)
        return None

    def _resolve_chart(self, obj: dict, status: dict) -> tuple[charts.Chart, str]:
        m, spec = obj["metadata"], obj.get("spec") or {}
        ns = m["namespace"]
        ref = spec.get("chartRef")
        if ref:
            src = self._chart_source(obj)
            sid = f"{ref.get('kind')} '{ref.get('namespace') or ns}/{ref.get('name')}'"
            if src is None:
                raise _NotReady("SourceNotReady", f"could not get {sid}: not found")
            art = (src.get("status") or {}).get("artifact")
            if not is_ready(src) or not art:
                raise _NotReady("SourceNotReady", f"{sid} is not ready")
            if ref.get("kind") == "OCIRepository":
                chart = charts.oci_chart(str((src.get("spec") or {}).get("url") or ""))
            else:
                chart = charts.CHARTS.get((src.get("spec") or {}).get("chart", ""))
            if chart is None:
                raise _NotReady("ArtifactFailed", f"{sid} does not hold a chart from the simulator's catalog")
            return chart, art["revision"].split("@")[0]
        tmpl = (spec.get("chart") or {}).get("spec") or {}
        src_ref = tmpl.get("sourceRef") or {}
        hc_ns, hc_name = src_ref.get("namespace") or ns, f"{ns}-{m['name']}"
        desired = {"apiVersion": f"{SOURCE_GROUP}/v1", "kind": "HelmChart",
                   "metadata": {"name": hc_name, "namespace": hc_ns,
                                "labels": {f"{HELM_GROUP}/name": m["name"], f"{HELM_GROUP}/namespace": ns}},
                   "spec": {"chart": tmpl.get("chart", ""), "version": tmpl.get("version") or "*",
                            "sourceRef": {"kind": src_ref.get("kind", "HelmRepository"), "name": src_ref.get("name")},
                            "interval": tmpl.get("interval") or spec.get("interval") or "10m",
                            "reconcileStrategy": tmpl.get("reconcileStrategy") or "ChartVersion"}}
        if tmpl.get("valuesFiles"):
            desired["spec"]["valuesFiles"] = tmpl["valuesFiles"]
        status["helmChart"] = f"{hc_ns}/{hc_name}"
        try:
            self.applier.apply(desired)  # no ownerReference: helm-controller links it by name and labels only
        except errors.ApiError as e:
            raise _NotReady("ArtifactFailed", f"failed to create HelmChart '{hc_ns}/{hc_name}': {e.message}") from e
        hc = self.store.peek_key(K_CHART, hc_ns, hc_name)  # type: ignore[union-attr]
        if hc is None or not is_ready(hc) or (hc.get("status") or {}).get("observedGeneration") != \
                hc["metadata"].get("generation"):
            why = (get_condition(hc or {}, "Ready") or {}).get("message") or "waiting to be reconciled"
            raise _NotReady("SourceNotReady", f"HelmChart '{hc_ns}/{hc_name}' is not ready: {why}")
        chart = charts.CHARTS.get(hc["spec"].get("chart", ""))
        if chart is None:
            raise _NotReady("ArtifactFailed", f"chart '{hc['spec'].get('chart')}' is not in the catalog")
        return chart, hc["status"]["artifact"]["revision"]

    # ------------------------------------------------------------ install / upgrade
    def _apply(self, obj: dict, chart: charts.Chart, version: str, values: dict, action: str,
               drift_only: bool = False) -> tuple[list[dict], str]:
        """Render and apply; (the applied objects, the release manifest)."""
        spec = obj.get("spec") or {}
        policy = (spec.get(action) or {}).get("crds") or ("Create" if action == "install" else "Skip")
        try:
            crds, docs = render(obj, chart, version, values, with_crds=policy != "Skip")
        except RenderError as e:
            raise _Failed(f"template: {e}") from None
        target_ns = spec.get("targetNamespace") or obj["metadata"]["namespace"]
        if self.target.store.peek("namespaces", None, target_ns) is None:  # type: ignore[union-attr]
            if not (spec.get("install") or {}).get("createNamespace"):
                raise _Failed(f"create: failed to create: namespaces \"{target_ns}\" not found")
            self.target.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": target_ns}})
        objs = crds + [o for _, o in docs]
        for o in objs:
            rt = self.target.resolve(o)
            if rt is None:
                raise _Failed("unable to build kubernetes objects from release manifest: resource mapping not "
                              f"found for name: \"{o['metadata']['name']}\" namespace: \"{target_ns}\": no matches "
                              f"for kind \"{o['kind']}\" in version \"{o['apiVersion']}\"")
            # Helm installs namespaced objects without a namespace into the release's namespace.
            if rt.namespaced:
                o["metadata"].setdefault("namespace", target_ns)
            else:
                o["metadata"].pop("namespace", None)
            try:
                self.target.apply(clone(o))
            except errors.ApiError as e:
                raise _Failed(f"{describe(o)}: {e.message}") from e
        if not drift_only:
            keep = {e["id"] for e in inventory(objs)["entries"]}
            old = ((obj.get("status") or {}).get("inventory") or {}).get("entries") or []
            self._delete_entries([e for e in old if e["id"] not in keep and not e["id"].endswith(
                "_CustomResourceDefinition")])
        return objs, manifest_text(docs)

    def _start(self, obj: dict, status: dict, action: str, chart: charts.Chart, version: str, values: dict) -> None:
        m, spec = obj["metadata"], obj.get("spec") or {}
        gen = m.get("generation", 1)
        timeout = parse_duration((spec.get(action) or {}).get("timeout") or spec.get("timeout"), 300.0)
        msg = f"Running '{action}' action with timeout of {format_duration(timeout)}"
        set_condition(status, "Ready", "Unknown", "Progressing", msg, gen)
        set_condition(status, "Reconciling", "True", "Progressing", msg, gen)
        status.update(lastAttemptedRevision=version, lastAttemptedConfigDigest=config_digest(values),
                      lastAttemptedGeneration=gen, lastAttemptedReleaseAction=action,
                      storageNamespace=spec.get("storageNamespace") or m["namespace"])
        history = status.setdefault("history", [])
        if action == "install" and history and history[0].get("status") == "failed":
            history.pop(0)  # the failed install was remediated (uninstalled): the retry is v1 again
        number = (history[0]["version"] + 1) if history else 1
        first = next((h["firstDeployed"] for h in history if h.get("status") in ("deployed", "superseded")), None)
        try:
            objs, manifest = self._apply(obj, chart, version, values, action)
        except _Failed as e:
            entry = history_entry(obj, chart, version, values, number, "failed", first, "")
            history.insert(0, entry)
            del history[10:]
            self._write(obj, status)
            return self._finish_failed(obj, status, action, chart, version, str(e))
        entry = history_entry(obj, chart, version, values, number, f"pending-{action}", first, manifest)
        history.insert(0, entry)
        del history[10:]  # spec.maxHistory defaults to 5 in Helm storage; status keeps a short list too
        status["inventory"] = inventory(objs)
        write_storage(self.target.store, obj, chart, entry, values, manifest,  # type: ignore[arg-type]
                      f"{action.capitalize()} in progress")
        self._write(obj, status)
        if (spec.get(action) or {}).get("disableWait"):
            return self._finish_ok(obj, status, entry, action, parse_duration(spec.get("interval"), 600.0))
        started = time.monotonic()
        wait = ReleaseWait(obj, action, chart, version, values, objs, started, started + timeout)
        self._waits[(m["namespace"], m["name"])] = wait
        return self._poll(self.store.peek_key(K_HR, m["namespace"], m["name"]) or obj, wait)  # type: ignore

    def _poll(self, live: dict, wait: ReleaseWait) -> None:
        pending = []
        for o in wait.objs:
            rt = self.target.resolve(o)
            cur = self.target.store.peek(rt, o["metadata"].get("namespace"), o["metadata"]["name"]) if rt else None  # type: ignore
            s = kstatus(cur)
            if s != "Current":
                pending.append(f"{describe(o)} status: '{s}'")
        m = live["metadata"]
        status = clone(live.get("status") or {})
        if not pending:
            self._waits.pop((m["namespace"], m["name"]), None)
            entry = (status.get("history") or [None])[0]
            return self._finish_ok(wait.started_obj, status, entry, wait.action,
                                   parse_duration((live.get("spec") or {}).get("interval"), 600.0), live=live)
        if time.monotonic() < wait.deadline:
            return None
        self._waits.pop((m["namespace"], m["name"]), None)
        return self._finish_failed(wait.started_obj, status, wait.action, wait.chart, wait.version,
                                   "timeout waiting for: [" + ", ".join(pending) + "]", live=live)

    # ------------------------------------------------------------ outcomes
    def _finish_ok(self, obj: dict, status: dict, entry: dict | None, action: str, interval: float,
                   live: dict | None = None, event: bool = True) -> None:
        gen = obj["metadata"].get("generation", 1)
        history = status.get("history") or []
        if entry is not None and history and entry.get("status") != "deployed":
            history[0] = {**history[0], "status": "deployed"}
            entry = history[0]
            mark_storage(self.target.store, obj, entry, "deployed",  # type: ignore[arg-type]
                         f"{'Install' if action == 'install' else 'Upgrade'} complete")
            for h in history[1:]:
                if h.get("status") == "deployed":
                    h["status"] = "superseded"
                    mark_storage(self.target.store, obj, h, "superseded")  # type: ignore[arg-type]
        if entry is None:
            return self._fail_early(obj, status, "StateError", "no release in history", interval)
        past = "install" if action == "install" else "upgrade"
        reason = "InstallSucceeded" if past == "install" else "UpgradeSucceeded"
        msg = (f"Helm {past} succeeded for release {entry['namespace']}/{entry['name']}.v{entry['version']} "
               f"with chart {entry['chartName']}@{entry['chartVersion']}")
        released = get_condition({"status": status}, "Released")
        if not event and released and released.get("status") == "True":
            reason, msg = released["reason"], released["message"]  # nothing new happened: keep what was said
        set_condition(status, "Released", "True", reason, msg, gen)
        set_condition(status, "Ready", "True", reason, msg, gen)
        del_condition(status, "Reconciling")
        del_condition(status, "Stalled")
        self._clear_failures(status)
        status["observedGeneration"] = gen
        self._finalize(obj, status)
        self._write(live or obj, status)
        if event:
            self.recorder.record(obj, "Normal", reason, msg, COMPONENT, entry["chartVersion"])
        self.done(K_HR, obj, interval)
        return None

    def _finish_failed(self, obj: dict, status: dict, action: str, chart: charts.Chart, version: str, err: str,
                       live: dict | None = None) -> None:
        spec, m = obj.get("spec") or {}, obj["metadata"]
        gen = m.get("generation", 1)
        history = status.get("history") or []
        if history and history[0].get("status") != "failed":
            history[0] = {**history[0], "status": "failed"}
            mark_storage(self.target.store, obj, history[0], "failed")  # type: ignore[arg-type]
        past = "install" if action == "install" else "upgrade"
        reason = "InstallFailed" if past == "install" else "UpgradeFailed"
        msg = (f"Helm {past} failed for release {m['namespace']}/{release_name(obj)} with chart "
               f"{chart.name}@{version}: {err}")
        counter = f"{past}Failures"
        status["failures"] = int(status.get("failures", 0)) + 1
        status[counter] = int(status.get(counter, 0)) + 1
        retries = int(((spec.get(action) or {}).get("remediation") or {}).get("retries", 0))
        set_condition(status, "Released", "False", reason, msg, gen)
        set_condition(status, "Ready", "False", reason, msg, gen)
        status["observedGeneration"] = gen
        self._finalize(obj, status)
        self.recorder.record(obj, "Warning", reason, msg, COMPONENT, version)
        if status[counter] > retries:
            set_condition(status, "Stalled", "True", "RetriesExceeded",
                          f"Failed to {past} after {status[counter]} attempt(s)", gen)
            del_condition(status, "Reconciling")
            self._write(live or obj, status)
            self.done(K_HR, obj, parse_duration(spec.get("interval"), 600.0))
            return None
        set_condition(status, "Reconciling", "True", "ProgressingWithRetry", msg, gen)
        self._write(live or obj, status)
        # Remediation retries follow at once, as helm-controller's atomic release loop requeues immediately.
        self._blocked.add((m["namespace"], m["name"]))
        self.done(K_HR, obj, 0.5)
        return None

    def _fail_early(self, obj: dict, status: dict, reason: str, message: str, requeue: float) -> None:
        # An event only when the message is new: a release waiting on its chart is retried often.
        self._not_ready(obj, status, reason, message, requeue,
                        event=(get_condition(obj, "Ready") or {}).get("message") != message)

    @staticmethod
    def _clear_failures(status: dict) -> None:
        for k in ("failures", "installFailures", "upgradeFailures"):
            status.pop(k, None)
        del_condition(status, "Stalled")

    def _delete_entries(self, entries: list[dict]) -> None:
        for e in entries:
            ns, name, _, _ = parse_object_id(e["id"])
            rt = self._entry_type(e)
            if rt is not None:
                self.target.delete(rt.key, ns, name)

    def _finalize_delete(self, gone: dict) -> None:
        """helm uninstall on HelmRelease deletion: remove the release's objects (CRDs are kept, as Helm does)."""
        try:
            self.target = self._target_of(gone)
        except KubeConfigError:
            return  # the remote cluster cannot be reached: its release stays, as with Flux
        entries = ((gone.get("status") or {}).get("inventory") or {}).get("entries") or []
        self._delete_entries([e for e in entries if not e["id"].endswith("_CustomResourceDefinition")])


class _NotReady(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class _Failed(Exception):
    """The Helm action itself failed (before waiting)."""
