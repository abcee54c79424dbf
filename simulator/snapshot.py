"""Bulk loading and JSON snapshots of a store (the simulator's optional persistence)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING

from . import errors
from .util import now

if TYPE_CHECKING:
    from .store import Store

CRD_KEY = "apiextensions.k8s.io/customresourcedefinitions"


def bulk_load(store: Store, objects: Iterable[dict]) -> int:
    """Insert many complete objects fast (no events, no defaulting); watch history restarts after it.

    Objects keep their status; missing uid/resourceVersion/creationTimestamp are filled in. Namespaces
    must be loaded before their contents (order matters as for kubectl apply).
    """
    n = 0
    stamp = now()
    with store._lock:
        for obj in objects:
            rt = store.registry.by_kind(obj.get("apiVersion", ""), obj.get("kind", ""))
            if rt is None:
                raise errors.ApiError(404, "NotFound", f"unknown kind {obj.get('apiVersion')} {obj.get('kind')}")
            meta = obj.setdefault("metadata", {})
            if not rt.namespaced:
                meta.pop("namespace", None)
            meta.setdefault("uid", str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", stamp)
            if store._tracks_generation(rt):
                meta.setdefault("generation", 1)
            meta["resourceVersion"] = str(store._next_rv())
            store._put(rt, obj)
            if rt.key == "apiextensions.k8s.io/customresourcedefinitions":
                store._on_crd(obj)
            n += 1
        store._history.clear()
        store._floor = store._rv
    return n


def dump(store: Store) -> dict:
    """Everything needed to restore this state: objects (CRDs first) and the resourceVersion counter."""
    with store._lock:
        crd_key = "apiextensions.k8s.io/customresourcedefinitions"
        order = ["/namespaces", crd_key] + [k for k in store._buckets if k not in ("/namespaces", crd_key)]
        objs = [e.obj for k in order for e in store._buckets.get(k, {}).values()]
        return {"resourceVersion": store._rv, "objects": json.loads(json.dumps(objs))}


def save(store: Store, path: str) -> None:
    with open(path, "w") as fh:
        json.dump(dump(store), fh)


def load(store: Store, path: str) -> int:
    """Load a snapshot written by save() into this (normally empty, bootstrap=False) store."""
    with open(path) as fh:
        data = json.load(fh)
    with store._lock:
        for obj in data["objects"]:
            rt = store.registry.by_kind(obj["apiVersion"], obj["kind"])
            if rt is None:
                continue  # a kind whose CRD is not in the snapshot
            store._put(rt, obj)
            if rt.key == "apiextensions.k8s.io/customresourcedefinitions":
                store._on_crd(obj)
        store._rv = max(store._rv, int(data.get("resourceVersion", 0)))
        store._history.clear()
        store._floor = store._rv
        return len(data["objects"])
