"""The watch deltas and a full sync build the same mirror.

Two Cluster rows point at one simulator: ``watched`` is kept current by a ClusterWatcher (list once, then deltas),
``listed`` gets one full sync at the end. After a seeded random sequence of creates, updates and deletes on the
simulator (the workload controller adds its own ReplicaSet and Pod churn), both mirrors must hold the same live rows
with the same fields, health and roll-ups, and the same edges.
"""

from __future__ import annotations

import copy
import random
import time

import pytest

from alerts.choices import AlertSource, AlertStatus
from alerts.models import Alert
from controlplane.models import Cluster
from graph.delta import Parked, apply_events
from graph.models import Edge, KubeObject
from graph.sync import sync_cluster
from graph.watch import ClusterWatcher
from tests.graph.conftest import wait_for
from tests.graph.flux_tree import KS_LABELS, app, create, ready

# Compared per row: everything the pages, health, alerts and change tracking read. Not compared: timestamps (the
# delta writes when it sees a change, the sync when it lists) and core Events (the full sync attaches them).
COMPARED = ("api_group", "api_version", "kind", "family", "namespace", "name", "labels", "annotations", "spec",
            "status", "owner_references", "resource_version", "generation", "observed_generation", "suspended",
            "managed_by_kind", "managed_by_namespace", "managed_by_name", "origin_path", "origin_repo", "origin_ref",
            "health", "health_reason", "health_message", "rollup_health", "rollup_message", "rollup_path")


def mirror(cluster: Cluster) -> tuple[dict, set]:
    rows = {r["uid"]: r for r in KubeObject.objects.filter(cluster=cluster, deleted_at__isnull=True).values(
        "uid", *COMPARED)}
    edges = set(Edge.objects.filter(cluster=cluster).values_list("source__uid", "target__uid", "type"))
    return rows, edges


def assert_same_mirror(watched: Cluster, listed: Cluster) -> None:
    rows_a, edges_a = mirror(watched)
    rows_b, edges_b = mirror(listed)
    only_delta = {rows_a[u]["kind"] + " " + rows_a[u]["name"] for u in set(rows_a) - set(rows_b)}
    only_sync = {rows_b[u]["kind"] + " " + rows_b[u]["name"] for u in set(rows_b) - set(rows_a)}
    assert not only_delta and not only_sync, f"only in the delta mirror: {only_delta}; only listed: {only_sync}"
    for uid, row in rows_b.items():
        differ = {k: (rows_a[uid][k], v) for k, v in row.items() if rows_a[uid][k] != v}
        assert not differ, f"{row['kind']} {row['namespace']}/{row['name']}: (delta, sync) {differ}"
    assert edges_a == edges_b, f"edges only delta: {edges_a - edges_b}; only sync: {edges_b - edges_a}"


def settle(sim, watcher: ClusterWatcher) -> None:
    """Wait for the simulator's controllers to stop changing things and the watcher to apply every event."""
    last, since = None, time.monotonic()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        now = (sim.store.resource_version, watcher.events_seen, watcher.events_applied)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since > 1.0 and watcher.events_seen == watcher.events_applied and not watcher.behind:
            return
        time.sleep(0.05)
    raise AssertionError("the simulator or the watcher did not settle")


