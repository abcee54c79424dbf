"""Benchmark: admin page time and query count with N Flux objects (+ children) mirrored.

Loads the scale generator's objects into a simulator in a child process, syncs them into a throwaway database (as
bench/sync.py does), then requests the graph admin pages through Django's test Client as a superuser: the list
pages (all objects, Kustomizations, HelmReleases, sources, workloads), a filtered and a searched list, the admin
index (dashboard), a Kustomization's detail page (with its subtree graph) and the standalone graph of one
namespace. Each page is requested ``--repeat`` times; the median and p95 wall time of requests 2..N and the query
counts of the first and the last request are reported. The cache (graph SVGs, the lists' counts) is cleared before
the first request of each page, so "first_seconds" includes the layout. Baseline in the same run: the admin's
password-change form (a page whose work does not depend on the mirror), requested the same way; ``p95_ratio`` is a
page's p95 over the baseline's, which moves less than the times when the machine is shared. Pages marked "mirror
changed before each" move the mirror's change token before every request (as a batch of watch deltas does), so
nothing cached per change of the mirror is reused: the lists' worst case on a cluster that keeps changing.

Prints one JSON line. Usage: python bench/admin_pages.py [--objects 1000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sync import django_env, peak_rss_mb, shape, simulator_process  # noqa: E402 - bench/ is the script's directory


def pages(kustomization_pk: int, namespace: str) -> list[tuple[str, str, dict, bool]]:
    """(name, path, query, whether the mirror changes before each request) of every page measured."""
    from django.urls import reverse

    def changelist(model: str) -> str:
        return reverse(f"admin:graph_{model}_changelist")

    filtered = {"rollup_health__exact": "healthy", "namespace": namespace}
    return [
        ("baseline: password change form", reverse("admin:password_change"), {}, False),
        ("list: all objects", changelist("kubeobject"), {}, False),
        ("list: Kustomizations", changelist("kustomization"), {}, False),
        ("list: HelmReleases", changelist("helmrelease"), {}, False),
        ("list: sources", changelist("source"), {}, False),
        ("list: workloads", changelist("workload"), {}, False),
        ("list: all, health=healthy + namespace", changelist("kubeobject"), filtered, False),
        ("list: all, search", changelist("kubeobject"), {"q": "app-0001"}, False),
        # The same lists while the mirror changes between every two requests (a watch delta each time): what is cached
        # per change of the mirror (graph.admin.listing: the count, the sidebar's choices) is worked out every time.
        ("list: all objects, mirror changed before each", changelist("kubeobject"), {}, True),
        ("list: workloads, mirror changed before each", changelist("workload"), {}, True),
        ("list: all, search, mirror changed before each", changelist("kubeobject"), {"q": "app-0001"}, True),
        ("admin index (dashboard)", reverse("admin:index"), {}, False),
        ("admin index, mirror changed before each", reverse("admin:index"), {}, True),
        ("detail: Kustomization + subtree graph", reverse("admin:graph_kustomization_change", args=[kustomization_pk]),
         {}, False),
        ("graph: one namespace", reverse("admin:graph_kubeobject_graph"), {"namespace": namespace}, False),
    ]


def p95(values: list[float]) -> float:
    """The 95th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, -(-95 * len(ordered) // 100) - 1))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--objects", type=int, default=1000, help="Flux objects to generate (children come on top)")
    ap.add_argument("--repeat", type=int, default=5, help="requests per page (median reported)")
    args = ap.parse_args()

    from simulator.generator import counts

    namespaces, apps = shape(args.objects)
    results = []
    # The simulator serves from a child process: its ≈ 250 MB of objects (10k) would otherwise sit in this process's
    # heap, where a web worker has none, and the garbage collector's full passes over them would be timed as pages.
    with simulator_process(namespaces, apps) as (url, _loaded, _load_seconds):
        with django_env() as vendor:
            from django.contrib.auth import get_user_model
            from django.core.cache import cache
            from django.db import connection
            from django.test import Client
            from django.test.utils import CaptureQueriesContext, setup_test_environment
            from django.utils import timezone

            from controlplane.models import Cluster
            from graph.models import KubeObject
            from graph.sync import sync_cluster

            setup_test_environment()  # allows the test client's host name
            cluster = Cluster.objects.create(name="bench", connection=Cluster.Connection.SIMULATOR, server_url=url)
            t0 = time.perf_counter()
            sync_cluster(cluster)
            sync_s = time.perf_counter() - t0
            mirrored = KubeObject.objects.count()
            user = get_user_model().objects.create_superuser("bench", "bench@example.com", "bench-password-1")
            client = Client()
            client.force_login(user)
            ks = KubeObject.objects.filter(kind="Kustomization").order_by("namespace", "name").first()
            # A web worker loads Django and the apps, then freezes what it loaded out of the collector's full passes
            # (controlplane/wsgi.py); so does this process before it requests pages, whatever the sync left behind.
            gc.collect()
            gc.freeze()
            for name, path, query, churn in pages(ks.pk, ks.namespace):
                cache.clear()
                times, queries, last_queries, status, size = [], 0, 0, 0, 0
                for attempt in range(args.repeat):
                    if churn:  # what a batch of watch deltas does to the token, outside the timed request
                        Cluster.objects.filter(pk=cluster.pk).update(mirror_changed_at=timezone.now())
                    with CaptureQueriesContext(connection) as captured:
                        t0 = time.perf_counter()
                        response = client.get(path, query)
                        times.append(time.perf_counter() - t0)
                    status, size = response.status_code, len(response.content)
                    if attempt == 0:
                        queries = len(captured)
                    last_queries = len(captured)
                if status != 200:
                    raise SystemExit(f"{name}: HTTP {status}")
                rest = times[1:] or times
                results.append({"page": name, "first_seconds": round(times[0], 3),
                                "seconds": round(statistics.median(rest), 3), "p95_seconds": round(p95(rest), 3),
                                "queries": queries, "queries_last": last_queries, "kb": round(size / 1024, 1)})
            for result in results:
                result["p95_ratio"] = round(result["p95_seconds"] / max(results[0]["p95_seconds"], 1e-6), 2)
    expected = counts(namespaces, apps)
    print(json.dumps({"bench": "admin_pages", "db": vendor, "load_average": [round(x, 2) for x in os.getloadavg()],
                      "objects": expected["flux"], "children": expected["children"], "mirrored": mirrored,
                      "sync_seconds": round(sync_s, 3), "pages": results, "peak_rss_mb": peak_rss_mb()}), flush=True)


if __name__ == "__main__":
    main()
