"""``manage.py watch_clusters``: keep the mirror of every enabled cluster current from its watch streams (deltas).

Any number of replicas may run: a cluster is watched only by the replica holding its lease (``watch:<cluster
pk>``, controlplane/leases.py), renewed every third of the lease's TTL; the others stand by and take the cluster
over within one TTL when its watcher stops or hangs. Every loop touches the ``watcher`` heartbeat file that the
liveness probe reads.

Each cluster's first list (and a re-list after ``410 Gone``) runs in a short-lived child process (graph.firstlist),
so this long-lived process never holds a whole cluster; ``--list-in-process`` lists here instead (the old way, and
what an in-memory SQLite database needs).
"""

from __future__ import annotations

import signal
import threading
import time

import django_rq
from django.core.management.base import BaseCommand

from controlplane import heartbeat
from controlplane.kube import KubeUnreachable
from controlplane.leases import Lease, identity
from controlplane.models import Cluster
from graph.watch import ClusterWatcher


class Command(BaseCommand):
    help = "Watch every enabled cluster whose lease this replica holds and apply its changes to the mirror."

    def add_arguments(self, parser):
        parser.add_argument("--refresh", type=int, default=60, help="seconds between checks for new clusters")
        parser.add_argument("--lease-seconds", type=float, default=30.0,
                            help="lease time to live; a standby takes a cluster over this long after its watcher hangs")
        parser.add_argument("--list-in-process", action="store_true",
                            help="do the full list in this process instead of a short-lived child (more memory)")

    def handle(self, *args, refresh: int, lease_seconds: float, list_in_process: bool, **options):
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        connection = django_rq.get_connection("default")
        watchers: dict[int, ClusterWatcher] = {}
        leases: dict[int, Lease] = {}
        wanted: dict[int, Cluster] = {}
        retry_at: dict[int, float] = {}
        next_refresh = 0.0
        try:
            while not stop.is_set():
                heartbeat.beat("watcher")
                now = time.monotonic()
                if now >= next_refresh:
                    wanted = {c.pk: c for c in Cluster.objects.filter(enabled=True)}
                    next_refresh = now + refresh
                for pk in set(leases) - set(wanted):
                    if pk in watchers:
                        watchers.pop(pk).stop()
                    leases.pop(pk).release()
                for pk, cluster in wanted.items():
                    lease = leases.setdefault(pk, Lease(connection, f"watch:{pk}", ttl=lease_seconds))
                    if pk in watchers:
                        if not lease.renew():
                            watchers.pop(pk).stop()
                            self._say(f"{cluster.name}: lease lost; no longer watching")
                        continue
                    if now < retry_at.get(pk, 0.0) or not lease.acquire():
                        continue
                    watcher = ClusterWatcher(cluster, list_in_child=not list_in_process)
                    started = threading.Event()

                    def keep(lease=lease, started=started) -> None:
                        # start() lists the cluster (a full sync), which may outlast the lease: renew meanwhile.
                        while not started.wait(lease_seconds / 3):
                            lease.renew()
                    threading.Thread(target=keep, daemon=True, name=f"lease-{pk}").start()
                    try:
                        watcher.start()
                    except KubeUnreachable as exc:
                        self.stderr.write(f"{cluster.name}: {exc}; retrying in {refresh}s")
                        lease.release()
                        retry_at[pk] = now + refresh
                        continue
                    finally:
                        started.set()
                    watchers[pk] = watcher
                    listed = watcher.child_list
                    self._say(f"watching {cluster.name} ({identity()} holds its lease)" + (
                        f"; listed in a child process: {listed.objects} objects, {listed.rows_written} rows written,"
                        f" its peak RSS {listed.peak_rss_mb} MB" if listed else ""))
                stop.wait(lease_seconds / 3)
        finally:
            for watcher in watchers.values():
                watcher.stop()
            for lease in leases.values():
                lease.release()

    def _say(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()
