"""Roadmap 9, as people see it: the README's two screenshots (dashboard, graph of apps); a silence opened from
Kustomization ``apps``'s page (preview of the covered resources, save, "Active silences" on the dashboard); and
just-in-time namespace access end to end — a developer requests access to namespace podinfo from its page, an
approver approves in the inbox, the grant pull request is merged (by policy), the simulated Flux applies the
RoleBinding, the developer's *My access* shows it with time left, time moves past the expiry (``expires_at`` set
in the past: no sleeping), the sweep removes it through a merged removal pull request, and the grant's page reads
"removed" with its history.

The worker, the scheduler and the sweep are played by the test (``drain()``, ``sync_cluster``, ``sweep()``).
Screenshots of every step go to test-artifacts/access-*.png and silence-*.png; the README images are written to
docs/images/ only with FLUXPLANE_DOC_SCREENSHOTS=1. The JIT test merges into the demo repository, so it runs last
in this module."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from django.utils import timezone
from guardian.shortcuts import assign_perm

from access.jit.models import AccessGrant, GrantState
from alerts.models import Silence
from controlplane.kube import KubeAdapter, KubeError
from graph.models import KubeObject
from graph.sync import sync_cluster
from jit.sweep import sweep
from playbooks.choices import ChangeState, PlaybookRunStatus
from tests.browser.conftest import ARTIFACTS, DOC_IMAGES
from tests.graph.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def _submit(page, selector: str) -> None:
    with page.expect_navigation():
        page.click(selector)


def _open(page, url: str | None = None) -> None:
    """Go to url (default: reload), retrying when a page's own refresh aborts the navigation."""
    from playwright.sync_api import Error

    for attempt in range(3):
        try:
            page.goto(url or page.url)
            return
        except Error as exc:
            if "ERR_ABORTED" not in str(exc) or attempt == 2:
                raise


def _field(page, name: str) -> str:
    """The text of a read-only field on an admin change page."""
    locator = page.locator(f".field-{name} .readonly")
    if locator.count() != 1:
        raise AssertionError(f"no field {name} on {page.url}: " + page.locator("body").inner_text()[:1500])
    return locator.inner_text().strip()


