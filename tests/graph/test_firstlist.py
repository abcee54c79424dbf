"""The watcher's first list in a short-lived child process (graph.firstlist): the same mirror, the same resume.

A child process cannot open an in-memory SQLite database: there (the default SQLite test run) the watcher lists in
its own process, and these tests check that fallback; on PostgreSQL (or a SQLite file) the child does the list.
"""

from __future__ import annotations

import pytest

from controlplane.kube import KubeUnreachable
from controlplane.models import Cluster
from graph import firstlist
from graph.models import KubeObject
from graph.sync import sync_cluster
from graph.watch import ClusterWatcher
from tests.graph.conftest import wait_for
from tests.graph.test_delta import assert_same_mirror, settle


@pytest.mark.django_db(transaction=True)
def test_the_first_list_in_a_child_process_then_deltas_in_the_watcher(tree_sim):
    watched = Cluster.objects.create(name="watched", connection=Cluster.Connection.SIMULATOR, server_url=tree_sim.url)
    listed = Cluster.objects.create(name="listed", connection=Cluster.Connection.SIMULATOR, server_url=tree_sim.url)
    watcher = ClusterWatcher(watched, window=0.02, list_in_child=True)
    watcher.start()
    try:
        wait_for(lambda: watcher.established, what="watch streams to open")
        live = KubeObject.objects.filter(cluster=watched, deleted_at__isnull=True).count()
        if firstlist.supported():
            assert watcher.lists_in_child == 1 and watcher.child_list.objects == live > 0
            assert watcher.child_list.rows_written == live and watcher.child_list.peak_rss_mb > 0
        else:
            assert watcher.lists_in_child == 0 and watcher.child_list is None and live > 0
        hr = tree_sim.store.get("helmreleases", "podinfo", "podinfo")
        hr["status"]["conditions"][0].update(status="False", reason="UpgradeFailed", message="timed out waiting")
        tree_sim.store.update_status(hr)
        settle(tree_sim, watcher)
    finally:
        watcher.stop()
    assert watcher.resyncs == 1 and watcher.events_applied >= 1
    row = KubeObject.objects.get(cluster=watched, kind="HelmRelease", name="podinfo")
    assert (row.health, row.health_reason) == ("degraded", "UpgradeFailed")
    sync_cluster(listed)
    assert_same_mirror(watched, listed)


@pytest.mark.django_db(transaction=True)
def test_a_child_that_cannot_reach_the_cluster_raises_in_the_watcher():
    gone = Cluster.objects.create(name="gone", connection=Cluster.Connection.SIMULATOR,
                                  server_url="http://127.0.0.1:9")  # nothing listens on the discard port
    watcher = ClusterWatcher(gone, list_in_child=True)
    with pytest.raises(KubeUnreachable):
        watcher.start()
    gone.refresh_from_db()
    assert gone.last_sync_state == Cluster.SyncState.UNREACHABLE
