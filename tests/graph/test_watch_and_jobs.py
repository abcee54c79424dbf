"""Watchers sharing clusters by lease, the sync job and runner, the periodic scheduler tick and `manage.py sync`."""

from __future__ import annotations

import io
import threading
import time

import django_rq
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from controlplane.jobs import start_system_job
from controlplane.models import Cluster, RunStatus
from graph.jobs import enqueue_sync, sync_due_clusters
from graph.management.commands.watch_clusters import Command as WatchCommand
from graph.models import KubeObject
from graph.sync import lock_for
from tests.graph.conftest import wait_for


class Replica:
    """One `manage.py watch_clusters` process, run in a thread with its output captured."""

    def __init__(self):
        self.out = io.StringIO()
        self.stop = threading.Event()
        command = WatchCommand(stdout=self.out, stderr=self.out)
        self.thread = threading.Thread(target=command.run, args=(self.stop, 0.2, 5), daemon=True)
        self.thread.start()

    def watching(self) -> set[str]:
        lines = self.out.getvalue().splitlines()
        names: set[str] = set()
        for line in lines:
            if line.startswith("watching "):
                names.add(line.removeprefix("watching "))
            elif line.startswith("stopped watching "):
                names.discard(line.removeprefix("stopped watching ").split(":")[0])
        return names

    def end(self) -> None:
        self.stop.set()
        self.thread.join(30)


def quiet(sim, seconds: float = 1.5, timeout: float = 30) -> None:
    """Wait until the simulator has not changed for ``seconds`` (the watchers apply within a fraction of that);
    waiting on the database instead would contend with the watchers for SQLite's in-memory test database."""
    last, since, deadline = None, time.monotonic(), time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sim.store.resource_version != last:
            last, since = sim.store.resource_version, time.monotonic()
        elif time.monotonic() - since >= seconds:
            return
        time.sleep(0.05)
    raise AssertionError("the simulator kept changing")


@pytest.mark.django_db(transaction=True)
def test_watch_clusters_replicas_share_clusters_by_lease_and_apply_changes(cluster, tree_sim, redis_connection):
    second = Cluster.objects.create(name="second", connection=Cluster.Connection.SIMULATOR, server_url=tree_sim.url)
    first_replica = Replica()
    try:
        wait_for(lambda: first_replica.watching() == {"staging", "second"}, what="the first replica to take both")
        other = Replica()
        try:
            time.sleep(1.0)  # several refreshes: both leases are held, so the second replica takes nothing
            assert other.watching() == set()
            deployment = tree_sim.store.get("deployments", "podinfo", "podinfo")
            deployment["spec"]["replicas"] = 3
            tree_sim.store.update(deployment)
            quiet(tree_sim)
            first_replica.end()  # its leases are released: the other replica takes over
            wait_for(lambda: other.watching() == {"staging", "second"}, what="the other replica to take over")
            quiet(tree_sim)
        finally:
            other.end()
    finally:
        first_replica.end()
    assert not list(redis_connection.scan_iter("fluxplane:watcher*")), "leases and announcements released"
    for mirrored in (cluster, second):
        pods = KubeObject.objects.filter(cluster=mirrored, kind="Pod", name__startswith="podinfo-",
                                         deleted_at__isnull=True)
        assert pods.count() == 3, "the new Pod came through the watch deltas"
        assert KubeObject.objects.get(cluster=mirrored, kind="Deployment", name="podinfo").spec["replicas"] == 3


@pytest.mark.django_db
def test_sync_runner_logs_progress(cluster, drain, admin_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        run = start_system_job("sync", user=admin_user, parameters={"cluster": "staging"})
    drain()
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.result["staging"]["objects"] == KubeObject.objects.count()
    assert any("staging:" in line["message"] and "objects" in line["message"] for line in run.log)


@pytest.mark.django_db
def test_sync_runner_fails_for_an_unknown_cluster(drain, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        run = start_system_job("sync", parameters={"cluster": "nope"})
    drain()
    run.refresh_from_db()
    assert (run.status, run.error) == (RunStatus.FAILED, "no enabled cluster named 'nope'")


@pytest.mark.django_db
def test_periodic_tick_enqueues_due_clusters_once(cluster, drain):
    assert sync_due_clusters() == [cluster.pk]
    assert sync_due_clusters() == [], "a sync already waiting is not enqueued twice"
    drain()
    cluster.refresh_from_db()
    assert cluster.last_sync_state == "ok"
    assert KubeObject.objects.filter(cluster=cluster).exists()
    assert sync_due_clusters() == [], "a freshly synced cluster is not due"
    Cluster.objects.filter(pk=cluster.pk).update(last_sync_at=timezone.now() - timezone.timedelta(hours=1))
    assert sync_due_clusters() == [cluster.pk]


@pytest.mark.django_db
def test_two_workers_never_sync_the_same_cluster_at_once(cluster, drain):
    lock = lock_for(cluster.pk)
    assert lock.acquire(blocking=False)
    try:
        enqueue_sync(cluster.pk)
        drain()
        assert not KubeObject.objects.filter(cluster=cluster).exists()
    finally:
        lock.release()
    django_rq.get_queue("default").empty()


@pytest.mark.django_db
def test_sync_command(cluster, capsys):
    call_command("sync", "--cluster", "staging")
    out = capsys.readouterr().out
    assert "staging: syncing" in out and "objects," in out
    assert KubeObject.objects.filter(cluster=cluster, kind="Kustomization").count() == 2
    with pytest.raises(CommandError, match="no cluster named 'nope'"):
        call_command("sync", "--cluster", "nope")
