"""Object pages read a workload's events and pod logs, and a HelmRelease's history, live from the cluster: the
simulator with its Flux controllers over HTTP, a real HelmRelease install and upgrade, the real admin pages."""

from __future__ import annotations

import html
import re
import socket
import time

import pytest
from django.contrib.auth.models import User
from django.test import RequestFactory
from guardian.shortcuts import assign_perm

from controlplane.kube import KubeAdapter, KubeError, normalize_event
from controlplane.models import Cluster
from graph import live, livepanels
from graph.models import KubeObject
from graph.sync import sync_cluster
from tests.graph.conftest import wait_for
from tests.simulator.flux_fixtures import HR, FluxEnv, cond, eventually

NS = "apps"
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def flux(tmp_path):
    """A HelmRelease installed (revision 1) and upgraded with new values (revision 2) by the simulated
    helm-controller; its Deployment's pods are running."""
    env = FluxEnv(tmp_path)
    env.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    env.create({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
                "metadata": {"name": "podinfo", "namespace": NS},
                "spec": {"interval": "5m", "url": "https://stefanprodan.github.io/podinfo"}})
    env.create({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
                "metadata": {"name": "web", "namespace": NS},
                "spec": {"interval": "10m", "chart": {"spec": {"chart": "podinfo", "version": "6.5.x", "sourceRef": {
                    "kind": "HelmRepository", "name": "podinfo"}}},
                    "values": {"replicaCount": 1, "redis": {"password": "hunter2-do-not-show"}}}})
    env.wait_ready(HR, NS, "web")
    env.custom.patch_namespaced_custom_object(*HR[:2], NS, HR[2], "web", {"spec": {"values": {"replicaCount": 2}}})
    eventually(lambda: cond(env.get(HR, NS, "web"), "Released").get("reason") == "UpgradeSucceeded",
               what="the upgrade")
    wait_for(lambda: len([p for p in env.store.list("pods", NS) if (p.get("status") or {}).get("phase")
                          == "Running"]) == 2, what="two running pods")
    yield env
    env.close()


@pytest.fixture
def synced(flux):
    cluster = Cluster.objects.create(name="live", connection=Cluster.Connection.SIMULATOR, server_url=flux.url)
    sync_cluster(cluster)
    return cluster


def text(response) -> str:
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def test_pod_page_shows_its_events_and_redacted_log_lines(client, admin_user, synced):
    client.force_login(admin_user)
    pod = KubeObject.objects.filter(kind="Pod", namespace=NS, deleted_at__isnull=True).first()
    body = text(client.get(pod.admin_url()))
    events = body[body.index('id="fp-events"'):body.index('id="fp-logs"')]
    for reason in ("Scheduled", "Pulled", "Created", "Started"):
        assert f"<td>{reason}</td>" in events
    assert f"Successfully assigned {NS}/{pod.name} to sim-node-1" in events
    logs = body[body.index('id="fp-logs"'):]
    container = pod.spec["containers"][0]["name"]
    assert f"container <strong>{container}</strong> (50 lines)" in logs
    assert 'msg="request" method=GET' in logs
    # lines carry the kubelet's timestamps, newest last, and never the credentials the application logged
    stamps = re.findall(r"(\d{4}-\d\d-\d\dT[\d:.]+Z) level=", logs)
    assert len(stamps) == 50 and stamps == sorted(stamps)
    assert "s3cr3t" not in body


def test_first_lines_are_redacted(synced):
    pod = KubeObject.objects.filter(kind="Pod", namespace=NS, deleted_at__isnull=True).first()
    found = live.workload_live(pod, tail_lines=500)
    lines = found.logs[0].lines
    assert len(lines) == 200 and f'msg="starting {pod.spec["containers"][0]["name"]}"' in lines[0]
    assert "https://***@config.internal/app" in lines[1] and "s3cr3t" not in lines[1]


def test_deployment_page_shows_its_events_and_the_logs_of_its_pods(client, admin_user, synced, flux):
    client.force_login(admin_user)
    deployment = KubeObject.objects.get(kind="Deployment", namespace=NS)
    body = text(client.get(deployment.admin_url()))
    events = body[body.index('id="fp-events"'):body.index('id="fp-logs"')]
    assert "ScalingReplicaSet" in events and "Scaled up replica set" in events
    assert "Scheduled" not in events  # the pods' own events stay on the pods' pages
    pods = sorted(p["metadata"]["name"] for p in flux.store.list("pods", NS)
                  if not p["metadata"].get("deletionTimestamp"))
    container = deployment.spec["template"]["spec"]["containers"][0]["name"]
    for name in pods:  # picked through the mirror's owner edges: Deployment → ReplicaSet → Pod
        assert f"pod <strong>{name}</strong>, container <strong>{container}</strong>" in body


