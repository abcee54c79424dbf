"""Watch-based incremental updates: a change in the cluster triggers a (debounced) sync within seconds.

The periodic sync stays the source of correctness; watches only make changes visible sooner. Each watched
resource type gets a thread that lists once for a resourceVersion and then streams events; any event marks the
cluster dirty, and a debounce thread calls ``on_change`` once the burst has settled (a rollout produces dozens
of events, which should cost one sync, not dozens).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from controlplane.kube import ApiResource, KubeAdapter, KubeError, KubeUnreachable
from controlplane.models import Cluster
from graph.kinds import FLUX_KINDS

logger = logging.getLogger(__name__)

WATCHED_CHILD_KINDS = (("apps", "Deployment"), ("apps", "ReplicaSet"), ("", "Pod"), ("apps", "StatefulSet"),
                       ("apps", "DaemonSet"), ("batch", "Job"))


class ClusterWatcher:
    """Watches one cluster's Flux kinds and workloads and calls ``on_change(cluster_pk)`` after changes settle."""

    def __init__(self, cluster: Cluster, on_change: Callable[[int], object], debounce: float = 1.0,
                 max_delay: float = 5.0, retry_seconds: float = 5.0):
        self.cluster = cluster
        self.on_change = on_change
        self.debounce = debounce
        self.max_delay = max_delay
        self.retry_seconds = retry_seconds
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._first_dirty: float | None = None
        self._last_event = 0.0
        self._threads: list[threading.Thread] = []
        self._open_streams: set[str] = set()
        self._resources = 0
        self.events_seen = 0

    def start(self) -> None:
        adapter = KubeAdapter(self.cluster)
        resources: list[ApiResource] = []
        try:
            for kind in FLUX_KINDS:
                resource = adapter.find_resource(kind.group, kind.kind, kind.versions)
                if resource is not None:
                    resources.append(resource)
            for group, kind in WATCHED_CHILD_KINDS:
                resource = adapter.find_resource(group, kind)
                if resource is not None:
                    resources.append(resource)
        finally:
            adapter.close()
        self._resources = len(resources)
        for resource in resources:
            thread = threading.Thread(target=self._watch_loop, args=(resource,), daemon=True,
                                      name=f"watch-{self.cluster.name}-{resource.plural}")
            thread.start()
            self._threads.append(thread)
        debouncer = threading.Thread(target=self._debounce_loop, daemon=True, name=f"watch-{self.cluster.name}")
        debouncer.start()
        self._threads.append(debouncer)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop watching; waits for a sync started by a change to finish (so nothing writes after stop)."""
        self._stop.set()
        for thread in self._threads:
            if thread.name == f"watch-{self.cluster.name}":  # the debounce thread, which runs the syncs
                thread.join(timeout)

    @property
    def established(self) -> bool:
        """True once every watched resource has an open stream (changes from now on are seen)."""
        with self._lock:
            return self._resources > 0 and len(self._open_streams) == self._resources

    def _mark_dirty(self) -> None:
        with self._lock:
            now = time.monotonic()
            self.events_seen += 1
            self._last_event = now
            if self._first_dirty is None:
                self._first_dirty = now

    def _watch_loop(self, resource: ApiResource) -> None:
        while not self._stop.is_set():
            adapter = None
            try:
                adapter = KubeAdapter(self.cluster)
                version = adapter.list(resource).resource_version
                events = adapter.watch(resource, version, timeout_seconds=60)
                with self._lock:
                    self._open_streams.add(resource.plural)
                for _event in events:
                    if self._stop.is_set():
                        return
                    self._mark_dirty()
            except KubeError as exc:
                if exc.status == 410:  # resourceVersion expired: list again, and re-sync to catch up
                    self._mark_dirty()
                    continue
                logger.warning("watch %s on %s: %s", resource.plural, self.cluster.name, exc)
                self._stop.wait(self.retry_seconds)
            except KubeUnreachable as exc:
                logger.info("watch %s on %s: %s; retrying", resource.plural, self.cluster.name, exc)
                self._stop.wait(self.retry_seconds)
            finally:
                if adapter is not None:
                    adapter.close()

    def _debounce_loop(self) -> None:
        while not self._stop.wait(0.2):
            with self._lock:
                first, last = self._first_dirty, self._last_event
                now = time.monotonic()
                due = first is not None and (now - last >= self.debounce or now - first >= self.max_delay)
                if due:
                    self._first_dirty = None
            if due:
                try:
                    self.on_change(self.cluster.pk)
                except Exception:  # noqa: BLE001 - a failed sync must not stop watching
                    logger.exception("sync after watch event failed for cluster %s", self.cluster.name)
