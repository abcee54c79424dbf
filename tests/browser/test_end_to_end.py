"""The change loop as people live it, without leaving Fluxplane: a developer opens the graph of Kustomization
``apps``, reconciles it and requests "scale podinfo to 3"; an approver finds it in the approvals inbox, reads the
coloured diff and approves; the worker opens the pull request (its page on the GitHub simulator opens without a
token); the approver presses Merge on the run page; Flux applies it, and the developer's run page, never reloaded,
shows each state as it happens (pull request open → merged → applied → healthy) with time stamps, and 3 pods in the
graph.

The worker and the scheduler are played by the test: ``drain()`` runs the queued jobs, and the sync +
``track_changes()`` loop is what the periodic jobs do. Screenshots of every step go to test-artifacts/e2e-*.png."""

from __future__ import annotations

import pytest
from guardian.shortcuts import assign_perm

from controlplane.models import AuditEvent
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


def _state(page) -> str:
    """The run's state in words, as its page shows it."""
    if page.locator("#fp-state-words").count() != 1:
        raise AssertionError(f"no run state on {page.url}: " + page.locator("body").inner_text()[:1500])
    return page.locator("#fp-state-words").inner_text().strip()


def _see_state(page, words: str, timeout_ms: int = 15_000) -> None:
    """Wait until the run page, polling by itself, shows ``words`` as its state (no reload, no navigation)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function("w => (document.querySelector('#fp-state-words') || {}).textContent === w",
                               arg=words, timeout=timeout_ms)
    except PlaywrightTimeout:
        live = page.locator("#fp-run-live")
        raise AssertionError(f"the run page did not reach {words!r}: active={live.get_attribute('data-active')} "
                             f"{live.inner_text()[:800]}") from None


def _step(page, label: str) -> tuple[str, str]:
    """(state class, time stamp text) of one step of the timeline."""
    item = page.locator(f"ol.fp-timeline li[data-step='{label}']")
    assert item.count() == 1, f"no step {label!r}: {page.locator('ol.fp-timeline').inner_text()}"
    at = item.locator(".fp-at")
    return item.get_attribute("class"), (at.inner_text() if at.count() else "")


def _pods_in_graph(page) -> list[str]:
    """Tooltips ("Pod ns/name: health …") of the Pod nodes drawn in the page's graph."""
    titles = page.eval_on_selector_all(
        ".fp-graph g.node a", "els => els.map(e => e.getAttribute('xlink:title') || e.getAttribute('title') || '')")
    return [t for t in titles if t.startswith("Pod ")]