def _element_shot(page, selector: str, name: str, *, docs: bool = False) -> None:
    """Like the ``screenshot`` fixture, for one element (the README wants the graph, not the whole page)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.locator(selector).first.screenshot(path=str(path), animations="disabled", caret="hide")
    if docs and os.environ.get("FLUXPLANE_DOC_SCREENSHOTS") == "1":
        DOC_IMAGES.mkdir(parents=True, exist_ok=True)
        (DOC_IMAGES / f"{name}.png").write_bytes(path.read_bytes())


def _binding(cluster, namespace: str, name: str) -> dict | None:
    """The RoleBinding as the API server has it (None when absent)."""
    adapter = KubeAdapter(cluster)
    try:
        resource = adapter.find_resource("rbac.authorization.k8s.io", "RoleBinding", ("v1",))
        return adapter.get(resource, namespace, name)
    except KubeError as exc:
        if exc.status == 404:
            return None
        raise
    finally:
        adapter.close()


# ------------------------------------------------------------------------------------------ README images
def test_readme_dashboard_and_graph(demo, make_user, page, login, screenshot):
    sim, cluster, _ = demo
    make_user("root", superuser=True)

    def failing() -> bool:  # the demo's broken checkout app turns red within about a minute of the demo starting
        sync_cluster(cluster)
        return KubeObject.objects.filter(cluster=cluster, kind="HelmRelease", name="checkout",
                                         rollup_health="failed").exists()

    wait_for(failing, timeout=120, interval=1, what="the demo's checkout release to fail")
    login(page, "root")
    assert page.locator("#fp-dashboard").count() == 1 and "Health by kind" in page.locator("#fp-dashboard").inner_text()
    assert "checkout" in page.locator("#fp-failing").inner_text()
    page.set_viewport_size({"width": 1280, "height": 1000})
    screenshot(page, "readme-dashboard", docs=True)

    apps = KubeObject.objects.get(cluster=cluster, kind="Kustomization", namespace="flux-system", name="apps")
    _open(page, apps.admin_url())
    assert page.locator(".fp-graph svg").count() == 1
    # The page scrolls the graph inside its box; the picture wants all of it: lift the box's limits and widen the
    # window to the drawing.
    width = page.eval_on_selector(".fp-graph", "el => { el.style.overflow = 'visible'; el.style.maxHeight = 'none';"
                                               " el.style.width = 'max-content'; return el.scrollWidth; }")
    page.set_viewport_size({"width": max(1280, min(2400, width + 120)), "height": 1000})
    _element_shot(page, ".fp-graph", "readme-graph", docs=True)


# ------------------------------------------------------------------------------------------ silences
def test_silence_apps_from_its_page_preview_save_dashboard(demo, make_user, page, login, screenshot):
    sim, cluster, _ = demo
    sre = make_user("sre")
    apps = KubeObject.objects.get(cluster=cluster, kind="Kustomization", namespace="flux-system", name="apps")
    assign_perm("graph.view_kubeobject", sre, apps)
    assign_perm("graph.silence", sre, apps)

    login(page, "sre")
    _open(page, apps.admin_url())
    page.locator("#fp-silence").get_by_role("link", name="Silence alerts").click()
    page.wait_for_url(f"**/admin/alerts/silence/new/{apps.pk}/")
    page.fill("#id_duration_minutes", "90")
    page.fill("#id_reason", "planned podinfo maintenance")
    assert page.locator("#id_include_descendants").is_checked()
    screenshot(page, "silence-01-form")

    _submit(page, "input[name=_preview]")
    preview = page.locator("#silence-preview")
    heading = preview.locator("h2").first.inner_text()
    rows = preview.locator("table").first.locator("tbody tr").all_inner_texts()
    covered = {" ".join(r.split()) for r in rows}
    # Kustomization apps and everything it created: the podinfo release, its Deployment and pods.
    assert "Kustomization flux-system apps" in covered, covered
    assert "HelmRelease podinfo podinfo" in covered and "Deployment podinfo podinfo" in covered, covered
    assert any(r.startswith("Pod podinfo podinfo-") for r in covered), covered
    assert heading == f"It would cover {len(rows)} resource(s)"
    assert not Silence.objects.exists(), "a preview saves nothing"
    screenshot(page, "silence-02-preview", full_page=True)

    _submit(page, "input[name=_save]")
    silence = Silence.objects.get()
    assert page.url.endswith(f"/admin/alerts/silence/{silence.pk}/change/"), page.url
    assert "saved" in page.locator(".messagelist").inner_text()
    assert silence.target_id == apps.pk and silence.state == "active" and silence.created_by_username == "sre"
    assert silence.covered.count() == len(rows)
    assert timedelta(minutes=89) < silence.ends_at - timezone.now() <= timedelta(minutes=90)
    screenshot(page, "silence-03-saved", full_page=True)

    _open(page, "/admin/")
    active = page.locator("#fp-silences")
    assert "Active silences" in active.inner_text() and silence.target_label in active.inner_text()
    assert "by sre" in active.inner_text() and "ends in 1" in active.inner_text()  # "1 hour, 29 minutes"
    screenshot(page, "silence-04-dashboard")
    _open(page, "/admin/alerts/silence/?state=active")
    assert page.locator("#result_list tbody tr").count() == 1
    screenshot(page, "silence-05-active-list")


# ------------------------------------------------------------------------------------------ JIT access
def test_jit_request_approve_active_expire_removed(demo, make_user, new_page, login, screenshot, drain):
    sim, cluster, gh_repo = demo
    dev = make_user("dev")
    make_user("lead", perms=("graph.approve_run",))
    namespace = KubeObject.objects.get(cluster=cluster, kind="Namespace", name="podinfo")
    assign_perm("graph.view_kubeobject", dev, namespace)
    assign_perm("graph.request_access", dev, namespace)

    # --- the developer opens namespace podinfo and the "Request namespace access" playbook
    page = new_page()
    login(page, "dev")
    _open(page, namespace.admin_url())
    screenshot(page, "access-01-namespace-page")
    page.locator("#fp-playbooks").get_by_role("link", name="Request namespace access").click()
    page.wait_for_url(f"**/admin/access/accessgrant/request/{namespace.pk}/")
    assert "your Kubernetes user: dev" in page.locator("#content-main").inner_text()
    page.select_option("#id_role", "edit")
    page.select_option("#id_duration", "4h")
    page.fill("#id_reason", "debug the podinfo rollout")
    page.fill("#id_ticket", "INC-42")
    screenshot(page, "access-02-request-form", full_page=True)
    _submit(page, "input[type=submit][value='Request access']")
    grant = AccessGrant.objects.get()
    run = grant.request_run
    assert page.url.endswith(f"/admin/access/accessgrant/{grant.pk}/change/"), page.url
    assert "Access requested" in page.locator(".messagelist").inner_text()
    assert grant.state == GrantState.REQUESTED and run.status == PlaybookRunStatus.PENDING_APPROVAL
    assert (grant.role, grant.namespace, grant.subject_name) == ("edit", "podinfo", "dev")
    assert _field(page, "state") == "requested (waiting for approval)"
    assert page.locator("#fp-grant-state").inner_text() == "requested (waiting for approval)"
    assert "+kind: RoleBinding" in page.locator(".field-binding_diff pre.fp-diff").inner_text()
    assert "for 4 h," in page.locator("#fp-grant-head").inner_text()
    screenshot(page, "access-03-requested", full_page=True)

    # --- the approver finds it in the inbox and approves
    lead_page = new_page()
    login(lead_page, "lead")
    _open(lead_page, "/admin/playbooks/pendingapproval/")
    row = lead_page.locator("#result_list tbody tr")
    assert row.count() == 1 and "dev" in row.inner_text() and "podinfo" in row.inner_text(), row.all_inner_texts()
    screenshot(lead_page, "access-04-approvals-inbox")
    row.locator("th a, td a").first.click()
    lead_page.wait_for_url(f"**/{run.pk}/change/")
    details = lead_page.locator("#content-main").inner_text()
    assert "edit" in details and "debug the podinfo rollout" in details
    # The approver reads the RoleBinding file this approval commits, before approving.
    added = "\n".join(lead_page.locator("#fp-run-diff pre.fp-diff span.add").all_inner_texts())
    for line in ("+kind: RoleBinding", "+  name: edit", "+    name: dev", "approved-by: (set when approved)",
                 "requested-by: dev", "+  - fluxplane-access-"):
        assert line in added, (line, added)
    lead_page.fill("#fp-reason", "go ahead")
    screenshot(lead_page, "access-05-approve", docs=True, full_page=True)
    _submit(lead_page, "#fp-decide button[value=approve]")
    assert f"Run #{run.pk}: queued." in lead_page.locator(".messagelist").inner_text()

    # --- the worker commits the RoleBinding as dev and opens the grant PR, merged at once by policy
    drain()
    run.refresh_from_db()
    grant.refresh_from_db()
    assert run.status == PlaybookRunStatus.SUCCEEDED, (run.error, run.log)
    assert grant.state == GrantState.MERGED and run.change_state == ChangeState.MERGED
    pr = gh_repo.get_pull(run.pr_number)
    assert pr.merged and pr.head.ref == f"fluxplane/request-namespace-access-{run.pk}"

    # --- the sweep (every minute) sees Flux apply the binding: the grant is active, the duration counts from now
    def active() -> bool:
        sweep()
        grant.refresh_from_db()
        return grant.state == GrantState.ACTIVE

    wait_for(active, timeout=60, interval=0.3, what=f"grant #{grant.pk} to become active (at {grant.state})")
    live = _binding(cluster, "podinfo", grant.binding_name)
    assert live["roleRef"]["name"] == "edit" and live["subjects"][0]["name"] == "dev"
    assert grant.expires_at - grant.activated_at == timedelta(hours=4)
    sync_cluster(cluster)
    assert KubeObject.objects.filter(cluster=cluster, kind="RoleBinding", namespace="podinfo",
                                     name=grant.binding_name, deleted_at__isnull=True).exists()

    # --- the developer's "My access" shows it active with time left, and so does the dashboard
    page.set_viewport_size({"width": 1700, "height": 900})  # the list is wide: show every column, time left too
    _open(page, "/admin/access/myaccessgrant/")
    mine = page.locator("#result_list tbody tr")
    assert mine.count() == 1, mine.all_inner_texts()
    assert mine.locator("td.field-state").inner_text() == "active"
    assert mine.locator("td.field-namespace").inner_text() == "podinfo"
    left = mine.locator("td.field-time_left_display").inner_text()
    assert left in ("4h 00m", "3h 59m"), left  # 4 hours from activation, a few seconds ago
    screenshot(page, "access-06-my-access-active")
    _open(page, "/admin/")
    assert "edit in podinfo" in page.locator("#fp-my-access").inner_text()
    screenshot(page, "access-07-dashboard-my-access")

    # --- time moves past the expiry: the sweep opens the removal PR (merged by policy), Flux prunes the binding
    AccessGrant.objects.filter(pk=grant.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    def removed() -> bool:
        sweep()
        grant.refresh_from_db()
        return grant.state == GrantState.REMOVED

    wait_for(removed, timeout=60, interval=0.3, what=f"grant #{grant.pk} removed (at {grant.state})")
    assert _binding(cluster, "podinfo", grant.binding_name) is None
    removal = gh_repo.get_pull(grant.removal_pr_number)
    assert removal.merged and removal.head.ref.startswith("fluxplane/jit-remove-")
    assert grant.settled and grant.enforced_at is None
    sync_cluster(cluster)
    assert not KubeObject.objects.filter(cluster=cluster, kind="RoleBinding", name=grant.binding_name,
                                         deleted_at__isnull=True).exists()

    # --- the pages show the history: removed, with the request run and the removal PR
    _open(page, "/admin/access/myaccessgrant/")
    row = page.locator("#result_list tbody tr")
    assert row.locator("td.field-state").inner_text() == "removed"
    assert row.locator("td.field-time_left_display").inner_text() == "—"
    assert row.locator("td.field-removal_link").inner_text() == f"#{grant.removal_pr_number}"
    screenshot(page, "access-08-my-access-removed")
    assert page.locator("#fp-my-access").count() == 0 or "podinfo" not in page.locator("#fp-my-access").inner_text()
    _open(page, f"/admin/access/accessgrant/{grant.pk}/change/")
    assert _field(page, "state") == "removed"
    assert _field(page, "run_link") == f"run #{run.pk}"
    assert page.locator(f".field-removal_link a[href='{grant.removal_pr_url}']").count() == 1
    for field in ("activated_at", "expires_at", "removed_from_git_at"):
        assert _field(page, field) not in ("", "-", "—"), field
    page.set_viewport_size({"width": 1366, "height": 900})
    screenshot(page, "access-09-grant-history", docs=True, full_page=True)
    _open(page, f"/admin/playbooks/playbookrun/{run.pk}/change/")
    log = page.locator("#content-main").inner_text()
    assert "lead" in log and "go ahead" in log
    screenshot(page, "access-10-request-run", full_page=True)
