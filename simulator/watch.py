"""Watch plumbing: change events, stored entries with cached encodings, and subscriber queues."""

from __future__ import annotations

import collections
import json
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .store import Store


@dataclass
class Event:
    """One change: type is ADDED, MODIFIED or DELETED; obj is the stored (read-only) object."""

    type: str
    key: str  # storage key `group/plural`
    obj: dict
    rv: int
    old: dict | None = None  # the object before a MODIFIED event, so a selector watch can see it leave or enter


class Entry:
    """A stored object plus its cached JSON encoding."""

    __slots__ = ("obj", "raw")

    def __init__(self, obj: dict) -> None:
        self.obj = obj
        self.raw: bytes | None = None

    def encoded(self) -> bytes:
        if self.raw is None:
            self.raw = json.dumps(self.obj, separators=(",", ":")).encode()
        return self.raw


class Watch:
    """A subscription to store events; iterate with `next(timeout)`; always `close()` it."""

    def __init__(self, store: Store, keys: set[str] | None, namespace: str | None) -> None:
        self._store = store
        self.keys = keys
        self.namespace = namespace
        self._queue: collections.deque[Event] = collections.deque()
        self._cond = threading.Condition()
        self.closed = False

    def accepts(self, ev: Event) -> bool:
        if self.keys is not None and ev.key not in self.keys:
            return False
        return self.namespace is None or ev.obj["metadata"].get("namespace") == self.namespace

    def push(self, ev: Event) -> None:
        with self._cond:
            self._queue.append(ev)
            self._cond.notify()

    def pending(self) -> int:
        with self._cond:
            return len(self._queue)

    def next(self, timeout: float | None = None) -> Event | None:
        """The next event, or None after `timeout` seconds or once closed."""
        with self._cond:
            if not self._queue and not self.closed:
                self._cond.wait(timeout)
            return self._queue.popleft() if self._queue else None

    def close(self) -> None:
        self._store._unsubscribe(self)
        with self._cond:
            self.closed = True
            self._cond.notify_all()
