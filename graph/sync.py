"""Sync one cluster into the mirror: list, build the graph in memory, persist in bulk, tombstone the rest.

The full sync is the informer's "list" and the safety net behind the watch deltas (graph.delta): it compares what it
built with what is stored and writes only the difference — rows whose resourceVersion or derived state (health,
roll-up, events) changed, tombstones for rows no longer listed, and the edges added or removed — so a resync of an
unchanged cluster writes nothing. The number of database queries depends on the number of batches, not on the
number of objects: rows travel to the database in chunks of one JSON parameter each (graph.bulk).
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import operator
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import django_rq
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from redis.exceptions import LockError

from controlplane.kube import ApiResource, KubeAdapter, KubeError, KubeUnreachable
from controlplane.models import Cluster
from graph import health as health_rules
from graph import remote
from graph.builder import Graph, build_graph, inventory_keys
from graph.bulk import insert_edges, upsert_objects
from graph.helmstorage import deployed_manifests
from graph.kinds import (
    APPLIER_KINDS,
    DEFAULT_MANAGED_KINDS,
    FLUX_KINDS,
    OWNED_CHILD_KINDS,
    manager_selectors,
    split_api_version,
)
from graph.models import Edge, KubeObject
from graph.signals import mirror_synced

logger = logging.getLogger(__name__)

# The sync lock carries an owner token (only its holder releases or extends it) and a short TTL that a thread renews
# while the sync runs: a killed sync frees its cluster within LOCK_TIMEOUT instead of blocking syncs for minutes.
LOCK_TIMEOUT = settings.FLUXPLANE_SYNC_LOCK_SECONDS
LOCK_RENEW_SECONDS = LOCK_TIMEOUT / 4
ANALYZE_AFTER_ROWS = 5000  # rows + edges written by one sync after which PostgreSQL's statistics are refreshed
_UPDATE_FIELDS = [
    "api_group", "api_version", "kind", "family", "namespace", "name", "labels", "annotations", "spec", "status",
    "owner_references", "events", "resource_version", "generation", "observed_generation", "suspended",
    "managed_by_kind", "managed_by_namespace", "managed_by_name", "origin_path", "origin_repo", "origin_ref",
    "health", "health_reason", "health_message", "rollup_health", "rollup_message", "rollup_path",
    "created_in_cluster", "last_seen", "changed_at", "deleted_at",
]
# What a row's derived state is compared on: a row is rewritten when one of these, its events, its rollup_path or its
# resourceVersion differs.
_DERIVED_TEXT = ("health", "health_reason", "health_message", "rollup_health", "rollup_message")


class SyncInProgress(Exception):
    """Another worker holds this cluster's sync lock."""


@dataclass
class SyncResult:
    """What a sync did, for logs, the management command and benchmarks."""

    objects: int = 0
    edges: int = 0
    tombstoned: int = 0
    requests: int = 0
    problems: list[str] = field(default_factory=list)
    resource_versions: dict[str, str] = field(default_factory=dict)
    helm_storage: dict = field(default_factory=dict)
    rows_written: int = 0
    edges_written: int = 0
    # ReplicaSets and Pods listed but not mirrored (no mirrored owner): the watcher parks them (graph.watch).
    unowned: list[dict] = field(default_factory=list)

    def summary(self) -> str:
        text = f"{self.objects} objects, {self.edges} edges, {self.tombstoned} tombstoned, {self.requests} requests"
        if self.problems:
            text += f", {len(self.problems)} skipped"
        return text