class Operations:
    """A seeded random sequence of changes a Flux cluster sees: apps come and go, rollouts, scaling, failures,
    suspensions, dependsOn edits and label changes."""

    def __init__(self, sim, seed: int):
        self.sim = sim
        self.rng = random.Random(seed)
        self.apps: list[str] = ["podinfo", "frontend"]
        self.counter = 0
        self.log: list[str] = []

    def step(self) -> None:
        op = self.rng.choice(["create_app", "scale", "rollout", "fail_release", "heal_release", "suspend",
                              "delete_app", "depends_on", "delete_pod", "relabel"])
        getattr(self, op)()
        self.log.append(op)

    def _pick(self) -> str | None:
        return self.rng.choice(self.apps) if self.apps else None

    def _apps_inventory(self) -> None:
        ks = self.sim.store.get("kustomizations", "flux-system", "apps")
        entries = ["_podinfo__Namespace", "podinfo_podinfo_source.toolkit.fluxcd.io_HelmRepository"]
        entries += [f"podinfo_{a}_helm.toolkit.fluxcd.io_HelmRelease" for a in self.apps]
        ks["status"]["inventory"] = {"entries": [{"id": i, "v": "v1"} for i in entries]}
        self.sim.store.update_status(ks)

    def create_app(self) -> None:
        self.counter += 1
        name = f"gen-{self.counter}"
        app(self.sim, name, f"ghcr.io/example/{name}:1", replicas=self.rng.randint(1, 3))
        self.apps.append(name)
        if self.rng.random() < 0.7:  # sometimes the inventory is updated later (or never, until the next op)
            self._apps_inventory()

    def scale(self) -> None:
        name = self._pick()
        if name:
            d = self.sim.store.get("deployments", "podinfo", name)
            d["spec"]["replicas"] = self.rng.randint(0, 4)
            self.sim.store.update(d)

    def rollout(self) -> None:
        name = self._pick()
        if name:
            d = self.sim.store.get("deployments", "podinfo", name)
            image = self.rng.choice([f"ghcr.io/example/{name}:{self.rng.randint(2, 9)}", "ghcr.io/example/x:broken"])
            d["spec"]["template"]["spec"]["containers"][0]["image"] = image
            self.sim.store.update(d)

    def _release_status(self, ready_: bool) -> None:
        name = self._pick()
        if name:
            hr = self.sim.store.get("helmreleases", "podinfo", name)
            cond = ready("Helm upgrade succeeded", "UpgradeSucceeded") if ready_ else {
                "type": "Ready", "status": "False", "reason": "UpgradeFailed", "message": "timed out waiting",
                "observedGeneration": 1, "lastTransitionTime": "2026-11-27T10:05:00Z"}
            hr["status"]["conditions"] = [cond]
            self.sim.store.update_status(hr)

    def fail_release(self) -> None:
        self._release_status(False)

    def heal_release(self) -> None:
        self._release_status(True)

    def suspend(self) -> None:
        name = self._pick()
        if name:
            hr = self.sim.store.get("helmreleases", "podinfo", name)
            hr["spec"]["suspend"] = not hr["spec"].get("suspend", False)
            self.sim.store.update(hr)

    def delete_app(self) -> None:
        name = self._pick()
        if name and len(self.apps) > 1:
            self.apps.remove(name)
            for plural, obj_name in (("deployments", name), ("services", name), ("helmcharts", f"podinfo-{name}"),
                                     ("helmreleases", name)):
                if self.sim.store.peek(plural, "podinfo", obj_name) is not None:
                    self.sim.store.delete(plural, "podinfo", obj_name)
            if self.rng.random() < 0.7:
                self._apps_inventory()

    def depends_on(self) -> None:
        name = self._pick()
        other = self._pick()
        if name and other and name != other:
            hr = self.sim.store.get("helmreleases", "podinfo", name)
            hr["spec"]["dependsOn"] = [] if hr["spec"].get("dependsOn") else [{"name": other}]
            self.sim.store.update(hr)

    def delete_pod(self) -> None:
        pods = self.sim.store.list("pods", "podinfo")
        if pods:
            pod = self.rng.choice(sorted(pods, key=lambda p: p["metadata"]["name"]))
            self.sim.store.delete("pods", "podinfo", pod["metadata"]["name"])

    def relabel(self) -> None:
        """A Service stops (or starts again) carrying its HelmRelease's labels: it leaves (or joins) the mirror."""
        name = self._pick()
        if name and self.sim.store.peek("services", "podinfo", name) is not None:
            svc = self.sim.store.get("services", "podinfo", name)
            labels = svc["metadata"].setdefault("labels", {})
            if labels.pop("helm.toolkit.fluxcd.io/name", None) is None:
                labels["helm.toolkit.fluxcd.io/name"] = name
            self.sim.store.update(svc)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("seed", [7, 2026])
