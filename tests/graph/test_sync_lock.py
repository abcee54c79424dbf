"""The per-cluster sync lock: an owner token, a short TTL renewed while the sync runs, so a sync that was killed
frees its cluster quickly and a long one keeps it."""

from __future__ import annotations

import threading
import time

import django_rq
import pytest

from graph import sync
from graph.models import KubeObject
from graph.sync import SyncInProgress, lock_for, sync_cluster_locked

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_killed_sync_frees_its_cluster_after_the_short_ttl(cluster, monkeypatch):
    monkeypatch.setattr(sync, "LOCK_TIMEOUT", 1)
    dead = lock_for(cluster.pk)
    assert dead.acquire(blocking=False)  # a sync whose worker was killed: the lock is never released
    with pytest.raises(SyncInProgress):
        sync_cluster_locked(cluster.pk)
    time.sleep(1.3)
    assert sync_cluster_locked(cluster.pk).objects > 0
    assert KubeObject.objects.filter(cluster=cluster).exists()


def test_a_long_sync_keeps_its_lock_and_only_its_owner_releases_it(cluster, monkeypatch):
    monkeypatch.setattr(sync, "LOCK_TIMEOUT", 1)
    monkeypatch.setattr(sync, "LOCK_RENEW_SECONDS", 0.2)
    seen = {}

    def slow_progress(message: str) -> None:
        if "refused" not in seen:
            time.sleep(2.5)  # longer than the TTL: only renewal keeps the lock
            other = lock_for(cluster.pk)
            seen["refused"] = not other.acquire(blocking=False)
            seen["ttl_ms"] = django_rq.get_connection("default").pttl(other.name)

    worker = threading.Thread(target=lambda: seen.setdefault("result", sync_cluster_locked(cluster.pk,
                                                                                          slow_progress)))
    worker.start()
    worker.join(timeout=120)
    assert seen["refused"] and 0 < seen["ttl_ms"] <= 1000
    assert seen["result"].objects > 0
    assert django_rq.get_connection("default").exists(lock_for(cluster.pk).name) == 0  # released at the end
