"""The impact of a ClickOps change on every cluster, and creations that collide, on the demo (simulated cluster
building the real flux2-kustomize-helm-example from git, GitHub simulator): a second cluster ("production")
applies the same shared base from the same repository, as in the example's own layout."""

from __future__ import annotations

import uuid

import pytest
from guardian.shortcuts import assign_perm

from controlplane.models import Cluster
from gitops import InvalidInput
from graph.models import KubeObject
from playbooks.changes.create import CreateDeployment, CreateKustomization
from playbooks.changes.library import UpdateHelmValues
from playbooks.models import PlaybookRun
from tests.playbooks.test_gitops_e2e import demo, people  # noqa: F401 — the demo and its users, as fixtures

pytestmark = pytest.mark.django_db(transaction=True)


def _mirror_into(cluster: Cluster, obj: KubeObject, **spec_changes) -> KubeObject:
    """The same object as another cluster's mirror holds it (that cluster applies the same repository)."""
    copy = KubeObject.objects.get(pk=obj.pk)
    copy.pk = None
    copy.cluster = cluster
    copy.uid = str(uuid.uuid4())
    copy.spec = {**(copy.spec or {}), **spec_changes}
    copy.save()
    return copy


@pytest.fixture
def production(demo):  # noqa: F811
    sim, cluster, gh_repo = demo
    prod = Cluster.objects.create(name="production", connection="simulator", server_url="http://127.0.0.1:9")
    for repo in KubeObject.objects.filter(cluster=cluster, kind="GitRepository", deleted_at__isnull=True):
        _mirror_into(prod, repo)
    infra = KubeObject.objects.get(cluster=cluster, kind="Kustomization", name="infra-controllers")
    _mirror_into(prod, infra)
    return prod


def test_a_shared_base_warns_and_the_overlay_option_changes_only_the_picked_cluster(demo, production, people,  # noqa: F811
                                                                                    drain):
    sim, cluster, gh_repo = demo
    dev, lead = people
    release = KubeObject.objects.get(cluster=cluster, kind="HelmRelease", name="ingress-nginx")
    params = {"values": "controller:\n  replicaCount: 2\n"}

    preview = UpdateHelmValues.preview(release, params)
    assert preview.errors == []
    labels = {(i.kustomization.cluster, i.kustomization.name): i for i in preview.impacts}
    picked = labels[("demo", "infra-controllers")]
    other = labels[("production", "infra-controllers")]
    assert picked.picked and not other.picked
    for item in (picked, other):
        assert item.changed_objects == ["HelmRelease ingress-nginx/ingress-nginx"]
        assert "+      replicaCount: 2" in item.rendered_diff
    assert "production: Kustomization flux-system/infra-controllers" in preview.impact_warning
    assert "Only in this Kustomization" in preview.impact_warning

    overlay = UpdateHelmValues.preview(release, {**params, "overlay": True})
    assert overlay.errors == [] and overlay.impact_warning == ""
    assert overlay.files == ["clusters/staging/infrastructure.yaml"]
    # in the style of the file's neighbours (this repository writes "- item" at the key's column)
    assert "+  patches:\n+  - patch: |\n+      apiVersion: helm.toolkit.fluxcd.io/v2\n" in overlay.diff
    assert "+          controller:\n+            replicaCount: 2\n" in overlay.diff
    impacted = {(i.kustomization.cluster, i.kustomization.name): i for i in overlay.impacts}
    assert impacted[("demo", "infra-controllers")].changed_objects == ["HelmRelease ingress-nginx/ingress-nginx"]
    assert not impacted.get(("production", "infra-controllers"))

    assign_perm("graph.request_change", dev, KubeObject.objects.get(cluster=cluster, kind="Kustomization",
                                                                   name="infra-controllers"))
    run = PlaybookRun.request(UpdateHelmValues, release, dev, {**params, "overlay": True}, diff=overlay.diff,
                              rendered_diff=overlay.rendered_text())
    run.refresh_from_db()
    assert "replicaCount: 2" in run.rendered_diff and "(picked)" in run.rendered_diff


def test_creations_that_collide_are_refused(demo):  # noqa: F811
    sim, cluster, gh_repo = demo
    apps = KubeObject.objects.get(cluster=cluster, kind="Kustomization", name="apps")
    with pytest.raises(InvalidInput, match="Kustomization flux-system/flux-system already exists") as info:
        CreateKustomization.preview(apps, {"name": "flux-system", "path": "./apps/staging", "interval": "10m",
                                           "prune": True})
    assert info.value.field == "name"
    namespace = KubeObject.objects.get(cluster=cluster, kind="Namespace", name="podinfo")
    with pytest.raises(InvalidInput, match="managed by HelmRelease podinfo/podinfo"):
        CreateDeployment.preview(namespace, {"name": "podinfo", "image": "nginx:1.27", "replicas": 1})
    preview = CreateDeployment.preview(namespace, {"name": "web", "image": "nginx:1.27", "replicas": 1})
    assert preview.errors == [] and "+  name: web" in preview.diff


def test_the_rendered_diff_substitutes_variables_from_configmaps_and_never_reads_secrets(demo, production):  # noqa: F811
    """postBuild.substituteFrom: a ConfigMap's values are read from the Kustomization's cluster and substituted as
    Flux will; a Secret is never read (its variables stay as written, and the preview says so); an unreachable
    cluster is said too, and nothing fails."""
    sim, cluster, gh_repo = demo
    sim.sim.store.create({"apiVersion": "v1", "kind": "ConfigMap",
                          "metadata": {"name": "cluster-settings", "namespace": "flux-system"},
                          "data": {"INGRESS_REPLICAS": "3", "CLASS": "from-configmap"}})
    post = {"substitute": {"CLASS": "inline-wins"},
            "substituteFrom": [{"kind": "ConfigMap", "name": "cluster-settings"},
                               {"kind": "ConfigMap", "name": "absent-but-optional", "optional": True},
                               {"kind": "Secret", "name": "cluster-secrets"}]}
    for ks in KubeObject.objects.filter(kind="Kustomization", name="infra-controllers"):
        ks.spec = {**ks.spec, "postBuild": post}
        ks.save()
    release = KubeObject.objects.get(cluster=cluster, kind="HelmRelease", name="ingress-nginx")
    preview = UpdateHelmValues.preview(release, {
        "values": "controller:\n  replicaCount: ${INGRESS_REPLICAS}\n  ingressClass: ${CLASS}\n"
                  "  admissionWebhooks:\n    certificate: ${TLS_CERT}\n"})
    assert preview.errors == [], preview.errors
    impacts = {i.kustomization.cluster: i for i in preview.impacts}
    staging = impacts["demo"]
    assert "+      replicaCount: '3'" in staging.rendered_diff or "+      replicaCount: 3" in staging.rendered_diff
    assert "+      ingressClass: inline-wins" in staging.rendered_diff  # the inline substitute takes precedence
    assert "${TLS_CERT}" in staging.rendered_diff  # from the Secret: not read
    assert staging.kustomization.unresolved == (
        "Secret flux-system/cluster-secrets: Fluxplane does not read Secrets; its variables are shown as written",)
    # the production cluster's API server does not answer: its ConfigMap is unresolved, the build still shows
    prod = impacts["production"]
    assert "${INGRESS_REPLICAS}" in prod.rendered_diff
    assert any("did not answer" in why for why in prod.kustomization.unresolved)
    assert "# not substituted: Secret flux-system/cluster-secrets" in preview.rendered_text()
