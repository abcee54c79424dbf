"""The resync keeps an unchanged object's stored verdict only when nothing else could change it.

A self-contained object (its rule reads neither children nor the clock) whose resourceVersion has not moved keeps the
verdict stored by the same health rules; workloads, Pending Pods and every object after a rules change are assessed
again. Unit cases go through graph.builder with real manifests; the sync cases through the simulator over HTTP.
"""

from __future__ import annotations

import dis
from datetime import UTC, datetime, timedelta

import pytest
import yaml

from controlplane.models import Cluster
from graph import health
from graph.builder import build_graph
from graph.health.kstatus import READS_MORE_THAN_ITSELF, RULES
from graph.models import KubeObject
from graph.sync import sync_cluster
from tests.graph.health_common import NOW
from tests.graph.test_health_kstatus import DEPLOY, K8S_CASES, POD_RUNNING, POD_UNSCHEDULABLE, pod_yaml


def _loads(function) -> set[str]:
    return {i.argval for i in dis.get_instructions(function) if i.opname.startswith("LOAD_FAST")}


def test_every_rule_that_reads_children_or_the_clock_is_declared():
    # A rule added later that reads its children or ``now`` must be in READS_MORE_THAN_ITSELF, or a resync would keep
    # a verdict that its pods or the time have since changed.
    readers = {rule for rule in RULES.values() if _loads(rule) & {"children", "now"}}
    assert readers == set(READS_MORE_THAN_ITSELF)
    assert {rule.__name__ for rule in readers} >= {"deployment", "replicaset", "pod"}


def _object(text: str, uid: str, resource_version: str = "7") -> dict:
    obj = yaml.safe_load(text)
    obj["metadata"].update(uid=uid, resourceVersion=resource_version)
    return obj


UNSCHEDULABLE_CREATED = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)  # the pod's creationTimestamp
DEPLOY_AVAILABLE = DEPLOY + K8S_CASES[0].values[1]  # the "deployment-available" case
PLANTED = ("7", "degraded", "Planted", "a verdict stored earlier")

CASES = [
    # (manifest, stored verdict, now, expected health, expected reason)
    pytest.param(pod_yaml(POD_RUNNING), PLANTED, NOW, "degraded", "Planted", id="running-pod-keeps-its-verdict"),
    pytest.param(pod_yaml(POD_RUNNING), ("6", *PLANTED[1:]), NOW, "healthy", "Running",
                 id="a-new-resourceversion-is-assessed"),
    pytest.param(pod_yaml(POD_RUNNING), None, NOW, "healthy", "Running", id="no-stored-row-is-assessed"),
    # An unschedulable pod turns failed 15 s after its creation, with no change to the object.
    pytest.param(pod_yaml(POD_UNSCHEDULABLE), ("7", "progressing", "Unschedulable", "young"),
                 UNSCHEDULABLE_CREATED + timedelta(seconds=20), "failed", "Unschedulable",
                 id="pending-pod-reads-the-clock"),
    pytest.param(DEPLOY_AVAILABLE, PLANTED, NOW, "healthy", "Available", id="deployment-reads-its-pods"),
    pytest.param("""
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: apps, namespace: flux-system, generation: 1}
spec: {interval: 10m, path: ./apps, prune: true, sourceRef: {kind: GitRepository, name: flux-system}}
status:
  observedGeneration: 1
  conditions: [{type: Ready, status: "True", reason: ReconciliationSucceeded, message: "Applied revision: main@1"}]
""", PLANTED, NOW, "degraded", "Planted", id="flux-object-keeps-its-verdict"),
]


@pytest.mark.parametrize(("manifest", "stored", "now", "health_word", "reason"), CASES)
def test_build_keeps_a_stored_verdict_only_for_unchanged_self_contained_objects(manifest, stored, now, health_word,
                                                                                reason):
    graph = build_graph([_object(manifest, "u1")], now=now, previous={"u1": stored}.get)
    fields = graph.nodes["u1"].fields
    assert (fields["health"], fields["health_reason"]) == (health_word, reason)


@pytest.mark.django_db
def test_a_resync_reuses_verdicts_of_the_same_rules_and_reassesses_after_a_rules_change(cluster):
    sync_cluster(cluster)
    cluster.refresh_from_db()
    assert cluster.mirror_health_rules == health.RULES_FINGERPRINT != ""
    service = KubeObject.objects.get(kind="Service", name="podinfo")
    deployment = KubeObject.objects.get(kind="Deployment", name="podinfo")
    assert service.health == deployment.health == "healthy"
    # Verdicts planted in the rows, the objects unchanged in the cluster.
    planted = {"health": "degraded", "health_reason": "Planted", "health_message": "stored earlier"}
    KubeObject.objects.filter(pk__in=[service.pk, deployment.pk]).update(**planted)

    sync_cluster(Cluster.objects.get(pk=cluster.pk))
    service.refresh_from_db()
    deployment.refresh_from_db()
    assert service.health_reason == "Planted", "an unchanged Service keeps its stored verdict"
    assert (deployment.health, deployment.health_reason) == ("healthy", "Available"), "a workload reads its pods"
    release = KubeObject.objects.get(kind="HelmRelease", name="podinfo")
    assert release.rollup_health == "degraded", "roll-ups are computed afresh from the verdicts"

    # Stored verdicts from other rules (an upgrade): every object is assessed again, once.
    Cluster.objects.filter(pk=cluster.pk).update(mirror_health_rules="older-rules")
    result = sync_cluster(Cluster.objects.get(pk=cluster.pk))
    service.refresh_from_db()
    assert (service.health, service.health_reason) == ("healthy", "Current")
    assert result.rows_written >= 1
    assert Cluster.objects.get(pk=cluster.pk).mirror_health_rules == health.RULES_FINGERPRINT