def test_developer_requests_scale_approver_approves_and_merges_run_page_follows_live(
        demo, make_user, new_page, login, screenshot, drain):
    sim, cluster, gh_repo = demo
    dev = make_user("dev")
    # The demo's approver: sees the tree, approves, merges.
    make_user("lead", perms=("graph.view_kubeobject", "graph.approve_run", "graph.merge_change",
                             "playbooks.view_playbookrun"))
    apps = KubeObject.objects.get(kind="Kustomization", namespace="flux-system", name="apps")
    for perm in ("graph.view_kubeobject", "graph.run_playbook", "graph.request_change"):
        assign_perm(perm, dev, apps)  # covers everything apps created: the podinfo release, Deployment, pods

    # --- the developer opens the graph of apps (on a 1366 px wide screen, as the docs' screenshots)
    page = new_page()
    page.set_viewport_size({"width": 1366, "height": 900})
    login(page, "dev")
    page.get_by_role("link", name="Kustomizations", exact=True).first.click()
    page.get_by_role("link", name="apps", exact=True).click()
    page.wait_for_url(f"**{apps.admin_url()}")
    assert page.locator(".fp-graph svg").count() == 1
    assert "HelmRelease podinfo/podinfo" in " ".join(page.eval_on_selector_all(
        ".fp-graph g.node a", "els => els.map(e => e.getAttribute('xlink:title') || '')"))
    screenshot(page, "e2e-01-apps-graph")

    # --- reconciles it: the run page turns "succeeded" by itself once the worker ran it
    page.locator("#fp-playbooks").get_by_role("link", name="Reconcile", exact=True).click()
    _submit(page, "input[type=submit][value=Reconcile]")
    run = PlaybookRun.objects.get(playbook="reconcile")
    assert page.url.endswith(f"/admin/playbooks/playbookrun/{run.pk}/change/")
    assert _state(page) == "queued"
    drain()  # the worker
    _see_state(page, "succeeded")
    run.refresh_from_db()
    assert run.status == PlaybookRunStatus.SUCCEEDED and "main@sha1:" in str(run.result)
    assert "fp-done" in _step(page, "succeeded")[0]
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
    assert _state(page) == "pending approval"
    assert "cannot approve your own request" in page.locator("#content-main").inner_text()
    assert page.locator("#fp-decide").count() == 0 and page.locator("#fp-merge").count() == 0
    assert "fp-current" in _step(page, "approved")[0]
    assert page.locator("#fp-run-parameters th").first.inner_text() == "Replicas"
    screenshot(page, "e2e-04-scale-requested", full_page=True)
    # From here on the developer's page is never reloaded: a marker on the window proves it.
    page.evaluate("window.fpNoReload = 1")

    # --- the approver opens the inbox, reads the coloured diff and approves
    lead_page = new_page()
    lead_page.set_viewport_size({"width": 1366, "height": 900})
    login(lead_page, "lead")
    lead_page.goto("/admin/playbooks/pendingapproval/")
    row = lead_page.locator("#result_list tbody tr")
    assert row.count() == 1 and "replicas=3" in row.inner_text() and "dev" in row.inner_text()
    screenshot(lead_page, "e2e-05-approvals-inbox")
    row.locator("th a, td a").first.click()
    lead_page.wait_for_url(f"**/{scale.pk}/change/")
    added = lead_page.locator("#fp-run-diff pre.fp-diff span.add")
    assert "+    replicaCount: 3" in added.all_inner_texts()
    lead_page.fill("#fp-reason", "ok for the load test")
    screenshot(lead_page, "e2e-06-approve-with-diff", docs=True, full_page=True)
    _submit(lead_page, "#fp-decide button[value=approve]")
    assert lead_page.url.endswith(f"/admin/playbooks/playbookrun/{scale.pk}/change/"), (
        lead_page.url, lead_page.content()[:3000])
    assert f"Run #{scale.pk}: queued." in lead_page.locator(".messagelist").inner_text()
    approvals = lead_page.locator("#fp-run-approvals").inner_text()
    assert "lead" in approvals and "ok for the load test" in approvals
    _see_state(page, "queued")  # the developer's page follows
    assert "fp-done" in _step(page, "approved")[0] and _step(page, "approved")[1]

    drain()  # the worker commits as dev on a branch and opens the pull request
    scale.refresh_from_db()
    assert scale.status == PlaybookRunStatus.SUCCEEDED and scale.change_state == ChangeState.PR_OPEN, scale.log
    _see_state(page, "pull request open: waiting to be merged")
    assert page.locator(f"#fp-change-request a[href='{scale.pr_url}']").count() == 1
    screenshot(page, "e2e-07-pull-request-open", full_page=True)

    # --- the pull request's own page opens for a person, without a token (the simulator's web page)
    pr_page = new_page()
    pr_page.goto(scale.pr_url)
    assert pr_page.locator("#pr-state").inner_text() == "Open"
    assert "Scale" in pr_page.locator("h1 .title").inner_text()
    assert "lead (ok for the load test)" in pr_page.locator("#pr-body").inner_text()
    assert "+    replicaCount: 3" in pr_page.locator("pre.diff").inner_text()
    screenshot(pr_page, "e2e-07b-pull-request-page", docs=True)

    # --- the approver presses Merge on the run page (approvals met, no failing checks)
    lead_page.reload()
    box = lead_page.locator("#fp-change-request").inner_text()
    assert "open" in box and "none reported" in box and "manual" in box, box
    screenshot(lead_page, "e2e-07c-merge-button", docs=True, full_page=True)
    _submit(lead_page, "#fp-merge")
    assert "Merged" in lead_page.locator(".messagelist").inner_text()
    pr = gh_repo.get_pull(scale.pr_number)
    assert pr.merged and pr.head.ref == f"fluxplane/scale-{scale.pk}"
    _see_state(page, "merged: waiting for Flux to apply it")
    assert "fp-done" in _step(page, "merged")[0]
    merge_events = AuditEvent.objects.filter(verb="change.merge", target_id=str(scale.pk))
    assert [e.actor_username for e in merge_events] == ["lead"]

    # --- the scheduler: sync the cluster and track the change; the developer's page shows every state it reaches
    seen = []

    def settled() -> bool:
        sync_cluster(cluster)
        track_changes()
        scale.refresh_from_db()
        words = {ChangeState.APPLIED: "applied by Flux: waiting for the objects to become healthy",
                 ChangeState.HEALTHY: "applied, healthy", ChangeState.UNHEALTHY: "applied, unhealthy"}
        if scale.change_state in words and scale.change_state not in seen:
            _see_state(page, words[scale.change_state])
            seen.append(scale.change_state)
        return scale.change_state in (ChangeState.HEALTHY, ChangeState.UNHEALTHY)

    wait_for(settled, timeout=90, interval=0.5, what=f"the scale request to settle (at {scale.change_state})")
    assert scale.change_state == ChangeState.HEALTHY, scale.log
    assert seen[-1] == ChangeState.HEALTHY and set(seen) <= {ChangeState.APPLIED, ChangeState.HEALTHY}
    assert page.evaluate("window.fpNoReload") == 1, "the run page was reloaded"
    for label in ("requested", "approved", "pull request opened", "merged", "applied by Flux", "healthy"):
        state, at = _step(page, label)
        assert "fp-done" in state and at, (label, state, at)
    page.wait_for_function("() => document.querySelector('#fp-run-live').dataset.active === '0'")
    log = page.locator("#fp-run-log").inner_text()
    assert "merged by lead" in log and "applied main@sha1:" in log
    assert page.locator("#fp-run-internals").count() == 0  # job id, request id, traceback: administrators only
    screenshot(page, "e2e-08-request-applied-healthy", docs=True, full_page=True)
    make_user("root", superuser=True)
    admin_page = new_page()
    login(admin_page, "root")
    admin_page.goto(f"/admin/playbooks/playbookrun/{scale.pk}/change/")
    internals = admin_page.locator("#fp-run-internals")
    assert internals.count() == 1 and internals.evaluate("d => !d.open")  # folded away
    internals.locator("summary").click()
    scale.refresh_from_db()
    assert scale.request_id and scale.request_id in internals.inner_text()
    assert f"playbooks.playbookrun:{scale.pk}" in internals.inner_text()
    _open(page, apps.admin_url())
    replicasets = KubeObject.objects.filter(in_edges__source=deployment, kind="ReplicaSet", deleted_at__isnull=True)
    names = set(KubeObject.objects.filter(in_edges__source__in=replicasets, kind="Pod", deleted_at__isnull=True)
                .values_list("name", flat=True))
    drawn = [t for t in _pods_in_graph(page) if t.split(":")[0].removeprefix("Pod podinfo/") in names]
    assert len(names) == 3 and len(drawn) == 3 and all(": healthy" in t for t in drawn), (names, drawn)
    screenshot(page, "e2e-09-apps-graph-3-pods", full_page=True)
