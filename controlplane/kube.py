"""The Kubernetes adapter: the only place that talks to the ``kubernetes`` client.

Models, jobs and admin use :class:`KubeAdapter` for a :class:`~controlplane.models.Cluster`. It speaks JSON over
the client's authenticated REST layer without deserialising into the client's model classes: syncing 60k objects
through generated models costs several times more than reading the JSON, and Fluxplane needs custom resources
(Flux kinds) as plain dicts anyway.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.config.config_exception import ConfigException
from urllib3.exceptions import HTTPError as Urllib3HTTPError

from controlplane import jsoncodec

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = (5, 60)  # connect, read (seconds)


class KubeError(Exception):
    """An API call failed with an HTTP status (``status``) and the server's message."""

    def __init__(self, status: int, reason: str, message: str):
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message


class KubeUnreachable(Exception):
    """The API server could not be reached (connection refused, DNS, TLS, timeout) or is misconfigured."""


@dataclass(frozen=True)
class ApiResource:
    """One resource type the server serves: where to list it and whether it is namespaced."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    verbs: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def collection_path(self, namespace: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if namespace and self.namespaced:
            return f"{base}/namespaces/{quote(namespace, safe='')}/{self.plural}"
        return f"{base}/{self.plural}"


@dataclass
class Discovery:
    """What the cluster serves: preferred version per group and the resource types of the versions read so far."""

    preferred: dict[str, str] = field(default_factory=dict)
    versions: dict[str, tuple[str, ...]] = field(default_factory=dict)
    resources: dict[tuple[str, str], list[ApiResource]] = field(default_factory=dict)


@dataclass
class ListResult:
    items: list[dict]
    resource_version: str


@dataclass(frozen=True)
class WatchEvent:
    type: str  # ADDED, MODIFIED, DELETED, BOOKMARK, ERROR
    object: dict


class KubeAdapter:
    """Narrow, typed access to one cluster's API server (list, get, patch, delete, watch, discovery)."""

    def __init__(self, cluster, timeout: tuple[float, float] = DEFAULT_TIMEOUT):
        self.cluster = cluster
        self.timeout = timeout
        self.api_client = self._build_client(cluster)
        self._discovery: Discovery | None = None

    @staticmethod
    def _build_client(cluster) -> k8s_client.ApiClient:
        connection = cluster.connection
        try:
            if connection == "simulator":
                configuration = k8s_client.Configuration(host=cluster.server_url.rstrip("/"))
                return k8s_client.ApiClient(configuration)
            if connection == "in-cluster":
                configuration = k8s_client.Configuration()
                k8s_config.load_incluster_config(client_configuration=configuration)
                return k8s_client.ApiClient(configuration)
            return k8s_config.new_client_from_config(
                config_file=cluster.kubeconfig_path, context=cluster.kubeconfig_context or None, persist_config=False
            )
        except (ConfigException, OSError) as exc:
            raise KubeUnreachable(f"cannot load the connection settings of cluster {cluster.name}: {exc}") from None

    def close(self) -> None:
        self.api_client.close()

    # ------------------------------------------------------------------ raw requests
    def _request(self, method: str, path: str, query: dict[str, Any] | None = None, body: Any = None,
                 content_type: str = "application/json", stream: bool = False, timeout=None, text: bool = False):
        query = {k: v for k, v in (query or {}).items() if v not in (None, "")}
        full_path = path + ("?" + urlencode(query) if query else "")
        # Logs are text/plain: the API server answers 406 to a log request that accepts only JSON.
        headers = {"Accept": "*/*" if text else "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        _method, url, headers, serialized, _ = self.api_client.param_serialize(
            method=method, resource_path=full_path, header_params=headers, body=body, auth_settings=["BearerToken"]
        )
        try:
            if stream:
                response = self.api_client.rest_client.pool_manager.request(
                    method, url, headers=headers, preload_content=False, timeout=timeout or self.timeout[0]
                )
                if response.status >= 400:
                    self._raise(response.status, response.reason, response.read())
                return response
            response = self.api_client.call_api(method, url, header_params=headers, body=serialized,
                                                _request_timeout=timeout or self.timeout)
        except (Urllib3HTTPError, OSError) as exc:
            raise KubeUnreachable(f"cannot reach the API server of cluster {self.cluster.name}: {exc}") from None
        data = response.read()
        if response.status >= 400:
            self._raise(response.status, response.reason, data)
        if text:
            return data.decode(errors="replace")
        return jsoncodec.loads(data) if data else {}

    @staticmethod
    def _raise(status: int, reason: str, data: bytes):
        message = ""
        try:
            message = json.loads(data).get("message", "")
        except (ValueError, AttributeError):
            message = (data or b"")[:300].decode(errors="replace")
        raise KubeError(status, reason or "", message)

    # ------------------------------------------------------------------ discovery
    def discovery(self) -> Discovery:
        """Groups and preferred versions (one request); resource lists are fetched per group version on demand."""
        if self._discovery is None:
            disc = Discovery()
            disc.preferred[""] = "v1"
            disc.versions[""] = ("v1",)
            for group in self._request("GET", "/apis").get("groups", []):
                disc.preferred[group["name"]] = group.get("preferredVersion", {}).get("version", "")
                disc.versions[group["name"]] = tuple(v["version"] for v in group.get("versions", []))
            self._discovery = disc
        return self._discovery

    def resources(self, group: str, version: str) -> list[ApiResource]:
        disc = self.discovery()
        key = (group, version)
        if key not in disc.resources:
            path = f"/apis/{group}/{version}" if group else f"/api/{version}"
            try:
                listing = self._request("GET", path)
            except KubeError as exc:
                if exc.status != 404:
                    raise
                listing = {}
            disc.resources[key] = [
                ApiResource(group, version, r["kind"], r["name"], bool(r.get("namespaced")), tuple(r.get("verbs", ())))
                for r in listing.get("resources", [])
                if "/" not in r["name"]  # subresources such as deployments/status
            ]
        return disc.resources[key]

    def find_resource(self, group: str, kind: str, versions: tuple[str, ...] = ()) -> ApiResource | None:
        """The resource for (group, kind) at the first served version of ``versions`` (else the preferred one)."""
        disc = self.discovery()
        served = disc.versions.get(group)
        if not served:
            return None
        candidates = [v for v in versions if v in served] or [disc.preferred.get(group) or served[0]]
        for version in candidates:
            for resource in self.resources(group, version):
                if resource.kind == kind:
                    return resource
        return None

    # ------------------------------------------------------------------ verbs
    def list(self, resource: ApiResource, namespace: str | None = None, label_selector: str | None = None,
             field_selector: str | None = None, page_size: int = 5000) -> ListResult:
        """Every object of a resource type (paged with limit/continue), as dicts with apiVersion and kind set."""
        items: list[dict] = []
        token = None
        resource_version = ""
        while True:
            body = self._request("GET", resource.collection_path(namespace), {
                "labelSelector": label_selector, "fieldSelector": field_selector, "limit": page_size,
                "continue": token,
            })
            for item in body.get("items", []):
                item.setdefault("apiVersion", resource.api_version)
                item.setdefault("kind", resource.kind)
                items.append(item)
            resource_version = body.get("metadata", {}).get("resourceVersion", resource_version)
            token = body.get("metadata", {}).get("continue")
            if not token:
                return ListResult(items, resource_version)

    def get(self, resource: ApiResource, namespace: str | None, name: str) -> dict:
        return self._request("GET", f"{resource.collection_path(namespace)}/{quote(name, safe='')}")

    def patch(self, resource: ApiResource, namespace: str | None, name: str, body: Any,
              patch_type: str = "merge") -> dict:
        content_type = {
            "merge": "application/merge-patch+json",
            "json": "application/json-patch+json",
            "strategic": "application/strategic-merge-patch+json",
        }[patch_type]
        return self._request("PATCH", f"{resource.collection_path(namespace)}/{quote(name, safe='')}", body=body,
                             content_type=content_type)

    def delete(self, resource: ApiResource, namespace: str | None, name: str, uid: str = "") -> dict:
        """Delete one object; with ``uid``, only that very object (the server answers 409 when the name now
        belongs to another one, e.g. recreated since it was listed)."""
        body = {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": {"uid": uid}} if uid else None
        return self._request("DELETE", f"{resource.collection_path(namespace)}/{quote(name, safe='')}", body=body)

    def watch(self, resource: ApiResource, resource_version: str, label_selector: str | None = None,
              timeout_seconds: int = 300) -> Iterator[WatchEvent]:
        """Open a watch stream after ``resource_version`` (the request is made before this returns) and iterate
        its events until the server closes it. A KubeError with status 410 means the version expired and the
        caller must list again."""
        response = self._request("GET", resource.collection_path(), {
            "watch": "1", "resourceVersion": resource_version, "labelSelector": label_selector,
            "timeoutSeconds": timeout_seconds, "allowWatchBookmarks": "true",
        }, stream=True, timeout=timeout_seconds + 10)
        return self._events(response)

    def _events(self, response) -> Iterator[WatchEvent]:
        buffer = b""
        try:
            for chunk in response.stream(4096, decode_content=True):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if not line.strip():
                        continue
                    event = jsoncodec.loads(line)
                    if event.get("type") == "ERROR":
                        status = event.get("object", {})
                        raise KubeError(status.get("code", 500), status.get("reason", ""), status.get("message", ""))
                    yield WatchEvent(event["type"], event["object"])
        except (Urllib3HTTPError, OSError) as exc:
            raise KubeUnreachable(f"watch on cluster {self.cluster.name} broke: {exc}") from None
        finally:
            response.release_conn()

    # ------------------------------------------------------------------ what a page shows live
    def pod_log(self, namespace: str, pod: str, container: str, tail_lines: int = 100,
                timestamps: bool = True) -> list[str]:
        """The last ``tail_lines`` lines of one container's log (``kubectl logs --tail``), oldest first."""
        body = self._request("GET", f"/api/v1/namespaces/{quote(namespace, safe='')}/pods/{quote(pod, safe='')}/log",
                             {"container": container, "tailLines": tail_lines,
                              "timestamps": "true" if timestamps else None}, text=True)
        return body.splitlines()

    def events_for(self, kind: str, namespace: str, name: str, limit: int = 100) -> list[dict]:
        """Events about one object (core/v1 ``involvedObject`` and, when served, events.k8s.io/v1 ``regarding``),
        as plain dicts (:func:`normalize_event`), newest first. A real API server serves the same Events under both
        groups: they are deduplicated by uid."""
        core = {"involvedObject.kind": kind, "involvedObject.name": name}
        found: dict[str, dict] = {}
        for group, version, fields in (("", "v1", core),
                                       ("events.k8s.io", "v1", {"regarding.kind": kind, "regarding.name": name})):
            if group and "v1" not in self.discovery().versions.get(group, ()):
                continue
            path = f"/apis/{group}/{version}" if group else f"/api/{version}"
            selector = ",".join(f"{k}={v}" for k, v in fields.items())
            body = self._request("GET", f"{path}/namespaces/{quote(namespace, safe='')}/events",
                                 {"fieldSelector": selector, "limit": 500})
            for item in body.get("items", []):
                event = normalize_event(item)
                found.setdefault(event["uid"] or f"{group}/{event['name']}", event)
        # Newest first; within one second, the later written (a higher resourceVersion) first.
        return sorted(found.values(), key=lambda e: (e["last"], e["order"]), reverse=True)[:limit]


def normalize_event(item: dict) -> dict:
    """One Event of either API (core/v1 or events.k8s.io/v1) as type, reason, message, count, first and last seen
    (RFC 3339 strings, sortable), and who reported it."""
    meta = item.get("metadata") or {}
    series = item.get("series") or {}
    if "regarding" in item or "note" in item:  # events.k8s.io/v1
        count = int(series.get("count") or item.get("deprecatedCount") or 1)
        last = (series.get("lastObservedTime") or item.get("eventTime") or item.get("deprecatedLastTimestamp")
                or meta.get("creationTimestamp") or "")
        first = item.get("eventTime") or item.get("deprecatedFirstTimestamp") or last
        message, source = item.get("note") or "", item.get("reportingController") or ""
    else:
        count = int(item.get("count") or series.get("count") or 1)
        last = (item.get("lastTimestamp") or series.get("lastObservedTime") or item.get("eventTime")
                or meta.get("creationTimestamp") or "")
        first = item.get("firstTimestamp") or item.get("eventTime") or last
        message = item.get("message") or ""
        source = (item.get("source") or {}).get("component") or item.get("reportingComponent") or ""
    version = str(meta.get("resourceVersion") or "")
    return {"uid": meta.get("uid", ""), "name": meta.get("name", ""), "type": item.get("type") or "Normal",
            "order": int(version) if version.isdigit() else 0, "reason": item.get("reason") or "",
            "message": message, "count": count, "first": str(first),
            "last": str(last), "source": source}
