"""The rendered chart, run: each Deployment's container started as the real process the image would run
(docker/entrypoint.sh with the rendered args and the rendered ConfigMap as environment), against real Redis, a
SQLite database shared by the processes, and the simulator as the cluster.

What a pod would get from Kubernetes is supplied the nearest way outside a cluster: the Secret's values as
variables, and — in place of the in-cluster service account — a kubeconfig pointing at the simulator.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.conftest import clean_env
from tests.deploy.test_chart import CHART, NAMESPACE, find

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"
SECRET_KEY = "Xy9!Qz7#Lm2$Rt5%Wv8^Bn4&Hj6*Pd3(Fs1)Gk0-abcdefghijklmnop-install-test"
VALUES = {
    # a wildcard first and a host:port: the probes must not depend on either
    "allowedHosts": [".example.com", "fluxplane.example.com:8443"],
    "secret": {"existingSecret": "fluxplane-env"},
    "scheduler": {"replicas": 2},
    "watcher": {"replicas": 2},
    "cluster": {"name": "install-test"},
}


@pytest.fixture(scope="module")
def manifests():
    import helm_python

    with helm_python.Chart.load(str(CHART)) as chart:
        out = chart.render(VALUES, name="fp", namespace=NAMESPACE)
    return [d for path, text in out.items() if path.endswith(".yaml") for d in yaml.safe_load_all(text) if d]


class Pods:
    """Processes started from the rendered containers; stopped (TERM, then KILL) at the end."""

    def __init__(self, base_env: dict[str, str], tmp: Path):
        self.base_env = base_env
        self.tmp = tmp
        self.procs: list[tuple[str, subprocess.Popen, Path]] = []

    def env(self, heartbeat_dir: Path, **extra: str) -> dict[str, str]:
        return {**self.base_env, "FLUXPLANE_HEARTBEAT_DIR": str(heartbeat_dir), **extra}

    def run(self, args: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", str(ENTRYPOINT), *args], env=self.env(self.tmp / "hb-run"),
                              capture_output=True, text=True, timeout=timeout)

    def start(self, name: str, args: list[str], **extra: str) -> tuple[subprocess.Popen, Path]:
        heartbeat_dir = self.tmp / f"hb-{name}"
        log = (self.tmp / f"{name}.log").open("w")
        proc = subprocess.Popen(["bash", str(ENTRYPOINT), *args], env=self.env(heartbeat_dir, **extra),
                                stdout=log, stderr=subprocess.STDOUT, text=True)
        self.procs.append((name, proc, heartbeat_dir))
        return proc, heartbeat_dir

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text()

    def alive(self, name: str, component: str, max_age: str) -> subprocess.CompletedProcess:
        heartbeat_dir = next(hb for n, _p, hb in self.procs if n == name)
        return subprocess.run(["bash", str(ENTRYPOINT), "alive", component, max_age],
                              env=self.env(heartbeat_dir), capture_output=True, text=True, timeout=10)

    def stop_all(self) -> None:
        for _name, proc, _hb in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for _name, proc, _hb in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_for(predicate, timeout: float = 40.0, what: str = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_LOOPBACK = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy from the environment


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_LOOPBACK.add_handler(_NoRedirect())


def get(port: int, path: str, host: str) -> tuple[int, bytes]:
    """GET with an explicit Host header; (0, b"") while nothing listens yet; redirects are not followed."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Host": host})
    try:
        with _LOOPBACK.open(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except urllib.error.URLError:
        return 0, b""


@pytest.fixture
def pods(manifests, sim, tmp_path, redis_connection):
    config = find(manifests, "ConfigMap")["data"]
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "sim",
        "clusters": [{"name": "sim", "cluster": {"server": sim.url}}],
        "users": [{"name": "sim", "user": {}}],
        "contexts": [{"name": "sim", "context": {"cluster": "sim", "user": "sim"}}]}))
    env = clean_env(os.environ)
    env.update(config)
    env.update({
        # the Secret (secret.existingSecret) as a pod would see it
        "FLUXPLANE_SECRET_KEY": SECRET_KEY,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'fluxplane.sqlite3'}",
        "REDIS_URL": os.environ.get("FLUXPLANE_TEST_REDIS_URL", "redis://127.0.0.1:6379/13"),
        # the container's paths, outside a container
        "FLUXPLANE_APP_DIR": str(ROOT), "FLUXPLANE_DATA_DIR": str(tmp_path / "data"), "HOME": str(tmp_path),
        "XDG_CACHE_HOME": str(tmp_path / ".cache"),
        "PATH": f"{Path(sys.executable).parent}:{env['PATH']}",
        # in place of the in-cluster service account: the simulator
        "FLUXPLANE_CLUSTER_CONNECTION": "kubeconfig", "FLUXPLANE_CLUSTER_KUBECONFIG": str(kubeconfig),
    })
    running = Pods(env, tmp_path)
    yield running
    running.stop_all()


