"""In-process controllers: a base class with a work queue, driven by store watches and periodic resyncs."""

from __future__ import annotations

import logging
import threading
import time

from .store import Event, Store

log = logging.getLogger(__name__)


class Controller:
    """Subclass and set `resources` (storage keys or names the store resolves) and implement `reconcile`.

    `handle(event)` maps each watched event to the keys to reconcile (default: the object itself);
    `reconcile(key)` must be idempotent — the store skips no-op writes, so a controller that writes only
    what changed does not loop on its own events. `resync()` runs every `resync_seconds` for time-driven
    work (deadlines, delays).
    """

    resources: tuple[str, ...] = ()
    resync_seconds: float = 1.0

    def __init__(self) -> None:
        self.store: Store | None = None
        self._queue: list[tuple[str, str, str]] = []
        self._queued: set[tuple[str, str, str]] = set()

    def handle(self, event: Event) -> None:
        m = event.obj["metadata"]
        self.enqueue(event.key, m.get("namespace", ""), m["name"])

    def enqueue(self, key: str, namespace: str, name: str) -> None:
        item = (key, namespace or "", name)
        if item not in self._queued:
            self._queued.add(item)
            self._queue.append(item)

    def reconcile(self, key: str, namespace: str, name: str) -> None:
        raise NotImplementedError

    def resync(self) -> None:
        """Periodic hook; default does nothing."""

    def started(self) -> None:
        """Called once when the runner starts, before any event; e.g. enqueue existing objects."""

    def drain(self) -> None:
        while self._queue:
            item = self._queue.pop(0)
            self._queued.discard(item)
            try:
                self.reconcile(*item)
            except Exception:  # noqa: BLE001 - a controller bug must not kill the loop; log and go on
                log.exception("controller %s failed on %s", type(self).__name__, item)


class ControllerRunner:
    """Runs one controller in a daemon thread until stopped."""

    def __init__(self, store: Store, controller: Controller) -> None:
        self.store = store
        self.controller = controller
        controller.store = store
        self._stop = threading.Event()
        # Start from "now": objects loaded before the controller started (snapshots, generator output) are
        # complete already, and replaying 60k of them would make start-up slow.
        self._watch, backlog = store.watch(controller.resources or None, resource_version=store.resource_version)
        for ev in backlog:
            controller.handle(ev)
        controller.started()
        self._thread = threading.Thread(target=self._run, name=f"sim-{type(controller).__name__}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        c = self.controller
        next_resync = time.monotonic() + c.resync_seconds
        while not self._stop.is_set():
            ev = self._watch.next(timeout=max(0.0, min(0.2, next_resync - time.monotonic())))
            while ev is not None:
                c.handle(ev)
                ev = self._watch.next(timeout=0)
            with self.store._lock:  # one reconcile pass at a time keeps multi-object writes consistent
                c.drain()
            if time.monotonic() >= next_resync:
                next_resync = time.monotonic() + c.resync_seconds
                try:
                    with self.store._lock:
                        c.resync()
                        c.drain()
                except Exception:  # noqa: BLE001 - keep the loop alive, as above
                    log.exception("controller %s resync failed", type(c).__name__)

    def stop(self) -> None:
        self._stop.set()
        self._watch.close()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
