"""The informer: list once, then watch from that resourceVersion and apply every event to the mirror as a delta.

A :class:`ClusterWatcher` starts with a full sync (graph.sync, which writes only what differs from the mirror) and
keeps the resourceVersion each resource was listed at. With ``list_in_child`` (what ``manage.py watch_clusters``
does) that sync runs in a short-lived child process (graph.firstlist), so the watcher never holds a whole cluster's
objects: its memory is its streams and one batch. One thread per watched resource streams events from there
(``allowWatchBookmarks``: bookmarks move the version on while nothing changes) and, when the server ends the stream,
resumes from the last version seen — no re-list. Only ``410 Gone`` (the version left the server's history) costs a
re-list: a full sync that reconciles the difference, after which the stream resumes from the new version.

An applier thread takes the queued events in batches of a short window (``window``, tens of ms; more at once when it
is behind) and applies each batch in one transaction under the cluster's Redis lock (graph.delta), so a periodic
full sync by a worker never interleaves with a batch.
"""

from __future__ import annotations

import logging
import queue
import threading
import time

from django.db import close_old_connections, connections

from controlplane.kube import ApiResource, KubeAdapter, KubeError, KubeUnreachable
from controlplane.models import Cluster
from graph import firstlist, remote
from graph.delta import DeltaResult, Parked, apply_events
from graph.kinds import DEFAULT_MANAGED_KINDS, FLUX_KINDS, OWNED_CHILD_KINDS, OWNER_LABELS
from graph.sync import SyncInProgress, SyncResult, lock_for, mirror_changed, release, sync_cluster_locked

logger = logging.getLogger(__name__)

LOCK_WAIT = 120  # seconds a batch waits for a full sync holding the cluster's lock
OPEN_WAIT = 60  # seconds start() waits for the streams to open
# What the watcher watches: every Flux kind, the managed kinds (with each Flux label selector) and owned children.
WATCHED_KINDS: tuple[tuple[str, str], ...] = (
    *((k.group, k.kind) for k in FLUX_KINDS), *DEFAULT_MANAGED_KINDS, *OWNED_CHILD_KINDS)
# The kinds besides the Flux ones (graph.apiaccess grants the watcher list and watch on them).
WATCHED_CHILD_KINDS: tuple[tuple[str, str], ...] = (*DEFAULT_MANAGED_KINDS, *OWNED_CHILD_KINDS)


