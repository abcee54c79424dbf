"""Live updates without reloads (controlplane/live.py, live.js): after a change in the simulated cluster reaches the
mirror, the open dashboard, an object list and the graph show it by themselves, say when they were updated, and the
graph keeps the user's zoom; polling pauses in a hidden tab, backs off on errors and stops when the session ends."""

from __future__ import annotations

import time

import pytest
import requests

from graph.sync import sync_cluster

pytestmark = pytest.mark.django_db(transaction=True)

KUSTOMIZATION = "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/apps"


def suspend(sim, value: bool) -> None:
    """Suspend or resume the ``apps`` Kustomization through the simulated cluster's Kubernetes API."""
    response = requests.patch(sim.api_url + KUSTOMIZATION, json={"spec": {"suspend": value}},
                              headers={"Content-Type": "application/merge-patch+json"}, timeout=10)
    response.raise_for_status()


def mark_page(page) -> None:
    """A flag in the page's JavaScript state: still there later means the page was not reloaded."""
    page.evaluate("window.fpNotReloaded = true")


def not_reloaded(page) -> bool:
    return page.evaluate("window.fpNotReloaded === true")


@pytest.fixture
def fast(settings):
    settings.FLUXPLANE_LIVE_INTERVAL_MS = 700


def test_dashboard_and_list_follow_the_cluster(demo, fast, new_page, admin_user, login, screenshot):
    sim, cluster, _repo = demo
    page = new_page()
    login(page, "root")
    suspended = page.locator("#fp-dashboard tr:has(a:text-is('Kustomizations')) td.fp-count-suspended")
    assert suspended.inner_text().strip() == "·"
    page.wait_for_selector(".fp-live-status[data-live-part=dashboard]:has-text('updated')")
    mark_page(page)

    list_page = new_page()
    login(list_page, "root")
    list_page.goto("/admin/graph/kustomization/")
    apps_row = list_page.locator("#result_list tr:has(th.field-name a:text-is('apps'))")
    assert "suspended" not in apps_row.locator("td.field-health_display").inner_text()
    mark_page(list_page)

    try:
        suspend(sim, True)
        sync_cluster(cluster)
        # Both pages show the change by themselves.
        page.wait_for_function("""() => { const cell = document.querySelector(
            "#fp-dashboard td.fp-count-suspended a[title^='Kustomizations']");
            return cell && cell.textContent === '1'; }""")
        list_page.locator("#result_list tr:has(th.field-name a:text-is('apps')) td.field-health_display",
                          has_text="suspended").wait_for()
        assert not_reloaded(page) and not_reloaded(list_page)
        note = page.locator(".fp-live-status[data-live-part=dashboard]")
        assert "updated" in note.inner_text() and "s ago" in note.inner_text()
        assert "updated" in list_page.locator(".fp-live-status[data-live-part=list]").inner_text()
        # healthy polling is never shown as trouble, however many times the note is redrawn (once a second)
        for _ in range(3):
            assert page.locator(".fp-live-status.fp-live-trouble").count() == 0
            page.wait_for_timeout(600)
        screenshot(page, "live-dashboard")
        screenshot(list_page, "live-kustomizations")

        # Rows ticked for an action are not swapped away under the user's hand.
        list_page.locator("#result_list tr:has(th.field-name a:text-is('apps')) input.action-select").check()
        list_page.locator(".fp-live-status[data-live-part=list]", has_text="paused while you work here").wait_for()
        suspend(sim, False)
        sync_cluster(cluster)
        page.wait_for_function("""() => !document.querySelector(
            "#fp-dashboard td.fp-count-suspended a[title^='Kustomizations']")""")
        assert "suspended" in apps_row.locator("td.field-health_display").inner_text()
        assert apps_row.locator("input.action-select").is_checked()
        list_page.locator("#result_list tr:has(th.field-name a:text-is('apps')) input.action-select").uncheck()
        list_page.wait_for_function("""() => { const row = [...document.querySelectorAll('#result_list tr')]
            .find(r => r.querySelector('th.field-name a')?.textContent === 'apps');
            return row && !row.querySelector('td.field-health_display').textContent.includes('suspended'); }""")
        assert not_reloaded(list_page)
        # Django's actions work on the new rows: "select all" ticks them and the counter counts them.
        rows = list_page.locator("#result_list input.action-select").count()
        list_page.click("#action-toggle")
        assert list_page.locator("#result_list input.action-select:checked").count() == rows
        assert list_page.locator(".action-counter").inner_text().startswith(f"{rows} of {rows}")
    finally:
        suspend(sim, False)