def fetch(adapter: KubeAdapter, progress: Callable[[str], None] = lambda _msg: None,
          keep_unowned: bool = False) -> tuple[list[dict], list[dict], SyncResult]:
    """List everything the mirror needs from the cluster: Flux kinds, labelled objects, their children, events.

    ``result.resource_versions`` keeps, per resource (``group/plural``), the oldest resourceVersion its lists
    returned: a watch started there replays nothing the mirror could have missed (graph.watch)."""
    result = SyncResult()
    objects: list[dict] = []
    strings: dict[str, str] = {}

    def list_(resource: ApiResource, label_selector: str | None = None) -> list[dict]:
        result.requests += 1
        listed = adapter.list(resource, label_selector=label_selector)
        key = f"{resource.group}/{resource.plural}"
        result.resource_versions[key] = _older(result.resource_versions.get(key), listed.resource_version)
        share_strings(listed.items, strings)
        return listed.items

    for flux_kind in FLUX_KINDS:
        resource = adapter.find_resource(flux_kind.group, flux_kind.kind, flux_kind.versions)
        if resource is not None:
            objects.extend(list_(resource))
    progress(f"{len(objects)} Flux objects")

    # Kinds to list with the Flux labels: a default set plus every kind an inventory names.
    managed = set(DEFAULT_MANAGED_KINDS)
    for obj in objects:
        group, _ = split_api_version(obj.get("apiVersion", ""))
        if (group, obj.get("kind")) in APPLIER_KINDS:
            managed.update((g, k) for g, k, _ns, _n in inventory_keys(obj))
    managed -= {(k.group, k.kind) for k in FLUX_KINDS}
    seen: set[str] = {o["metadata"]["uid"] for o in objects if o.get("metadata", {}).get("uid")}
    selectors = manager_selectors(objects)  # Kustomization and HelmRelease labels (+ the Flux Operator's)
    for group, kind in sorted(managed):
        resource = adapter.find_resource(group, kind)
        if resource is None or "list" not in resource.verbs:
            continue
        for selector in selectors:
            try:
                items = list_(resource, selector)
            except KubeError as exc:
                if exc.status not in (401, 403, 404):
                    raise
                # A least-privilege service account may not read every kind an inventory names: report and go on.
                result.problems.append(f"cannot list {resource.plural}.{resource.group or 'core'}: {exc.message}")
                break
            for item in items:
                uid = item.get("metadata", {}).get("uid")
                if uid and uid not in seen:
                    seen.add(uid)
                    objects.append(item)
    progress(f"{len(objects)} Flux and managed objects")

    # ReplicaSets and Pods are found through ownerReferences: keep those whose owner chain reaches a mirrored object.
    children: list[dict] = []
    for group, kind in OWNED_CHILD_KINDS:
        resource = adapter.find_resource(group, kind)
        if resource is not None:
            children.extend(list_(resource))
    owners = set(seen)
    for child in children:  # ReplicaSets come first, so their Pods find them
        meta = child.get("metadata", {})
        if meta.get("uid") not in owners and any(r.get("uid") in owners for r in meta.get("ownerReferences") or []):
            owners.add(meta["uid"])
            objects.append(child)
        elif keep_unowned and meta.get("uid") not in owners:
            result.unowned.append(child)
    del children
    progress(f"{len(objects)} objects with ReplicaSets and Pods")

    # Clusters whose helm-controller writes no status.inventory: decode Helm's release storage instead.
    needs_storage = any(o.get("kind") == "HelmRelease" and not (o.get("status") or {}).get("inventory")
                        for o in objects)
    secret_resource = adapter.find_resource("", "Secret") if needs_storage else None
    if secret_resource is not None:
        result.helm_storage = deployed_manifests(list_(secret_resource, "owner=helm"))
        # Objects of those releases that carry no Flux labels were not listed above: list their namespaces.
        present = {(split_api_version(o.get("apiVersion", ""))[0], o.get("kind"), o["metadata"].get("namespace", ""),
                    o["metadata"].get("name")) for o in objects if o.get("metadata")}
        missing: dict[tuple[str, str, str], set[str]] = {}
        for keys in result.helm_storage.values():
            for group, kind, namespace, name in keys:
                if (group, kind, namespace, name) not in present:
                    missing.setdefault((group, kind, namespace), set()).add(name)
        for (group, kind, namespace), names in sorted(missing.items()):
            resource = adapter.find_resource(group, kind)
            if resource is None:
                continue
            result.requests += 1
            for item in adapter.list(resource, namespace=namespace or None).items:
                if item.get("metadata", {}).get("name") in names and item["metadata"].get("uid") not in seen:
                    seen.add(item["metadata"]["uid"])
                    objects.append(item)
    events: list[dict] = []
    event_resource = adapter.find_resource("", "Event")
    if event_resource is not None:
        events = list_(event_resource)
    return objects, events, result


