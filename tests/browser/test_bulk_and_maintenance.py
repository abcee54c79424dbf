"""Operating several Kustomizations at once, and a maintenance window, as an on-call engineer does it in the browser.

Bulk: from the Kustomizations list the engineer ticks infra-controllers, infra-configs and apps, picks "Reconcile
selected …", reads the confirmation page (dependsOn order), confirms, and lands on the runs of the batch; the
worker (``drain()``) then runs them chained, each after the one it depends on. Suspend, the reverse order.

Maintenance: checkout (the demo's broken app) is suspended from its page with "Silence alerts until resumed"; the
resume from its page fails its wait (the health check stays red), yet the silence ends and the run says so.

The worker and the sync are played by the test. Screenshots go to test-artifacts/bulk-*.png and maintenance-*.png."""

from __future__ import annotations

import pytest

from alerts.models import Silence
from graph.models import KubeObject
from graph.sync import sync_cluster
from playbooks.choices import PlaybookRunStatus
from playbooks.models import PlaybookRun

pytestmark = pytest.mark.django_db(transaction=True)

CHAIN = ["infra-controllers", "infra-configs", "apps"]
OPS_PERMS = ("graph.view_kubeobject", "graph.run_playbook", "graph.silence")


def _submit(page, selector: str) -> None:
    with page.expect_navigation():
        page.click(selector)


def _kustomization(name: str) -> KubeObject:
    return KubeObject.objects.get(kind="Kustomization", namespace="flux-system", name=name, deleted_at__isnull=True)


def _bulk_from_the_list(page, action: str, names: list[str]) -> list[str]:
    """Tick ``names`` on the Kustomizations list, run ``action``; returns the confirmation page's object column."""
    page.goto("/admin/")
    page.get_by_role("link", name="Kustomizations", exact=True).first.click()
    for name in names:
        page.locator(f"#result_list input.action-select[value='{_kustomization(name).pk}']").check()
    page.select_option("select[name=action]", f"playbook_{action}")
    _submit(page, "#changelist-form button[name=index], #changelist-form button[type=submit]")
    assert page.locator("#fp-bulk").count() == 1, page.locator("#content").inner_text()[:1500]
    return [cell.strip() for cell in page.locator("#fp-bulk tbody tr td:nth-child(2)").all_inner_texts()]


def _runs_in_order(batch_runs: list[PlaybookRun]) -> None:
    for earlier, later in zip(batch_runs, batch_runs[1:], strict=False):
        assert later.started_at >= earlier.finished_at, f"{later.target_name} started before {earlier.target_name}"


def test_bulk_reconcile_then_suspend_from_the_list_page_run_chained_in_depends_on_order(
        demo, make_user, page, login, screenshot, drain):
    sim, cluster, _repo = demo
    make_user("ops", perms=OPS_PERMS)
    login(page, "ops")

    # --- reconcile: dependencies first
    shown = _bulk_from_the_list(page, "reconcile", ["apps", "infra-configs", "infra-controllers"])
    assert shown == [f"Kustomization flux-system/{name}" for name in CHAIN]
    screenshot(page, "bulk-01-reconcile-confirm", full_page=True)
    _submit(page, "input[name=confirm]")
    assert "/admin/playbooks/playbookrun/" in page.url, page.url
    assert "3 run(s) requested, in dependsOn order" in page.locator("ul.messagelist").inner_text()
    runs = list(PlaybookRun.objects.filter(playbook="reconcile").order_by("batch_position"))
    assert [r.target_name for r in runs] == CHAIN and len({r.batch for r in runs}) == 1
    assert page.locator("#result_list tbody tr").count() == 3
    screenshot(page, "bulk-02-runs-requested", full_page=True)
    drain()  # the worker: each run waits for the one before it (RQ depends_on)
    runs = list(PlaybookRun.objects.filter(playbook="reconcile").order_by("batch_position"))
    assert [r.status for r in runs] == [PlaybookRunStatus.SUCCEEDED] * 3, [r.error for r in runs]
    _runs_in_order(runs)

    # --- suspend: dependents first (the reverse)
    shown = _bulk_from_the_list(page, "suspend", CHAIN)
    assert shown == [f"Kustomization flux-system/{name}" for name in reversed(CHAIN)]
    _submit(page, "input[name=confirm]")
    drain()
    runs = list(PlaybookRun.objects.filter(playbook="suspend").order_by("batch_position"))
    assert [r.target_name for r in runs] == list(reversed(CHAIN))
    assert [r.status for r in runs] == [PlaybookRunStatus.SUCCEEDED] * 3, [r.error for r in runs]
    _runs_in_order(runs)
    sync_cluster(cluster)
    assert all(_kustomization(name).suspended for name in CHAIN)

    # --- and resume them again, so the module's demo is left running
    _bulk_from_the_list(page, "resume", CHAIN)
    page.fill("#id_timeout", "60")
    _submit(page, "input[name=confirm]")
    drain()
    runs = list(PlaybookRun.objects.filter(playbook="resume").order_by("batch_position"))
    assert [r.target_name for r in runs] == CHAIN
    assert [r.status for r in runs] == [PlaybookRunStatus.SUCCEEDED] * 3, [r.error for r in runs]


def test_resume_of_a_broken_app_ends_its_maintenance_silence_and_says_so(demo, make_user, page, login, screenshot,
                                                                        drain):
    _sim, cluster, _repo = demo
    make_user("oncall", perms=OPS_PERMS)
    login(page, "oncall")
    checkout = _kustomization("checkout")

    page.goto(checkout.admin_url())
    page.locator("#fp-playbooks").get_by_role("link", name="Suspend", exact=True).click()
    page.check("#id_silence_until_resumed")
    _submit(page, "input[type=submit][value=Suspend]")
    drain()
    suspend = PlaybookRun.objects.get(playbook="suspend", target=checkout)
    assert suspend.status == PlaybookRunStatus.SUCCEEDED, suspend.error
    silence = Silence.objects.get(suspend_run=suspend)
    assert silence.is_active and silence.until_resumed
    sync_cluster(cluster)

    page.goto(checkout.admin_url())
    page.locator("#fp-playbooks").get_by_role("link", name="Resume", exact=True).click()
    page.fill("#id_timeout", "5")
    _submit(page, "input[type=submit][value=Resume]")
    drain()
    resume = PlaybookRun.objects.get(playbook="resume", target=checkout)
    page.goto(f"/admin/playbooks/playbookrun/{resume.pk}/change/")
    text = page.locator("#content-main").inner_text()
    screenshot(page, "maintenance-01-resume-failed", full_page=True)
    assert resume.status == PlaybookRunStatus.FAILED, resume.result
    assert "resumed all the same: the maintenance silence has ended" in text, text[:2000]
    assert "the maintenance silence opened by the suspend has ended" in text
    silence.refresh_from_db()
    assert silence.state == "expired"
