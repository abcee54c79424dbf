"""The simulator as a process (manage.py simulator), snapshots, and the scale generator."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from simulator import Simulator
from simulator.generator import counts, generate

from .conftest import Kubectl

ROOT = Path(__file__).resolve().parents[2]


def test_manage_py_simulator_serves_kubectl_and_stops_on_sigterm(tmp_path: Path) -> None:
    snap = tmp_path / "state.json"
    env = {**os.environ, "FLUXPLANE_DEMO": "1"}
    proc = subprocess.Popen([sys.executable, "manage.py", "simulator", "--port", "0", "--snapshot", str(snap)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        k = Kubectl(url, tmp_path)
        (tmp_path / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: saved}\ndata: {a: '1'}\n")
        k.run("apply", "-f", str(tmp_path / "cm.yaml"))
        assert k.json("get", "cm", "saved")["data"] == {"a": "1"}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    names = {o["metadata"]["name"] for o in json.loads(snap.read_text())["objects"]}
    assert "saved" in names
    again = Simulator(snapshot=str(snap), workloads=False)
    assert again.store.get("configmaps", "default", "saved")["data"] == {"a": "1"}


def test_generator_loads_and_lists_back(kubectl: Kubectl) -> None:
    sim = Simulator(workloads=False)
    url = sim.start()
    try:
        loaded = sim.store.bulk_load(generate(3, 4, prefix="gen"))
        assert loaded == counts(3, 4)["total"]
        k = Kubectl(url, kubectl.home)
        ks = k.json("get", "kustomizations", "-A")["items"]
        assert len(ks) == 12 and all(i["status"]["conditions"][0]["status"] == "True" for i in ks)
        pods = k.json("get", "pods", "-n", "gen-0001", "-l", "app=app-0002")["items"]
        assert len(pods) == 5
        rs = pods[0]["metadata"]["ownerReferences"][0]["name"]
        assert k.json("get", "rs", rs, "-n", "gen-0001")["metadata"]["ownerReferences"][0]["kind"] == "Deployment"
        # Deleting a generated Deployment garbage-collects its ReplicaSet and Pods.
        k.run("delete", "deployment", "app-0002", "-n", "gen-0001")
        assert k.json("get", "pods", "-n", "gen-0001", "-l", "app=app-0002")["items"] == []
        with urllib.request.urlopen(f"{url}/api/v1/pods?limit=10") as resp:
            page = json.loads(resp.read())
        assert len(page["items"]) == 10 and page["metadata"]["continue"]
    finally:
        sim.stop()
