"""The sync job and runner, the sync job and runner, the periodic scheduler tick and `manage.py sync`."""

from __future__ import annotations

import django_rq
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from controlplane.jobs import start_system_job
from controlplane.models import Cluster, RunStatus
from graph.jobs import enqueue_sync, sync_due_clusters
from graph.models import KubeObject
from graph.sync import lock_for


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