def test_graph_redraws_when_the_mirror_changes_and_keeps_the_zoom(demo, fast, page, admin_user, login):
    sim, cluster, _repo = demo
    login(page, "root")
    page.goto(f"/admin/graph/kubeobject/graph/?cluster={cluster.pk}")
    page.wait_for_selector(".fp-graph-tools .fp-graph-in")
    page.click(".fp-graph-in")
    page.click(".fp-graph-in")
    zoom = page.locator(".fp-graph").get_attribute("data-zoom")
    view = page.evaluate("document.querySelector('.fp-graph svg').getAttribute('viewBox')")
    page.evaluate("document.querySelector('.fp-graph svg').dataset.old = '1'")
    mark_page(page)
    # Nothing changed: the polls are answered "no content" and the drawing stays the same element.
    page.wait_for_timeout(2000)
    assert page.locator(".fp-graph svg[data-old]").count() == 1
    try:
        suspend(sim, True)
        sync_cluster(cluster)
        page.wait_for_selector(".fp-graph svg:not([data-old])")
        assert not_reloaded(page)
        assert page.locator(".fp-graph").get_attribute("data-zoom") == zoom
        assert page.evaluate("document.querySelector('.fp-graph svg').getAttribute('viewBox')") == view
        assert page.locator(".fp-graph-tools").count() == 1
        assert "updated" in page.locator(".fp-live-status[data-live-part=graph]").inner_text()
    finally:
        suspend(sim, False)


def test_polling_pauses_when_hidden_backs_off_on_errors_and_stops_when_signed_out(live_server, fast, page, admin_user,
                                                                                   login):
    login(page, "root")
    polls: list[float] = []
    page.on("request", lambda r: polls.append(time.monotonic()) if r.headers.get("x-fluxplane-live") else None)
    note = page.locator(".fp-live-status[data-live-part=dashboard]")

    def wait_polls(n: int) -> None:
        deadline = time.monotonic() + 20
        while len(polls) < n and time.monotonic() < deadline:
            page.wait_for_timeout(100)
        assert len(polls) >= n, f"{len(polls)} polls, wanted {n}"

    wait_polls(2)

    # A hidden tab does not poll; showing it polls at once.
    page.evaluate("""() => { Object.defineProperty(document, 'hidden', {value: true, configurable: true});
        document.dispatchEvent(new Event('visibilitychange')); }""")
    note.filter(has_text="paused while the tab is hidden").wait_for()
    before = len(polls)
    page.wait_for_timeout(2500)  # more than three intervals
    assert len(polls) == before
    page.evaluate("""() => { Object.defineProperty(document, 'hidden', {value: false, configurable: true});
        document.dispatchEvent(new Event('visibilitychange')); }""")
    wait_polls(before + 1)

    # Errors: each retry waits twice as long as the one before (2×, 4× … the interval), and says so.
    def fail(route) -> None:
        if route.request.headers.get("x-fluxplane-live"):
            route.fulfill(status=500, body="boom")
        else:
            route.continue_()

    page.route("**/admin/", fail)
    note.filter(has_text="update failed, trying again in 1 s").wait_for()
    start = len(polls)
    note.filter(has_text="trying again in 6 s").wait_for(timeout=30_000)  # 0.7 s × 8, after three failures
    failed = polls[start - 1:]
    gaps = [b - a for a, b in zip(failed, failed[1:], strict=False)]
    assert len(gaps) >= 2 and gaps[0] >= 1.3 and gaps[1] >= 2.7, gaps  # timers never fire early
    assert page.locator(".fp-live-status.fp-live-trouble").count() == 1
    page.unroute("**/admin/", fail)
    note.filter(has_text="updated").filter(has_not_text="failed").wait_for(timeout=30_000)

    # Signed out: the login redirect is never swapped in, and polling stops.
    page.context.clear_cookies()
    note.filter(has_text="signed out: reload the page").wait_for()
    assert page.locator("[data-live] #login-form").count() == 0
    stopped = len(polls)
    page.wait_for_timeout(2000)
    assert len(polls) == stopped
