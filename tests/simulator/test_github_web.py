"""The GitHub simulator's page for people: a pull request's web URL (what Fluxplane links to) opens without a token
and shows its title, body, state and diff, and follows the pull request when it is merged."""

from __future__ import annotations

import urllib.error
import urllib.request

from tests.simulator.test_github_sim import VALUES, Env, edit_on_branch, gh  # noqa: F401 - the fixture


def _get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - a loopback test URL
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read().decode()


def test_pull_request_page_shows_title_body_state_and_diff_without_a_token(gh: Env) -> None:  # noqa: F811
    repo = gh.repo()
    head = edit_on_branch(repo, "scale", VALUES, "podinfo", "podinfo  # <b>x</b>", "Scale podinfo")
    pr = repo.create_pull(base="main", head="scale", title="Scale podinfo <to 3>", body="Requested by dev & approved")
    status, kind, page = _get(pr.html_url)
    assert status == 200 and kind.startswith("text/html")
    assert "<span class='title'>Scale podinfo &lt;to 3&gt;</span>" in page  # escaped, never markup
    assert "Requested by dev &amp; approved" in page
    assert "id='pr-state'>Open<" in page
    assert "scale" in page and VALUES in page
    assert "<span class='add'>+" in page and "&lt;b&gt;x&lt;/b&gt;" in page

    repo.get_pull(pr.number).merge(merge_method="merge", sha=head)
    status, _kind, page = _get(pr.html_url)
    assert status == 200 and "id='pr-state'>Merged<" in page and "merged by alice" in page
    assert "<span class='add'>+" in page  # the diff of a merged pull request stays readable


def test_unknown_pull_request_page_is_404_and_the_api_still_needs_a_token(gh: Env) -> None:  # noqa: F811
    status, kind, page = _get(f"{gh.sim.urls.web}/acme/fleet/pull/99")
    assert status == 404 and kind.startswith("text/html") and "Not Found" in page
    status, kind, _page = _get(f"{gh.sim.base_url}/repos/acme/fleet/pulls/1")
    assert status == 401 and kind.startswith("application/json")
