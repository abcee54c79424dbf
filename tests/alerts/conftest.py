"""Alerts fixtures: the Flux tree plus a cert-manager-like tree in a simulator, mirrored; a real Alertmanager on a
free loopback port; a local HTTP receiver for notifications; webhook credentials."""

from __future__ import annotations

import copy
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from controlplane.models import Cluster
from graph.models import KubeObject
from graph.sync import sync_cluster
from tests.graph.conftest import simulator, wait_for  # noqa: F401 - fixtures and helper re-used
from tests.graph.flux_tree import create, flux_tree, helm_labels, ready

ALERTMANAGER = "/usr/bin/prometheus-alertmanager"
AM_TOKEN = "am-webhook-token-for-tests"
FLUX_HMAC_KEY = "flux-hmac-key-for-tests"
INFRA_LABELS = {"kustomize.toolkit.fluxcd.io/name": "infra", "kustomize.toolkit.fluxcd.io/namespace": "flux-system"}


def cert_manager(sim) -> None:
    """A second tree: Kustomization infra created Namespace cert-manager and HelmRelease cert-manager, whose
    Deployment runs one pod."""
    create(sim, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "cert-manager", "labels": INFRA_LABELS}})
    create(sim, {
        "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
        "metadata": {"name": "cert-manager", "namespace": "cert-manager", "labels": INFRA_LABELS},
        "spec": {"interval": "1h", "chart": {"spec": {"chart": "cert-manager", "sourceRef": {
            "kind": "HelmRepository", "name": "jetstack"}}}},
    }, {"observedGeneration": 1, "conditions": [ready("Helm install succeeded", "InstallSucceeded")]})
    labels = {**helm_labels("cert-manager", "cert-manager"), "app.kubernetes.io/name": "cert-manager"}
    create(sim, {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "cert-manager", "namespace": "cert-manager", "labels": labels},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": "cert-manager"}},
                 "template": {"metadata": {"labels": {"app.kubernetes.io/name": "cert-manager"}},
                              "spec": {"containers": [{"name": "cm", "image": "quay.io/jetstack/cert-manager:1.16"}]}}},
    })
    infra = copy.deepcopy(sim.store.peek("kustomizations", "flux-system", "infra"))
    infra["status"]["inventory"] = {"entries": [{"id": "_cert-manager__Namespace", "v": "v1"}, {
        "id": "cert-manager_cert-manager_helm.toolkit.fluxcd.io_HelmRelease", "v": "v2"}]}
    sim.store.update_status(infra)


@pytest.fixture
def trees(simulator):  # noqa: F811 - the re-used fixture
    flux_tree(simulator)
    cert_manager(simulator)

    def settled():
        pods = simulator.store.list("pods", "podinfo") + simulator.store.list("pods", "cert-manager")
        return len(pods) == 5 and simulator.store.peek("deployments", "podinfo", "podinfo").get(
            "status", {}).get("readyReplicas") == 2

    wait_for(settled, what="the simulator's workloads to settle")
    return simulator


@pytest.fixture
def cluster(transactional_db, trees):
    cluster = Cluster.objects.create(name="staging", connection=Cluster.Connection.SIMULATOR, server_url=trees.url)
    sync_cluster(cluster)
    return cluster


def obj(kind: str, namespace: str, name: str) -> KubeObject:
    return KubeObject.objects.get(kind=kind, namespace=namespace, name=name, deleted_at__isnull=True)


def pods(namespace: str, prefix: str) -> list[KubeObject]:
    return list(KubeObject.objects.filter(kind="Pod", namespace=namespace, name__startswith=prefix + "-",
                                          deleted_at__isnull=True).order_by("name"))


