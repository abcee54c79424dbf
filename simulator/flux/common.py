"""Shared pieces of the simulated Flux controllers: conditions, durations, semver, kstatus, scheduling, apply."""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from typing import Any

# One implementation of Helm (Masterminds) version constraints, shared with the product; re-exported here.
from gitops.semver import latest_matching, parse_semver, semver_match  # noqa: F401

from .. import errors, running
from ..controllers import Controller
from ..defaults import apply_defaults
from ..store import Store, clone

log = logging.getLogger(__name__)

# Annotations the flux CLI writes (fluxcd/pkg apis/meta/annotations.go, helm-controller api/v2/annotations.go).
REQUESTED_AT = "reconcile.fluxcd.io/requestedAt"
FORCE_AT = "reconcile.fluxcd.io/forceAt"
RESET_AT = "reconcile.fluxcd.io/resetAt"

KS_GROUP = "kustomize.toolkit.fluxcd.io"
HELM_GROUP = "helm.toolkit.fluxcd.io"
SOURCE_GROUP = "source.toolkit.fluxcd.io"

# Storage keys (group/plural) of the Flux kinds the controllers read and write.
K_KS = f"{KS_GROUP}/kustomizations"
K_HR = f"{HELM_GROUP}/helmreleases"
K_GIT = f"{SOURCE_GROUP}/gitrepositories"
K_HELMREPO = f"{SOURCE_GROUP}/helmrepositories"
K_CHART = f"{SOURCE_GROUP}/helmcharts"
K_OCI = f"{SOURCE_GROUP}/ocirepositories"
SOURCE_KEYS = {"GitRepository": K_GIT, "HelmRepository": K_HELMREPO, "HelmChart": K_CHART, "OCIRepository": K_OCI}


def rfc3339(t: float | None = None) -> str:
    """Second-precision UTC timestamp, the format Flux writes into conditions and artifacts."""
    return dt.datetime.fromtimestamp(time.time() if t is None else t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_DUR = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: str | None, default: float = 0.0) -> float:
    """Seconds from a Go duration (`10m0s`, `1h`, `30s`, `1h30m`, `500ms`); `default` when empty or invalid."""
    if not value:
        return default
    s = str(value).strip()
    if s == "0":
        return 0.0
    pos, total = 0, 0.0
    for m in _DUR.finditer(s):
        if m.start() != pos:
            return default
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    return total if pos == len(s) and pos else default


def format_duration(seconds: float) -> str:
    """Go's time.Duration String(): `5m0s`, `1h0m0s`, `30s`, `1.5s`."""
    if seconds < 1:
        return f"{int(round(seconds * 1000))}ms" if seconds else "0s"
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    sec = f"{s:.3f}".rstrip("0").rstrip(".") + "s"
    if h:
        return f"{int(h)}h{int(m)}m{sec}"
    if m:
        return f"{int(m)}m{sec}"
    return sec


# ------------------------------------------------------------------ conditions
def get_condition(obj: dict, type_: str) -> dict | None:
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("type") == type_), None)


def set_condition(status: dict, type_: str, cstatus: str, reason: str, message: str, generation: int) -> None:
    """Set one condition in `status` as fluxcd/pkg runtime/conditions does.

    lastTransitionTime only moves when the status value flips, so UIs can show "failing since".
    Ready comes first, then the abnormal-true conditions, as Flux sorts them.
    """
    conds = status.setdefault("conditions", [])
    old = next((c for c in conds if c.get("type") == type_), None)
    at = old["lastTransitionTime"] if old and old.get("status") == cstatus else rfc3339()
    new = {"type": type_, "status": cstatus, "observedGeneration": generation, "lastTransitionTime": at,
           "reason": reason, "message": message}
    if old is not None:
        conds[conds.index(old)] = new
    else:
        conds.append(new)
    order = {"Ready": 0, "Reconciling": 1, "Stalled": 2}
    conds.sort(key=lambda c: order.get(c.get("type"), 3))


