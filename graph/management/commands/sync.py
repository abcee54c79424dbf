"""``manage.py sync [--cluster NAME]``: sync clusters into the graph now, printing progress."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from controlplane import context
from controlplane.kube import KubeError, KubeUnreachable
from controlplane.models import Cluster
from graph.sync import SyncInProgress, sync_cluster_locked


class Command(BaseCommand):
    help = "Sync one cluster (--cluster) or every enabled cluster into Fluxplane's graph, with a progress line."

    def add_arguments(self, parser):
        parser.add_argument("--cluster", help="cluster name (default: every enabled cluster)")

    def handle(self, *args, cluster: str | None = None, **options):
        clusters = Cluster.objects.filter(enabled=True).order_by("name")
        if cluster:
            clusters = Cluster.objects.filter(name=cluster)
            if not clusters.exists():
                raise CommandError(f"no cluster named {cluster!r}")
        if not clusters.exists():
            raise CommandError("no enabled clusters: add one in the admin (Fluxplane core → Clusters)")
        failed = []
        with context.work_context(context.Origin.COMMAND):
            for item in clusters:
                self.stdout.write(f"{item.name}: syncing…")
                try:
                    result = sync_cluster_locked(
                        item.pk, progress=lambda msg, name=item.name: self.stdout.write(f"{name}: {msg}")
                    )
                except (KubeUnreachable, KubeError, SyncInProgress) as exc:
                    self.stderr.write(f"{item.name}: {exc}")
                    failed.append(item.name)
                    continue
                for problem in result.problems:
                    self.stderr.write(f"{item.name}: {problem}")
        if failed:
            raise CommandError(f"sync failed for {', '.join(failed)}")
