"""A platform admin connects a GitLab project and a Gitea repository in the admin, as a person does: the form
shows the provider API fields for hosted providers (hidden for plain git), a pasted token is refused with nothing
saved, and the saved connection holds only the token reference — which then opens a real merge request on the
GitLab simulator."""

from __future__ import annotations

import pytest

from controlplane.models import AuditEvent, GitConnection
from simulator.gitlab import GitLabSimulator

pytestmark = pytest.mark.django_db(transaction=True)
PASTED = "glpat-" + "x1y2z3" * 4


def _save(page) -> None:
    with page.expect_navigation():
        page.click("input[name=_save]")


def test_admin_adds_a_gitlab_connection_by_reference_and_it_opens_merge_requests(
        page, login, admin_user, screenshot, tmp_path, monkeypatch, helm_repo_bare):
    bare, branch = helm_repo_bare
    sim = GitLabSimulator(tmp_path / "gitlab", tokens={"api-token-123": "fluxplane-bot"})
    url = sim.start()
    sim.add_repo("platform/fleet", bare)
    monkeypatch.setenv("FLEET_GITLAB_TOKEN", "api-token-123")
    try:
        login(page, "root")
        page.goto("/admin/controlplane/gitconnection/add/")
        page.fill("#id_name", "fleet")
        page.select_option("#id_provider", "git")
        assert page.locator("fieldset.fp-provider-api").is_hidden()  # plain git has no API and no token
        page.select_option("#id_provider", "gitlab")
        assert page.locator("fieldset.fp-provider-api").is_visible()
        assert "group/subgroup/project" in page.get_attribute("#id_github_repository", "placeholder")
        page.fill("#id_repository_url", "https://gitlab.example.com/platform/fleet.git")
        page.fill("#id_api_url", url)
        page.fill("#id_token_ref", PASTED)
        page.select_option("#id_merge_policy", "on-checks")
        _save(page)
        assert "This looks like a token" in page.locator(".field-token_ref .errorlist").inner_text()
        assert GitConnection.objects.count() == 0  # refused: nothing saved, the token is nowhere in the database
        assert PASTED not in "".join(str(e.after) for e in AuditEvent.objects.all())
        screenshot(page, "git-connection-gitlab-refused-token")

        page.fill("#id_token_ref", "env:FLEET_GITLAB_TOKEN")
        _save(page)
        assert page.locator(".messagelist .success").count() == 1, page.locator("body").inner_text()[:800]
        connection = GitConnection.objects.get(name="fleet")
        assert (connection.provider, connection.remote_repository, connection.token_ref, connection.merge_policy) == (
            "gitlab", "platform/fleet", "env:FLEET_GITLAB_TOKEN", "on-checks")
        page.goto(f"/admin/controlplane/gitconnection/{connection.pk}/change/")
        assert "api-token-123" not in page.content()
        screenshot(page, "git-connection-gitlab", docs=True)

        mr = connection.pull_requests().open_pull_request(branch, "Change from the test", "body")
        assert mr.created and sim.merge_requests("platform/fleet")[0].source == branch
    finally:
        sim.stop()


def test_admin_needs_the_server_url_for_gitea(page, login, admin_user):
    login(page, "root")
    page.goto("/admin/controlplane/gitconnection/add/")
    page.fill("#id_name", "homelab")
    page.select_option("#id_provider", "gitea")
    assert "(required)" in page.get_attribute("#id_api_url", "placeholder")
    page.fill("#id_repository_url", "ssh://git@git.home.arpa:2222/homelab/fleet.git")
    page.fill("#id_token_ref", "file:/run/secrets/gitea-token")
    _save(page)
    assert "needs the server URL" in page.locator(".field-api_url .errorlist").inner_text()
    page.fill("#id_api_url", "https://git.home.arpa")
    _save(page)
    connection = GitConnection.objects.get(name="homelab")
    assert connection.remote_repository == "homelab/fleet" and connection.provider_name == "Gitea/Forgejo"
