"""Shared by bench/watch_latency.py and bench/churn.py: a loaded simulator, a throwaway database and the real watcher.

The watcher runs as `manage.py watch_clusters` in its own process (as in production), against the same database
(the SQLite file, or the throwaway PostgreSQL database) and Redis; this process owns the simulator, makes the
changes and polls the mirror for them. CPU time and peak RSS of the watcher come from /proc.
"""

from __future__ import annotations

import collections
import contextlib
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.sync import django_env, shape  # noqa: E402


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (and its threads) from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


@contextlib.contextmanager
def watched_cluster(objects: int, apps: int = 50, watcher_args: tuple[str, ...] = ()):
    """Yield (simulator, vendor, cluster, watcher process, info) once the watcher has listed and its streams are open.

    ``info`` holds the generated counts, the time the watcher took to start (its first full sync) and the line it
    printed then (``watching …``; with the first list in a child process, that child's peak RSS)."""
    from simulator import Simulator

    tail: collections.deque[str] = collections.deque()
    from simulator.generator import counts, generate

    namespaces, apps = shape(objects, apps)
    sim = Simulator(workloads=False)
    url = sim.start()
    sim.store.bulk_load(generate(namespaces, apps))
    info = {"namespaces": namespaces, "apps": apps, **{k: v for k, v in counts(namespaces, apps).items()
                                                      if k in ("flux", "children")}}
    try:
        with django_env() as vendor:
            import django_rq
            from django.db import connection

            from controlplane.models import Cluster

            redis = django_rq.get_connection("default")
            from controlplane.leases import PREFIX

            for key in [*redis.scan_iter("fluxplane:sync:*"), *redis.scan_iter(f"{PREFIX}watch:*")]:
                redis.delete(key)
            cluster = Cluster.objects.create(name="bench", connection=Cluster.Connection.SIMULATOR, server_url=url)
            env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
            if vendor == "postgresql":
                s = connection.settings_dict
                env["DATABASE_URL"] = f"postgres://{s['USER']}@{s['HOST']}:{s['PORT'] or 5432}/{s['NAME']}"
            t0 = time.perf_counter()
            watcher = subprocess.Popen([sys.executable, "manage.py", "watch_clusters", "--refresh", "2",
                                        *watcher_args], cwd=ROOT,
                                       env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            try:
                before: list[str] = []  # log lines (warnings) that come before "watching …"
                while not (line := watcher.stdout.readline()).startswith("watching"):
                    if not line:  # the watcher exited
                        raise SystemExit("the watcher did not start: " + "".join(before[-40:]))
                    before.append(line)
                if before:
                    sys.stderr.write("watcher output before it started:\n" + "".join(before[-20:]))
                info["watcher_start_s"] = round(time.perf_counter() - t0, 3)
                info["watching"] = line.strip()
                # Keep reading its output: a full pipe would block the watcher's next log line (and its thread).
                tail: collections.deque[str] = collections.deque(maxlen=50)
                threading.Thread(target=lambda: tail.extend(watcher.stdout), daemon=True).start()
                time.sleep(1.0)
                yield sim, vendor, cluster, watcher, info
            finally:
                watcher.terminate()
                try:
                    watcher.wait(30)
                except subprocess.TimeoutExpired:
                    watcher.kill()
                if tail:
                    sys.stderr.write("watcher output (last lines):\n" + "".join(tail))
    finally:
        sim.stop(save=False)


def deployments_of(sim) -> list[tuple[str, str]]:
    """(namespace, name) of every Deployment in the simulator, in a stable order."""
    return sorted(((d["metadata"]["namespace"], d["metadata"]["name"]) for d in sim.store.list("deployments")),
                  key=str)


def patch_and_wait(sim, cluster_pk: int, deployment: tuple[str, str], replicas: int, mark: str,
                   timeout: float = 120) -> float:
    """Patch one Deployment (replicas and an annotation) and poll the mirror every 5 ms until its row carries the new
    resourceVersion; returns the seconds that took."""
    obj = sim.store.get("deployments", *deployment)
    obj["spec"]["replicas"] = replicas
    obj["metadata"].setdefault("annotations", {})["bench/change"] = mark
    t0 = time.perf_counter()
    updated = sim.store.update(obj)
    uid, version = updated["metadata"]["uid"], updated["metadata"]["resourceVersion"]
    while row_versions(cluster_pk, [uid]).get(uid) != version:
        if time.perf_counter() - t0 > timeout:
            raise SystemExit(f"change {mark} not mirrored after {timeout} s")
        time.sleep(0.005)
    elapsed = time.perf_counter() - t0
    close_db()
    return elapsed


def row_versions(cluster_pk: int, uids: list[str]) -> dict[str, str]:
    """The mirrored resourceVersion of each uid (one query)."""
    from graph.models import KubeObject

    return dict(KubeObject.objects.filter(cluster_id=cluster_pk, uid__in=uids).values_list("uid", "resource_version"))


def close_db() -> None:
    from django.db import connection

    connection.close()
