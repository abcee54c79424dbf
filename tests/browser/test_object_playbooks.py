"""The playbook buttons on an object's page follow the object's state, as a person sees them: Suspend only while
it is not suspended, Resume only while it is, Reconcile's HelmRelease-only options only on HelmReleases, and every
button with one line on what it does (Create-* say what they create, and that they go through a pull request)."""

from __future__ import annotations

import pytest
from guardian.shortcuts import assign_perm

from graph.models import KubeObject
from graph.sync import sync_cluster
from playbooks.models import PlaybookRun

pytestmark = pytest.mark.django_db(transaction=True)


def _buttons(page, group: str) -> dict[str, str]:
    """{button title: the line beside it} of one group of the Playbooks panel."""
    rows = page.locator(f"#fp-playbooks .fp-playbook-group[data-group='{group}'] li")
    return {row.locator("a.button").inner_text().strip(): row.locator(".fp-playbook-what").inner_text().strip()
            for row in rows.all()}


def test_buttons_follow_the_state_and_kind(demo, make_user, new_page, login, screenshot, drain):
    sim, cluster, _repo = demo
    dev = make_user("dev")
    apps = KubeObject.objects.get(kind="Kustomization", namespace="flux-system", name="apps")
    for perm in ("graph.view_kubeobject", "graph.run_playbook", "graph.request_change"):
        assign_perm(perm, dev, apps)
    page = new_page()
    page.set_viewport_size({"width": 1366, "height": 900})
    login(page, "dev")

    # --- a Kustomization that runs: Suspend and Reconcile, no Resume; Create-* say what they create
    page.goto(apps.admin_url())
    operate = _buttons(page, "operate")
    assert set(operate) == {"Suspend", "Reconcile"}, operate
    assert "until resumed" in operate["Suspend"]
    create = _buttons(page, "create")
    assert "Create Kustomization" in create and "pull request" in create["Create Kustomization"]
    assert "new namespace" in create["Create namespace"]
    hints = page.locator("#fp-playbooks .fp-group-hint").all_inner_texts()
    assert any("pull request" in h for h in hints)
    box = page.locator("#fp-playbooks").bounding_box()
    following = page.locator("#fp-playbooks + *").first
    if following.count():
        assert following.bounding_box()["y"] >= box["y"] + box["height"] - 1, "the buttons run into the next section"
    screenshot(page, "object-playbooks-kustomization", docs=True)

    # --- its Reconcile form has no HelmRelease-only options; a HelmRelease's has them
    page.locator("#fp-playbooks").get_by_role("link", name="Reconcile", exact=True).click()
    assert page.locator("#id_with_source").count() == 1
    assert page.locator("#id_force").count() == 0 and page.locator("#id_reset").count() == 0
    release = KubeObject.objects.get(kind="HelmRelease", namespace="podinfo", name="podinfo")
    page.goto(release.admin_url())
    page.locator("#fp-playbooks").get_by_role("link", name="Reconcile", exact=True).click()
    assert page.locator("#id_force").count() == 1 and page.locator("#id_reset").count() == 1

    # --- suspend the release: afterwards its page offers Resume only (no Suspend, no Reconcile)
    page.goto(release.admin_url())
    page.locator("#fp-playbooks").get_by_role("link", name="Suspend", exact=True).click()
    with page.expect_navigation():
        page.click("input[type=submit][value=Suspend]")
    drain()
    assert PlaybookRun.objects.get(playbook="suspend").status == "succeeded"
    sync_cluster(cluster)
    page.goto(release.admin_url())
    operate = _buttons(page, "operate")
    assert set(operate) == {"Resume"}, operate
    screenshot(page, "object-playbooks-suspended")

    # --- resumed again: Suspend and Reconcile are back
    page.locator("#fp-playbooks").get_by_role("link", name="Resume", exact=True).click()
    with page.expect_navigation():
        page.click("input[type=submit][value=Resume]")
    drain()
    sync_cluster(cluster)
    page.goto(release.admin_url())
    assert set(_buttons(page, "operate")) == {"Suspend", "Reconcile"}
