"""Pages at the widths people use (1366×768): nothing scrolls sideways, the graph pans, zooms and fits, the sidebar
leads to the graph, dashboard counts lead to what they count, and errors stay inside the admin's chrome."""

from __future__ import annotations

import pytest

from controlplane.models import AuditEvent
from graph.models import KubeObject

pytestmark = pytest.mark.django_db(transaction=True)

WIDE = {"width": 1366, "height": 768}


def _sideways(page) -> list[str]:
    """The page itself, or a table inside its box, wider than what shows (a hidden horizontal scroll)."""
    return page.evaluate("""() => {
        const found = [];
        if (document.documentElement.scrollWidth > window.innerWidth)
            found.push(`page ${document.documentElement.scrollWidth} > ${window.innerWidth}`);
        for (const el of document.querySelectorAll('#content table, #content .results, #content .module')) {
            if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX !== 'visible')
                found.push(`${el.tagName}.${el.className || el.id} ${el.scrollWidth} > ${el.clientWidth}`);
            const box = el.parentElement.getBoundingClientRect();
            if (el.tagName === 'TABLE' && el.getBoundingClientRect().right > Math.min(box.right, window.innerWidth) + 1)
                found.push(`table in ${el.parentElement.className || el.parentElement.id} overflows its box`);
        }
        return found; }""")


def test_tour_pages_fit_at_1366(demo, page, admin_user, login, screenshot):
    page.set_viewport_size(WIDE)
    login(page, "root")
    AuditEvent.record("test.long", None, message="x" * 400)
    release = KubeObject.objects.get(kind="HelmRelease", name="podinfo")
    deployment = KubeObject.objects.get(kind="Deployment", namespace="podinfo", name="podinfo")
    pod = KubeObject.objects.filter(kind="Pod", namespace="podinfo", name__startswith="podinfo-",
                                    deleted_at__isnull=True).exclude(name__startswith="podinfo-redis").first()
    assert pod is not None, "the demo runs podinfo's pods"
    pages = {
        "dashboard": "/admin/",
        "kustomizations": "/admin/graph/kustomization/",
        "helmreleases": "/admin/graph/helmrelease/",
        "all-objects": "/admin/graph/kubeobject/",
        "workloads": "/admin/graph/workload/",
        "graph": "/admin/graph/kubeobject/graph/",
        "helmrelease-page": release.admin_url(),  # with its release history and values diffs
        "deployment-page": deployment.admin_url(),  # events read live, the pods' last log lines
        "pod-page": pod.admin_url(),
        "runs": "/admin/playbooks/playbookrun/",
        "audit": "/admin/controlplane/auditevent/",
        "silences": "/admin/alerts/silence/",
    }
    wide = {}
    for name, url in pages.items():
        page.goto(url)
        screenshot(page, f"layout-1366-{name}")
        found = _sideways(page)
        if found:
            wide[name] = found
    assert wide == {}, f"pages with content wider than the screen at 1366 px: {wide}"


def test_graph_zooms_pans_and_fits(demo, page, admin_user, login, screenshot):
    page.set_viewport_size(WIDE)
    login(page, "root")
    page.click("#content-main a:has-text('Cluster graph')")  # the app list leads to the graph
    page.wait_for_selector("#nav-sidebar a:has-text('Cluster graph')")  # and so does the sidebar on every page
    page.wait_for_selector(".fp-graph-tools .fp-graph-fit")
    box = page.locator(".fp-graph")
    fitted = float(box.get_attribute("data-zoom"))
    # Fitted: the whole graph is inside its box.
    inside = page.evaluate("""() => { const b = document.querySelector('.fp-graph').getBoundingClientRect();
        const g = document.querySelector('.fp-graph svg g').getBoundingClientRect();
        return g.left >= b.left - 1 && g.right <= b.right + 1 && g.top >= b.top - 1 && g.bottom <= b.bottom + 1; }""")
    assert inside
    page.click(".fp-graph-in")
    page.click(".fp-graph-in")
    zoomed = float(box.get_attribute("data-zoom"))
    assert zoomed > fitted
    before = page.evaluate("document.querySelector('.fp-graph svg').getAttribute('viewBox')")
    bounds = box.bounding_box()
    page.mouse.move(bounds["x"] + bounds["width"] / 2, bounds["y"] + bounds["height"] / 2)
    page.mouse.down()
    page.mouse.move(bounds["x"] + bounds["width"] / 2 - 200, bounds["y"] + bounds["height"] / 2 - 100, steps=5)
    page.mouse.up()
    assert page.evaluate("document.querySelector('.fp-graph svg').getAttribute('viewBox')") != before  # panned
    page.mouse.wheel(0, 400)  # zoom out around the pointer
    assert float(box.get_attribute("data-zoom")) < zoomed
    screenshot(page, "graph-zoomed")
    page.click(".fp-graph-fit")
    assert float(box.get_attribute("data-zoom")) == pytest.approx(fitted)


def test_dashboard_counts_link_to_the_filtered_list(demo, page, admin_user, login):
    login(page, "root")
    cell = page.locator("#fp-dashboard tr:has(th:has-text('Kustomizations')) td.fp-count-degraded a")
    count = int(cell.inner_text())
    cell.click()
    page.wait_for_url("**/graph/kustomization/?rollup_health__exact=degraded")
    assert page.locator("#result_list tbody tr").count() == count


def test_errors_stay_in_the_admin_and_the_favicon_is_served(demo, page, make_user, login):
    make_user("walker")
    login(page, "walker")
    release = KubeObject.objects.get(kind="HelmRelease", name="podinfo")
    response = page.goto(release.admin_url())
    assert response.status in (403, 404)
    assert page.locator("#header #site-name").inner_text() == "Fluxplane"
    assert "Back to the dashboard" in page.content()
    icon = page.goto("/favicon.ico")
    assert icon.status == 200 and "svg" in icon.headers["content-type"]


def test_header_search_finds_objects_the_user_may_see(demo, page, admin_user, login):
    login(page, "root")
    page.goto("/admin/graph/helmrelease/")
    page.fill("#fp-search input", "podinfo")
    page.press("#fp-search input", "Enter")
    page.wait_for_url("**/admin/graph/kubeobject/?q=podinfo")
    names = page.locator("#result_list tbody th a").all_inner_texts()
    assert "podinfo" in names and "cert-manager" not in names
    assert page.locator("#fp-search input").input_value() == "podinfo"