def test_events_of_both_apis_newest_first(synced, flux):
    deployment = KubeObject.objects.get(kind="Deployment", namespace=NS)
    flux.store.create({
        "apiVersion": "events.k8s.io/v1", "kind": "Event",
        "metadata": {"name": "web.newer", "namespace": NS},
        "regarding": {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment.name, "namespace": NS},
        "reason": "Rollback", "note": "rolled back by a person", "type": "Warning", "action": "Rollback",
        "eventTime": "2099-01-01T00:00:00.000000Z", "reportingController": "kubectl",
        "reportingInstance": "kubectl-1", "series": {"count": 3, "lastObservedTime": "2099-01-01T00:05:00.000000Z"},
    })
    adapter = KubeAdapter(synced)
    try:
        events = adapter.events_for("Deployment", NS, deployment.name)
    finally:
        adapter.close()
    assert events[0]["reason"] == "Rollback" and events[0]["message"] == "rolled back by a person"
    assert (events[0]["count"], events[0]["source"], events[0]["type"]) == (3, "kubectl", "Warning")
    assert {e["reason"] for e in events[1:]} == {"ScalingReplicaSet"}
    assert [e["last"] for e in events] == sorted((e["last"] for e in events), reverse=True)
    # core/v1 series (client-go's newer recorder) count too
    assert normalize_event({"metadata": {"uid": "u"}, "reason": "X", "series": {
        "count": 7, "lastObservedTime": "2026-01-01T00:00:00Z"}})["count"] == 7


def test_helmrelease_page_lists_the_history_with_a_coloured_redacted_values_diff(client, admin_user, synced):
    client.force_login(admin_user)
    release = KubeObject.objects.get(kind="HelmRelease", name="web")
    body = text(client.get(release.admin_url()))
    start = body.index('id="fp-helm-history"')
    history = body[start:body.index('<div class="module', start)]
    rows = re.findall(r'<tr class="fp-revision"><td>(\d+)</td><td>(\w+)</td><td>([^<]+)</td>', history)
    assert rows == [("2", "deployed", "podinfo 6.5.4"), ("1", "superseded", "podinfo 6.5.4")]
    assert "Upgrade complete" in history and "Install complete" in history
    assert '<span class="del">-replicaCount: 1</span>' in history
    assert '<span class="add">+replicaCount: 2</span>' in history
    assert "hunter2" not in history and "password: '***'" in history  # Helm values pass through redaction


def test_a_user_who_may_not_view_the_object_gets_nothing(client, synced):
    outsider = User.objects.create_user("outsider", password="x", is_staff=True)
    pod = KubeObject.objects.filter(kind="Pod", namespace=NS, deleted_at__isnull=True).first()
    release = KubeObject.objects.get(kind="HelmRelease", name="web")
    client.force_login(outsider)
    assert client.get(pod.admin_url()).status_code in (403, 404)
    assert client.get(release.admin_url()).status_code in (403, 404)
    request = RequestFactory().get("/")
    request.user = User.objects.create_user("nobody", password="x", is_staff=True)
    assert livepanels.workload_panel(request, pod) is None
    assert livepanels.helm_history_panel(request, release) is None
    # a grant on the HelmRelease opens both: its history, and the pods under the Deployment it created
    assign_perm("graph.view_kubeobject", request.user, release)
    request.user = User.objects.get(pk=request.user.pk)
    assert livepanels.workload_panel(request, pod)["live"].logs
    assert [r["r"].number for r in livepanels.helm_history_panel(request, release)["revisions"]] == [2, 1]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_silent_cluster_gives_a_clear_message_and_the_last_synced_events(client, admin_user, synced):
    client.force_login(admin_user)
    pod = KubeObject.objects.filter(kind="Pod", namespace=NS, deleted_at__isnull=True).first()
    assert pod.events, "the sync attached the pod's events"
    Cluster.objects.filter(pk=synced.pk).update(server_url=f"http://127.0.0.1:{_closed_port()}")
    started = time.monotonic()
    body = text(client.get(pod.admin_url()))
    assert time.monotonic() - started < 10
    assert "cannot reach the API server of cluster live" in body
    assert "Last known events (from the last sync):" in body and "Scheduled" in body
    assert "No logs: the cluster did not answer." in body
    release = KubeObject.objects.get(kind="HelmRelease", name="web")
    assert "The cluster did not answer" in text(client.get(release.admin_url()))


def test_a_container_that_has_not_started_says_why(synced, flux):
    pod = KubeObject.objects.filter(kind="Pod", namespace=NS, deleted_at__isnull=True).first()
    adapter = KubeAdapter(synced)
    try:
        with pytest.raises(KubeError, match="container nope is not valid"):
            adapter.pod_log(NS, pod.name, "nope", 5)
        container = pod.spec["containers"][0]["name"]
        flux.store.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "pending", "namespace": NS},
                           "spec": {"containers": [{"name": "app", "image": "example/app:unschedulable"}]}})
        with pytest.raises(KubeError, match='container "app" in pod "pending" is waiting to start'):
            adapter.pod_log(NS, "pending", "app", 5)
        assert adapter.pod_log(NS, pod.name, container, 0) == []
        assert len(adapter.pod_log(NS, pod.name, container, 3, timestamps=False)) == 3
    finally:
        adapter.close()
