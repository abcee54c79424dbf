"""Fault switches of the simulators (the GitHub API's, the Kubernetes API's), for the fault matrix (tests/faults)
and for trying Fluxplane by hand:

- ``outage(seconds, status)``: every API request answers ``status`` (a 5xx) until the time is up, as GitHub does
  during an incident; the repositories are untouched, so what happened before the outage is still there after.
- ``hold(method, path, when)``: the first request matching ``method`` and the ``path`` regex (searched in the API
  path, e.g. ``/pulls$``) is held ``before`` it is handled or ``after`` it was handled but before its answer is
  sent, until ``release()``. A test holds the request a worker is making, kills the worker, then releases: "after"
  leaves a write done on GitHub that the killed worker never heard of.

The switches are Python methods (the simulators run in the test's process) and, for a GitHub simulator started on
its own, ``POST /api/v3/_simulator/faults`` with ``{"outage": seconds, "status": 503}`` or ``{"clear": true}``.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field


@dataclass
class Hold:
    """One held request: ``reached`` is set once a matching request waits; ``release()`` lets it go on."""

    method: str
    path: re.Pattern[str]
    when: str  # "before" | "after"
    reached: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)
    held_path: str = ""

    def release(self) -> None:
        self.released.set()

    def wait_reached(self, timeout: float) -> bool:
        return self.reached.wait(timeout)


class Faults:
    """The switches of one simulator (thread-safe: the server answers each request on its own thread)."""

    HOLD_LIMIT_SECONDS = 600  # a forgotten hold never wedges a server thread for good

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._outage_until = 0.0
        self._outage_status = 503
        self._outage_methods: frozenset[str] = frozenset()
        self._holds: list[Hold] = []  # waiting for a request
        self._taken: list[Hold] = []  # holding one (clear() releases these too)
        self.answered_outage = 0  # requests answered with the outage's status, for the tests' figures

    # -- switches ------------------------------------------------------------------------------------------------
    def outage(self, seconds: float, status: int = 503, methods: tuple[str, ...] = ()) -> None:
        """Answer every API request (or only those with one of ``methods``) with ``status`` for ``seconds``."""
        if not 500 <= status <= 599:
            raise ValueError("an outage answers a 5xx status")
        with self._lock:
            self._outage_until = time.monotonic() + seconds
            self._outage_status = status
            self._outage_methods = frozenset(method.upper() for method in methods)

    def hold(self, method: str, path: str, when: str = "before") -> Hold:
        """Hold the next request matching ``method`` and the ``path`` regex (see the module docstring)."""
        if when not in ("before", "after"):
            raise ValueError("when is 'before' or 'after'")
        held = Hold(method.upper(), re.compile(path), when)
        with self._lock:
            self._holds.append(held)
        return held

    def clear(self) -> None:
        """End the outage and release every hold."""
        with self._lock:
            self._outage_until = 0.0
            holds, self._holds, self._taken = self._holds + self._taken, [], []
        for held in holds:
            held.release()

    # -- used by the request handler -----------------------------------------------------------------------------
    def outage_status(self, method: str) -> int | None:
        """The status to answer a ``method`` request now, or None when there is no outage."""
        with self._lock:
            if time.monotonic() < self._outage_until and (not self._outage_methods or method in self._outage_methods):
                self.answered_outage += 1
                return self._outage_status
        return None

    def take_hold(self, method: str, path: str, when: str) -> Hold | None:
        """The hold this request meets at ``when`` (taken: a hold catches one request), or None."""
        with self._lock:
            for held in self._holds:
                if held.when == when and held.method == method and held.path.search(path):
                    self._holds.remove(held)
                    self._taken.append(held)
                    held.held_path = path
                    return held
        return None

    def wait(self, held: Hold) -> None:
        held.reached.set()
        held.released.wait(self.HOLD_LIMIT_SECONDS)
