"""Sync jobs: a runner for syncs started by people (with a Run row and log) and plain periodic/watch jobs."""

from __future__ import annotations

import logging

import django_rq
from django.utils import timezone
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from controlplane import context
from controlplane.dispatch import register
from controlplane.kube import KubeError, KubeUnreachable
from controlplane.models import Cluster, SystemRun
from controlplane.runners import JobFailed, JobRunner, RetryLater
from graph.sync import SyncInProgress, sync_cluster_locked

logger = logging.getLogger(__name__)


@register
class SyncRunner(JobRunner):
    """Sync one cluster (parameter ``cluster``: its name) or every enabled cluster, logging progress."""

    name = "sync"
    model = SystemRun
    queue = "high"
    description = "Sync clusters into the graph now"
    retry_after_crash = True  # a sync is idempotent

    def run(self) -> dict:
        name = (self.run_row.parameters or {}).get("cluster")
        clusters = Cluster.objects.filter(enabled=True)
        if name:
            clusters = clusters.filter(name=name)
            if not clusters.exists():
                raise JobFailed(f"no enabled cluster named {name!r}")
        results, failures, busy = {}, [], []
        for cluster in clusters:
            try:
                result = sync_cluster_locked(cluster.pk, progress=lambda m, c=cluster: self.log(f"{c.name}: {m}"))
            except SyncInProgress:
                busy.append(cluster.name)
                continue
            except (KubeUnreachable, KubeError) as exc:
                self.log(f"{cluster.name}: {exc}", "error")
                failures.append(cluster.name)
                continue
            for problem in result.problems:
                self.log(f"{cluster.name}: {problem}", "warning")
            results[cluster.name] = {"objects": result.objects, "edges": result.edges, "skipped": len(result.problems)}
        if failures:
            raise JobFailed(f"sync failed for {', '.join(failures)}")
        if busy:
            # Never "succeeded" without syncing: the lock may be a killed sync's (it expires within
            # FLUXPLANE_SYNC_LOCK_SECONDS) or a sync running now; either way this one runs once the cluster is free.
            raise RetryLater(f"another sync holds the lock of {', '.join(busy)}")
        return results


def _job_id(cluster_pk: int) -> str:
    return f"fluxplane-sync-{cluster_pk}"


def enqueue_sync(cluster_pk: int) -> bool:
    """Enqueue a background sync unless one for this cluster is already waiting (cheap to call often)."""
    connection = django_rq.get_connection("default")
    try:
        if Job.fetch(_job_id(cluster_pk), connection=connection).get_status(refresh=False) in (
                JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED):
            return False
    except NoSuchJobError:
        pass
    django_rq.get_queue("default", commit_mode="auto").enqueue(sync_cluster_job, cluster_pk, job_id=_job_id(cluster_pk))
    return True


def sync_cluster_job(cluster_pk: int) -> str:
    """Background sync of one cluster (periodic or watch-triggered); the outcome is recorded on the Cluster."""
    with context.work_context(context.Origin.JOB, request_id=f"sync:{cluster_pk}"):
        try:
            return sync_cluster_locked(cluster_pk).summary()
        except SyncInProgress as exc:
            return str(exc)
        except (KubeUnreachable, KubeError) as exc:
            logger.warning("sync of cluster %s failed: %s", cluster_pk, exc)
            return f"failed: {exc}"


def sync_due_clusters() -> list[int]:
    """Periodic: enqueue a sync for every enabled cluster whose last sync is older than its interval."""
    now = timezone.now()
    due = []
    for cluster in Cluster.objects.filter(enabled=True):
        interval = timezone.timedelta(seconds=cluster.sync_interval_seconds)
        if cluster.last_sync_at is None or now - cluster.last_sync_at >= interval:
            if enqueue_sync(cluster.pk):
                due.append(cluster.pk)
    return due
