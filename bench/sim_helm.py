"""Benchmark: the simulated helm-controller's Helm engine (real chart packages rendered by helm-python-sdk).

Prints one JSON line: per demo chart the first render (copy + load of the chart version + render), an uncached
render (new values each time) and a cached render (same chart, version, release, namespace and values), and the
time the demo takes to converge (every Flux object of the healthy part Ready) with these renders.
Usage: python bench/sim_helm.py [--renders 20]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simulator.flux.charts import CHARTS  # noqa: E402 - after the path fix so it runs from a checkout
from simulator.flux.demo import start_demo  # noqa: E402
from simulator.flux.helmengine import ENGINE  # noqa: E402

DEMO = {"podinfo": ("6.9.2", {"redis": {"enabled": True}, "ingress": {"enabled": True}}),
        "cert-manager": ("v1.17.4", {"crds": {"enabled": True}}),
        "ingress-nginx": ("4.12.3", {"controller": {"service": {"type": "NodePort"}}})}


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--renders", type=int, default=20)
    args = parser.parse_args()
    out: dict = {"bench": "sim_helm"}
    for name, (version, values) in DEMO.items():
        chart = CHARTS[name]
        start = time.perf_counter()
        ENGINE.render(chart, version, name, name, values)
        first = time.perf_counter() - start
        uncached, cached = [], []
        for i in range(args.renders):
            start = time.perf_counter()
            ENGINE.render(chart, version, name, name, {**values, "bench": i})
            uncached.append(time.perf_counter() - start)
            start = time.perf_counter()
            ENGINE.render(chart, version, name, name, values)
            cached.append(time.perf_counter() - start)
        out[name] = {"first_ms": ms(first), "uncached_ms": ms(statistics.median(uncached)),
                     "cached_ms": ms(statistics.median(cached)),
                     "cache_speedup": round(statistics.median(uncached) / statistics.median(cached), 1)}
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        demo = start_demo(Path(tmp) / "demo")
        try:
            ready = demo.wait_ready(120)
            out["demo_converged_s"] = round(time.perf_counter() - start, 2) if ready else None
        finally:
            demo.stop()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