def share_strings(value: dict | list, memo: dict[str, str]) -> None:
    """Make equal short strings in ``value`` one object (namespaces, kinds, images, timestamps, condition words).

    JSON decoding makes a new str for every value; a sync holds every listed object at once, and about half of a
    Pod's strings repeat ones seen before, so sharing them cuts ≈ 50 MB at 60k objects (≈ 0.5 s of CPU; a loop
    over a stack, as recursion costs half as much again). Even the unique-looking metadata is worth it: a Pod's
    ownerReference repeats its ReplicaSet's uid and name, and objects created together share their timestamp."""
    setdefault = memo.setdefault
    stack: list = [value]
    push = stack.append
    while stack:
        container = stack.pop()
        for key, item in (container.items() if type(container) is dict else enumerate(container)):
            kind = type(item)
            if kind is str:
                if len(item) <= 100:
                    shared = setdefault(item, item)
                    if shared is not item:  # the first of its value stays where it is
                        container[key] = shared
            elif kind is dict or kind is list:
                push(item)


def _older(a: str | None, b: str) -> str:
    """The older of two resourceVersions (numeric on every real server, compared as numbers when they are)."""
    if not a:
        return b
    if a.isdigit() and b.isdigit():
        return a if int(a) <= int(b) else b
    return a


def load_stored(cluster: Cluster) -> tuple[dict[str, tuple], dict[int, str]]:
    """What the mirror holds for the cluster, to compare a build with: uid → (resourceVersion, tombstoned, the
    derived texts, events and roll-up path as JSON text), and row id → uid.

    Read with a plain server-side cursor: through the ORM, converting 60k rows' values cost half a second more. The
    JSON columns come as their text and are decoded only when not trivially equal (an empty event list, no roll-up
    path): decoding 2 × 60k JSON values was most of an unchanged resync's persist step. Equal texts (health words,
    messages) are shared, as the listed objects' strings are."""
    derived = ", ".join(connection.ops.quote_name(name) for name in _DERIVED_TEXT)  # the columns' names are the fields'
    sql = (f'SELECT "id", "uid", "resource_version", "deleted_at" IS NOT NULL, {derived}, CAST("events" AS TEXT), '  # noqa: S608 - model names; the id is a parameter
           f'CAST("rollup_path" AS TEXT) FROM {KubeObject._meta.db_table} WHERE "cluster_id" = %s')
    stored: dict[str, tuple] = {}
    uid_of: dict[int, str] = {}
    strings: dict[str, str] = {}
    share = strings.setdefault
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, [cluster.pk])
        while batch := cursor.fetchmany(5000):
            for pk, uid, version, gone, health, reason, message, rollup, rollup_message, events, path in batch:
                stored[uid] = (version, gone, share(health, health), share(reason, reason), share(message, message),
                               share(rollup, rollup), share(rollup_message, rollup_message), events, path)
                uid_of[pk] = uid
    return stored, uid_of


def persist(cluster: Cluster, graph: Graph, started, stored: dict[str, tuple],
            uid_of: dict[int, str]) -> tuple[int, int, int, int]:
    """Write the difference between the built graph and the mirror (``stored``/``uid_of``, load_stored()'s):
    changed rows, tombstones, edges.

    Returns (edges, tombstoned, rows written, edges written). Rows are encoded chunk by chunk as they are written,
    so memory never holds every encoded row at once."""
    derived = operator.itemgetter(*_DERIVED_TEXT)  # build_graph sets every one of them

    def changed(uid: str, fields: dict) -> bool:
        old = stored.get(uid)
        if old is None or old[1] or old[0] != fields["resource_version"]:
            return True
        if old[2:7] != derived(fields):
            return True
        return not (_same_json(old[-2], fields.get("events")) and _same_json(old[-1], fields.get("rollup_path")))

    def rows():
        for uid, node in graph.nodes.items():
            if changed(uid, node.fields):
                yield {**node.fields, "cluster_id": cluster.pk, "uid": uid, "first_seen": started,
                       "last_seen": started, "changed_at": started, "deleted_at": None}

    gone = [uid for uid, old in stored.items() if not old[1] and uid not in graph.nodes]
    with transaction.atomic():
        written = upsert_objects(rows(), _UPDATE_FIELDS)
        tombstoned = 0
        for start in range(0, len(gone), 5000):
            tombstoned += KubeObject.objects.filter(cluster=cluster, uid__in=gone[start:start + 5000]).update(
                deleted_at=started)
        current = _stored_edges(cluster, uid_of)
        stale = [pk for edge, pk in current.items() if edge not in graph.edges]
        for start in range(0, len(stale), 5000):
            Edge.objects.filter(pk__in=stale[start:start + 5000]).delete()
        added = insert_edges(cluster.pk, sorted(e for e in graph.edges if e not in current))
        if written or tombstoned or stale or added:
            # The mirror's change token (graph.admin.listing's cached counts, controlplane.live), in the transaction
            # that changed the rows: last_sync_at moves only after the hub relink, and not at all if that fails.
            Cluster.objects.filter(pk=cluster.pk).update(mirror_changed_at=timezone.now())
    if connection.vendor == "postgresql" and written + added >= ANALYZE_AFTER_ROWS:
        # Fresh statistics for the planner now rather than when autovacuum gets round to it: right after a first
        # sync, with none, PostgreSQL planned the admin lists and the edge reads as if the tables were nearly empty.
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {KubeObject._meta.db_table}, {Edge._meta.db_table}")
    return len(graph.edges), tombstoned, written, added + len(stale)


