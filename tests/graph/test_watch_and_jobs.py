"""The sync job and runner, the sync job and runner, the periodic scheduler tick and `manage.py sync`."""

from __future__ import annotations

import django_rq
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from controlplane.jobs import start_system_job, sweep_runs_job
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
def test_a_sync_meeting_a_held_lock_waits_and_never_reports_success_without_syncing(
        cluster, drain, admin_user, django_capture_on_commit_callbacks, settings):
    dead = lock_for(cluster.pk)
    assert dead.acquire(blocking=False)  # e.g. a killed sync's lock, until its TTL runs out
    with django_capture_on_commit_callbacks(execute=True):
        run = start_system_job("sync", user=admin_user, parameters={"cluster": "staging"})
    drain()
    run.refresh_from_db()
    assert run.status == RunStatus.QUEUED and not KubeObject.objects.exists(), (run.status, run.log)
    assert run.log[-1]["message"].startswith("another sync holds the lock of staging; trying again in 15 s")
    assert run.enqueued_at > timezone.now()  # backoff

    dead.release()  # the lock expired or its owner finished
    type(run).objects.filter(pk=run.pk).update(enqueued_at=timezone.now())  # the backoff elapsed
    settings.FLUXPLANE_RUN_REQUEUE_AFTER_SECONDS = 0
    assert sweep_runs_job()["requeued"] == 1
    drain()
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED and run.attempts == 2, (run.error, run.log)
    assert run.result["staging"]["objects"] == KubeObject.objects.count() > 0


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
