"""GitOps playbook forms: bad input gets a clear error and nothing reaches git; the admin shows the exact diff
before the request, and only a confirmation of that same diff creates the run."""

from __future__ import annotations

import subprocess

import pytest
from django.urls import reverse
from guardian.shortcuts import assign_perm

from graph.models import KubeObject
from playbooks.changes import create as creators
from playbooks.changes import library as lib
from playbooks.models import PlaybookRun
from tests.playbooks.test_gitops_e2e import demo, people  # noqa: F401  (fixtures)

BAD = [
    (lib.ScaleForm, {"replicas": "-1"}, "replicas", "greater than or equal to 0"),
    (lib.ScaleForm, {"replicas": "1001"}, "replicas", "less than or equal to 1000"),
    (lib.ScaleForm, {"replicas": "three"}, "replicas", "whole number"),
    (lib.ImageForm, {"container": "app", "image": "Nginx:1"}, "image", "lower-case"),
    (lib.ImageForm, {"container": "app", "image": "nginx@sha256:xyz"}, "image", "image reference"),
    (lib.ImageForm, {"container": "Bad_Name", "image": "nginx:1"}, "container", "DNS-1123"),
    (lib.ResourcesForm, {"container": "app", "cpu_request": "lots"}, "__all__", "quantity"),
    (lib.ResourcesForm, {"container": "app", "cpu_request": "2", "cpu_limit": "500m"}, "__all__", "limit"),
    (lib.ResourcesForm, {"container": "app"}, "__all__", "at least one"),
    (lib.ValuesForm, {"values": "a: &x [1]\nb: *x\n"}, "values", "anchor"),
    (lib.ValuesForm, {"values": "a:\n\tb: 1\n"}, "values", "tab"),
    (lib.ValuesForm, {"values": "a: 1\n---\nb: 2\n"}, "values", "document"),
    (lib.ValuesForm, {"values": "a: 1\na: 2\n"}, "values", "duplicate"),
    (lib.ValuesForm, {"values": "a: !!binary aGVsbG8=\n"}, "values", "binary"),
    (lib.ValuesForm, {"values": "? [a, b]\n: c\n"}, "values", "complex keys"),
    (lib.ValuesForm, {"values": "a: " + "[" * 10_000}, "values", "nested more than"),
    (lib.ResourcesForm, {"container": "app", "cpu_request": "1e99999999999"}, "__all__", "out of range"),
    (lib.EditForm, {"document": "a: &x {b: 1}\nc: &y [*x, *x]\nd: [*y, *y]\n"}, "document", "repeats"),
    (lib.ChartVersionForm, {"version": "latest please"}, "version", "version"),
    (creators.CreateKustomizationForm, {"name": "web", "path": "../../etc", "interval": "10m"}, "path", ".."),
    (creators.CreateKustomizationForm, {"name": "Web", "path": "./apps", "interval": "10m"}, "name", "DNS-1123"),
    (creators.CreateKustomizationForm, {"name": "web", "path": "./apps", "interval": "often"}, "interval", "duration"),
    (creators.CreateDeploymentForm, {"name": "web", "image": "nginx:1", "replicas": 1, "service": "on"}, "__all__",
     "port"),
    (creators.CreateHelmReleaseForm, {"name": "web", "chart": "web", "version": "1.x",
                                 "repository_url": "http://$(rm -rf /)"}, "repository_url", "https://"),
]


def test_the_edit_form_accepts_a_document_with_anchors():
    document = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  PORT: &port \"80\"\n  P2: *port\n"
    form = lib.EditForm({"document": document})
    assert form.is_valid(), form.errors


@pytest.mark.parametrize("form_class,data,field,message", BAD)
def test_bad_input_is_refused_with_a_clear_message(form_class, data, field, message):
    form = form_class(data)
    assert not form.is_valid()
    errors = " ".join(form.errors.get(field, []))
    assert message.lower() in errors.lower(), form.errors


def _main_sha(sim) -> str:
    return subprocess.run(["git", "-C", str(sim.bare_repo), "rev-parse", "main"], capture_output=True, text=True,
                          check=True).stdout.strip()


@pytest.mark.django_db(transaction=True)
def test_admin_preview_then_confirm_creates_the_run_with_its_diff(client, demo, people):  # noqa: F811
    sim, cluster, gh_repo = demo
    dev, lead = people
    assign_perm("graph.request_change", dev, KubeObject.objects.get(kind="Kustomization", name="apps"))
    assign_perm("graph.view_kubeobject", dev, KubeObject.objects.get(kind="Kustomization", name="apps"))
    release = KubeObject.objects.get(kind="HelmRelease", namespace="podinfo", name="podinfo")
    client.force_login(dev)
    url = reverse("admin:playbooks_start", args=["update-helm-values", release.pk])
    before = _main_sha(sim)

    bad = client.post(url, {"values": "a: &x 1\nb: *x\n", "preview": "1"})
    assert "anchor" in bad.content.decode().lower() and not PlaybookRun.objects.exists()

    page = client.post(url, {"values": "replicaCount: 2\n", "preview": "1"}).content.decode()
    assert "+    replicaCount: 2" in page and 'name="confirm"' in page
    digest = page.split('name="diff_digest" value="', 1)[1].split('"', 1)[0]
    stale = client.post(url, {"values": "replicaCount: 2\n", "confirm": "1", "diff_digest": "0" * 64})
    assert "differs from the preview" in stale.content.decode() and not PlaybookRun.objects.exists()

    done = client.post(url, {"values": "replicaCount: 2\n", "confirm": "1", "diff_digest": digest})
    assert done.status_code == 302
    run = PlaybookRun.objects.get()
    assert run.status == "pending_approval" and "+    replicaCount: 2" in run.diff
    assert _main_sha(sim) == before, "nothing reaches git before approval"
    assert list(gh_repo.get_pulls(state="all")).__len__() == 0


@pytest.mark.django_db
def test_scale_warns_when_an_hpa_manages_the_replicas():
    from django.utils import timezone

    from controlplane.models import Cluster

    now = timezone.now()
    cluster = Cluster.objects.create(name="c", connection="simulator", server_url="http://127.0.0.1:9")

    def row(kind, name, group, spec):
        return KubeObject.objects.create(cluster=cluster, uid=f"{kind}-{name}", api_group=group, api_version="v1",
                                         kind=kind, namespace="web", name=name, spec=spec, first_seen=now,
                                         last_seen=now)

    deploy = row("Deployment", "web", "apps", {"replicas": 2})
    other = row("Deployment", "api", "apps", {"replicas": 2})
    row("HorizontalPodAutoscaler", "web", "autoscaling", {"scaleTargetRef": {"kind": "Deployment", "name": "web"}})
    assert lib.Scale.warnings(deploy) == [
        "HorizontalPodAutoscaler web manages the replicas of Deployment web/web: it will override this."]
    assert lib.Scale.warnings(other) == []
