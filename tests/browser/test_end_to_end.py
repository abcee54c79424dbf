"""Roadmap 9's first browser scenario, as people do it: a developer opens the graph of Kustomization ``apps``,
reconciles it and requests "scale podinfo to 3"; an approver finds it in the approvals inbox, reads the diff and
approves; the pull request is merged on GitHub (the simulator, through PyGithub, as a human reviewer would); Flux
applies it and the developer sees 3 pods in the graph and the request reading "applied, healthy".

The worker and the scheduler are played by the test: ``drain()`` runs the queued jobs, and the sync +
``track_changes()`` loop is what the periodic jobs do. Screenshots of every step go to test-artifacts/e2e-*.png."""

from __future__ import annotations

import pytest
from guardian.shortcuts import assign_perm

from graph.models import KubeObject
from graph.sync import sync_cluster
from playbooks.changes.tracking import track_changes
from playbooks.choices import ChangeState, PlaybookRunStatus
from playbooks.models import PlaybookRun
from tests.graph.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def _submit(page, selector: str) -> None:
    with page.expect_navigation():
        page.click(selector)


def _open(page, url: str | None = None) -> None:
    """Go to url (default: reload). An unfinished run's page refreshes itself every few seconds; when that refresh
    races our navigation, Chromium aborts one of them: try again."""
    from playwright.sync_api import Error

    for attempt in range(3):
        try:
            page.goto(url or page.url)
            return
        except Error as exc:
            if "ERR_ABORTED" not in str(exc) or attempt == 2:
                raise


def _field(page, name: str) -> str:
    """The text of a read-only field on a run's admin page."""
    if page.locator(f".field-{name} .readonly").count() != 1:
        raise AssertionError(f"no field {name} on {page.url}: " + page.locator("body").inner_text()[:1500])
    return page.locator(f".field-{name} .readonly").inner_text().strip()


def _pods_in_graph(page) -> list[str]:
    """Tooltips ("Pod ns/name: health …") of the Pod nodes drawn in the page's graph."""
    titles = page.eval_on_selector_all(
        ".fp-graph g.node a", "els => els.map(e => e.getAttribute('xlink:title') || e.getAttribute('title') || '')")
    return [t for t in titles if t.startswith("Pod ")]


