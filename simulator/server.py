"""The HTTP front end: routes Kubernetes API requests to the store (stdlib http.server, HTTP/1.1)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import discovery, errors, podlogs
from .faults import Faults
from .registry import ResourceType
from .selectors import SelectorError
from .store import Event, Store
from .tables import to_table

JSON = "application/json"


class SimHTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer carrying the store and a stop flag that ends open watch streams."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr: tuple[str, int], store: Store) -> None:
        super().__init__(addr, Handler)
        self.store = store
        self.stopping = threading.Event()
        # (method, path, query) of every request while recording (Simulator.record_requests): what a client did
        self.audit: list[tuple[str, str, dict[str, str]]] | None = None
        # How often a watch with allowWatchBookmarks gets a BOOKMARK while idle (the real server: about a minute).
        self.bookmark_seconds = 60.0
        self.faults = Faults()  # outage / hold switches (simulator/faults.py)


class Handler(BaseHTTPRequestHandler):
    """One request: discovery, OpenAPI, or a resource verb (watch streams with chunked encoding)."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate small writes; with Nagle's algorithm and the client's delayed ACK each
    # response would wait ~40 ms.
    disable_nagle_algorithm = True
    server: SimHTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature fixed by the base class
        pass  # quiet: tests and benchmarks issue thousands of requests

    # ------------------------------------------------------------ plumbing
    def _send(self, code: int, body: bytes, ctype: str = JSON) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, code: int, obj: Any) -> None:
        self._send(code, json.dumps(obj, separators=(",", ":")).encode())

    def _error(self, err: errors.ApiError) -> None:
        self._json(err.code, err.status())

    def _body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _parsed_body(self, ctype: str) -> Any:
        raw = self._body()
        if not raw:
            return None
        if "protobuf" in ctype or "cbor" in ctype:
            # Only JSON (and YAML for server-side apply) is decoded; typed protobuf bodies (kubectl create's
            # generators) would need every built-in schema.
            raise errors.ApiError(415, "UnsupportedMediaType", f"the body of the request was in an unknown format - "
                                  f"accepted media types include: application/json, application/yaml ({ctype})")
        try:
            if "yaml" in ctype:
                import yaml  # only server-side apply sends YAML

                return yaml.safe_load(raw)
            return json.loads(raw)
        except ValueError as e:
            raise errors.bad_request(f"the body of the request could not be decoded: {e}") from e

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET  # noqa: N815

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        self.q = {k: v[-1] for k, v in parse_qs(url.query).items()}
        if self.server.audit is not None:
            self.server.audit.append((self.command, url.path, dict(self.q)))
        parts = [p for p in url.path.split("/") if p]
        try:
            held = self.server.faults.take_hold(self.command, url.path, "before")
            if held is not None:
                self.server.faults.wait(held)
            status = self.server.faults.outage_status(self.command)
            if status is not None:
                raise errors.ApiError(status, "ServiceUnavailable", "the server is currently unable to handle the "
                                      "request (simulated outage)")
            if self.command in ("POST", "PUT", "PATCH") or self.command == "DELETE":
                ctype = self.headers.get("Content-Type", JSON)
                self.body = self._parsed_body(ctype)
            else:
                self._body()
                self.body = None
            self._route(parts)
        except errors.ApiError as e:
            self._error(e)
        except SelectorError as e:
            self._error(errors.bad_request(str(e)))
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as e:  # noqa: BLE001 - report as a 500 Status like the API server, keep serving
            self._error(errors.ApiError(500, "InternalError", f"simulator error: {type(e).__name__}: {e}"))

    # ------------------------------------------------------------ routing
    def _route(self, parts: list[str]) -> None:
        reg = self.server.store.registry
        if not parts or parts[0] in ("healthz", "readyz", "livez"):
            self._send(200, b"ok", "text/plain")
            return
        if parts == ["version"]:
            self._json(200, discovery.VERSION)
            return
        if parts[0] == "openapi":
            self._openapi(parts[1:])
            return
        if parts[0] == "api":
            if len(parts) == 1:
                host = f"{self.server.server_address[0]}:{self.server.server_address[1]}"
                self._json(200, discovery.api_versions(host))
                return
            group, version, rest = "", parts[1], parts[2:]
        elif parts[0] == "apis":
            if len(parts) == 1:
                self._json(200, discovery.api_group_list(reg))
                return
            if len(parts) == 2:
                doc = discovery.api_group(reg, parts[1])
                if doc is None:
                    raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
                self._json(200, doc)
                return
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
        if not rest:
            doc = discovery.resource_list(reg, group, version)
            if doc is None:
                raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
            self._json(200, doc)
            return
        if rest[0] == "watch":  # legacy /watch/ path prefix
            rest = rest[1:]
            self.q["watch"] = "true"
        ns = None
        if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] not in ("status", "finalize"):
            ns, rest = rest[1], rest[2:]
        plural, name, sub = rest[0], rest[1] if len(rest) > 1 else None, rest[2] if len(rest) > 2 else None
        rt = reg.get(group, version, plural)
        if rt is None or len(rest) > 3:
            raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
        if ns is not None and not rt.namespaced:
            raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
        self._resource(rt, ns, name, sub)

    def _openapi(self, parts: list[str]) -> None:
        reg = self.server.store.registry
        if parts == ["v2"]:
            # kubectl only accepts protobuf here; an empty message is a valid, empty document, which makes
            # client-side validation a no-op for every kind.
            self._send(200, b"", "application/com.github.proto-openapi.spec.v2.v1.0+protobuf")
        elif parts == ["v3"]:
            self._json(200, discovery.openapi_v3_index(reg))
        elif len(parts) >= 3 and parts[0] == "v3":
            if parts[1] == "api":
                group, version = "", parts[2]
            else:
                group, version = parts[2], parts[3] if len(parts) > 3 else ""
            if not discovery.resources_in(reg, group, version):
                raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
            self._json(200, discovery.openapi_v3_doc(reg, group, version))
        else:
            raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")

    # ------------------------------------------------------------ verbs
    def _resource(self, rt: ResourceType, ns: str | None, name: str | None, sub: str | None) -> None:
        store = self.server.store
        dry = "dryRun" in self.q
        m = self.command
        if sub == "log" and rt.kind == "Pod" and name is not None and m in ("GET", "HEAD"):
            self._send(200, podlogs.render(store.get(rt, ns, name), self.q), "text/plain")
            return
        if sub not in (None, "status", "scale") or (sub == "scale" and not rt.scale) or (
                sub == "status" and not rt.status):
            raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
        if name is None:
            if m in ("GET", "HEAD"):
                if self.q.get("watch") in ("1", "true", "True"):
                    self._watch(rt, ns)
                else:
                    self._list(rt, ns)
            elif m == "POST":
                if not isinstance(self.body, dict):
                    raise errors.bad_request("expected an object in the request body")
                self._check_gvk(rt, self.body)
                self._obj(201, rt, store.create(self.body, namespace=ns if rt.namespaced else None, dry_run=dry))
            elif m == "DELETE":
                entries, _, _, _ = store.list_entries(rt, ns, self.q.get("labelSelector"),
                                                      self.q.get("fieldSelector"))
                gone = [store.delete(rt, e.obj["metadata"].get("namespace"), e.obj["metadata"]["name"],
                                     dry_run=dry) for e in entries]
                self._json(200, {"kind": f"{rt.kind}List", "apiVersion": rt.api_version,
                                 "metadata": {"resourceVersion": str(store.resource_version)}, "items": gone})
            else:
                raise errors.ApiError(405, "MethodNotAllowed", f"{m} is not allowed on a collection")
            return
        if sub == "scale":
            self._scale(rt, ns, name, dry)
            return
        if m in ("GET", "HEAD"):
            ent = store.get_entry(rt, ns, name)
            if "as=Table" in self.headers.get("Accept", ""):
                meta = {"resourceVersion": ent.obj["metadata"]["resourceVersion"]}
                self._json(200, to_table(rt, [ent.obj], meta, self.q.get("includeObject", "Metadata")))
            else:
                self._send(200, self._encode(rt, ent))
        elif m == "PUT":
            if not isinstance(self.body, dict):
                raise errors.bad_request("expected an object in the request body")
            self._check_gvk(rt, self.body)
            body_meta = self.body.setdefault("metadata", {})
            if body_meta.get("name") != name:
                raise errors.bad_request("the name of the object does not match the name on the URL")
            self._obj(200, rt, store.update(self.body, subresource=sub, namespace=ns, dry_run=dry))
        elif m == "PATCH":
            ctype = self.headers.get("Content-Type", "application/merge-patch+json")
            self._obj(200, rt, store.patch(rt, ns, name, self.body, ctype, subresource=sub, dry_run=dry))
        elif m == "DELETE":
            opts = self.body if isinstance(self.body, dict) else {}
            policy = self.q.get("propagationPolicy") or opts.get("propagationPolicy") or "Background"
            if opts.get("orphanDependents") is True:
                policy = "Orphan"
            self._obj(200, rt, store.delete(rt, ns, name, policy, opts.get("preconditions"), dry_run=dry))
        else:
            raise errors.ApiError(405, "MethodNotAllowed", f"{m} is not allowed")

    def _check_gvk(self, rt: ResourceType, body: dict) -> None:
        body.setdefault("apiVersion", rt.api_version)
        body.setdefault("kind", rt.kind)
        if body["kind"] != rt.kind or body["apiVersion"] not in [rt.group_version(v) for v in rt.versions]:
            raise errors.bad_request(f"the API version in the data ({body['apiVersion']}) does not match the "
                                     f"expected API version ({rt.api_version})")
        stored = self.server.store.registry.by_key(rt.key)
        if stored is not None:
            body["apiVersion"] = stored.api_version  # store in the storage version (no conversion needed)

    def _encode(self, rt: ResourceType, ent: Any) -> bytes:
        if ent.obj.get("apiVersion") == rt.api_version:
            return ent.encoded()
        return json.dumps({**ent.obj, "apiVersion": rt.api_version}, separators=(",", ":")).encode()

    def _obj(self, code: int, rt: ResourceType, obj: dict) -> None:
        obj["apiVersion"] = rt.api_version
        self._json(code, obj)

    def _list(self, rt: ResourceType, ns: str | None) -> None:
        store = self.server.store
        limit = int(self.q["limit"]) if self.q.get("limit", "").isdigit() else None
        entries, rv, token, remaining = store.list_entries(
            rt, ns, self.q.get("labelSelector"), self.q.get("fieldSelector"), limit or None, self.q.get("continue"))
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if token:
            meta["continue"] = token
            meta["remainingItemCount"] = remaining
        accept = self.headers.get("Accept", "")
        if "as=Table" in accept:
            self._json(200, to_table(rt, [e.obj for e in entries], meta, self.q.get("includeObject", "Metadata")))
            return
        if "as=PartialObjectMetadataList" in accept:
            items = [{"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": e.obj["metadata"]}
                     for e in entries]
            self._json(200, {"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": meta,
                             "items": items})
            return
        head = json.dumps({"kind": f"{rt.kind}List", "apiVersion": rt.api_version, "metadata": meta},
                          separators=(",", ":")).encode()
        body = b"".join([head[:-1], b',"items":[', b",".join(self._encode(rt, e) for e in entries), b"]}"])
        self._send(200, body)

    def _scale(self, rt: ResourceType, ns: str | None, name: str, dry: bool) -> None:
        store = self.server.store
        obj = store.get(rt, ns, name)

        def as_scale(o: dict) -> dict:
            sel = ((o.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
            m = o["metadata"]
            return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                    "metadata": {k: m[k] for k in ("name", "namespace", "uid", "resourceVersion",
                                                   "creationTimestamp") if k in m},
                    "spec": {"replicas": (o.get("spec") or {}).get("replicas", 0)},
                    "status": {"replicas": (o.get("status") or {}).get("replicas", 0),
                               "selector": ",".join(f"{k}={v}" for k, v in sel.items())}}

        if self.command == "GET":
            self._json(200, as_scale(obj))
            return
        current = as_scale(obj)
        if self.command == "PUT":
            new = self.body or {}
        elif self.command == "PATCH":
            from .patch import json_patch, merge_patch

            ctype = self.headers.get("Content-Type", "")
            new = json_patch(current, self.body) if "json-patch" in ctype else merge_patch(current, self.body)
        else:
            raise errors.ApiError(405, "MethodNotAllowed", f"{self.command} is not allowed on scale")
        want = (new.get("metadata") or {}).get("resourceVersion")
        if self.command == "PUT" and want and want != obj["metadata"]["resourceVersion"]:
            raise errors.conflict(rt.plural, rt.group, name)
        replicas = (new.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or replicas < 0:
            raise errors.invalid("Scale", name, "spec.replicas: must be a non-negative integer")
        obj["spec"]["replicas"] = replicas
        self._json(200, as_scale(store.update(obj, dry_run=dry)))

    # ------------------------------------------------------------ watch
    def _watch(self, rt: ResourceType, ns: str | None) -> None:
        from .selectors import fields_match, labels_match, parse_field_selector, parse_label_selector

        store = self.server.store
        lsel = parse_label_selector(self.q.get("labelSelector"))
        fsel = parse_field_selector(self.q.get("fieldSelector"))
        initial = self.q.get("sendInitialEvents") == "true"
        table = "as=Table" in self.headers.get("Accept", "")
        timeout = float(self.q.get("timeoutSeconds") or 1800)
        self.send_response(200)
        self.send_header("Content-Type", JSON)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        try:
            w, backlog = store.watch([rt], ns if rt.namespaced else None, self.q.get("resourceVersion"), initial)
        except errors.ApiError as e:
            # The real server answers 200 and then an ERROR event carrying the 410 Status.
            self._chunk({"type": "ERROR", "object": e.status()})
            self._chunk(None)
            return

        def matches(o: dict) -> bool:
            return (not lsel or labels_match(lsel, o["metadata"].get("labels"))) and (
                not fsel or fields_match(fsel, o))

        def send(ev: Event) -> None:
            o, type_ = ev.obj, ev.type
            if not matches(o):
                # Like the API server's watch cache: an object modified out of the selector is DELETED for this watch.
                if type_ != "MODIFIED" or ev.old is None or not matches(ev.old):
                    return
                type_ = "DELETED"
            elif type_ == "MODIFIED" and ev.old is not None and (lsel or fsel) and not matches(ev.old):
                type_ = "ADDED"  # … and one modified into it is ADDED
            if o.get("apiVersion") != rt.api_version:
                o = {**o, "apiVersion": rt.api_version}
            if table:
                o = to_table(rt, [o], {"resourceVersion": o["metadata"]["resourceVersion"]},
                             self.q.get("includeObject", "Metadata"))
            self._chunk({"type": type_, "object": o})

        try:
            for ev in backlog:
                send(ev)
            if initial:
                self._chunk({"type": "BOOKMARK", "object": {
                    "kind": rt.kind, "apiVersion": rt.api_version, "metadata": {
                        "resourceVersion": str(store.resource_version),
                        "annotations": {"k8s.io/initial-events-end": "true"}}}})
            deadline = time.monotonic() + timeout
            bookmarks = self.q.get("allowWatchBookmarks") in ("1", "true", "True")
            next_bookmark = time.monotonic() + self.server.bookmark_seconds
            while not self.server.stopping.is_set() and not w.closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                ev = w.next(timeout=min(left, 0.5, max(next_bookmark - time.monotonic(), 0.01)))
                if ev is not None:
                    send(ev)
                elif bookmarks and time.monotonic() >= next_bookmark:
                    version = store.quiet_version(w)
                    if version is not None:  # nothing pending for this watch up to `version`
                        self._chunk({"type": "BOOKMARK", "object": {
                            "kind": rt.kind, "apiVersion": rt.api_version,
                            "metadata": {"resourceVersion": str(version)}}})
                    next_bookmark = time.monotonic() + self.server.bookmark_seconds
            self._chunk(None)
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True
        finally:
            w.close()

    def _chunk(self, obj: Any) -> None:
        if obj is None:
            self.wfile.write(b"0\r\n\r\n")
        else:
            data = json.dumps(obj, separators=(",", ":")).encode() + b"\n"
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()