def test_deltas_and_a_full_sync_build_the_same_mirror(tree_sim, seed):
    watched = Cluster.objects.create(name="watched", connection=Cluster.Connection.SIMULATOR, server_url=tree_sim.url)
    listed = Cluster.objects.create(name="listed", connection=Cluster.Connection.SIMULATOR, server_url=tree_sim.url)
    watcher = ClusterWatcher(watched, window=0.02)
    watcher.start()
    ops = Operations(tree_sim, seed)
    try:
        wait_for(lambda: watcher.established, what="watch streams to open")
        for _ in range(40):
            ops.step()
            if ops.rng.random() < 0.3:
                time.sleep(ops.rng.random() * 0.2)  # sometimes let a batch go through mid-sequence
        settle(tree_sim, watcher)
    finally:
        watcher.stop()
    assert watcher.resyncs == 1, "listed once, never again"
    assert watcher.events_applied > 40 and watcher.batches > 1
    sync_cluster(listed)
    assert_same_mirror(watched, listed)
    assert len(set(ops.log)) >= 6, f"the sequence exercised few kinds of change: {ops.log}"


@pytest.mark.django_db(transaction=True)
def test_one_change_is_applied_without_a_sync_and_the_watch_resumes_without_relisting(tree_sim):
    watched = Cluster.objects.create(name="watched", connection=Cluster.Connection.SIMULATOR, server_url=tree_sim.url)
    watcher = ClusterWatcher(watched, window=0.02, watch_timeout=1)  # the server ends each stream after 1 s
    watcher.start()
    try:
        wait_for(lambda: watcher.established, what="watch streams to open")
        time.sleep(2.5)  # every stream reconnects at least twice
        hr = tree_sim.store.get("helmreleases", "podinfo", "podinfo")
        hr["status"]["conditions"] = [
            {"type": "Ready", "status": "False", "reason": "RetriesExceeded", "message": "upgrade retries exhausted",
             "lastTransitionTime": "2026-11-27T10:05:00Z"},
            {"type": "Stalled", "status": "True", "reason": "RetriesExceeded", "message": "upgrade retries exhausted",
             "lastTransitionTime": "2026-11-27T10:05:00Z"}]
        tree_sim.store.update_status(hr)
        # Wait on the watcher, not the database: SQLite's in-memory test database locks a table a reader touches
        # while another thread writes.
        settle(tree_sim, watcher)
    finally:
        watcher.stop()
    row = KubeObject.objects.get(cluster=watched, kind="HelmRelease", name="podinfo")
    assert (row.health, row.health_reason) == ("failed", "RetriesExceeded")
    apps = KubeObject.objects.get(cluster=watched, kind="Kustomization", name="apps")
    assert apps.rollup_health == "failed"
    assert apps.rollup_message.startswith("Kustomization flux-system/apps → HelmRelease podinfo/podinfo: ")
    # What follows the mirror follows the deltas: the health transition opened an alert, as after a sync.
    alert = Alert.objects.get(source=AlertSource.HEALTH, object_id=row.pk)
    assert alert.status == AlertStatus.PENDING and "RetriesExceeded" in alert.summary
    assert watcher.reconnects >= 2
    assert watcher.resyncs == 1, "a stream the server ended resumes from its resourceVersion, no re-list"


@pytest.fixture
def short_history():
    """A simulator that keeps only 30 events: a watch from an older resourceVersion gets 410 Gone."""
    from simulator import Simulator
    from tests.graph.flux_tree import flux_tree

    sim = Simulator(history=30, bookmark_seconds=0.2)
    sim.start()
    flux_tree(sim)
    yield sim
    sim.stop(save=False)


def config_maps(sim, count: int, pause: float = 0.0) -> None:
    for i in range(count):
        create(sim, {"apiVersion": "v1", "kind": "ConfigMap",
                     "metadata": {"name": f"cm-{i}", "namespace": "podinfo", "labels": KS_LABELS}})
        time.sleep(pause)


@pytest.mark.django_db(transaction=True)
def test_410_gone_relists_once_and_reconciles(short_history):
    watched = Cluster.objects.create(name="watched", connection=Cluster.Connection.SIMULATOR,
                                     server_url=short_history.url)
    watcher = ClusterWatcher(watched, window=0.02)
    watcher._resync()  # listed …
    config_maps(short_history, 60)  # … then more changes than the server keeps before the streams open
    watcher.start()
    try:
        wait_for(lambda: watcher.resyncs >= 2 and watcher.established, what="the streams to re-list after 410")
        settle(short_history, watcher)
    finally:
        watcher.stop()
    assert KubeObject.objects.filter(cluster=watched, kind="ConfigMap", name__startswith="cm-",
                                     deleted_at__isnull=True).count() == 60
    assert watcher.resyncs == 2, "one re-list serves every stream that met 410 at once"


