"""Benchmark: lay out the Flux graph with Graphviz at 100, 500 and 2000 drawn nodes, uncached and cached.

The graph is the scale generator's shape (one namespace with its GitRepository and HelmRepository, and per app a
Kustomization → HelmRelease, ServiceAccount, ConfigMap, Service, Deployment → ReplicaSet → 5 Pods, the Pods
collapsed into one counted node), built by ``graph.builder.build_graph`` with real health and edges, then drawn
with ``graph.render.to_dot`` + ``render_svg`` exactly as the admin graph view does. Uncached: the cache is cleared
before each layout (``dot -Tsvg`` runs); cached: the same DOT again (``to_dot`` + a cache hit).

Prints one JSON line. Usage: python bench/graph_render.py [--nodes 100 500 2000] [--repeat 3] [--redis URL]
(``--redis`` uses Django's RedisCache, as production does; default: the local-memory cache).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sync import django_env, peak_rss_mb  # noqa: E402 - bench/ is the script's directory

NODES_PER_APP = 8  # 7 objects and one collapsed Pods node
NODES_PER_NAMESPACE = 3  # the Namespace, its GitRepository and HelmRepository


def graph_data(nodes: int):
    """GraphData with about ``nodes`` drawn nodes, from generated objects through the real builder."""
    from graph.builder import build_graph
    from graph.models import KubeObject
    from graph.render import GraphData
    from simulator.generator import generate

    apps = max(1, round((nodes - NODES_PER_NAMESPACE) / NODES_PER_APP))
    objects = list(generate(1, apps))
    for index, obj in enumerate(objects):
        obj["metadata"].setdefault("uid", f"uid-{index}")  # the store would assign these
        obj["metadata"].setdefault("resourceVersion", str(index + 1))
    built = build_graph(objects)
    pks = {uid: pk for pk, uid in enumerate(sorted(built.nodes), start=1)}
    rows = {}
    for uid, node in built.nodes.items():
        f = node.fields
        rows[pks[uid]] = KubeObject(
            pk=pks[uid], cluster_id=1, uid=uid, kind=f["kind"], name=f["name"], namespace=f["namespace"],
            family=f["family"], api_group=f["api_group"], health=f["health"], health_message=f["health_message"],
            rollup_health=f["rollup_health"], rollup_message=f["rollup_message"], suspended=f["suspended"])
    edges = [(pks[s], pks[t], ty) for s, t, ty in built.edges]
    return GraphData(rows, edges)


def measure(nodes: int, repeat: int) -> dict:
    from django.core.cache import cache

    from graph import render

    data = graph_data(nodes)
    url_for = lambda obj: f"/admin/graph/kubeobject/{obj.pk}/change/"  # noqa: E731 - as the admin links nodes
    t0 = time.perf_counter()
    dot = render.to_dot(data, url_for=url_for)
    to_dot_s = time.perf_counter() - t0
    drawn = len(re.findall(r"^  (?:n|pods)\d+ \[", dot, flags=re.M))
    uncached = []
    for _ in range(repeat):
        cache.clear()
        t0 = time.perf_counter()
        svg = render.render_svg(render.to_dot(data, url_for=url_for))
        uncached.append(time.perf_counter() - t0)
    cached = []
    for _ in range(max(repeat, 10)):
        t0 = time.perf_counter()
        render.render_svg(render.to_dot(data, url_for=url_for))
        cached.append(time.perf_counter() - t0)
    return {"nodes": drawn, "objects": len(data.nodes), "edges": len(data.edges), "to_dot_seconds": round(to_dot_s, 4),
            "uncached_seconds": round(statistics.median(uncached), 3), "uncached_max_seconds": round(max(uncached), 3),
            "cached_seconds": round(statistics.median(cached), 4), "cached_max_seconds": round(max(cached), 4),
            "svg_kb": round(len(svg) / 1024, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, nargs="+", default=[100, 500, 2000], help="drawn nodes per graph")
    ap.add_argument("--repeat", type=int, default=3, help="uncached layouts per size (median reported)")
    ap.add_argument("--redis", help="cache rendered SVGs in this Redis (django RedisCache), as production does")
    args = ap.parse_args()
    with django_env():
        from django.test.utils import override_settings

        caches = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": args.redis,
                              "KEY_PREFIX": "fluxplane-bench"}} if args.redis else None
        with override_settings(**({"CACHES": caches} if caches else {})):
            from django.conf import settings

            backend = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
            results = [measure(n, args.repeat) for n in args.nodes]
    import subprocess

    dot_version = subprocess.run(["dot", "-V"], capture_output=True, text=True).stderr.strip()
    print(json.dumps({"bench": "graph_render", "cache": backend, "graphviz": dot_version, "sizes": results,
                      "peak_rss_mb": peak_rss_mb()}), flush=True)


if __name__ == "__main__":
    main()
