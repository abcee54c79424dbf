"""Helpers for the Flux simulation tests: a simulator with Flux controllers, real git repositories, polling."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from kubernetes import client

from simulator import Simulator
from simulator.flux import FluxControllers, add_flux_controllers

KS = ("kustomize.toolkit.fluxcd.io", "v1", "kustomizations")
HR = ("helm.toolkit.fluxcd.io", "v2", "helmreleases")
GIT = ("source.toolkit.fluxcd.io", "v1", "gitrepositories")


def eventually(pred: Callable[[], object], timeout: float = 30.0, what: str = "condition") -> object:
    """Poll pred() until truthy. The timeout only bounds a failure; nothing asserts on elapsed time."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}; last value: {last!r}")


def cond(obj: dict | None, type_: str) -> dict:
    return next((c for c in ((obj or {}).get("status") or {}).get("conditions") or [] if c["type"] == type_), {})


def ready(obj: dict | None) -> bool:
    return cond(obj, "Ready").get("status") == "True"


class GitRepo:
    """A real git repository in a temp dir, written and committed with argument-list subprocess calls."""

    def __init__(self, path: Path, branch: str = "main") -> None:
        self.path = path
        self.branch = branch
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", branch)

    def git(self, *args: str) -> str:
        env = {"PATH": "/usr/bin:/bin", "HOME": str(self.path), "GIT_AUTHOR_NAME": "Test",
               "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "Test",
               "GIT_COMMITTER_EMAIL": "t@example.com"}
        return subprocess.run(["git", "-C", str(self.path), *args], check=True, capture_output=True, text=True,
                              env=env).stdout

    def write(self, files: dict[str, str | None]) -> None:
        for rel, text in files.items():
            p = self.path / rel
            if text is None:
                p.unlink()
                continue
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text)

    def commit(self, files: dict[str, str | None] | None = None, message: str = "change") -> str:
        self.write(files or {})
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD").strip()

    @property
    def url(self) -> str:
        return f"file://{self.path}"


class FluxEnv:
    """A running simulator with the Flux controllers, plus the official client pointed at it over HTTP."""

    def __init__(self, workdir: Path, event_webhook_url: str | None = None) -> None:
        self.sim = Simulator()
        self.flux: FluxControllers = add_flux_controllers(self.sim, workdir / "flux", event_webhook_url,
                                                          dependency_requeue=1.0)
        self.url = self.sim.start()
        cfg = client.Configuration()
        cfg.host = self.url
        self.api = client.ApiClient(cfg)
        self.custom = client.CustomObjectsApi(self.api)
        self.core = client.CoreV1Api(self.api)
        self.apps = client.AppsV1Api(self.api)
        self.store = self.sim.store

    def close(self) -> None:
        self.sim.stop(save=False)
        self.flux.stop()
        self.api.close()

    def create(self, obj: dict) -> dict:
        return self.store.create(obj)

    def get(self, what: tuple[str, str, str], ns: str, name: str) -> dict:
        """A Flux object read through the HTTP API with the official client."""
        return self.custom.get_namespaced_custom_object(what[0], what[1], ns, what[2], name)

    def request_reconcile(self, what: tuple[str, str, str], ns: str, name: str, **extra: str) -> str:
        """What `flux reconcile` sends: a merge patch setting reconcile.fluxcd.io/requestedAt (and forceAt/resetAt)."""
        token = dt.datetime.now(dt.UTC).isoformat()
        ann = {"reconcile.fluxcd.io/requestedAt": token}
        for k in extra:
            ann[f"reconcile.fluxcd.io/{k}"] = token
        self.custom.patch_namespaced_custom_object(what[0], what[1], ns, what[2], name, {"metadata": {
            "annotations": ann}})
        return token

    def wait_ready(self, what: tuple[str, str, str], ns: str, name: str, timeout: float = 30.0) -> dict:
        return eventually(lambda: (o := self.get(what, ns, name)) and ready(o) and o, timeout,
                          f"{what[2]} {ns}/{name} Ready")  # type: ignore[return-value]


def git_repository(name: str, ns: str, url: str, interval: str = "1h", **spec: object) -> dict:
    return {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"interval": interval, "url": url, "ref": {"branch": "main"}, **spec}}


def kustomization(name: str, ns: str, path: str, source: str = "repo", **spec: object) -> dict:
    return {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"interval": "1h", "path": path, "prune": True,
                     "sourceRef": {"kind": "GitRepository", "name": source}, **spec}}


def deployment_yaml(name: str, replicas: int = 1, image: str = "ghcr.io/stefanprodan/podinfo:6.9.2") -> str:
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
        - name: app
          image: {image}
"""


class WebhookSink:
    """A real HTTP server collecting POSTed JSON bodies (the notification-controller generic provider side)."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                n = int(self.headers.get("Content-Length", "0"))
                sink.bodies.append(json.loads(self.rfile.read(n)))
                self.send_response(202)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/flux"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