@pytest.mark.django_db(transaction=True)
def test_bookmarks_keep_quiet_streams_resumable(short_history):
    """Streams of kinds that do not change (Buckets, Alerts, …) move on with bookmarks, so when the server ends
    them they resume instead of meeting 410 and re-listing."""
    watched = Cluster.objects.create(name="watched", connection=Cluster.Connection.SIMULATOR,
                                     server_url=short_history.url)
    watcher = ClusterWatcher(watched, window=0.02, watch_timeout=1)
    watcher.start()
    try:
        wait_for(lambda: watcher.established, what="watch streams to open")
        config_maps(short_history, 60, pause=0.05)  # 60 changes over 3 s: twice the history, past every timeout
        settle(short_history, watcher)
    finally:
        watcher.stop()
    assert watcher.reconnects >= 2
    assert watcher.resyncs == 1
    assert KubeObject.objects.filter(cluster=watched, kind="ConfigMap", name__startswith="cm-").count() == 60


@pytest.mark.django_db
def test_an_unchanged_resync_writes_nothing(cluster, tree_sim):
    first = sync_cluster(cluster)
    assert first.rows_written == first.objects > 0
    again = sync_cluster(cluster)
    assert (again.rows_written, again.edges_written, again.tombstoned) == (0, 0, 0)
    deployment = tree_sim.store.get("deployments", "podinfo", "podinfo")
    deployment["metadata"].setdefault("annotations", {})["touched"] = "yes"
    tree_sim.store.update(deployment)
    third = sync_cluster(cluster)
    assert third.rows_written == 1


@pytest.mark.django_db
def test_stale_events_are_ignored_and_children_wait_for_their_owner(cluster, tree_sim):
    sync_cluster(cluster)
    deployment = tree_sim.store.get("deployments", "podinfo", "podinfo")
    stale = copy.deepcopy(deployment)
    stale["metadata"]["resourceVersion"] = "1"
    stale["spec"]["replicas"] = 99
    result = apply_events(cluster, [("MODIFIED", stale)])
    assert (result.stale, result.upserted) == (1, 0)
    assert KubeObject.objects.get(cluster=cluster, uid=deployment["metadata"]["uid"]).spec["replicas"] == 2

    # A Pod whose ReplicaSet is not mirrored yet waits (parked) and is mirrored with its owner.
    parked = Parked()
    rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {
        "name": "podinfo-new", "namespace": "podinfo", "uid": "rs-new", "resourceVersion": "900000",
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo",
                             "uid": deployment["metadata"]["uid"], "controller": True}]},
        "spec": {"replicas": 1}, "status": {"replicas": 1}}
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": "podinfo-new-1", "namespace": "podinfo", "uid": "pod-new", "resourceVersion": "900001",
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "podinfo-new", "uid": "rs-new"}]},
        "spec": {}, "status": {"phase": "Pending"}}
    result = apply_events(cluster, [("ADDED", pod)], parked)
    assert (result.upserted, result.parked, len(parked)) == (0, 1, 1)
    result = apply_events(cluster, [("ADDED", rs)], parked)
    assert result.upserted == 2 and len(parked) == 0
    assert Edge.objects.filter(source__uid="rs-new", target__uid="pod-new", type="owns").exists()
    assert Edge.objects.filter(source__uid=deployment["metadata"]["uid"], target__uid="rs-new").exists()
    # The owner goes: its children leave the mirror with it.
    apply_events(cluster, [("DELETED", {**rs, "metadata": {**rs["metadata"], "resourceVersion": "900002"}})], parked)
    assert set(KubeObject.objects.filter(uid__in=["rs-new", "pod-new"], deleted_at__isnull=True)) == set()
    assert not Edge.objects.filter(target__uid="pod-new").exists()