def container(manifests, component: str) -> dict:
    return find(manifests, "Deployment", f"-{component}")["spec"]["template"]["spec"]


def test_two_schedulers_and_two_watchers_one_of_each_active(manifests, pods, redis_connection):
    web = container(manifests, "web")
    # the web pod: its init container (migrate), then the web role, probed as the kubelet probes it
    [init] = web["initContainers"]
    migrated = pods.run(init["args"], timeout=180)
    assert migrated.returncode == 0, migrated.stderr
    port = free_port()
    pods.start("web", web["containers"][0]["args"], FLUXPLANE_PORT=str(port), FLUXPLANE_WEB_WORKERS="1")
    probes = {p: web["containers"][0][p]["httpGet"]["path"] for p in ("livenessProbe", "readinessProbe")}
    # kubelets send the pod IP and port as Host: not an allowed host, and the probes still answer
    wait_for(lambda: get(port, probes["livenessProbe"], "10.244.1.7:8000")[0] == 200, 60, "web /livez")
    status, body = get(port, probes["readinessProbe"], "10.244.1.7:8000")
    assert status == 200 and b'"database": "ok"' in body and b'"redis": "ok"' in body
    assert get(port, "/admin/login/", "10.244.1.7:8000")[0] == 400  # ALLOWED_HOSTS still guards everything else
    assert get(port, "/admin/login/", "fluxplane.example.com:8443")[0] != 400
    assert get(port, "/admin/login/", "team.example.com")[0] != 400  # the wildcard entry

    # two replicas of each leased component, each after its wait-for-schema init container
    for component in ("scheduler", "watcher"):
        spec = container(manifests, component)
        [wait] = spec["initContainers"]
        assert wait["args"][0] == "wait-for-schema"
        result = pods.run(wait["args"])
        assert result.returncode == 0 and "schema is up to date" in result.stdout, result.stdout + result.stderr
        for replica in (1, 2):
            pods.start(f"{component}-{replica}", spec["containers"][0]["args"])

    def leaders() -> list[str]:
        return [n for n in ("scheduler-1", "scheduler-2") if "leading" in pods.log(n)]

    def watching() -> list[str]:
        return [n for n in ("watcher-1", "watcher-2") if "watching install-test" in pods.log(n)]

    wait_for(leaders, what="a scheduler to lead")
    wait_for(watching, what="a watcher to watch the cluster")
    time.sleep(12)  # more than one renewal period (TTL/3): the standbys have tried again, and stood by
    assert len(leaders()) == 1, {n: pods.log(n) for n in ("scheduler-1", "scheduler-2")}
    assert len(watching()) == 1, {n: pods.log(n) for n in ("watcher-1", "watcher-2")}
    assert redis_connection.get("fluxplane:lease:scheduler").decode().count(":") >= 2
    # only the leader registered with RQ's cron registry and enqueued the periodic jobs
    assert len(redis_connection.zrange("rq:cron_schedulers", 0, -1)) == 1
    # every replica, leader or standby, is live by its heartbeat (the rendered probe command)
    for component in ("scheduler", "watcher"):
        command = container(manifests, component)["containers"][0]["livenessProbe"]["exec"]["command"]
        for replica in (1, 2):
            result = pods.alive(f"{component}-{replica}", command[2], command[3])
            assert result.returncode == 0, result.stderr

    # the leader goes away: the standby takes over (a clean stop releases the lease)
    [leader] = leaders()
    proc = next(p for n, p, _hb in pods.procs if n == leader)
    proc.send_signal(signal.SIGTERM)
    proc.wait(15)
    standby = "scheduler-2" if leader == "scheduler-1" else "scheduler-1"
    wait_for(lambda: "leading" in pods.log(standby), 30, "the standby scheduler to take over")
    [watcher] = watching()
    proc = next(p for n, p, _hb in pods.procs if n == watcher)
    proc.send_signal(signal.SIGTERM)
    proc.wait(15)
    other = "watcher-2" if watcher == "watcher-1" else "watcher-1"
    wait_for(lambda: "watching install-test" in pods.log(other), 30, "the standby watcher to take over")