def _previous_verdicts(stored: dict[str, tuple]):
    """load_stored()'s rows as build_graph's ``previous``: a live row's (resourceVersion, health, reason, message)."""
    def previous(uid: str) -> tuple[str, str, str, str] | None:
        old = stored.get(uid)
        if old is None or old[1]:
            return None
        return old[0], old[2], old[3], old[4]

    return previous


def _stored_edges(cluster: Cluster, uid_of: dict[int, str]) -> dict[tuple[str, str, str], int]:
    """The cluster's own edges as (source uid, target uid, type) → pk, read by cluster alone and mapped to uids
    through ``uid_of`` (the rows' ids, loaded anyway). A join with the objects table twice, in a server-side cursor,
    got a nested-loop plan on PostgreSQL right after the first sync (no statistics yet) that took minutes at 60k.
    The hub's edges into another cluster are graph.remote's (relinked after the sync), not this graph's: skipped."""
    found = []
    sql = f'SELECT "id", "source_id", "target_id", "type" FROM {Edge._meta.db_table} WHERE "cluster_id" = %s'  # noqa: S608
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, [cluster.pk])
        while batch := cursor.fetchmany(5000):
            found.extend(batch)
    unknown = sorted({i for _pk, s, t, _ty in found for i in (s, t) if i not in uid_of})
    for start in range(0, len(unknown), 5000):  # rows the caller did not load (none, normally)
        ids = unknown[start:start + 5000]
        uid_of.update(KubeObject.objects.filter(cluster=cluster, id__in=ids).values_list("id", "uid"))
    return {(uid_of[s], uid_of[t], ty): pk for pk, s, t, ty in found if s in uid_of and t in uid_of}


def _same_json(stored: str | None, value) -> bool:
    """Whether a JSON column's stored text holds ``value`` (decoded only when the cheap checks cannot tell)."""
    if stored is None or stored == "null":
        return value is None
    if value is None:
        return False
    if value == [] and stored == "[]":
        return True
    return json.loads(stored) == value


