"""Benchmark: a steady trickle of changes — R objects changed per second for S seconds — in a cluster of N Flux objects.

Setup as bench/watch_latency.py (simulator with the scale generator's cluster; `manage.py watch_clusters` in its own
process). Each change flips one random Pod between ready and not ready (a status write, as a kubelet makes; its
health, its ReplicaSet's, its Deployment's and the roll-ups up to its Kustomization follow). A poller reads the
mirror every 20 ms for the changes not yet visible.

Prints one JSON line: ``cpu_s_per_min`` (the watcher's CPU seconds per wall minute during the trickle; it applies
the deltas itself, so this is the whole cost of keeping up), ``p95_s`` (change → row visible), ``events_behind``
(changes not visible when the trickle ends) and ``max_behind``. The baseline in the same run is the CPU time of
one full sync of the cluster (what a single change used to cost). Usage:
python bench/churn.py [--objects 1000] [--rate 20] [--seconds 60]
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
    close_db,
    percentile,
    proc_cpu_seconds,
    proc_peak_rss_mb,
    row_versions,
    watched_cluster,
)


def flip(pod: dict) -> None:
    status = pod.setdefault("status", {})
    ready = not all(c.get("status") == "True" for c in status.get("conditions") or [] if c.get("type") == "Ready")
    status["conditions"] = [{"type": "Ready", "status": "True" if ready else "False",
                             "lastTransitionTime": "2026-01-01T00:00:00Z"}]
    for container in status.get("containerStatuses") or []:
        container["ready"] = ready
        container["state"] = {"running": {"startedAt": "2026-01-01T00:00:00Z"}} if ready else {
            "waiting": {"reason": "CrashLoopBackOff", "message": "back-off restarting failed container"}}


def run(args) -> dict:
    rng = random.Random(args.seed)  # noqa: S311 - a reproducible choice of objects, not a secret
    with watched_cluster(args.objects, args.apps) as (sim, vendor, cluster, watcher, info):
        pods = sorted((p["metadata"]["namespace"], p["metadata"]["name"]) for p in sim.store.list("pods"))
        pending: dict[str, tuple[str, float]] = {}  # uid → (resourceVersion, changed at)
        latencies: list[float] = []
        max_behind = 0
        cpu0 = proc_cpu_seconds(watcher.pid)
        start = time.perf_counter()
        next_change, next_poll, made = start, start, 0
        while True:
            now = time.perf_counter()
            if now - start >= args.seconds:
                break
            if now >= next_change:
                namespace, name = rng.choice(pods)
                pod = sim.store.get("pods", namespace, name)
                flip(pod)
                updated = sim.store.update_status(pod)
                pending[updated["metadata"]["uid"]] = (updated["metadata"]["resourceVersion"], time.perf_counter())
                made += 1
                next_change = start + made / args.rate
            if now >= next_poll:
                seen = row_versions(cluster.pk, list(pending))
                t = time.perf_counter()
                for uid, (version, t0) in list(pending.items()):
                    if seen.get(uid) == version:
                        latencies.append(t - t0)
                        del pending[uid]
                max_behind = max(max_behind, len(pending))
                next_poll = t + 0.02
            time.sleep(max(0.0, min(next_change, next_poll) - time.perf_counter()))
        wall = time.perf_counter() - start
        cpu = proc_cpu_seconds(watcher.pid) - cpu0
        behind = len(pending)
        deadline = time.perf_counter() + 60
        while pending and time.perf_counter() < deadline:  # the stragglers still count towards the percentiles
            seen = row_versions(cluster.pk, list(pending))
            t = time.perf_counter()
            for uid, (version, t0) in list(pending.items()):
                if seen.get(uid) == version:
                    latencies.append(t - t0)
                    del pending[uid]
            time.sleep(0.02)
        watcher_rss = proc_peak_rss_mb(watcher.pid)
        close_db()
        from graph.sync import sync_cluster

        cpu_sync0 = time.process_time()
        sync_cluster(cluster)
        full_sync_cpu = time.process_time() - cpu_sync0
    cpu_per_min = cpu / wall * 60
    return {"bench": "churn", "db": vendor, "objects": info["flux"], "children": info["children"],
            "rate": args.rate, "seconds": round(wall, 1), "changes": made, "cpu_s_per_min": round(cpu_per_min, 2),
            "core_share": round(cpu / wall, 3), "p50_s": round(percentile(latencies, 50), 3),
            "p95_s": round(percentile(latencies, 95), 3), "max_s": round(max(latencies or [0]), 3),
            "events_behind": behind, "max_behind": max_behind, "never_visible": len(pending),
            "full_sync_cpu_s": round(full_sync_cpu, 3), "watcher_peak_rss_mb": watcher_rss}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--objects", type=int, default=1000, help="Flux objects to generate (children come on top)")
    ap.add_argument("--apps", type=int, default=50, help="apps per namespace")
    ap.add_argument("--rate", type=float, default=20, help="changed objects per second")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--seed", type=int, default=1)
    print(json.dumps(run(ap.parse_args())), flush=True)


if __name__ == "__main__":
    main()