@pytest.fixture
def alert_settings(settings):
    settings.ROOT_URLCONF = "tests.alerts.urls"
    settings.FLUXPLANE_ALERTMANAGER_WEBHOOK_TOKEN = AM_TOKEN
    settings.FLUXPLANE_FLUX_WEBHOOK_HMAC_KEY = FLUX_HMAC_KEY
    settings.FLUXPLANE_FLUX_WEBHOOK_TOKEN = ""
    return settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def alertmanager(tmp_path, live_server, alert_settings):
    """A real Alertmanager whose only receiver is Fluxplane's webhook on the live server (bearer token)."""
    if not os.path.exists(ALERTMANAGER) or not shutil.which(ALERTMANAGER):
        pytest.fail(f"{ALERTMANAGER} is missing: apt-get install prometheus-alertmanager (.ci/run does)")
    port = free_port()
    config = tmp_path / "alertmanager.yml"
    config.write_text(json.dumps({
        "route": {"receiver": "fluxplane", "group_by": ["alertname", "namespace"], "group_wait": "1s",
                  "group_interval": "1s", "repeat_interval": "1h"},
        "receivers": [{"name": "fluxplane", "webhook_configs": [{
            "url": f"{live_server.url}/alerts/hooks/alertmanager", "send_resolved": True,
            "http_config": {"authorization": {"type": "Bearer", "credentials": AM_TOKEN}}}]}],
    }))
    (tmp_path / "am-data").mkdir()
    process = subprocess.Popen(
        [ALERTMANAGER, f"--config.file={config}", f"--storage.path={tmp_path / 'am-data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=", "--log.level=warn"],
        stdout=subprocess.DEVNULL, stderr=open(tmp_path / "alertmanager.log", "wb"))  # noqa: SIM115
    url = f"http://127.0.0.1:{port}"

    def up():
        if process.poll() is not None:
            raise AssertionError("alertmanager exited: " + (tmp_path / "alertmanager.log").read_text())
        try:
            return requests.get(f"{url}/-/ready", timeout=1).status_code == 200
        except requests.ConnectionError:
            return False

    wait_for(up, timeout=30, what="alertmanager to be ready")
    yield url
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


class Receiver:
    """A local HTTP server that records every POST (path and JSON body)."""

    def __init__(self):
        self.requests: list[tuple[str, dict]] = []
        received = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                received.append((self.path, json.loads(body or b"{}")))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def on(self, path: str) -> list[dict]:
        return [body for p, body in self.requests if p == path]


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.server.shutdown()
    server.server.server_close()


def settle(seconds: float) -> None:
    """Give a real component time to act where the test must show that something does *not* happen."""
    time.sleep(seconds)


class DbTurns:
    """Takes turns on the database between the test thread and the live server's thread.

    With SQLite in memory the live server shares the test's connection, so the two threads must never run SQL at
    once: the test holds the lock except while it waits, and each request to the live server holds it from start
    to finish (request_started / request_finished run in the server's thread). Harmless on PostgreSQL.
    """

    def __init__(self):
        self.lock = threading.Lock()

    def _started(self, **_kwargs):
        self.lock.acquire()

    def _finished(self, **_kwargs):
        if self.lock.locked():
            self.lock.release()

    def wait_for(self, predicate, timeout: float = 30.0, what: str = "condition"):
        """Poll ``predicate`` (which may query the database), letting the server work in between."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.lock.release()
            time.sleep(0.1)
            self.lock.acquire()
            value = predicate()
            if value:
                return value
        raise AssertionError(f"timed out waiting for {what}")

    def outside(self):
        """Context manager: let the server run while the test calls it over HTTP."""
        turns = self

        class _Outside:
            def __enter__(self):
                turns.lock.release()

            def __exit__(self, *exc):
                turns.lock.acquire()

        return _Outside()


@pytest.fixture
def db_turns(live_server):
    from django.core.signals import request_finished, request_started

    turns = DbTurns()
    turns.lock.acquire()
    request_started.connect(turns._started)
    request_finished.connect(turns._finished)
    yield turns
    request_started.disconnect(turns._started)
    request_finished.disconnect(turns._finished)
    if turns.lock.locked():
        turns.lock.release()
