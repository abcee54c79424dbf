"""Every ClickOps form in a real browser on the synced demo: fill valid values, preview the exact diff, request the
change (a run pending approval, nothing in git yet), and screenshot the form with its diff for docs/clickops.md.
Suspend and Reconcile (exec playbooks) are shown as forms only. One bad value shows its error and creates nothing."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from guardian.shortcuts import assign_perm

from graph.models import KubeObject
from playbooks.models import PlaybookRun

pytestmark = pytest.mark.django_db(transaction=True)


@dataclass
class Case:
    playbook: str
    target: tuple[str, str, str]  # kind, namespace, name
    fields: dict[str, str | bool] = field(default_factory=dict)
    diff: tuple[str, ...] = ()  # lines the previewed diff must contain


CASES = [
    Case("scale", ("Deployment", "podinfo", "podinfo"), {"replicas": "3"},
         ("apps/staging/podinfo-values.yaml", "+    replicaCount: 3")),
    Case("update-image", ("Deployment", "podinfo", "podinfo"),
         {"container": "podinfo", "image": "ghcr.io/stefanprodan/podinfo:6.9.1"},
         ("+++ b/apps/staging/podinfo-values.yaml", "tag: 6.9.1")),
    Case("update-resources", ("Deployment", "podinfo", "podinfo"),
         {"container": "podinfo", "cpu_request": "100m", "memory_request": "64Mi", "cpu_limit": "500m",
          "memory_limit": "128Mi"},
         ("+++ b/apps/staging/podinfo-values.yaml", "cpu: 100m", "memory: 128Mi")),
    Case("update-helm-values", ("HelmRelease", "podinfo", "podinfo"),
         {"values": "ui:\n  message: Hello from ClickOps\n"},
         ("+++ b/apps/staging/podinfo-values.yaml", "+      message: Hello from ClickOps")),
    Case("update-helm-chart-version", ("HelmRelease", "podinfo", "podinfo"), {"version": "6.9.x"},
         ("+++ b/apps/staging/podinfo-values.yaml", '+      version: "6.9.x"')),
    Case("edit", ("HelmRepository", "podinfo", "podinfo"), {"document": ("interval: 5m", "interval: 30m")},
         ("+++ b/apps/base/podinfo/repository.yaml", "-  interval: 5m", "+  interval: 30m")),
    Case("create-kustomization", ("Kustomization", "flux-system", "flux-system"),
         {"name": "checkout-canary", "path": "./apps/checkout", "interval": "30m", "depends_on": "infra-configs",
          "target_namespace": "checkout-canary"},
         ("+++ b/clusters/staging/checkout-canary.yaml", "+  path: ./apps/checkout",
          "+  targetNamespace: checkout-canary")),
    Case("create-namespace", ("Kustomization", "flux-system", "infra-controllers"), {"name": "monitoring"},
         ("+++ b/infrastructure/controllers/monitoring/namespace.yaml", "+  - monitoring")),
    Case("create-deployment", ("Namespace", "", "podinfo"),
         {"name": "echo", "image": "ghcr.io/stefanprodan/podinfo:6.9.2", "replicas": "2", "port": "9898",
          "cpu_request": "50m", "memory_request": "32Mi", "memory_limit": "64Mi", "service": True},
         ("+++ b/apps/base/podinfo/echo-deployment.yaml", "+  - echo-deployment.yaml", "+kind: Service")),
    Case("create-helmrelease", ("Namespace", "", "podinfo"),
         {"name": "redis", "chart": "redis", "version": "20.x", "repository_url": "oci://registry-1.docker.io/bitnamicharts",
          "values": "architecture: standalone\nauth:\n  enabled: false\n"},
         ("+++ b/apps/base/podinfo/redis-helmrelease.yaml", "+kind: OCIRepository", "+  chartRef:")),
]


@pytest.fixture
def developer(make_user, demo):
    """A developer allowed to view, run playbooks and request changes under the root Kustomization flux-system
    (so on everything the demo's Flux tree created), and nothing else."""
    dev = make_user("dev")
    root = KubeObject.objects.get(kind="Kustomization", namespace="flux-system", name="flux-system")
    for perm in ("graph.view_kubeobject", "graph.run_playbook", "graph.request_change"):
        assign_perm(perm, dev, root)
    return dev


def _target(kind: str, namespace: str, name: str) -> KubeObject:
    return KubeObject.objects.get(kind=kind, namespace=namespace, name=name, deleted_at__isnull=True)


def _open_form(page, playbook: str, obj: KubeObject) -> None:
    page.goto(f"/admin/playbooks/playbookrun/start/{playbook}/{obj.pk}/")
    assert page.locator("#content-main form").count() == 1, page.content()[:2000]
    assert page.locator(".errornote").count() == 0, page.locator(".errornote").inner_text()


def _fill(page, fields: dict) -> None:
    for name, value in fields.items():
        box = page.locator(f"#id_{name}")
        if isinstance(value, bool):
            box.set_checked(value)
        elif isinstance(value, tuple):  # (old, new): edit the prefilled text
            text = box.input_value()
            assert value[0] in text, text
            box.fill(text.replace(value[0], value[1], 1))
        else:
            box.fill(value)


def _changed_lines(diff: str) -> list[str]:
    return [line for line in diff.splitlines() if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def _submit(page, button: str) -> None:
    with page.expect_navigation():
        page.click(f"input[name={button}]")


@pytest.mark.parametrize("case", CASES, ids=[c.playbook for c in CASES])
def test_gitops_form_previews_the_diff_and_requests_the_change(case, demo, developer, page, login, screenshot):
    sim, cluster, gh_repo = demo
    target = _target(*case.target)
    login(page, "dev")
    _open_form(page, case.playbook, target)
    _fill(page, case.fields)
    _submit(page, "preview")

    preview = page.locator("#fp-preview")
    assert preview.count() == 1, "no preview: " + " / ".join(page.locator(".errorlist, .errornote").all_inner_texts())
    assert preview.locator(".errorlist").count() == 0, preview.inner_text()
    diff = preview.locator("pre.fp-diff").inner_text()
    for line in case.diff:
        assert line in diff, f"{line!r} not in the diff:\n{diff}"
    if case.playbook == "edit":  # only the edited line changes (the browser sends CRLF line breaks)
        assert _changed_lines(diff) == ["-  interval: 5m", "+  interval: 30m"], diff
    assert preview.locator("pre.fp-diff").is_visible()
    screenshot(page, f"clickops-{case.playbook}", docs=True)

    _submit(page, "confirm")
    assert "/admin/playbooks/playbookrun/" in page.url and page.url.endswith("/change/"), page.url
    assert "pending approval" in page.locator("#content-main").inner_text()
    run = PlaybookRun.objects.get()
    assert (run.playbook, run.target_id, run.requested_by.username) == (case.playbook, target.pk, "dev")
    assert all(line in run.diff for line in case.diff)
    assert list(gh_repo.get_pulls(state="all")) == [], "nothing reaches git before approval"


def test_an_invalid_image_shows_its_error_and_creates_nothing(demo, developer, page, login, screenshot):
    login(page, "dev")
    _open_form(page, "update-image", _target("Deployment", "podinfo", "podinfo"))
    _fill(page, {"container": "podinfo", "image": "ghcr.io/stefanprodan/Podinfo:6.9.2"})
    _submit(page, "preview")
    error = page.locator(".errorlist").first
    assert "not a valid image reference" in error.inner_text()
    assert page.locator("#fp-preview").count() == 0 and page.locator("input[name=confirm]").count() == 0
    screenshot(page, "clickops-update-image-invalid", docs=True)
    assert not PlaybookRun.objects.exists()


@pytest.mark.parametrize("playbook", ["suspend", "reconcile"])
def test_exec_playbook_form(playbook, demo, developer, page, login, screenshot):
    login(page, "dev")
    apps = _target("Kustomization", "flux-system", "apps")
    page.goto(apps.admin_url())
    page.locator("#fp-playbooks").get_by_role("link", name=playbook.capitalize(), exact=True).click()
    page.wait_for_url(f"**/start/{playbook}/{apps.pk}/")
    assert "Runs as soon as you confirm." in page.locator("#content-main").inner_text()
    assert page.locator(f"input[type=submit][value={playbook.capitalize()}]").is_enabled()
    screenshot(page, f"clickops-{playbook}", docs=True)
    assert not PlaybookRun.objects.exists()