def del_condition(status: dict, type_: str) -> None:
    status["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != type_]


def is_ready(obj: dict | None) -> bool:
    c = get_condition(obj or {}, "Ready")
    return bool(c and c.get("status") == "True")


# ------------------------------------------------------------------ inventory
def object_id(obj: dict) -> str:
    """`<namespace>_<name>_<group>_<kind>`, with RBAC `:` written as `__` (fluxcd/cli-utils ObjMetadata)."""
    api = obj.get("apiVersion", "")
    group = api.rpartition("/")[0]
    meta = obj["metadata"]
    name = meta["name"]
    if group == "rbac.authorization.k8s.io":
        name = name.replace(":", "__")
    return f"{meta.get('namespace', '')}_{name}_{group}_{obj['kind']}"


def inventory(objs: list[dict]) -> dict:
    entries = {object_id(o): o["apiVersion"].rpartition("/")[2] for o in objs}
    return {"entries": [{"id": i, "v": entries[i]} for i in sorted(entries)]}


def parse_object_id(entry_id: str) -> tuple[str, str, str, str]:
    """(namespace, name, group, kind) from an inventory id."""
    ns, _, rest = entry_id.partition("_")
    rest, _, kind = rest.rpartition("_")
    name, _, group = rest.rpartition("_")
    if group == "rbac.authorization.k8s.io":
        name = name.replace("__", ":")
    return ns, name, group, kind


# ------------------------------------------------------------------ kstatus
def kstatus(obj: dict | None) -> str:
    """kstatus Compute (fluxcd/cli-utils): Current, InProgress, Failed, Terminating or NotFound."""
    if obj is None:
        return "NotFound"
    meta, st = obj["metadata"], obj.get("status") or {}
    if meta.get("deletionTimestamp"):
        return "Terminating"
    if "observedGeneration" in st and st["observedGeneration"] != meta.get("generation"):
        return "InProgress"
    if obj.get("apiVersion", "").partition("/")[0].endswith(".toolkit.fluxcd.io") and \
            not (obj.get("spec") or {}).get("suspend") and not st.get("observedGeneration"):
        # A Flux object its controller has not reconciled yet is not Current (the flux CLI's readiness rule).
        return "InProgress"
    for t, res in (("Reconciling", "InProgress"), ("Stalled", "Failed")):
        c = get_condition(obj, t)
        if c and c.get("status") == "True":
            return res
    kind, spec = obj.get("kind"), obj.get("spec") or {}
    if kind == "Deployment":
        prog = get_condition(obj, "Progressing")
        if prog and prog.get("reason") == "ProgressDeadlineExceeded":
            return "Failed"
        want = spec.get("replicas", 1)
        if (want > st.get("replicas", 0) or want > st.get("updatedReplicas", 0) or st.get("replicas", 0) > want
                or st.get("updatedReplicas", 0) > st.get("availableReplicas", 0) or want > st.get("readyReplicas", 0)):
            return "InProgress"
        if spec.get("progressDeadlineSeconds") is not None and not (
                prog and prog.get("status") == "True" and prog.get("reason") == "NewReplicaSetAvailable"):
            return "InProgress"
        return "Current" if is_true(get_condition(obj, "Available")) else "InProgress"
    if kind == "StatefulSet":
        want = spec.get("replicas", 1)
        if want > st.get("replicas", 0) or want > st.get("readyReplicas", 0) or st.get("replicas", 0) > want:
            return "InProgress"
        return "Current"
    if kind == "DaemonSet":
        if "observedGeneration" not in st or "desiredNumberScheduled" not in st:
            return "InProgress"
        want = st["desiredNumberScheduled"]
        ok = all(st.get(f, 0) >= want for f in ("currentNumberScheduled", "updatedNumberScheduled",
                                                   "numberAvailable", "numberReady"))
        return "Current" if ok else "InProgress"
    if kind == "Pod":
        phase = st.get("phase", "")
        if phase in ("Succeeded", "Failed"):
            return "Current"
        if phase == "Running" and is_true(get_condition(obj, "Ready")):
            return "Current"
        for cs in st.get("containerStatuses") or []:
            if ((cs.get("state") or {}).get("waiting") or {}).get("reason") == "CrashLoopBackOff":
                return "Failed"
        return "InProgress"
    if kind == "Job":
        if is_true(get_condition(obj, "Complete")):
            return "Current"
        if is_true(get_condition(obj, "Failed")):
            return "Failed"
        return "Current" if st.get("startTime") else "InProgress"
    if kind == "PersistentVolumeClaim":
        return "Current" if st.get("phase") == "Bound" else "InProgress"
    if kind == "CustomResourceDefinition":
        return "Current" if is_true(get_condition(obj, "Established")) else "InProgress"
    ready = get_condition(obj, "Ready")
    if ready is not None:
        return "Current" if ready.get("status") == "True" else "InProgress"
    return "Current"


def is_true(c: dict | None) -> bool:
    return bool(c and c.get("status") == "True")


def describe(obj: dict) -> str:
    """`Kind/namespace/name` (cluster-scoped: `Kind/name`), as fluxcd/pkg ssa formats objects."""
    m = obj["metadata"]
    return f"{obj['kind']}/{m['namespace']}/{m['name']}" if m.get("namespace") else f"{obj['kind']}/{m['name']}"


# ------------------------------------------------------------------ apply
def _three_way(live: Any, last: Any, desired: Any) -> Any:
    """kubectl-apply style merge: set what is desired, drop what we applied before and no longer want,
    keep what others (defaulting, `flux suspend`, the CLI's annotations) added."""
    if not isinstance(desired, dict) or not isinstance(live, dict):
        return clone(desired)
    out = dict(live)
    last = last if isinstance(last, dict) else {}
    for k in last:
        if k not in desired:
            out.pop(k, None)
    for k, v in desired.items():
        out[k] = _three_way(live.get(k), last.get(k), v) if isinstance(v, dict) else clone(v)
    return out


class Applier:
    """Server-side-apply approximation with field ownership remembered per object (in memory)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._last: dict[tuple[str, str, str], dict] = {}

    def resolve(self, obj: dict) -> Any:
        return self.store.registry.by_kind(obj.get("apiVersion", ""), obj.get("kind", ""))

    def apply(self, obj: dict) -> str:
        """Create or update `obj`; returns `created`, `configured` or `unchanged` (the ssa change verbs)."""
        rt = self.resolve(obj)
        if rt is None:
            raise errors.ApiError(404, "NotFound", f'no matches for kind "{obj.get("kind")}" in version '
                                  f'"{obj.get("apiVersion")}"')
        meta = obj["metadata"]
        ns = meta.get("namespace") if rt.namespaced else None
        if rt.namespaced and not ns:
            meta["namespace"] = ns = "default"
        key = (rt.key, ns or "", meta["name"])
        live = self.store.peek(rt, ns, meta["name"])
        desired = {k: v for k, v in obj.items() if k != "status"}
        if live is None:
            self.store.create(obj, keep_status=False)
            self._last[key] = desired
            return "created"
        ann = (live["metadata"].get("annotations") or {})
        if ann.get("kustomize.toolkit.fluxcd.io/ssa") in ("IfNotPresent", "Ignore"):
            return "unchanged"
        merged = _three_way(live, self._last.get(key, {}), desired)
        merged["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
        probe = clone(merged)
        apply_defaults(self.store, rt, probe)  # compare defaulted forms so re-applies are true no-ops
        self._last[key] = desired
        if {k: v for k, v in probe.items() if k != "status"} == {k: v for k, v in live.items() if k != "status"}:
            return "unchanged"
        self.store.update(merged)
        return "configured"

    def delete(self, rt_key: str, namespace: str, name: str) -> bool:
        rt = self.store.registry.by_key(rt_key)
        if rt is None:
            return False
        self._last.pop((rt_key, namespace, name), None)
        try:
            self.store.delete(rt, namespace or None, name)
            return True
        except errors.ApiError:
            return False


# ------------------------------------------------------------------ controller base
class FluxController(Controller):
    """Controller with per-object requeue times, so intervals, retries and health polls need no threads."""

    resync_seconds = 0.25

    def __init__(self) -> None:
        super().__init__()
        self._due: dict[tuple[str, str, str], float] = {}
        self._tokens: dict[tuple[str, str, str], tuple] = {}
        self._next_at: dict[tuple[str, str, str], float] = {}

    @staticmethod
    def _ident(key: str, obj: dict) -> tuple[str, str, str]:
        return key, obj["metadata"].get("namespace", ""), obj["metadata"]["name"]

    @staticmethod
    def _token(obj: dict) -> tuple:
        m = obj["metadata"]
        return m.get("uid"), m.get("generation"), (m.get("annotations") or {}).get(REQUESTED_AT)

    def should_run(self, key: str, obj: dict) -> bool:
        """Whether a reconcile is due: new object, spec change, a requestedAt token, or the interval passed.

        Status writes come back as watch events; this is what keeps them from looping (Flux uses the
        GenerationChanged and ReconcileRequested predicates for the same reason)."""
        ident = self._ident(key, obj)
        if self._tokens.get(ident) != self._token(obj):
            return True
        return time.monotonic() >= self._next_at.get(ident, 0.0)

    def done(self, key: str, obj: dict, requeue: float) -> None:
        """Record a finished reconcile of `obj` (as it was when the reconcile began) and requeue it."""
        ident = self._ident(key, obj)
        self._tokens[ident] = self._token(obj)
        self._next_at[ident] = time.monotonic() + requeue
        self.reschedule(*ident, requeue)

    def forget(self, key: str, namespace: str, name: str) -> None:
        for d in (self._tokens, self._next_at, self._due):
            d.pop((key, namespace, name), None)

    def schedule(self, key: str, namespace: str, name: str, seconds: float) -> None:
        """Reconcile the object again after `seconds`; a sooner pending request is kept."""
        at = time.monotonic() + max(0.0, seconds)
        item = (key, namespace, name)
        if item not in self._due or self._due[item] > at or self._due[item] < time.monotonic():
            self._due[item] = at

    def reschedule(self, key: str, namespace: str, name: str, seconds: float) -> None:
        """Like schedule() but replaces whatever was pending (after a finished reconcile)."""
        self._due[(key, namespace, name)] = time.monotonic() + max(0.0, seconds)

    def resync(self) -> None:
        t = time.monotonic()
        for item, at in list(self._due.items()):
            if t >= at:
                del self._due[item]
                self.enqueue(*item)



def acknowledge_request(obj: dict, status: dict) -> None:
    """Record the reconcile request (``reconcile.fluxcd.io/requestedAt``) the run began with as handled: the flux
    CLI waits for ``lastHandledReconcileAt`` to match."""
    ann = obj["metadata"].get("annotations") or {}
    if ann.get(REQUESTED_AT):
        status["lastHandledReconcileAt"] = ann[REQUESTED_AT]


def write_status(store: Store, key: str, obj: dict, status: dict) -> None:
    """Write ``status`` onto the live object of ``obj`` when it differs; a conflict or a vanished object is left to
    the next reconcile."""
    live = store.peek_key(key, obj["metadata"]["namespace"], obj["metadata"]["name"])
    if live is None or live.get("status") == status:
        return
    new = clone(live)
    new["status"] = clone(status)
    try:
        store.update_status(new)
    except errors.ApiError as e:
        log.debug("status of %s not written: %s", describe(obj), e)


# ------------------------------------------------------------------ remote targets (spec.kubeConfig)
class KubeConfigError(Exception):
    """The kubeconfig of a remote target cannot be read or reached (the message is the controller's)."""


def kubeconfig_server(text: str) -> str | None:
    """The server URL of a kubeconfig's current context (else its first cluster), or None when unparsable."""
    import yaml

    try:
        cfg = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    if not isinstance(cfg, dict):
        return None
    clusters = {c.get("name"): (c.get("cluster") or {}) for c in cfg.get("clusters") or [] if isinstance(c, dict)}
    contexts = {c.get("name"): (c.get("context") or {}) for c in cfg.get("contexts") or [] if isinstance(c, dict)}
    current = contexts.get(cfg.get("current-context")) or {}
    cluster = clusters.get(current.get("cluster")) or next(iter(clusters.values()), {})
    server = cluster.get("server") if isinstance(cluster, dict) else None
    return str(server).rstrip("/") if server else None


def remote_applier(store: Store, obj: dict, local: Applier, cache: dict[int, Applier]) -> Applier:
    """Where a Kustomization or HelmRelease applies: ``local``, or with ``spec.kubeConfig`` an applier on the simulator
    its kubeconfig's server names. As kustomize- and helm-controller do, a missing Secret or key fails the reconcile
    (never a silent apply to the hub); the server must be a simulator running in this process."""
    from .build import secret_values

    kc = (obj.get("spec") or {}).get("kubeConfig") or {}
    if not kc:
        return local
    ref = kc.get("secretRef") or {}
    ns = obj["metadata"]["namespace"]
    if not ref.get("name"):
        raise KubeConfigError("spec.kubeConfig needs a secretRef (configMapRef with workload identity is not "
                              "simulated)")
    secret = store.peek("secrets", ns, ref["name"])
    if secret is None:
        raise KubeConfigError(f"unable to read KubeConfig secret '{ns}/{ref['name']}' error: secrets "
                              f"\"{ref['name']}\" not found")
    values = secret_values(secret.get("data") or {})
    values.update({k: str(v) for k, v in (secret.get("stringData") or {}).items()})
    key = ref.get("key") or next((k for k in ("value", "value.yaml") if k in values), "value")
    if key not in values:
        raise KubeConfigError(f"KubeConfig secret '{ns}/{ref['name']}' does not contain a '{key}' key")
    server = kubeconfig_server(values[key])
    if server is None:
        raise KubeConfigError(f"failed to parse KubeConfig from secret '{ns}/{ref['name']}'")
    remote = running(server)
    if remote is None:
        raise KubeConfigError(f"failed to connect to {server}: the simulator applies to other simulators running "
                              "in the same process only")
    if remote.store is store:
        return local
    if id(remote.store) not in cache:
        cache[id(remote.store)] = Applier(remote.store)
    return cache[id(remote.store)]
