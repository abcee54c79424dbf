"""In-memory object store with Kubernetes metadata semantics, watch history and garbage collection.

Stored objects are never mutated in place: every write stores a fresh dict. That lets readers (the HTTP
server serialising a 60k-object list) use references without holding the lock, and lets the store cache
each object's JSON encoding.
"""

from __future__ import annotations

import base64
import bisect
import collections
import json
import random
import string
import threading
import uuid
from collections.abc import Iterable
from typing import Any

from . import errors, snapshot
from .defaults import apply_defaults  # defaults names Store for type checkers only
from .gc import GarbageCollection
from .patch import SERVICE_MERGE_KEYS, PatchError, json_patch, merge_patch, strategic_merge_patch
from .registry import Registry, ResourceType, flux_crds
from .selectors import Requirement, fields_match, labels_match, parse_field_selector, parse_label_selector
from .util import clone, now
from .watch import Entry, Event, Watch

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease", "flux-system")
NODE_NAME = "sim-node-1"


class Store(GarbageCollection):
    """The cluster state: objects by resource, one global resourceVersion counter, and an event log."""

    def __init__(self, registry: Registry | None = None, history: int = 50_000, bootstrap: bool = True) -> None:
        self.registry = registry or Registry()
        self._lock = threading.RLock()
        self._rv = 0
        self._buckets: dict[str, dict[tuple[str, str], Entry]] = collections.defaultdict(dict)
        self._sorted: dict[str, list[tuple[str, str]] | None] = {}
        self._by_uid: dict[str, tuple[str, str, str]] = {}
        self._dependents: dict[str, set[str]] = collections.defaultdict(set)
        self._history: collections.deque[Event] = collections.deque(maxlen=history)
        self._floor = 0  # events with rv > floor are all still in history
        self._watchers: list[Watch] = []
        if bootstrap:
            self._bootstrap()

    # ---------------------------------------------------------------- helpers
    @property
    def resource_version(self) -> int:
        return self._rv

    def resolve(self, what: ResourceType | str) -> ResourceType:
        """A ResourceType from itself or a name: `pods`, `deploy`, `Deployment`, `kustomizations.kustomize...`."""
        if isinstance(what, ResourceType):
            return what
        if "/" in what:  # a storage key `group/plural` ("/pods" for the core group)
            rt = self.registry.by_key(what)
            if rt is None:
                raise errors.ApiError(404, "NotFound", f"the server doesn't have a resource type {what!r}")
            return rt
        name, _, group = what.partition(".")
        low = name.lower()
        for rt in self.registry.all():
            if group and rt.group != group:
                continue
            if low in (rt.plural, rt.singular) or low in rt.short_names:
                return self.registry.by_key(rt.key) or rt
        raise errors.ApiError(404, "NotFound", f"the server doesn't have a resource type {what!r}")

    def _next_rv(self) -> int:
        self._rv += 1
        return self._rv

    def _emit(self, type_: str, key: str, obj: dict, old: dict | None = None) -> None:
        ev = Event(type_, key, obj, int(obj["metadata"]["resourceVersion"]), old)
        if len(self._history) == self._history.maxlen:
            self._floor = self._history[0].rv
        self._history.append(ev)
        for w in self._watchers:
            if w.accepts(ev):
                w.push(ev)

    def _bootstrap(self) -> None:
        for ns in SYSTEM_NAMESPACES:
            self.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        self.create({"apiVersion": "v1", "kind": "Node", "metadata": {
            "name": NODE_NAME, "labels": {"kubernetes.io/hostname": NODE_NAME, "kubernetes.io/os": "linux"}},
            "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
                       "nodeInfo": {"kubeletVersion": "v1.33.0-sim"}}}, keep_status=True)
        for crd in flux_crds():
            self.create(crd)
        self.create({"apiVersion": "v1", "kind": "ServiceAccount",
                     "metadata": {"name": "default", "namespace": "default"}})

    def _qual(self, rt: ResourceType) -> tuple[str, str]:
        return rt.plural, rt.group

    # ---------------------------------------------------------------- reads
    def get(self, rt: ResourceType | str, namespace: str | None, name: str) -> dict:
        """A copy of one object, or ApiError 404."""
        return clone(self._get_ref(self.resolve(rt), namespace, name))

    def _get_ref(self, rt: ResourceType, namespace: str | None, name: str) -> dict:
        ent = self._buckets[rt.key].get((namespace or "" if rt.namespaced else "", name))
        if ent is None:
            raise errors.not_found(*self._qual(rt), name)
        return ent.obj

    def get_entry(self, rt: ResourceType, namespace: str | None, name: str) -> Entry:
        ent = self._buckets[rt.key].get((namespace or "" if rt.namespaced else "", name))
        if ent is None:
            raise errors.not_found(*self._qual(rt), name)
        return ent

    def list(self, rt: ResourceType | str, namespace: str | None = None, label_selector: str | None = None,
             field_selector: str | None = None) -> list[dict]:
        """Copies of every matching object, sorted by namespace and name."""
        entries, _, _, _ = self.list_entries(self.resolve(rt), namespace, label_selector, field_selector)
        return [clone(e.obj) for e in entries]

    def list_entries(self, rt: ResourceType, namespace: str | None = None, label_selector: str | None = None,
                     field_selector: str | None = None, limit: int | None = None,
                     continue_token: str | None = None) -> tuple[list[Entry], int, str | None, int | None]:
        """(entries, list resourceVersion, continue token, remaining count) — the server's list primitive."""
        lsel = parse_label_selector(label_selector)
        fsel = parse_field_selector(field_selector)
        start: tuple[str, str] | None = None
        if continue_token:
            try:
                start = tuple(json.loads(base64.urlsafe_b64decode(continue_token.encode())))  # type: ignore[assignment]
            except ValueError as e:
                raise errors.bad_request("continue key is not valid") from e
        with self._lock:
            bucket = self._buckets[rt.key]
            keys = self._sorted.get(rt.key)
            if keys is None:
                keys = sorted(bucket)
                self._sorted[rt.key] = keys
            rv = self._rv
            lo, hi = 0, len(keys)
            if namespace and rt.namespaced:
                lo = bisect.bisect_left(keys, (namespace, ""))
                hi = bisect.bisect_left(keys, (namespace + "\x00", ""))
            if start is not None:
                lo = max(lo, bisect.bisect_right(keys, start))
            out: list[Entry] = []
            i = lo
            while i < hi:
                ent = bucket[keys[i]]
                i += 1
                if self._matches(ent.obj, lsel, fsel):
                    out.append(ent)
                    if limit and len(out) >= limit:
                        break
            token, remaining = None, None
            if limit and i < hi and len(out) >= limit:
                # Only promise a next page if something after this one matches.
                rest = sum(1 for k in keys[i:hi] if self._matches(bucket[k].obj, lsel, fsel))
                if rest:
                    last = keys[i - 1]
                    token = base64.urlsafe_b64encode(json.dumps(list(last)).encode()).decode()
                    remaining = rest
        return out, rv, token, remaining

    @staticmethod
    def _matches(obj: dict, lsel: list[Requirement], fsel: list[tuple[str, str, str]]) -> bool:
        return (not lsel or labels_match(lsel, obj["metadata"].get("labels"))) and (
            not fsel or fields_match(fsel, obj))

    def count(self, rt: ResourceType | str) -> int:
        return len(self._buckets[self.resolve(rt).key])

    # ---------------------------------------------------------------- watch
    def watch(self, rts: Iterable[ResourceType | str] | None = None, namespace: str | None = None,
              resource_version: str | int | None = None, initial: bool = False) -> tuple[Watch, list[Event]]:
        """Subscribe; returns the watch and the events to deliver first.

        `resource_version` N replays every event after N (410 Gone if N is older than the retained history);
        with `initial` (or no version) the current objects are replayed as synthetic ADDED events instead.
        """
        keys = None if rts is None else {self.resolve(r).key for r in rts}
        with self._lock:
            w = Watch(self, keys, namespace)
            backlog: list[Event] = []
            rv = int(resource_version) if resource_version not in (None, "", "0") else None
            if initial or rv is None:
                for key in keys if keys is not None else list(self._buckets):
                    for ent in self._buckets[key].values():
                        ev = Event("ADDED", key, ent.obj, int(ent.obj["metadata"]["resourceVersion"]))
                        if w.accepts(ev):
                            backlog.append(ev)
                backlog.sort(key=lambda e: e.rv)
            else:
                if rv < self._floor:
                    raise errors.gone(f"too old resource version: {rv} ({self._floor + 1})")
                idx = bisect.bisect_right([e.rv for e in self._history], rv) if self._history else 0
                backlog = [e for e in list(self._history)[idx:] if w.accepts(e)]
            self._watchers.append(w)
        return w, backlog

    def quiet_version(self, w: Watch) -> int | None:
        """The current resourceVersion if ``w`` has no event waiting (a bookmark may then carry it), else None."""
        with self._lock:
            return None if w.pending() else self._rv

    def _unsubscribe(self, w: Watch) -> None:
        with self._lock:
            if w in self._watchers:
                self._watchers.remove(w)

    # ---------------------------------------------------------------- writes
    def _check_namespace(self, rt: ResourceType, obj: dict) -> None:
        meta = obj["metadata"]
        if not rt.namespaced:
            meta.pop("namespace", None)
            return
        ns = meta.get("namespace") or "default"
        meta["namespace"] = ns
        nsobj = self._buckets["/namespaces"].get(("", ns))
        if nsobj is None:
            raise errors.not_found("namespaces", "", ns)
        if nsobj.obj["metadata"].get("deletionTimestamp"):
            raise errors.ApiError(403, "Forbidden", f'{rt.plural} "{meta.get("name")}" is forbidden: unable to '
                                  f"create new content in namespace {ns} because it is being terminated")

    def _tracks_generation(self, rt: ResourceType) -> bool:
        return rt.status or rt.from_crd is not None

    def create(self, obj: dict, namespace: str | None = None, dry_run: bool = False,
               keep_status: bool = False) -> dict:
        """Create an object (resolved from apiVersion/kind); returns a copy of what was stored."""
        obj = clone(obj)
        rt = self.registry.by_kind(obj.get("apiVersion", ""), obj.get("kind", ""))
        if rt is None:
            raise errors.ApiError(404, "NotFound", f'no kind "{obj.get("kind")}" is registered for version '
                                  f'"{obj.get("apiVersion")}"')
        meta = obj.setdefault("metadata", {})
        if namespace and rt.namespaced:
            if meta.get("namespace") and meta["namespace"] != namespace:
                raise errors.bad_request("the namespace of the provided object does not match the namespace "
                                         "sent on the request")
            meta["namespace"] = namespace
        if not meta.get("name"):
            if not meta.get("generateName"):
                raise errors.invalid(rt.kind, "", "metadata.name: Required value: name or generateName is required")
            meta["name"] = meta["generateName"] + "".join(random.choices(string.ascii_lowercase + "2456789", k=5))
        with self._lock:
            self._check_namespace(rt, obj)
            key = (meta.get("namespace", ""), meta["name"])
            if key in self._buckets[rt.key]:
                raise errors.already_exists(*self._qual(rt), meta["name"])
            if rt.status and not keep_status:
                obj.pop("status", None)
            for k in ("deletionTimestamp", "deletionGracePeriodSeconds", "managedFields"):
                meta.pop(k, None)
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now()
            if self._tracks_generation(rt):
                meta["generation"] = 1
            else:
                meta.pop("generation", None)
            apply_defaults(self, rt, obj)
            if dry_run:
                meta["resourceVersion"] = str(self._rv)
                return obj
            meta["resourceVersion"] = str(self._next_rv())
            self._put(rt, obj)
            self._emit("ADDED", rt.key, obj)
            if rt.key == "apiextensions.k8s.io/customresourcedefinitions":
                self._on_crd(obj)
        return clone(obj)

    def _put(self, rt: ResourceType, obj: dict) -> None:
        meta = obj["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        bucket = self._buckets[rt.key]
        old = bucket.get(key)
        if old is None:
            self._sorted[rt.key] = None
        else:
            for ref in old.obj["metadata"].get("ownerReferences") or []:
                self._dependents[ref.get("uid", "")].discard(meta["uid"])
        bucket[key] = Entry(obj)
        self._by_uid[meta["uid"]] = (rt.key, key[0], key[1])
        for ref in meta.get("ownerReferences") or []:
            self._dependents[ref.get("uid", "")].add(meta["uid"])

    def _on_crd(self, crd: dict) -> None:
        for rt in self.registry.register_crd(crd):
            self._buckets.setdefault(rt.key, {})

    def update(self, obj: dict, subresource: str | None = None, namespace: str | None = None,
               dry_run: bool = False) -> dict:
        """PUT semantics: optimistic concurrency on metadata.resourceVersion (409 when stale)."""
        obj = clone(obj)
        rt = self.registry.by_kind(obj.get("apiVersion", ""), obj.get("kind", ""))
        if rt is None:
            raise errors.ApiError(404, "NotFound", f'no kind "{obj.get("kind")}" is registered')
        meta = obj.setdefault("metadata", {})
        if namespace and rt.namespaced:
            meta.setdefault("namespace", namespace)
        with self._lock:
            old = self._get_ref(rt, meta.get("namespace"), meta.get("name", ""))
            want = meta.get("resourceVersion")
            if want and want != old["metadata"]["resourceVersion"]:
                raise errors.conflict(*self._qual(rt), meta["name"])
            return self._replace(rt, old, obj, subresource, dry_run)

    def _replace(self, rt: ResourceType, old: dict, new: dict, subresource: str | None, dry_run: bool) -> dict:
        """Store `new` in place of `old`, enforcing immutable metadata, status rules and generation."""
        om, nm = old["metadata"], new["metadata"]
        if subresource == "status":
            status = new.get("status")
            new = clone(old)
            if status is None:
                new.pop("status", None)
            else:
                new["status"] = status
            nm = new["metadata"]
        elif rt.status and subresource is None:
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)
        for k in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "namespace"):
            if k in om:
                nm[k] = om[k]
            else:
                nm.pop(k, None)
        nm.pop("managedFields", None)
        if self._tracks_generation(rt):
            strip = ("metadata", "status", "apiVersion", "kind")
            changed = {k: v for k, v in old.items() if k not in strip} != {
                k: v for k, v in new.items() if k not in strip}
            nm["generation"] = om.get("generation", 1) + (1 if changed else 0)
        nm["resourceVersion"] = om["resourceVersion"]
        new["apiVersion"], new["kind"] = old["apiVersion"], old["kind"]
        if new == old:
            return clone(old)  # a no-op write does not bump resourceVersion, like the real API server
        if om.get("deletionTimestamp") and not nm.get("finalizers"):
            if dry_run:
                return new
            self._remove(rt, old)
            return clone(old)
        apply_defaults(self, rt, new)
        if dry_run:
            return new
        nm["resourceVersion"] = str(self._next_rv())
        self._put(rt, new)
        self._emit("MODIFIED", rt.key, new, old)
        if rt.key == "apiextensions.k8s.io/customresourcedefinitions":
            self._on_crd(new)
        return clone(new)

    def patch(self, rt: ResourceType | str, namespace: str | None, name: str, body: Any, patch_type: str,
              subresource: str | None = None, dry_run: bool = False) -> dict:
        """Apply a merge / json / strategic / apply patch; patch_type is the Content-Type or its short name."""
        rt = self.resolve(rt)
        kind = patch_type.split(";")[0].strip()
        with self._lock:
            try:
                old = self._get_ref(rt, namespace, name)
            except errors.ApiError:
                if kind in ("apply", "application/apply-patch+yaml"):
                    body = dict(body)
                    body.setdefault("metadata", {}).setdefault("name", name)
                    return self.create(body, namespace=namespace, dry_run=dry_run)
                raise
            try:
                if kind in ("merge", "application/merge-patch+json"):
                    new = merge_patch(old, body)
                elif kind in ("json", "application/json-patch+json"):
                    new = json_patch(old, body)
                elif kind in ("strategic", "application/strategic-merge-patch+json"):
                    if rt.from_crd:
                        raise errors.ApiError(415, "UnsupportedMediaType", "the body of the request was in an "
                                              "unknown format - accepted media types include: "
                                              "application/json-patch+json, application/merge-patch+json, "
                                              "application/apply-patch+yaml")
                    keys = SERVICE_MERGE_KEYS if rt.kind == "Service" else None
                    new = strategic_merge_patch(old, body, keys)
                elif kind in ("apply", "application/apply-patch+yaml"):
                    # Server-side apply approximated as a merge of the applied configuration (no field owners).
                    new = merge_patch(old, body)
                else:
                    raise errors.ApiError(415, "UnsupportedMediaType", f"unsupported patch type {patch_type!r}")
            except PatchError as e:
                raise errors.invalid(rt.kind, name, str(e)) from e
            if not isinstance(new, dict):
                raise errors.bad_request("patch did not produce an object")
            new.setdefault("metadata", {})
            want = new["metadata"].get("resourceVersion")
            if want and want != old["metadata"]["resourceVersion"]:
                raise errors.conflict(*self._qual(rt), name)
            if new["metadata"].get("name") != name:
                raise errors.invalid(rt.kind, name, "metadata.name: Invalid value: field is immutable")
            return self._replace(rt, old, clone(new), subresource, dry_run)

    def update_status(self, obj: dict) -> dict:
        """Write only `status` (the status subresource) — what controllers do."""
        return self.update(obj, subresource="status")

    def delete(self, rt: ResourceType | str, namespace: str | None, name: str, propagation: str = "Background",
               preconditions: dict | None = None, dry_run: bool = False) -> dict:
        """Delete (or, with finalizers, mark deleting); dependents are garbage-collected unless Orphan."""
        rt = self.resolve(rt)
        with self._lock:
            old = self._get_ref(rt, namespace, name)
            pre = preconditions or {}
            if pre.get("uid") and pre["uid"] != old["metadata"]["uid"]:
                raise errors.conflict(*self._qual(rt), name)
            if pre.get("resourceVersion") and pre["resourceVersion"] != old["metadata"]["resourceVersion"]:
                raise errors.conflict(*self._qual(rt), name)
            if dry_run:
                return clone(old)
            if propagation == "Orphan":
                self._orphan(old["metadata"]["uid"])
            if rt.key == "/namespaces":
                return self._delete_namespace(rt, old)
            if old["metadata"].get("finalizers"):
                if old["metadata"].get("deletionTimestamp"):
                    return clone(old)
                new = clone(old)
                new["metadata"]["deletionTimestamp"] = now()
                new["metadata"]["deletionGracePeriodSeconds"] = 0
                new["metadata"]["resourceVersion"] = str(self._next_rv())
                self._put(rt, new)
                self._emit("MODIFIED", rt.key, new)
                return clone(new)
            return self._remove(rt, old)

    def _remove(self, rt: ResourceType, old: dict) -> dict:
        meta = old["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        del self._buckets[rt.key][key]
        self._sorted[rt.key] = None
        self._by_uid.pop(meta["uid"], None)
        for ref in meta.get("ownerReferences") or []:
            self._dependents[ref.get("uid", "")].discard(meta["uid"])
        final = clone(old)
        final["metadata"]["resourceVersion"] = str(self._next_rv())
        self._emit("DELETED", rt.key, final)
        if rt.key == "apiextensions.k8s.io/customresourcedefinitions":
            for gone in self.registry.unregister_crd(meta["name"]):
                for ent in list(self._buckets.get(gone.key, {}).values()):
                    self._remove(gone, ent.obj)
        self._collect(meta["uid"])
        ns = meta.get("namespace")
        if ns:
            nsent = self._buckets["/namespaces"].get(("", ns))
            if nsent and nsent.obj["metadata"].get("deletionTimestamp") and not self._namespace_has_objects(ns):
                self._remove(self.registry.get("", "v1", "namespaces"), nsent.obj)  # type: ignore[arg-type]
        return final

    # ---------------------------------------------------------------- bulk and snapshots
    def bulk_load(self, objects: Iterable[dict]) -> int:
        """Insert many complete objects fast (no events, no defaulting); see snapshot.bulk_load."""
        return snapshot.bulk_load(self, objects)

    def snapshot(self) -> dict:
        """Every object (namespaces and CRDs first) and the resourceVersion counter."""
        return snapshot.dump(self)

    def save(self, path: str) -> None:
        snapshot.save(self, path)

    def load(self, path: str) -> int:
        """Load a file written by save() into this (normally bootstrap=False) store."""
        return snapshot.load(self, path)

    # ---------------------------------------------------------------- for controllers
    def owned(self, uid: str) -> list[dict]:
        """Objects whose ownerReferences name `uid` (read-only references: copy before changing)."""
        with self._lock:
            out = []
            for dep in self._dependents.get(uid, ()):
                loc = self._by_uid.get(dep)
                if loc is not None:
                    ent = self._buckets[loc[0]].get((loc[1], loc[2]))
                    if ent is not None:
                        out.append(ent.obj)
            return out

    def peek(self, rt: ResourceType | str, namespace: str | None, name: str) -> dict | None:
        """The stored object itself (read-only) or None; cheaper than get() for controllers' checks."""
        rt = self.resolve(rt)
        ent = self._buckets[rt.key].get((namespace or "" if rt.namespaced else "", name))
        return ent.obj if ent else None

    def peek_key(self, key: str, namespace: str | None, name: str) -> dict | None:
        """Like peek() but by storage key `group/plural` (no name resolution)."""
        ent = self._buckets[key].get((namespace or "", name))
        return ent.obj if ent else None
