"""Benchmark: one Deployment patched in a cluster of N Flux objects (+ children) → its mirrored row shows it.

The simulator holds the scale generator's cluster; `manage.py watch_clusters` runs in its own process against a
throwaway SQLite file (or PostgreSQL database when ``DATABASE_URL`` is set). Each change patches one random
Deployment (a new replica count and annotation) and polls the mirror every 5 ms until the row carries the new
resourceVersion. Baseline in the same run: the time a full sync of the same cluster takes (what one change cost when
every watch event meant a full sync).

Prints one JSON line (p50_s, p95_s, max_s over ``--changes`` changes). Usage:
python bench/watch_latency.py [--objects 1000] [--changes 20]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.watch_common import (  # noqa: E402 - after the path fix so it runs from a checkout
    deployments_of,
    patch_and_wait,
    percentile,
    proc_peak_rss_mb,
    watched_cluster,
)


def run(args) -> dict:
    rng = random.Random(args.seed)  # noqa: S311 - a reproducible choice of objects, not a secret
    with watched_cluster(args.objects, args.apps) as (sim, vendor, cluster, watcher, info):
        deployments = deployments_of(sim)
        latencies = []
        for i in range(args.changes):
            latencies.append(patch_and_wait(sim, cluster.pk, rng.choice(deployments), rng.randint(1, 9), str(i)))
            time.sleep(args.gap)
        watcher_rss = proc_peak_rss_mb(watcher.pid)
        from graph.sync import sync_cluster

        t0 = time.perf_counter()
        resync = sync_cluster(cluster)
        full_sync_s = time.perf_counter() - t0
    p95 = percentile(latencies, 95)
    return {"bench": "watch_latency", "db": vendor, "objects": info["flux"], "children": info["children"],
            "changes": len(latencies), "p50_s": round(percentile(latencies, 50), 3), "p95_s": round(p95, 3),
            "max_s": round(max(latencies), 3), "full_sync_s": round(full_sync_s, 3),
            "resync_rows_written": resync.rows_written, "ratio_p95_to_full_sync": round(p95 / full_sync_s, 4),
            "watcher_start_s": info["watcher_start_s"], "watcher_peak_rss_mb": watcher_rss}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--objects", type=int, default=1000, help="Flux objects to generate (children come on top)")
    ap.add_argument("--apps", type=int, default=50, help="apps per namespace")
    ap.add_argument("--changes", type=int, default=20)
    ap.add_argument("--gap", type=float, default=0.3, help="seconds between changes")
    ap.add_argument("--seed", type=int, default=1)
    print(json.dumps(run(ap.parse_args())), flush=True)


if __name__ == "__main__":
    main()
