"""A person opens a Pod's page and reads its Kubernetes events and its containers' last log lines, read live from
the (demo) cluster; then the HelmRelease's page lists the release history from Helm storage, with the values diff
of an upgrade coloured like a run's diff. The user holds view on the HelmRelease only (which covers what it made)."""

from __future__ import annotations

import time

import pytest
from guardian.shortcuts import assign_perm

from graph.models import KubeObject
from graph.sync import sync_cluster

pytestmark = pytest.mark.django_db(transaction=True)


def _upgrade(sim, replicas: int) -> None:
    """Upgrade the podinfo release through the simulator (as helm-controller does after a values change)."""
    store = sim.sim.store
    store.patch("helmreleases", "podinfo", "podinfo", {"spec": {"values": {"replicaCount": replicas}}}, "merge")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        history = (store.peek("helmreleases", "podinfo", "podinfo").get("status") or {}).get("history") or []
        if len(history) >= 2 and history[0].get("status") == "deployed":
            return
        time.sleep(0.2)
    pytest.fail(f"the upgrade did not finish: {history}")


def test_pod_events_and_logs_then_release_history(demo, make_user, new_page, login, screenshot):
    sim, cluster, _repo = demo
    _upgrade(sim, 2)
    sync_cluster(cluster)
    viewer = make_user("viewer")
    release = KubeObject.objects.get(kind="HelmRelease", namespace="podinfo", name="podinfo")
    assign_perm("graph.view_kubeobject", viewer, release)
    pod = KubeObject.objects.filter(kind="Pod", namespace="podinfo", deleted_at__isnull=True).order_by("name").first()
    assert pod is not None, "the demo's podinfo pods are mirrored"

    page = new_page()
    page.set_viewport_size({"width": 1366, "height": 900})
    login(page, "viewer")
    page.goto(pod.admin_url())
    events = page.locator("#fp-events table.fp-events tbody tr")
    reasons = [events.nth(i).locator("td").nth(1).inner_text() for i in range(events.count())]
    assert {"Scheduled", "Pulled", "Created", "Started"} <= set(reasons), reasons
    assert "Successfully assigned podinfo/" in page.locator("#fp-events").inner_text()
    log = page.locator("#fp-logs details.fp-log").first
    assert log.get_attribute("open") is not None, "the first container's log is unfolded"
    lines = log.locator("pre.fp-log-lines").inner_text().splitlines()
    assert len(lines) == 50 and all(" level=" in line for line in lines), lines[:3]
    assert log.locator("pre.fp-log-lines").is_visible()
    page.locator("#fp-events").scroll_into_view_if_needed()
    screenshot(page, "object-pod-events-logs", docs=True)

    page.goto(release.admin_url())
    history = page.locator("#fp-helm-history")
    rows = history.locator("tr.fp-revision")
    assert rows.count() == 2
    assert rows.nth(0).locator("td").nth(0).inner_text() == "2"
    assert rows.nth(0).locator("td").nth(1).inner_text() == "deployed"
    assert rows.nth(1).locator("td").nth(1).inner_text() == "superseded"
    added = history.locator("pre.fp-diff span.add")
    assert "+replicaCount: 2" in added.all_inner_texts()
    # coloured like the run page's diff (controlplane/static/controlplane/run.css)
    green = added.first.evaluate("e => getComputedStyle(e).backgroundColor")
    assert green == "rgb(230, 255, 236)", green
    history.scroll_into_view_if_needed()
    screenshot(page, "helmrelease-history", docs=True)

    # the page of a Deployment the viewer may not see (another release's) is not found, with no live part
    other = KubeObject.objects.filter(kind="Deployment", deleted_at__isnull=True).exclude(
        namespace="podinfo").first()
    response = page.goto(other.admin_url())
    assert response.status in (403, 404)
    assert page.locator("#fp-logs").count() == 0
