"""Watch events applied to the mirror as deltas: one changed object costs its row, its edges and its ancestors.

The full sync (graph.sync) lists everything and rewrites what differs; this module is the informer's other half. A
batch of watch events (ADDED, MODIFIED, DELETED, in the order received) is applied in one transaction:

1. the last event per object wins; an event not newer than the row's resourceVersion is ignored (a replay, or the
   same object seen on a second stream);
2. membership follows the full sync's rules: Flux kinds always, other kinds while they carry a Flux label,
   ReplicaSets and Pods while an owner is mirrored. Children whose owner is not mirrored (yet) are *parked* in the
   watcher's memory and mirrored the moment their owner is (events of different streams arrive in any order);
3. rows are upserted or tombstoned; a tombstoned owner takes its ReplicaSets and Pods with it;
4. edges: those an object's own fields determine (builder.references) are replaced; an object that appears also
   gets the edges others hold towards it (its labelled children, the inventory that lists it, its owned children,
   the objects reading it as a source or depending on it), found by narrow queries;
5. own health is recomputed for the changed objects and their two levels of tree parents (a Deployment's health
   reads its ReplicaSets' Pods), and the roll-up along the affected ancestors only, from the children's stored
   roll-up paths (``KubeObject.rollup_path``), so a Pod's change costs its ancestors, not the cluster.

What the deltas do not follow, the periodic full sync reconciles: core Events attached to objects, objects of a Helm
release found only through Helm's storage, and kinds listed only because an inventory names them.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connection, transaction
from django.db.models import Q, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from controlplane.models import Cluster
from graph import health as health_rules
from graph.builder import inventory_keys, node_from_object, path_from_json, path_to_json, references
from graph.bulk import insert_edges, upsert_objects
from graph.choices import EdgeType, Family
from graph.health.rollup import best_path, describe, rollup_paths
from graph.kinds import (
    APPLIER_KINDS,
    FLUX_GROUPS,
    FLUX_KINDS,
    OWNED_CHILD_KINDS,
    OWNER_LABELS,
    SOURCE_GROUP,
    split_api_version,
)
from graph.models import Edge, KubeObject

logger = logging.getLogger(__name__)

TREE = (EdgeType.CREATED, EdgeType.OWNS)
CHUNK = 500
_FLUX = {(k.group, k.kind) for k in FLUX_KINDS}
_APPLIERS = APPLIER_KINDS
# Kinds that never own, and are never listed in an inventory of, a mirrored object: no reverse lookups for them.
_LEAF_KINDS = {("", "Pod"), ("", "Event")}
_COLUMNS = (
    "id", "uid", "api_group", "api_version", "kind", "family", "namespace", "name", "labels", "annotations", "spec",
    "status", "owner_references", "events", "resource_version", "generation", "managed_by_kind",
    "managed_by_namespace", "managed_by_name", "created_in_cluster", "deleted_at", "first_seen", "health",
    "health_reason", "health_message", "rollup_health", "rollup_message", "rollup_path",
)
_LIGHT = ("uid", "kind", "namespace", "name", "health", "health_reason", "health_message", "rollup_health",
          "rollup_message", "rollup_path")
_UPDATE_FIELDS = [
    "api_group", "api_version", "kind", "family", "namespace", "name", "labels", "annotations", "spec", "status",
    "owner_references", "resource_version", "generation", "observed_generation", "suspended", "managed_by_kind",
    "managed_by_namespace", "managed_by_name", "origin_path", "origin_repo", "origin_ref", "health", "health_reason",
    "health_message", "rollup_health", "rollup_message", "rollup_path", "created_in_cluster", "last_seen",
    "changed_at", "deleted_at",
]


@dataclass
class DeltaResult:
    """What one batch did, for logs and benchmarks."""

    events: int = 0
    upserted: int = 0
    tombstoned: int = 0
    stale: int = 0
    parked: int = 0
    edges_added: int = 0
    edges_removed: int = 0
    health_updated: int = 0
    rollups_updated: int = 0
    # Something health alerts or silence coverage read changed: a Flux object's health, or objects came or went.
    alerts_due: bool = False

    @property
    def changed(self) -> bool:
        # Every kind of write counts, even those that today only follow another (an edge added, a roll-up moved):
        # the token must move whenever what a page shows could have.
        return bool(self.upserted or self.tombstoned or self.edges_added or self.edges_removed or self.health_updated
                    or self.rollups_updated)


class Parked:
    """ReplicaSets and Pods seen but not mirrored (none of their owners is), by owner uid, until an owner is."""

    def __init__(self, objects: Iterable[dict] = ()):
        self._by_owner: dict[str, dict[str, dict]] = defaultdict(dict)
        self._owners: dict[str, list[str]] = {}
        for obj in objects:
            self.park(obj)

    def __len__(self) -> int:
        return len(self._owners)

    def park(self, obj: dict) -> None:
        meta = obj.get("metadata") or {}
        uid = meta.get("uid")
        if not uid:
            return
        self.drop(uid)
        owners = [str(r["uid"]) for r in meta.get("ownerReferences") or [] if isinstance(r, dict) and r.get("uid")]
        self._owners[uid] = owners
        for owner in owners:
            self._by_owner[owner][uid] = obj

    def drop(self, uid: str) -> None:
        for owner in self._owners.pop(uid, ()):
            children = self._by_owner.get(owner)
            if children is not None:
                children.pop(uid, None)
                if not children:
                    del self._by_owner[owner]

    def take(self, owner: str) -> list[dict]:
        """The parked children of ``owner``, no longer parked."""
        children = list(self._by_owner.get(owner, {}).values())
        for child in children:
            self.drop(child["metadata"]["uid"])
        return children


def newer(event_version: str, row_version: str) -> bool:
    """Whether an event's resourceVersion is newer than the row's (numbers on every real API server)."""
    if not row_version:
        return True
    if event_version.isdigit() and row_version.isdigit():
        return int(event_version) > int(row_version)
    return event_version != row_version


def raw_from_row(row: dict) -> dict:
    """The API object a row stands for, as far as health rules read it (metadata, spec, status)."""
    meta: dict = {"name": row["name"], "uid": row["uid"], "labels": row["labels"] or {},
                  "annotations": row["annotations"] or {}, "resourceVersion": row["resource_version"]}
    if row["namespace"]:
        meta["namespace"] = row["namespace"]
    if row["owner_references"]:
        meta["ownerReferences"] = row["owner_references"]
    if row["generation"] is not None:
        meta["generation"] = row["generation"]
    if row["created_in_cluster"]:
        meta["creationTimestamp"] = row["created_in_cluster"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    api_version = f"{row['api_group']}/{row['api_version']}" if row["api_group"] else row["api_version"]
    return {"apiVersion": api_version, "kind": row["kind"], "metadata": meta, "spec": row["spec"] or {},
            "status": row["status"] or {}}


def _label(row: dict) -> str:
    return f"{row['kind']} {row['namespace'] + '/' if row['namespace'] else ''}{row['name']}"


def _own(row: dict) -> health_rules.Assessment:
    return health_rules.Assessment(health_rules.Health(row["health"]), row["health_reason"], row["health_message"])


def _chunks(items: Iterable, size: int = CHUNK):
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start:start + size]


def apply_events(cluster: Cluster, events: Iterable[tuple[str, dict]], parked: Parked | None = None,
                 now: datetime | None = None) -> DeltaResult:
    """Apply watch events (type, object) to the cluster's mirror in one transaction. The caller holds the cluster's
    sync lock (graph.sync.lock_for), so a full sync never interleaves with a batch."""
    latest: dict[str, tuple[str, dict]] = {}
    count = 0
    for type_, obj in events:
        uid = (obj.get("metadata") or {}).get("uid") if isinstance(obj, dict) else None
        if not uid or type_ not in ("ADDED", "MODIFIED", "DELETED"):
            continue
        count += 1
        latest.pop(uid, None)  # the last event of an object wins, in the position it arrived
        latest[uid] = (type_, obj)
    delta = _Delta(cluster, now or timezone.now(), parked if parked is not None else Parked())
    delta.result.events = count
    if latest:
        with transaction.atomic():
            delta.apply(latest)
            if delta.result.changed:  # the live graph's change token (controlplane.live): one row, same transaction
                Cluster.objects.filter(pk=cluster.pk).update(mirror_changed_at=delta.now)
    return delta.result


class _Delta:
    """One batch: the state shared by its steps (rows loaded, sets of changed uids)."""

    def __init__(self, cluster: Cluster, now: datetime, parked: Parked):
        self.cluster = cluster
        self.now = now
        self.parked = parked
        self.result = DeltaResult()
        self.rows: dict[str, dict] = {}  # uid → stored row (before this batch)
        self.live: set[str] = set()  # uids live after this batch, among those looked at
        self.upserts: dict[str, tuple[dict, object]] = {}  # uid → (object, node)
        self.new: set[str] = set()  # upserted and not live before
        self.tombstones: dict[str, str | None] = {}  # uid → resourceVersion of the DELETED event
        self.dirty: set[str] = set()  # tree edges changed at these uids (own health and roll-ups to redo)
        self.ids: dict[str, int] = {}  # uid ↔ primary key, for edge queries by key (an index lookup per row)
        self.uids: dict[int, str] = {}

    # ------------------------------------------------------------------ loading
    def _objects(self):
        return KubeObject.objects.filter(cluster=self.cluster)

    def _load(self, uids: Iterable[str], columns=_COLUMNS) -> dict[str, dict]:
        rows = {}
        for chunk in _chunks(set(uids)):
            for row in self._objects().filter(uid__in=chunk).order_by().values(*columns):
                rows[row["uid"]] = row
                if "id" in row:
                    self.ids[row["uid"]], self.uids[row["id"]] = row["id"], row["uid"]
        return rows

    def _id_map(self, uids: Iterable[str]) -> list[int]:
        """Primary keys of the rows with these uids (those that exist)."""
        uids = set(uids)
        missing = uids - set(self.ids)
        for chunk in _chunks(missing):
            for uid, pk in self._objects().filter(uid__in=chunk).order_by().values_list("uid", "id"):
                self.ids[uid], self.uids[pk] = pk, uid
        return [self.ids[u] for u in uids if u in self.ids]

    def _uid_map(self, ids: Iterable[int]) -> None:
        missing = set(ids) - set(self.uids)
        for chunk in _chunks(missing):
            for uid, pk in KubeObject.objects.filter(id__in=chunk).order_by().values_list("uid", "id"):
                self.ids[uid], self.uids[pk] = pk, uid

    def _live_uids(self, uids: Iterable[str]) -> set[str]:
        found = set()
        for chunk in _chunks(set(uids)):
            found.update(self._objects().filter(uid__in=chunk, deleted_at__isnull=True).order_by().values_list(
                "uid", flat=True))
        return found

    # ------------------------------------------------------------------ the batch
    def apply(self, latest: dict[str, tuple[str, dict]]) -> None:
        self.rows = self._load(latest)
        order = {kind: i + 1 for i, kind in enumerate(OWNED_CHILD_KINDS)}  # owners before ReplicaSets before Pods
        phases: dict[int, list[tuple[str, dict]]] = defaultdict(list)
        for uid, (type_, obj) in latest.items():
            row = self.rows.get(uid)
            version = str((obj.get("metadata") or {}).get("resourceVersion", ""))
            if row is not None and not newer(version, row["resource_version"]):
                self.result.stale += 1
                continue
            if type_ == "DELETED":
                self.parked.drop(uid)
                if row is not None and row["deleted_at"] is None:
                    self.tombstones[uid] = version
                continue
            group, _ = split_api_version(str(obj.get("apiVersion", "")))
            phases[order.get((group, obj.get("kind")), 0)].append((uid, obj))
        for phase in sorted(phases):
            items = phases[phase]
            if phase:  # owned children: mirrored while an owner is
                owners = {r.get("uid") for _uid, obj in items for r in obj["metadata"].get("ownerReferences") or []
                          if isinstance(r, dict)}
                owners.discard(None)
                live_owners = (self._live_uids(owners) | set(self.upserts)) - set(self.tombstones)
            for uid, obj in items:
                if phase:
                    mirrored = any(isinstance(r, dict) and r.get("uid") in live_owners
                                   for r in obj["metadata"].get("ownerReferences") or [])
                else:
                    mirrored = _member(obj)
                if mirrored:
                    self._upsert(uid, obj)
                else:
                    if phase:
                        self.parked.park(obj)
                        self.result.parked += 1
                    row = self.rows.get(uid)
                    if row is not None and row["deleted_at"] is None:
                        self.tombstones[uid] = None
        self._promote_parked()
        self._cascade_tombstones()
        self._write_rows()
        self._write_edges()
        self._reassess()

    def _upsert(self, uid: str, obj: dict) -> None:
        try:
            node = node_from_object(obj)
        except (ValueError, TypeError, AttributeError) as exc:
            logger.warning("cluster %s: skipped %s: %s", self.cluster.name, obj.get("kind"), exc)
            return
        self.parked.drop(uid)
        self.upserts[uid] = (obj, node)
        self.tombstones.pop(uid, None)
        row = self.rows.get(uid)
        if row is None or row["deleted_at"] is not None:
            self.new.add(uid)

    def _promote_parked(self) -> None:
        """Children parked because their owner was not mirrored, now that it is (recursively: ReplicaSet → Pods)."""
        todo = list(self.new)
        while todo:
            owner = todo.pop()
            children = self.parked.take(owner)
            if not children:
                continue
            self.rows.update(self._load({c["metadata"]["uid"] for c in children} - set(self.rows)))
            for child in children:
                uid = child["metadata"]["uid"]
                row = self.rows.get(uid)
                if uid in self.upserts or uid in self.tombstones or (
                        row is not None and row["deleted_at"] is None and
                        not newer(str(child["metadata"].get("resourceVersion", "")), row["resource_version"])):
                    continue
                self._upsert(uid, child)
                todo.append(uid)

    def _cascade_tombstones(self) -> None:
        """ReplicaSets and Pods whose last mirrored owner goes stop being mirrored too (parked, as the full sync
        would not list them)."""
        todo = list(self.tombstones)
        while todo:
            owned = {t for s, t in self._tree(todo, up=False)}
            candidates = owned - set(self.tombstones) - set(self.upserts)
            if not candidates:
                return
            rows = {u: r for u, r in self._load(candidates).items() if r["deleted_at"] is None}
            owners = {r.get("uid") for row in rows.values() for r in row["owner_references"] or []
                      if isinstance(r, dict)}
            live_owners = (self._live_uids(owners - {None}) | set(self.upserts)) - set(self.tombstones)
            todo = []
            for uid, row in rows.items():
                if (row["api_group"], row["kind"]) not in OWNED_CHILD_KINDS:
                    continue
                if any(isinstance(r, dict) and r.get("uid") in live_owners for r in row["owner_references"] or []):
                    continue
                self.rows[uid] = row
                self.tombstones[uid] = None
                self.parked.park(raw_from_row(row))
                todo.append(uid)

    # ------------------------------------------------------------------ rows
    def _write_rows(self) -> None:
        rows = []
        for uid, (obj, node) in self.upserts.items():
            old = self.rows.get(uid)
            own = health_rules.assess(obj, now=self.now)  # preliminary: _reassess adds the children's view
            fields = dict(node.fields)
            fields.update(health=str(own.health), health_reason=own.reason[:100], health_message=own.message)
            if old is not None and old["deleted_at"] is None:
                fields.update(rollup_health=old["rollup_health"], rollup_message=old["rollup_message"],
                              rollup_path=old["rollup_path"])
            else:
                fields.update(rollup_health=fields["health"], rollup_message=own.message, rollup_path=None)
            rows.append({**fields, "cluster_id": self.cluster.pk, "uid": uid, "events": old["events"] if old else [],
                         "first_seen": self.now, "last_seen": self.now, "changed_at": self.now, "deleted_at": None})
        if rows:
            upsert_objects(rows, _UPDATE_FIELDS)
        self.result.upserted = len(rows)
        by_version: dict[str | None, list[str]] = defaultdict(list)
        for uid, version in self.tombstones.items():
            by_version[version].append(uid)
        for version, uids in by_version.items():
            # The DELETED event's resourceVersion is kept, so a late event of the same object cannot revive it.
            update = {"deleted_at": self.now, **({"resource_version": version} if version else {})}
            for chunk in _chunks(uids):
                self.result.tombstoned += self._objects().filter(uid__in=chunk, deleted_at__isnull=True).update(
                    **update)

    # ------------------------------------------------------------------ edges
    def _edges_touching(self, uids: Iterable[str], incoming_types=None, outgoing_types=None) -> dict[int, tuple]:
        """Edges (pk → (source uid, target uid, type)) into / out of ``uids``, restricted to the given types."""
        found: dict[int, tuple] = {}
        ids = self._id_map(uids)
        for chunk in _chunks(ids):
            for field, types in (("target_id__in", incoming_types), ("source_id__in", outgoing_types)):
                if types is not None and not types:
                    continue
                query = Edge.objects.filter(**{field: chunk})
                if types:
                    query = query.filter(type__in=types)
                for pk, s, t, ty in query.values_list("pk", "source_id", "target_id", "type"):
                    found[pk] = (s, t, ty)
        self._uid_map({i for s, t, _ty in found.values() for i in (s, t)})
        return {pk: (self.uids[s], self.uids[t], ty) for pk, (s, t, ty) in found.items()}

    def _write_edges(self) -> None:
        removed: dict[int, tuple] = {}
        # Tombstoned rows lose every edge.
        removed.update(self._edges_touching(self.tombstones))
        # Changed rows lose the edges their own fields determined; the created edges their parents' inventories
        # or their children's labels also justify are drawn again below.
        # Changed rows whose references (labels, owners, inventory, sources, dependsOn) are the same keep their edges.
        modified = {uid for uid in set(self.upserts) - self.new
                    if references(_fields(self.rows[uid])) != references(self.upserts[uid][1].fields)}
        self_determined = self._edges_touching(
            modified, incoming_types=[EdgeType.CREATED, EdgeType.OWNS],
            outgoing_types=[EdgeType.CREATED, EdgeType.SOURCE, EdgeType.DEPENDS_ON])
        keep_helm = {uid for uid in modified if self.upserts[uid][1].fields["kind"] == "HelmRelease"
                     and "inventory" not in self.upserts[uid][1].fields["status"]}
        inventory_parents: dict[str, set[str]] = defaultdict(set)
        for pk, (s, t, ty) in self_determined.items():
            if ty == EdgeType.CREATED and s in keep_helm:
                continue  # created from Helm's release storage, which only the full sync reads
            if ty == EdgeType.CREATED and t in modified:
                inventory_parents[t].add(s)
            removed[pk] = (s, t, ty)
        for chunk in _chunks(removed):
            Edge.objects.filter(pk__in=chunk).delete()
        self.result.edges_removed = len(removed)
        self.dirty.update(u for s, t, ty in removed.values() if ty in TREE for u in (s, t))

        wanted: set[tuple[str, str, str]] = set()
        # Edges the upserted objects' own fields determine.
        refs = {uid: references(node.fields) for uid, (_obj, node) in self.upserts.items()
                if uid in modified or uid in self.new}
        keys = {key for items in refs.values() for _t, _i, key, _u in items if key is not None}
        by_key = self._resolve(keys)
        owner_uids = {u for items in refs.values() for _t, _i, key, u in items if u is not None}
        live_owners = self._live_uids(owner_uids) if owner_uids else set()
        for uid, items in refs.items():
            for type_, incoming, key, target_uid in items:
                other = by_key.get(key) if key is not None else (target_uid if target_uid in live_owners else None)
                if other and other != uid:
                    wanted.add((other, uid, type_) if incoming else (uid, other, type_))
        # Created edges of changed appliers that their children's labels justify, and of changed children that their
        # parents' inventories justify.
        appliers = {uid: node.fields for uid, (_o, node) in self.upserts.items()
                    if (node.fields["api_group"], node.fields["kind"]) in _APPLIERS and uid in modified}
        for parent, child in self._labelled_children(appliers):
            wanted.add((parent, child, EdgeType.CREATED))
        parents = self._load({p for ps in inventory_parents.values() for p in ps}, ("uid", "status", "deleted_at"))
        for child, ps in inventory_parents.items():
            key = self.upserts[child][1].key
            for p in ps:
                row = parents.get(p)
                if row and row["deleted_at"] is None and key in _inventory(row["status"]):
                    wanted.add((p, child, EdgeType.CREATED))
        # Objects that appear get the edges the others hold towards them.
        wanted |= self._edges_towards_new()
        wanted = {e for e in wanted if e[0] not in self.tombstones and e[1] not in self.tombstones}
        self.result.edges_added = insert_edges(self.cluster.pk, sorted(wanted))
        self.dirty.update(u for s, t, ty in wanted if ty in TREE for u in (s, t))

    def _resolve(self, keys: Iterable[tuple]) -> dict[tuple, str]:
        """(group, kind, namespace, name) → uid of the live row."""
        keys = set(keys)
        found = {}
        for chunk in _chunks(keys):
            kinds = {k[1] for k in chunk}
            names = {k[3] for k in chunk}
            for g, k, ns, n, uid in self._objects().filter(deleted_at__isnull=True, kind__in=kinds, name__in=names) \
                    .values_list("api_group", "kind", "namespace", "name", "uid"):
                if (g, k, ns, n) in keys:
                    found[(g, k, ns, n)] = uid
        return found

    def _labelled_children(self, appliers: dict[str, dict]) -> list[tuple[str, str]]:
        pairs = []
        for chunk in _chunks(appliers, 100):
            query = Q()
            for uid in chunk:
                f = appliers[uid]
                query |= Q(managed_by_kind=f["kind"], managed_by_namespace=f["namespace"], managed_by_name=f["name"])
            wanted = {(appliers[u]["kind"], appliers[u]["namespace"], appliers[u]["name"]): u for u in chunk}
            for child, kind, ns, name in self._objects().filter(query, deleted_at__isnull=True).values_list(
                    "uid", "managed_by_kind", "managed_by_namespace", "managed_by_name"):
                parent = wanted.get((kind, ns, name))
                if parent and parent != child:
                    pairs.append((parent, child))
        return pairs

    def _edges_towards_new(self) -> set[tuple[str, str, str]]:
        """The edges other rows' fields determine towards objects that appear in this batch."""
        if not self.new:
            return set()
        new_keys = {self.upserts[u][1].key: u for u in self.new}
        text = Cast("status", TextField())
        candidates: set[str] = set()
        inventory_q, owner_q, named_q = Q(), Q(), Q()
        for uid in self.new:
            f = self.upserts[uid][1].fields
            kind = (f["api_group"], f["kind"])
            if kind not in _LEAF_KINDS:
                inventory_q |= Q(status_text__contains=f"{f['namespace']}_{f['name']}_{f['api_group']}_{f['kind']}")
                owner_q |= Q(owners_text__contains=uid)
            if f["api_group"] in FLUX_GROUPS:
                named_q |= Q(spec_text__contains=f'"{f["name"]}"')
                if f["kind"] == "HelmChart" and f["api_group"] == SOURCE_GROUP:
                    # helm-controller names the chart `<release namespace>-<release name>`.
                    parts = f["name"].split("-")
                    for i in range(1, len(parts)):
                        named_q |= Q(kind="HelmRelease", namespace="-".join(parts[:i]), name="-".join(parts[i:]))
        live = self._objects().filter(deleted_at__isnull=True)
        appliers = [Family.KUSTOMIZATION, Family.HELMRELEASE]
        if inventory_q:
            candidates.update(live.filter(family__in=appliers).annotate(status_text=text).filter(inventory_q)
                              .values_list("uid", flat=True))
        if owner_q:
            candidates.update(live.annotate(owners_text=Cast("owner_references", TextField())).filter(owner_q)
                              .values_list("uid", flat=True))
        if named_q:
            candidates.update(live.filter(api_group__in=FLUX_GROUPS).annotate(spec_text=Cast("spec", TextField()))
                              .filter(named_q).values_list("uid", flat=True))
        appliers_new = {u: self.upserts[u][1].fields for u in self.new
                        if (self.upserts[u][1].fields["api_group"], self.upserts[u][1].fields["kind"]) in _APPLIERS}
        edges = {(p, c, EdgeType.CREATED) for p, c in self._labelled_children(appliers_new)}
        candidates -= set(self.upserts)
        rows = self._load(candidates)
        for uid, row in rows.items():
            for type_, incoming, key, target_uid in references(_fields(row)):
                other = new_keys.get(key) if key is not None else (target_uid if target_uid in self.new else None)
                if other and other != uid:
                    edges.add((other, uid, type_) if incoming else (uid, other, type_))
        return edges

    # ------------------------------------------------------------------ health
    def _tree(self, uids: Iterable[str], up: bool) -> list[tuple[str, str]]:
        """Tree edges (source uid, target uid) into (``up``) or out of the given uids."""
        pairs = []
        field = "target_id__in" if up else "source_id__in"
        for chunk in _chunks(self._id_map(uids)):
            pairs.extend(Edge.objects.filter(type__in=TREE, **{field: chunk}).values_list("source_id", "target_id"))
        self._uid_map({i for pair in pairs for i in pair})
        return [(self.uids[s], self.uids[t]) for s, t in pairs]

    def _closure(self, ids: list[int]) -> tuple[set[int], list[tuple[int, int]]]:
        """Every tree ancestor of ``ids`` (them included) and the tree edges leaving that set, in one recursive query
        (the set is closed upwards: every parent of a member is a member)."""
        edge, obj = Edge._meta.db_table, KubeObject._meta.db_table
        types = ", ".join(f"'{t}'" for t in TREE)
        marks = ", ".join(["%s"] * len(ids))
        # Table names and edge types are this module's constants; ids travel as parameters.
        sql = (f"WITH RECURSIVE up(id) AS (SELECT id FROM {obj} WHERE id IN ({marks}) "  # noqa: S608
               f"UNION SELECT e.source_id FROM {edge} e JOIN up ON e.target_id = up.id WHERE e.type IN ({types})) "
               f"SELECT up.id, e.target_id FROM up LEFT JOIN {edge} e ON e.source_id = up.id AND e.type IN ({types})")
        scope: set[int] = set()
        pairs: list[tuple[int, int]] = []
        with connection.cursor() as cursor:
            cursor.execute(sql, ids)
            for source, target in cursor.fetchall():
                scope.add(source)
                if target is not None:
                    pairs.append((source, target))
        return scope, pairs

    def _children_of(self, ids: Iterable[int]) -> list[tuple[int, int]]:
        pairs = []
        for chunk in _chunks(ids):
            pairs.extend(Edge.objects.filter(type__in=TREE, source_id__in=chunk).values_list("source_id", "target_id"))
        return pairs

    def _reassess(self) -> None:
        """Own health of the changed rows and of their parents and grandparents (whose rules read them), then the
        roll-ups of every ancestor — all from one closure query."""
        base_uids = (set(self.upserts) | self.dirty) - set(self.tombstones)
        base = set(self._id_map(base_uids))
        if not base:
            return
        scope, pairs = self._closure(sorted(base))
        children_of: dict[int, list[int]] = defaultdict(list)
        parents_of: dict[int, set[int]] = defaultdict(set)
        for src, dst in pairs:
            children_of[src].append(dst)
            parents_of[dst].add(src)
        parents = {p for b in base for p in parents_of.get(b, ())}
        grandparents = {g for p in parents for g in parents_of.get(p, ())}
        assess_ids = base | parents | grandparents
        first = self._load_ids(assess_ids, _COLUMNS)
        rows = {i: r for i, r in first.items() if r["deleted_at"] is None}
        needs_children = [i for i, r in rows.items() if r["api_group"] not in FLUX_GROUPS]
        kids = {i: children_of.get(i, []) for i in needs_children}
        outside = {c for cs in kids.values() for c in cs if c not in scope}
        for src, dst in self._children_of(outside):
            children_of[src].append(dst)
        below_ids = {c for cs in kids.values() for c in cs}
        below_ids |= {g for c in below_ids for g in children_of.get(c, ())}
        rows_all = dict(first)
        rows_all.update(self._load_ids(below_ids - set(rows_all), _COLUMNS))
        changed = []
        for i, row in rows.items():
            uid = row["uid"]
            raw = self.upserts[uid][0] if uid in self.upserts else raw_from_row(row)
            related = []
            if i in kids:
                ordered = sorted(kids[i], key=lambda c: rows_all[c]["uid"])
                related = [raw_from_row(rows_all[c]) for c in ordered]
                for c in ordered:
                    related.extend(raw_from_row(rows_all[g]) for g in sorted(children_of.get(c, ()),
                                                                             key=lambda g: rows_all[g]["uid"]))
            try:
                own = health_rules.assess(raw, children=related, now=self.now)
            except Exception as exc:  # noqa: BLE001 - one object's odd status must not break the batch
                own = health_rules.Assessment(health_rules.Health.UNKNOWN, "AssessmentFailed", str(exc))
            new = (str(own.health), own.reason[:100], own.message)
            if new != (row["health"], row["health_reason"], row["health_message"]):
                row["health"], row["health_reason"], row["health_message"] = new
                changed.append(row)
        self._save(changed, ["health", "health_reason", "health_message"])
        self.result.health_updated = len(changed)
        before = {u: self.rows[u] for u in self.upserts if u in self.rows}
        self.result.alerts_due = bool(self.new or self.tombstones or any(
            r["api_group"] in FLUX_GROUPS and (r in changed or (r["uid"] in before and (
                r["health"], r["health_reason"], r["health_message"]) != (
                before[r["uid"]]["health"], before[r["uid"]]["health_reason"], before[r["uid"]]["health_message"])))
            for r in rows.values()))
        self._rollup(scope, children_of, parents_of, rows_all)

    def _load_ids(self, ids: Iterable[int], columns) -> dict[int, dict]:
        rows = {}
        for chunk in _chunks(set(ids)):
            for row in KubeObject.objects.filter(id__in=chunk).order_by().values(*columns):
                rows[row["id"]] = row
                self.ids[row["uid"]], self.uids[row["id"]] = row["id"], row["uid"]
        return rows

    def _save(self, rows: list[dict], fields: list[str]) -> None:
        """UPDATE the given fields of a few rows (one prepared statement; Django's bulk_update builds a CASE per
        field and row, which costs more than the writes at a watch batch's size)."""
        if not rows:
            return
        json_fields = {"rollup_path"}
        cast = "CAST(%s AS jsonb)" if connection.vendor == "postgresql" else "%s"
        sets = ", ".join(f'"{f}" = {cast if f in json_fields else "%s"}' for f in fields)
        params = [[json.dumps(r[f]) if f in json_fields and r[f] is not None else r[f] for f in fields] + [r["id"]]
                  for r in rows]
        with connection.cursor() as cursor:
            # Column names come from this module's constants, values travel as parameters.
            cursor.executemany(f'UPDATE {KubeObject._meta.db_table} SET {sets} WHERE "id" = %s', params)  # noqa: S608

    def _rollup(self, scope: set[int], children_of: dict[int, list[int]], parents_of: dict[int, set[int]],
                loaded: dict[int, dict]) -> None:
        """Roll-ups of ``scope`` (the changed rows and all their ancestors), children first, from the children's
        stored paths (a child outside the scope did not change, so its stored path holds)."""
        light = _LIGHT + ("id", "deleted_at", "api_group")
        rows = {i: r for i, r in loaded.items()}
        rows.update(self._load_ids({i for i in scope | {c for s in scope for c in children_of.get(s, ())}}
                                   - set(rows), light))
        scope = {i for i in scope if i in rows and rows[i]["deleted_at"] is None}
        # Children before parents (Kahn); a cycle in scope falls back to the whole cluster's roll-up.
        pending = {i: len({c for c in children_of.get(i, ()) if c in scope and c != i}) for i in scope}
        ready = [i for i, n in pending.items() if n == 0]
        order = []
        while ready:
            i = ready.pop()
            order.append(i)
            for p in parents_of.get(i, ()):
                if p in pending and p != i:
                    pending[p] -= 1
                    if pending[p] == 0:
                        ready.append(p)
        if len(order) < len(scope):
            self._rollup_cluster()
            return
        by_uid = {r["uid"]: r for r in rows.values()}
        leaves = {r["rollup_path"]["leaf"] for r in rows.values() if r.get("rollup_path")} - set(by_uid)
        by_uid.update({r["uid"]: r for r in self._load(leaves, light).values()})
        paths: dict[str, object] = {}
        for i in order:
            uid = rows[i]["uid"]
            child_paths = []
            for c in sorted({rows[c]["uid"]: c for c in children_of.get(i, ()) if c != i and c in rows}.items()):
                child_uid, child = c
                row = rows[child]
                if row["deleted_at"] is not None:
                    continue
                if child_uid in paths:
                    child_paths.append(paths[child_uid])
                else:
                    data = row["rollup_path"]
                    leaf = by_uid.get(data["leaf"]) if data else None
                    child_paths.append(path_from_json(child_uid, data, _own(row), _own(leaf) if leaf else None))
            paths[uid] = best_path(uid, _own(rows[i]), child_paths)
        named = {n for p in paths.values() for n in (*p.head, *p.tail)} - set(by_uid)
        by_uid.update({r["uid"]: r for r in self._load(named, light).values()})
        self._store_rollups({rows[i]["uid"]: rows[i] for i in order}, paths, by_uid)

    def _store_rollups(self, targets: dict[str, dict], paths: dict, rows: dict[str, dict]) -> None:
        changed = []
        for uid, row in targets.items():
            path = paths[uid]
            up = describe(uid, path, _own(row), lambda n: _label(rows[n]))
            new = (str(up.health), up.message, path_to_json(path))
            if new != (row["rollup_health"], row["rollup_message"], row["rollup_path"]):
                row["rollup_health"], row["rollup_message"], row["rollup_path"] = new
                changed.append(row)
        self._save(changed, ["rollup_health", "rollup_message", "rollup_path"])
        self.result.rollups_updated += len(changed)

    def _rollup_cluster(self) -> None:
        """The whole cluster's roll-ups from stored own health (the fallback when a batch meets a cycle)."""
        rows = {r["uid"]: r for r in self._objects().filter(deleted_at__isnull=True).values(*_LIGHT, "id",
                                                                                            "deleted_at")}
        children: dict[str, list[str]] = defaultdict(list)
        for s, t in Edge.objects.filter(cluster=self.cluster, type__in=TREE).values_list("source__uid",
                                                                                         "target__uid"):
            children[s].append(t)
        for kids in children.values():
            kids.sort()
        paths = rollup_paths({u: _own(r) for u, r in rows.items()}, children)
        self._store_rollups(rows, paths, rows)


def _member(obj: dict) -> bool:
    """Whether the full sync mirrors this object (for everything but ReplicaSets and Pods, decided by owners)."""
    group, _ = split_api_version(str(obj.get("apiVersion", "")))
    if (group, obj.get("kind")) in _FLUX:
        return True
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return any(labels.get(label) for label, _ns, _group, _kind in OWNER_LABELS)


def _fields(row: dict) -> dict:
    """A stored row as the fields builder.references reads."""
    return {**row, "status": row["status"] or {}, "spec": row["spec"] or {},
            "owner_references": row["owner_references"] or []}


def _inventory(status: dict | None) -> set[tuple]:
    return set(inventory_keys({"status": status or {}}))
