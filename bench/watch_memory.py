"""Benchmark: peak resident memory of the watcher (`manage.py watch_clusters`) at N Flux objects (+ children).

The simulator holds the scale generator's cluster; the watcher runs in its own process against a throwaway SQLite
file (or PostgreSQL database when ``DATABASE_URL`` is set), lists the cluster — by default in a short-lived child
process (graph.firstlist), which reports its own peak RSS on the watcher's ``watching …`` line — then applies
``--changes`` Deployment patches as deltas. The watcher's peak RSS is read from /proc (VmHWM) after those.
``--in-process`` runs the watcher with ``--list-in-process`` (the list in its own process, as before);
``--baseline`` runs that too, in a second process, for a ratio in the same run.

Prints one JSON line. Usage: python bench/watch_memory.py [--objects 1000] [--changes 20] [--baseline]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.watch_common import (  # noqa: E402 - after the path fix so it runs from a checkout
    deployments_of,
    patch_and_wait,
    proc_peak_rss_mb,
    watched_cluster,
)


def proc_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def measure(args, in_process: bool) -> dict:
    rng = random.Random(args.seed)  # noqa: S311 - a reproducible choice of objects, not a secret
    flags = ("--list-in-process",) if in_process else ()
    with watched_cluster(args.objects, args.apps, flags) as (sim, vendor, cluster, watcher, info):
        deployments = deployments_of(sim)
        for i in range(args.changes):
            patch_and_wait(sim, cluster.pk, rng.choice(deployments), rng.randint(1, 9), str(i))
        from graph.models import KubeObject

        mirrored = KubeObject.objects.filter(cluster=cluster, deleted_at__isnull=True).count()
        child = re.search(r"(\d+) objects, (\d+) rows written, its peak RSS ([\d.]+) MB", info["watching"])
        return {"db": vendor, "objects": info["flux"], "children": info["children"], "mirrored": mirrored,
                "watcher_peak_rss_mb": proc_peak_rss_mb(watcher.pid), "watcher_rss_mb": proc_rss_mb(watcher.pid),
                "child_peak_rss_mb": float(child.group(3)) if child else None,
                "child_objects": int(child.group(1)) if child else None,
                "watcher_start_s": info["watcher_start_s"], "changes": args.changes}


def run(args) -> dict:
    result = {"bench": "watch_memory", "list": "in-process" if args.in_process else "child",
              **measure(args, in_process=args.in_process)}
    if args.baseline:
        # Another run of this script (Django is set up once per process, on one throwaway database).
        command = [sys.executable, __file__, "--in-process", "--objects", str(args.objects), "--apps", str(args.apps),
                   "--changes", str(args.changes), "--seed", str(args.seed)]
        base = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
        result["baseline_in_process_peak_rss_mb"] = base["watcher_peak_rss_mb"]
        result["baseline_in_process_start_s"] = base["watcher_start_s"]
        result["ratio_watcher_to_baseline"] = round(result["watcher_peak_rss_mb"] / base["watcher_peak_rss_mb"], 3)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--objects", type=int, default=1000, help="Flux objects to generate (children come on top)")
    ap.add_argument("--apps", type=int, default=50, help="apps per namespace")
    ap.add_argument("--changes", type=int, default=20, help="Deployment patches applied as deltas after the list")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--in-process", action="store_true", help="run the watcher with --list-in-process")
    ap.add_argument("--baseline", action="store_true", help="also run with --list-in-process, for a ratio")
    print(json.dumps(run(ap.parse_args())), flush=True)


if __name__ == "__main__":
    main()