class ClusterWatcher:
    """Keeps one cluster's mirror current from its watch streams (see the module docstring)."""

    def __init__(self, cluster: Cluster, window: float = 0.03, max_batch: int = 2000, retry_seconds: float = 5.0,
                 watch_timeout: int = 300, list_in_child: bool = False):
        self.cluster = cluster
        self.list_in_child = list_in_child
        self.window = window
        self.max_batch = max_batch
        self.retry_seconds = retry_seconds
        self.watch_timeout = watch_timeout
        self.parked = Parked()
        self._versions: dict[str, str] = {}
        self._queue: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._resync_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._open_streams: set[str] = set()
        self._streams = 0
        # Counters for tests, logs and benchmarks.
        self.events_seen = 0
        self.events_applied = 0
        self.batches = 0
        self.resyncs = 0
        self.reconnects = 0
        self.lists_in_child = 0
        self.child_list: firstlist.FirstList | None = None  # the last list done in a child process
        self.relinks = 0
        self.last: DeltaResult | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """List once (a full sync, unless one was done already), then open the streams and the applier."""
        if not self.resyncs:
            self._resync()
        adapter = KubeAdapter(self.cluster)
        streams: list[tuple[ApiResource, str | None]] = []
        try:
            for kind in FLUX_KINDS:
                resource = adapter.find_resource(kind.group, kind.kind, kind.versions)
                if resource is not None:
                    streams.append((resource, None))
            for group, kind in DEFAULT_MANAGED_KINDS:
                resource = adapter.find_resource(group, kind)
                if resource is not None and "watch" in resource.verbs and (resource, None) not in streams:
                    streams += [(resource, label) for label, _ns, _group, _kind in OWNER_LABELS]
            for group, kind in OWNED_CHILD_KINDS:
                resource = adapter.find_resource(group, kind)
                if resource is not None:
                    streams.append((resource, None))
        finally:
            adapter.close()
        # Only what the sync could list: a kind it was refused is not watched either.
        streams = [(r, s) for r, s in streams if f"{r.group}/{r.plural}" in self._versions]
        self._streams = len(streams)
        for resource, selector in streams:
            self._spawn(self._stream, (resource, selector), f"{resource.plural}{'/' + selector if selector else ''}")
        self._spawn(self._apply_loop, (), "apply")
        # Return once every stream is open (events after the list are replayed either way; this makes "watching"
        # mean that changes now show up at once). A stream that cannot open keeps retrying in its thread.
        deadline = time.monotonic() + OPEN_WAIT
        while not self.established and time.monotonic() < deadline and not self._stop.is_set():
            time.sleep(0.05)
        if not self.established:
            logger.warning("cluster %s: %d of %d watch streams open after %ss", self.cluster.name,
                           len(self._open_streams), self._streams, OPEN_WAIT)

    def _spawn(self, target, args, name: str) -> None:
        thread = threading.Thread(target=self._guard, args=(target, args), daemon=True,
                                  name=f"watch-{self.cluster.name}-{name}")
        thread.start()
        self._threads.append(thread)

    def _guard(self, target, args) -> None:
        try:
            target(*args)
        finally:
            connections.close_all()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop watching; waits for the batch being applied (nothing writes after stop returns)."""
        self._stop.set()
        for thread in self._threads:
            if thread.name.endswith("-apply"):
                thread.join(timeout)

    @property
    def established(self) -> bool:
        """True once every stream is open (changes from now on are seen)."""
        with self._lock:
            return self._streams > 0 and len(self._open_streams) == self._streams

    @property
    def behind(self) -> int:
        """Events received and not applied yet."""
        return self._queue.qsize()

    # ------------------------------------------------------------------ list (and re-list on 410)
    def _resync(self, seen: int | None = None) -> None:
        """A full sync under the cluster lock. ``seen``: the re-list count the caller's version came from; when
        another stream re-listed since (several streams meet 410 at once), its versions serve and nothing is listed."""
        with self._resync_lock:
            if seen is not None and self.resyncs > seen:
                return
            in_child = self.list_in_child and firstlist.supported()
            while True:
                try:
                    if in_child:
                        result: SyncResult | firstlist.FirstList = firstlist.sync_in_child(self.cluster.pk, LOCK_WAIT)
                    else:
                        result = sync_cluster_locked(self.cluster.pk, wait=LOCK_WAIT, keep_unowned=True)
                    break
                except SyncInProgress:
                    if self._stop.is_set():
                        return
            with self._lock:
                self.parked = Parked(result.unowned)
                self._versions.update(result.resource_versions)
                self.resyncs += 1
                if in_child:
                    self.lists_in_child += 1
                    self.child_list = result

    # ------------------------------------------------------------------ streams
    def _stream(self, resource: ApiResource, selector: str | None) -> None:
        key = f"{resource.group}/{resource.plural}"
        name = f"{resource.plural}/{selector or ''}"
        with self._lock:
            version, generation = self._versions[key], self.resyncs
        while not self._stop.is_set():
            adapter = None
            try:
                adapter = KubeAdapter(self.cluster)
                events = adapter.watch(resource, version, label_selector=selector, timeout_seconds=self.watch_timeout)
                with self._lock:
                    self._open_streams.add(name)
                for event in events:
                    if self._stop.is_set():
                        return
                    seen = (event.object.get("metadata") or {}).get("resourceVersion")
                    if event.type != "BOOKMARK":
                        self._queue.put((event.type, event.object))
                        with self._lock:
                            self.events_seen += 1
                    version = seen or version
                # The server ended the stream (its timeout): resume from the last version seen, no re-list.
                self.reconnects += 1
            except KubeError as exc:
                if exc.status == 410:  # the version left the server's history: re-list and reconcile
                    logger.info("watch %s on %s: %s; re-listing", name, self.cluster.name, exc)
                    self._resync(generation)
                    with self._lock:
                        version, generation = self._versions.get(key, version), self.resyncs
                    continue
                logger.warning("watch %s on %s: %s", name, self.cluster.name, exc)
                self._stop.wait(self.retry_seconds)
            except KubeUnreachable as exc:
                logger.info("watch %s on %s: %s; retrying", name, self.cluster.name, exc)
                self._stop.wait(self.retry_seconds)
            finally:
                if adapter is not None:
                    adapter.close()

    # ------------------------------------------------------------------ the applier
    def _next_batch(self) -> list[tuple[str, dict]]:
        try:
            batch = [self._queue.get(timeout=0.2)]
        except queue.Empty:
            return []
        deadline = time.monotonic() + self.window
        while len(batch) < self.max_batch:
            left = deadline - time.monotonic()
            try:
                batch.append(self._queue.get(timeout=left) if left > 0 else self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _apply_loop(self) -> None:
        while not self._stop.is_set():
            batch = self._next_batch()
            if not batch:
                continue
            close_old_connections()
            lock = lock_for(self.cluster.pk)
            if not lock.acquire(blocking=True, blocking_timeout=LOCK_WAIT):
                logger.warning("cluster %s: lock busy for %ss; %d events wait", self.cluster.name, LOCK_WAIT,
                               len(batch))
                for item in batch:
                    self._queue.put(item)
                continue
            try:
                with self._lock:
                    parked = self.parked
                result = apply_events(self.cluster, batch, parked)
                if result.changed and remote.relink_after_delta(self.cluster):
                    self.relinks += 1
            except Exception:  # noqa: BLE001 - a failed batch must not stop watching: re-list to converge
                logger.exception("cluster %s: applying %d watch events failed; re-listing", self.cluster.name,
                                 len(batch))
                release(lock)
                self._resync()
                continue
            else:
                release(lock)
            with self._lock:
                self.events_applied += len(batch)
                self.batches += 1
                self.last = result
            if result.alerts_due:
                mirror_changed(self.cluster)
