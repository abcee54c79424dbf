"""``manage.py watch_clusters``: keep watches open on every enabled cluster and enqueue syncs on change."""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand

from controlplane.kube import KubeUnreachable
from controlplane.models import Cluster
from graph.jobs import enqueue_sync
from graph.watch import ClusterWatcher


class Command(BaseCommand):
    help = "Watch every enabled cluster and enqueue a sync shortly after anything changes (runs until stopped)."

    def add_arguments(self, parser):
        parser.add_argument("--refresh", type=int, default=60, help="seconds between checks for new clusters")

    def handle(self, *args, refresh: int, **options):
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        watchers: dict[int, ClusterWatcher] = {}
        while not stop.is_set():
            wanted = {c.pk: c for c in Cluster.objects.filter(enabled=True)}
            for pk in set(watchers) - set(wanted):
                watchers.pop(pk).stop()
            for pk, cluster in wanted.items():
                if pk not in watchers:
                    watcher = ClusterWatcher(cluster, on_change=enqueue_sync)
                    try:
                        watcher.start()
                    except KubeUnreachable as exc:
                        self.stderr.write(f"{cluster.name}: {exc}; retrying in {refresh}s")
                        continue
                    watchers[pk] = watcher
                    self.stdout.write(f"watching {cluster.name}")
            stop.wait(refresh)
        for watcher in watchers.values():
            watcher.stop()
