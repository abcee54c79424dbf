"""The verification and the impact preview in a real browser on the synced demo, screenshot for docs/clickops.md:
Scale on the Helm-rendered podinfo Deployment says "Effect verified" with no chart folder configured (the chart comes
from the release's Helm storage, which the simulated helm-controller writes as Helm does), and Scale on podinfo-redis
is verified on the redis values path, never podinfo's replicaCount; a change to a shared base with a second cluster
applying it shows the rendered diff of each Kustomization and the warning, and "Only in this Kustomization" moves
the change into the picked Kustomization's patches."""

from __future__ import annotations

import uuid

import pytest
from guardian.shortcuts import assign_perm

from controlplane.models import Cluster
from graph.models import KubeObject

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def developer(make_user, demo):
    dev = make_user("dev")
    root = KubeObject.objects.get(kind="Kustomization", namespace="flux-system", name="flux-system")
    for perm in ("graph.view_kubeobject", "graph.run_playbook", "graph.request_change"):
        assign_perm(perm, dev, root)
    return dev


def _preview(page, playbook: str, obj: KubeObject, fields: dict) -> None:
    page.goto(f"/admin/playbooks/playbookrun/start/{playbook}/{obj.pk}/")
    for name, value in fields.items():
        if isinstance(value, bool):
            page.locator(f"#id_{name}").set_checked(value)
        else:
            page.locator(f"#id_{name}").fill(value)
    with page.expect_navigation():
        page.click("input[name=preview]")


def test_scale_of_a_helm_workload_is_verified_by_rendering_its_chart(demo, developer, page, login, screenshot,
                                                                    settings):
    settings.FLUXPLANE_HELM_CHARTS_DIR = ""  # the chart must come from the release's Helm storage
    login(page, "dev")
    _preview(page, "scale", KubeObject.objects.get(kind="Deployment", namespace="podinfo", name="podinfo"),
             {"replicas": "3"})
    notes = page.locator("#fp-preview .fp-notes").inner_text()
    assert "Effect verified" in notes and "spec.replicas of Deployment podinfo." in notes, notes
    assert "+    replicaCount: 3" in page.locator("pre.fp-diff").inner_text()
    screenshot(page, "clickops-verified", docs=True)

    # the redis Deployment of the same release: its own values path, proven; podinfo's replicaCount untouched
    _preview(page, "scale", KubeObject.objects.get(kind="Deployment", namespace="podinfo", name="podinfo-redis"),
             {"replicas": "2"})
    notes = page.locator("#fp-preview .fp-notes").inner_text()
    assert "Effect verified" in notes and "spec.replicas of Deployment podinfo-redis." in notes, notes
    diff = page.locator("pre.fp-diff").inner_text()
    assert "+    redis:\n+      replicaCount: 2" in diff and "+    replicaCount" not in diff, diff
    assert page.locator("input[name=confirm]").count() == 1


def test_the_impact_on_every_cluster_and_the_overlay_option(demo, developer, page, login, screenshot):
    sim, cluster, gh_repo = demo
    production = Cluster.objects.create(name="production", connection="simulator", server_url="http://127.0.0.1:9")
    for obj in [*KubeObject.objects.filter(cluster=cluster, kind="GitRepository", deleted_at__isnull=True),
                KubeObject.objects.get(cluster=cluster, kind="Kustomization", name="infra-controllers")]:
        obj.pk, obj.cluster, obj.uid = None, production, str(uuid.uuid4())
        obj.save()  # the production cluster's mirror: the same repository, the same shared base
    release = KubeObject.objects.get(cluster=cluster, kind="HelmRelease", name="ingress-nginx")

    login(page, "dev")
    _preview(page, "update-helm-values", release, {"values": "controller:\n  replicaCount: 2\n"})
    warning = page.locator(".fp-impact-warning").inner_text()
    assert "production: Kustomization flux-system/infra-controllers" in warning
    impacts = page.locator(".fp-impact")
    assert impacts.count() >= 2
    assert "the one you picked" in impacts.first.inner_text()
    assert "replicaCount: 2" in page.locator("pre.fp-rendered-diff").first.inner_text()
    screenshot(page, "clickops-impact", docs=True, full_page=True)

    page.locator("#id_overlay").set_checked(True)
    with page.expect_navigation():
        page.click("input[name=preview]")
    assert page.locator(".fp-impact-warning").count() == 0
    assert "+++ b/clusters/staging/infrastructure.yaml" in page.locator("pre.fp-diff").inner_text()
    screenshot(page, "clickops-impact-overlay", docs=True, full_page=True)
