"""Fluxplane's local cluster simulator: a Kubernetes API server that kubectl and the Python client accept.

A simulator for tests and the demo, not a Kubernetes distribution; see docs/simulator.md for what it
implements. It does not import Django, so it also runs standalone::

    sim = Simulator()
    url = sim.start()            # http://127.0.0.1:<ephemeral port>
    sim.store.create({...})      # the same store the HTTP API serves
    sim.add_controller(MyController())
    sim.stop()
"""

from __future__ import annotations

import os
import threading

from .controllers import Controller, ControllerRunner
from .errors import ApiError
from .faults import Faults
from .registry import Registry, ResourceType
from .server import SimHTTPServer
from .store import Event, Store, Watch
from .workloads import WorkloadController, pod_status, template_hash

__all__ = ["ApiError", "Controller", "Event", "Registry", "ResourceType", "Simulator", "Store", "Watch",
           "WorkloadController", "pod_status", "running", "template_hash"]

# Simulators serving in this process, by URL: a simulated kustomize-controller whose Kustomization has a
# spec.kubeConfig applies to the one its kubeconfig's server names (hub and spokes in one test or demo process).
_RUNNING: dict[str, Simulator] = {}
_RUNNING_LOCK = threading.Lock()


def running(url: str) -> Simulator | None:
    """The simulator serving ``url`` in this process, if any."""
    with _RUNNING_LOCK:
        return _RUNNING.get(str(url).rstrip("/"))


class Simulator:
    """A store, its HTTP API server thread and its controllers (workloads built in)."""

    def __init__(self, snapshot: str | None = None, workloads: bool = True, history: int = 50_000,
                 bookmark_seconds: float = 60.0) -> None:
        self.snapshot_path = snapshot
        self.bookmark_seconds = bookmark_seconds  # BOOKMARK interval of idle watches that allow them
        exists = snapshot is not None and os.path.exists(snapshot)
        self.store = Store(history=history, bootstrap=not exists)
        if exists:
            self.store.load(snapshot)  # type: ignore[arg-type]
        self._runners: list[ControllerRunner] = []
        self._server: SimHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url: str | None = None
        self.faults = Faults()  # outage / hold switches of the HTTP API (simulator/faults.py)
        if workloads:
            self.add_controller(WorkloadController())

    def add_controller(self, controller: Controller) -> Controller:
        """Run `controller` against the store; started at once if the simulator is running."""
        runner = ControllerRunner(self.store, controller)
        self._runners.append(runner)
        if self._server is not None:
            runner.start()
        return controller

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on host:port (0 = ephemeral) in a daemon thread; returns the base URL."""
        if self._server is not None:
            return self.url  # type: ignore[return-value]
        self._server = SimHTTPServer((host, port), self.store)
        self._server.bookmark_seconds = self.bookmark_seconds
        self._server.faults = self.faults
        self.url = f"http://{host}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="sim-http", daemon=True)
        self._thread.start()
        for r in self._runners:
            r.start()
        with _RUNNING_LOCK:
            _RUNNING[self.url] = self
        return self.url

    def record_requests(self) -> list[tuple[str, str, dict[str, str]]]:
        """Start recording every request the HTTP API receives (method, path, query); returns the live list
        (clear it to start over). Tests use it to compare what a client really asked with what RBAC grants."""
        assert self._server is not None, "start() the simulator first"
        self._server.audit = []
        return self._server.audit

    def serve_forever(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Blocking variant for the management command: serve until stop() is called from a signal."""
        self.start(host, port)
        assert self._thread is not None
        while self._thread.is_alive():
            self._thread.join(timeout=0.5)

    def stop(self, save: bool = True) -> None:
        """Stop serving, end watch streams and controllers; write the snapshot file if one was given."""
        with _RUNNING_LOCK:
            if self.url and _RUNNING.get(self.url) is self:
                del _RUNNING[self.url]
        self.faults.clear()  # a held request must not keep a server thread
        if self._server is not None:
            self._server.stopping.set()
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        for r in self._runners:
            r.stop()
        if save and self.snapshot_path:
            self.store.save(self.snapshot_path)

    def __enter__(self) -> Simulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