def test_developer_reconciles_and_scales_podinfo_approver_approves_flux_applies(
        demo, make_user, new_page, login, screenshot, drain):
    sim, cluster, gh_repo = demo
    dev = make_user("dev")
    make_user("lead", perms=("graph.approve_run",))
    apps = KubeObject.objects.get(kind="Kustomization", namespace="flux-system", name="apps")
    for perm in ("graph.view_kubeobject", "graph.run_playbook", "graph.request_change"):
        assign_perm(perm, dev, apps)  # covers everything apps created: the podinfo release, Deployment, pods

    # --- the developer opens the graph of apps
    page = new_page()
    login(page, "dev")
    page.get_by_role("link", name="Kustomizations", exact=True).first.click()
    page.get_by_role("link", name="apps", exact=True).click()
    page.wait_for_url(f"**{apps.admin_url()}")
    assert page.locator(".fp-graph svg").count() == 1
    assert "HelmRelease podinfo/podinfo" in " ".join(page.eval_on_selector_all(
        ".fp-graph g.node a", "els => els.map(e => e.getAttribute('xlink:title') || '')"))
    screenshot(page, "e2e-01-apps-graph")

    # --- reconciles it: the run page ends "succeeded" with the applied revision
    page.locator("#fp-playbooks").get_by_role("link", name="Reconcile", exact=True).click()
    _submit(page, "input[type=submit][value=Reconcile]")
    run = PlaybookRun.objects.get(playbook="reconcile")
    assert page.url.endswith(f"/admin/playbooks/playbookrun/{run.pk}/change/")
    drain()  # the worker
    _open(page)
    assert _field(page, "status") == "succeeded", page.locator("#content-main").inner_text()
    run.refresh_from_db()
    assert run.status == PlaybookRunStatus.SUCCEEDED and "main@sha1:" in str(run.result)
    screenshot(page, "e2e-02-reconcile-succeeded", full_page=True)

    # --- requests "scale podinfo to 3" from the Deployment's page
    deployment = KubeObject.objects.get(kind="Deployment", namespace="podinfo", name="podinfo")
    _open(page, deployment.admin_url())
    page.locator("#fp-playbooks").get_by_role("link", name="Scale", exact=True).click()
    page.fill("#id_replicas", "3")
    _submit(page, "input[name=preview]")
    assert "+    replicaCount: 3" in page.locator("#fp-preview pre.fp-diff").inner_text()
    screenshot(page, "e2e-03-scale-preview")
    _submit(page, "input[name=confirm]")
    scale = PlaybookRun.objects.get(playbook="scale")
    assert _field(page, "status") == "pending approval"
    assert "cannot approve your own request" in page.locator("#content-main").inner_text()
    screenshot(page, "e2e-04-scale-requested")

    # --- the approver opens the inbox, reads the diff and approves
    lead_page = new_page()
    login(lead_page, "lead")
    lead_page.goto("/admin/playbooks/pendingapproval/")
    row = lead_page.locator("#result_list tbody tr")
    assert row.count() == 1 and "replicas=3" in row.inner_text() and "dev" in row.inner_text()
    screenshot(lead_page, "e2e-05-approvals-inbox")
    row.locator("th a, td a").first.click()
    lead_page.wait_for_url(f"**/{scale.pk}/change/")
    assert "+    replicaCount: 3" in lead_page.locator("pre.fp-diff").inner_text()
    lead_page.fill("#fp-reason", "ok for the load test")
    screenshot(lead_page, "e2e-06-approve-with-diff", full_page=True)
    _submit(lead_page, "#fp-decide button[value=approve]")
    # lead holds approve_run only (no view on the tree): back to the (now empty) inbox with the outcome
    assert lead_page.url.endswith("/admin/playbooks/pendingapproval/"), lead_page.url
    assert f"Run #{scale.pk}: queued." in lead_page.locator(".messagelist").inner_text()
    assert lead_page.locator("#result_list").count() == 0
    scale.refresh_from_db()
    assert scale.status == PlaybookRunStatus.QUEUED, scale.status
    drain()  # the worker commits as dev on a branch and opens the pull request
    scale.refresh_from_db()
    assert scale.status == PlaybookRunStatus.SUCCEEDED and scale.change_state == ChangeState.PR_OPEN, scale.log
    _open(page)  # the developer's request page
    assert _field(page, "change_state") == "pull request open"
    assert page.locator(f".field-pr_link a[href='{scale.pr_url}']").count() == 1
    screenshot(page, "e2e-07-pull-request-open", full_page=True)

    # --- a reviewer merges the pull request on GitHub
    pr = gh_repo.get_pull(scale.pr_number)
    assert pr.head.ref == f"fluxplane/scale-{scale.pk}" and "lead (ok for the load test)" in pr.body
    assert pr.merge(merge_method="merge").merged

    # --- the scheduler: sync the cluster and track the change until Flux applied it and the pods are healthy
    def settled() -> bool:
        sync_cluster(cluster)
        track_changes()
        scale.refresh_from_db()
        return scale.change_state in (ChangeState.HEALTHY, ChangeState.UNHEALTHY)

    wait_for(settled, timeout=90, interval=0.5, what=f"the scale request to settle (at {scale.change_state})")
    assert scale.change_state == ChangeState.HEALTHY, scale.log

    # --- the developer sees the request "applied, healthy" and 3 healthy pods in the graph of apps
    _open(page, f"/admin/playbooks/playbookrun/{scale.pk}/change/")
    assert _field(page, "change_state") == "applied, healthy"
    log = page.locator("#content-main").inner_text()
    assert "merged" in log and "applied main@sha1:" in log
    screenshot(page, "e2e-08-request-applied-healthy", full_page=True)
    _open(page, apps.admin_url())
    replicasets = KubeObject.objects.filter(in_edges__source=deployment, kind="ReplicaSet", deleted_at__isnull=True)
    names = set(KubeObject.objects.filter(in_edges__source__in=replicasets, kind="Pod", deleted_at__isnull=True)
                .values_list("name", flat=True))
    drawn = [t for t in _pods_in_graph(page) if t.split(":")[0].removeprefix("Pod podinfo/") in names]
    assert len(names) == 3 and len(drawn) == 3 and all(": healthy" in t for t in drawn), (names, drawn)
    screenshot(page, "e2e-09-apps-graph-3-pods", full_page=True)
