"""API migration the user's way: the demo fleet's podinfo is rewritten to HelmRelease v2beta1 and HelmRepository
v1beta2 (removed from Flux), the simulator refuses it, the mirror says why and what to do, and the "Migrate API
versions" playbook (admin preview → confirm → approve → PR on the GitHub simulator → merge) brings it back to
Ready."""

from __future__ import annotations

import pytest
from django.urls import reverse
from guardian.shortcuts import assign_perm

from graph.models import KubeObject
from graph.sync import sync_cluster
from playbooks.choices import ChangeState, PlaybookRunStatus
from playbooks.models import PlaybookRun
from simulator.flux.common import REQUESTED_AT, is_ready
from tests.graph.conftest import wait_for
from tests.playbooks.test_gitops_e2e import demo, follow, people  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db(transaction=True)
OLD = {"apps/base/podinfo/release.yaml": ("helm.toolkit.fluxcd.io/v2", "helm.toolkit.fluxcd.io/v2beta1"),
       "apps/base/podinfo/repository.yaml": ("source.toolkit.fluxcd.io/v1", "source.toolkit.fluxcd.io/v1beta2")}


def fetch_now(sim) -> None:
    """What `flux reconcile source git flux-system` sends."""
    sim.sim.store.patch("gitrepositories", "flux-system", "flux-system",
                        {"metadata": {"annotations": {REQUESTED_AT: str(sim.repo.git("rev-parse", "HEAD"))}}},
                        "merge")


def test_migrate_api_versions_brings_a_fleet_on_removed_apis_back_to_ready(demo, people, drain, client):  # noqa: F811
    sim, cluster, gh_repo = demo
    dev, lead = people
    # The fleet as many repositories still are: on APIs Flux removed.
    for rel, (new, old) in OLD.items():
        path = sim.repo.work / rel
        path.write_text(path.read_text().replace(f"apiVersion: {new}\n", f"apiVersion: {old}\n"))
    sim.repo.commit_and_push("podinfo: back on the beta APIs")
    fetch_now(sim)
    store = sim.sim.store
    wait_for(lambda: "no matches for kind" in str(store.get("kustomizations", "flux-system", "apps")["status"]),
             timeout=60, what="apps to fail on the removed API")
    sync_cluster(cluster)
    apps = KubeObject.objects.get(kind="Kustomization", name="apps")
    assert apps.health == "degraded" and apps.health_reason == "RemovedAPIVersion"
    assert "migrate the manifests to" in apps.health_message and "Migrate API versions" in apps.health_message

    assign_perm("graph.request_change", dev, apps)
    assign_perm("graph.view_kubeobject", dev, apps)
    client.force_login(dev)
    url = reverse("admin:playbooks_start", args=["migrate-api-versions", apps.pk])
    assert "Migrate API versions" in client.get(url).content.decode()
    page = client.post(url, {"preview": "1"}).content.decode()
    assert "+apiVersion: helm.toolkit.fluxcd.io/v2" in page and "-apiVersion: source.toolkit.fluxcd.io/v1beta2" in page
    digest = page.split('name="diff_digest" value="', 1)[1].split('"', 1)[0]
    assert client.post(url, {"confirm": "1", "diff_digest": digest}).status_code == 302
    run = PlaybookRun.objects.get()
    assert run.status == PlaybookRunStatus.PENDING_APPROVAL
    run.approve(lead, "migrate")
    drain()
    run.refresh_from_db()
    assert run.status == PlaybookRunStatus.SUCCEEDED, (run.error, run.log)
    pr = gh_repo.get_pull(run.pr_number)
    assert sorted(f.filename for f in pr.get_files()) == sorted(OLD)
    pr.merge(merge_method="merge")
    follow(run, cluster, {ChangeState.HEALTHY, ChangeState.UNHEALTHY})
    assert run.change_state == ChangeState.HEALTHY, run.log
    assert is_ready(store.get("kustomizations", "flux-system", "apps"))
    assert is_ready(store.get("helmreleases", "podinfo", "podinfo"))
    apps.refresh_from_db()
    assert apps.health == "healthy"

    # Nothing left to migrate: the playbook says so instead of opening an empty PR.
    again = client.post(url, {"preview": "1"}).content.decode()
    assert "nothing to migrate" in again
