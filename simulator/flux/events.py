"""Kubernetes Events for reconcile outcomes, and optional notification-controller style webhook posts."""

from __future__ import annotations

import json
import logging
import queue
import threading
import urllib.request
import uuid

from .. import errors
from ..store import Store, clone
from .common import rfc3339

log = logging.getLogger(__name__)


class EventRecorder:
    """Writes core/v1 Events the way client-go's recorder does (aggregating repeats into `count`), and
    optionally forwards each one as a Flux event to a generic-webhook URL.

    The webhook is posted from a worker thread: the controllers run under the store lock and must never
    wait on the network. Delivery errors are logged and dropped, as a best-effort notifier does.
    """

    def __init__(self, store: Store, webhook_url: str | None = None) -> None:
        self.store = store
        self.webhook_url = webhook_url
        self._seen: dict[tuple, str] = {}
        self._outbox: queue.Queue[dict | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        if webhook_url:
            self._thread = threading.Thread(target=self._post_loop, name="sim-flux-events", daemon=True)
            self._thread.start()

    def record(self, obj: dict, type_: str, reason: str, message: str, component: str,
               revision: str | None = None) -> None:
        """One event about `obj` (type Normal or Warning); never raises."""
        try:
            self._write(obj, type_, reason, message, component)
        except errors.ApiError as e:  # e.g. the namespace is being deleted
            log.debug("event for %s not recorded: %s", obj["metadata"].get("name"), e)
        if self.webhook_url:
            self._outbox.put(self.payload(obj, type_, reason, message, component, revision))

    def _write(self, obj: dict, type_: str, reason: str, message: str, component: str) -> None:
        meta = obj["metadata"]
        ns = meta.get("namespace") or "default"
        key = (obj["kind"], ns, meta["name"], meta.get("uid"), reason, message, type_)
        ts = rfc3339()
        name = self._seen.get(key)
        if name is not None:
            ev = self.store.peek("events", ns, name)
            if ev is not None:
                new = clone(ev)
                new["count"] = int(ev.get("count", 1)) + 1
                new["lastTimestamp"] = ts
                self.store.update(new)
                return
        name = f"{meta['name']}.{uuid.uuid4().hex[:16]}"
        if len(self._seen) > 20_000:
            self._seen.clear()  # bounded memory: a forgotten key only means a new Event instead of count+1
        self._seen[key] = name
        self.store.create({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": ns},
            "involvedObject": {"apiVersion": obj.get("apiVersion"), "kind": obj["kind"], "name": meta["name"],
                               "namespace": ns, "uid": meta.get("uid"),
                               "resourceVersion": meta.get("resourceVersion")},
            "reason": reason, "message": message, "type": type_,
            "source": {"component": component}, "reportingComponent": component,
            "reportingInstance": f"{component}-sim",
            "count": 1, "firstTimestamp": ts, "lastTimestamp": ts, "eventTime": None,
        })

    @staticmethod
    def payload(obj: dict, type_: str, reason: str, message: str, component: str,
                revision: str | None = None) -> dict:
        """The body notification-controller's generic provider posts (fluxcd/pkg apis/event v1beta1.Event)."""
        meta = obj["metadata"]
        body: dict = {
            "involvedObject": {"kind": obj["kind"], "namespace": meta.get("namespace", ""), "name": meta["name"],
                               "uid": meta.get("uid", ""), "apiVersion": obj.get("apiVersion", ""),
                               "resourceVersion": meta.get("resourceVersion", "")},
            "severity": "error" if type_ == "Warning" else "info",
            "timestamp": rfc3339(), "message": message, "reason": reason,
            "reportingController": component, "reportingInstance": f"{component}-sim",
        }
        if revision:
            body["metadata"] = {"revision": revision}
        return body

    def _post_loop(self) -> None:
        while True:
            body = self._outbox.get()
            if body is None:
                return
            try:
                req = urllib.request.Request(self.webhook_url or "", data=json.dumps(body).encode(), method="POST",
                                             headers={"Content-Type": "application/json",
                                                      "User-Agent": "notification-controller/sim"})
                with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310 - URL is configuration
                    resp.read()
            except Exception as e:  # noqa: BLE001 - a notifier must never take the simulator down
                log.warning("posting Flux event to %s failed: %s", self.webhook_url, e)

    def close(self) -> None:
        if self._thread is not None:
            self._outbox.put(None)
            self._thread.join(timeout=2)
