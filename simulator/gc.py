"""Garbage collection by ownerReferences, orphaning, and namespace deletion (a mixin of Store)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import errors
from .util import clone, now

if TYPE_CHECKING:
    from .registry import ResourceType


class GarbageCollection:
    """Store methods that delete or orphan dependents; they run under the store lock."""

    _buckets: dict[str, dict[tuple[str, str], Any]]
    _by_uid: dict[str, tuple[str, str, str]]
    _dependents: dict[str, set[str]]
    registry: Any

    def _collect(self, owner_uid: str) -> None:
        """Background garbage collection: delete every object whose ownerReferences name the owner."""
        for uid in list(self._dependents.pop(owner_uid, ())):
            loc = self._by_uid.get(uid)
            if loc is None:
                continue
            rt = self.registry.by_key(loc[0])
            if rt is not None:
                try:
                    self.delete(rt, loc[1] or None, loc[2])
                except errors.ApiError:
                    pass  # already gone

    def _orphan(self, owner_uid: str) -> None:
        for uid in list(self._dependents.pop(owner_uid, ())):
            loc = self._by_uid.get(uid)
            rt = self.registry.by_key(loc[0]) if loc else None
            if loc is None or rt is None:
                continue
            dep = clone(self._get_ref(rt, loc[1] or None, loc[2]))
            refs = [r for r in dep["metadata"].get("ownerReferences") or [] if r.get("uid") != owner_uid]
            dep["metadata"]["ownerReferences"] = refs
            if not refs:
                del dep["metadata"]["ownerReferences"]
            self._replace(rt, self._get_ref(rt, loc[1] or None, loc[2]), dep, None, False)

    def _namespace_has_objects(self, ns: str) -> bool:
        return any(k[0] == ns for key, b in self._buckets.items() if key != "/namespaces" for k in b)

    def _delete_namespace(self, rt: ResourceType, old: dict) -> dict:  # type: ignore[name-defined]
        ns = old["metadata"]["name"]
        if not old["metadata"].get("deletionTimestamp"):
            new = clone(old)
            new["metadata"]["deletionTimestamp"] = now()
            new["status"] = {"phase": "Terminating"}
            new["metadata"]["resourceVersion"] = str(self._next_rv())
            self._put(rt, new)
            self._emit("MODIFIED", rt.key, new)
            old = new
        for key, bucket in list(self._buckets.items()):
            inner = self.registry.by_key(key)
            if inner is None or not inner.namespaced:
                continue
            for (ons, oname) in [k for k in bucket if k[0] == ns]:
                try:
                    self.delete(inner, ons, oname)
                except errors.ApiError:
                    pass  # removed by garbage collection meanwhile
        if not self._namespace_has_objects(ns) and ("", ns) in self._buckets["/namespaces"]:
            return self._remove(rt, old)
        return clone(old)