@contextlib.contextmanager
def gc_paused():
    """Python's cyclic garbage collector off while a sync holds the listed cluster.

    A sync allocates millions of small dicts and lists (the decoded objects) that stay alive until it ends; each of
    the collector's full passes walks all of them, and those passes were about a fifth of an unchanged resync's
    CPU at 60k objects. What a sync builds holds no reference cycles, so nothing waits for the collector meanwhile."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def sync_cluster(cluster: Cluster, progress: Callable[[str], None] = lambda _msg: None,
                 keep_unowned: bool = False) -> SyncResult:
    """Sync one cluster now. An unreachable API server marks the cluster unreachable and keeps the mirror."""
    with gc_paused():
        return _sync_cluster(cluster, progress, keep_unowned)


def _sync_cluster(cluster: Cluster, progress: Callable[[str], None], keep_unowned: bool) -> SyncResult:
    started = timezone.now()
    try:
        adapter = KubeAdapter(cluster)
    except KubeUnreachable as exc:
        cluster.record_sync(Cluster.SyncState.UNREACHABLE, str(exc))
        raise
    try:
        objects, events, result = fetch(adapter, progress, keep_unowned=keep_unowned)
    except KubeUnreachable as exc:
        cluster.record_sync(Cluster.SyncState.UNREACHABLE, f"{exc}; showing the state of the last sync")
        raise
    except KubeError as exc:
        cluster.record_sync(Cluster.SyncState.FAILED, str(exc))
        raise
    finally:
        adapter.close()
    stored, uid_of = load_stored(cluster)
    # Unchanged self-contained objects keep their stored verdict, if the stored verdicts come from these same rules.
    reuse = cluster.mirror_health_rules == health_rules.RULES_FINGERPRINT != ""
    graph = build_graph(objects, events, now=started, helm_storage=result.helm_storage,
                        previous=_previous_verdicts(stored) if reuse else None)
    del objects, events
    for node in graph.nodes.values():
        node.raw = None  # persist reads the row fields only: the listed objects' metadata can go now
    result.objects = len(graph.nodes)
    result.problems = result.problems + graph.problems
    for problem in result.problems:
        logger.warning("cluster %s: %s", cluster.name, problem)
    result.edges, result.tombstoned, result.rows_written, result.edges_written = persist(
        cluster, graph, started, stored, uid_of)
    del graph, stored, uid_of
    if not reuse:  # every live row's verdict now comes from the running rules
        cluster.mirror_health_rules = health_rules.RULES_FINGERPRINT
        cluster.save(update_fields=["mirror_health_rules"])
    result.edges += remote.link_after_sync(cluster)  # hub ↔ spoke edges and roll-ups (spec.kubeConfig)
    message = result.summary()
    if result.problems:
        message += "\n" + "\n".join(result.problems[:20])
    cluster.record_sync(Cluster.SyncState.OK, message)
    progress(message)
    mirror_synced.send(sender=Cluster, cluster=cluster)  # alerts evaluates health transitions
    return result


def mirror_changed(cluster: Cluster) -> None:
    """After a batch of watch deltas (graph.watch) changed what alerts read: the same signal as after a sync."""
    mirror_synced.send(sender=Cluster, cluster=cluster)


def lock_for(cluster_pk: int):
    """A Redis lock per cluster so two workers never sync the same cluster at once (token not thread-local, so the
    renewing thread may extend it)."""
    return django_rq.get_connection("default").lock(f"fluxplane:sync:{cluster_pk}", timeout=LOCK_TIMEOUT,
                                                    blocking=False, thread_local=False)


def _renew(lock, stop: threading.Event) -> None:
    while not stop.wait(LOCK_RENEW_SECONDS):
        try:
            lock.reacquire()  # back to the full TTL; fails if the token is not ours any more
        except Exception as exc:  # noqa: BLE001 - the sync goes on; at worst a second sync overlaps (idempotent)
            logger.warning("could not renew the sync lock %s: %s", lock.name, exc)


def sync_cluster_locked(cluster_pk: int, progress: Callable[[str], None] = lambda _msg: None,
                        wait: float = 0, keep_unowned: bool = False) -> SyncResult:
    """Sync under the cluster's lock; ``wait`` seconds for a sync or a batch of watch deltas holding it."""
    cluster = Cluster.objects.get(pk=cluster_pk)
    lock = lock_for(cluster_pk)
    if not lock.acquire(blocking=wait > 0, blocking_timeout=wait or None):
        raise SyncInProgress(f"cluster {cluster.name} is being synced by another worker")
    stop = threading.Event()
    renewer = threading.Thread(target=_renew, args=(lock, stop), name=f"sync-lock-{cluster_pk}", daemon=True)
    renewer.start()
    try:
        return sync_cluster(cluster, progress, keep_unowned=keep_unowned)
    finally:
        stop.set()
        renewer.join(timeout=5)
        release(lock)


def release(lock) -> None:
    """Release a cluster lock; one that expired (or whose key vanished) is only logged: the work is done."""
    try:
        lock.release()
    except LockError as exc:
        logger.warning("cluster lock %s was no longer held on release: %s", lock.name, exc)
