"""Every hosted provider tells an outage from a refusal, against its simulator: 5xx answers and an unreachable host
are ProviderUnavailable (the run is retried later), 4xx stay ProviderError (the run fails with the host's reason),
a merge the host could not decide is not a merge conflict, and a request whose answer was lost is found, not
opened twice, when it is tried again."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from gitops import MergeConflict, ProviderError, ProviderUnavailable
from gitops.providers import GitHubProvider
from gitops.repo import WorkingCopy
from simulator.github import GitHubSimulator

from .test_hosted_providers import BOT_TOKEN, DEV, Host
from .test_repo_providers import _scale

CREATE = r"/(merge_requests|pulls)$"  # where each host opens a change request
NAME = {"gitlab": "GitLab", "gitea": "Gitea"}


def test_5xx_is_unavailable_and_the_request_succeeds_once_the_host_is_back(host: Host) -> None:
    provider = host.provider()
    branch = host.push(1, 3)
    host.sim.faults.outage(60, status=503)
    with pytest.raises(ProviderUnavailable, match=f"^{NAME[host.kind]} answered 503"):
        provider.open_pull_request(branch, "Scale frontend to 3", "body", labels=["fluxplane"])
    host.sim.faults.outage(60, status=502)
    with pytest.raises(ProviderUnavailable, match="answered 502"):
        provider.find_open(branch)
    assert host.sim.changes(host.path) == []  # nothing was opened during the outage

    host.sim.faults.clear()
    opened = provider.open_pull_request(branch, "Scale frontend to 3", "body", labels=["fluxplane"])
    assert opened.created and [c.number for c in host.sim.changes(host.path)] == [opened.number]


def test_an_unreachable_host_is_unavailable(host: Host) -> None:
    provider = host.provider()
    branch = host.push(1, 3)
    host.sim.stop()
    with pytest.raises(ProviderUnavailable, match=f"{NAME[host.kind]} did not answer"):
        provider.open_pull_request(branch, "Scale frontend to 3", "body")


def test_a_refusal_is_not_an_outage(host: Host) -> None:
    provider = host.provider(token="not-a-token")
    branch = host.push(1, 3)
    with pytest.raises(ProviderError, match="answered 401") as refused:
        provider.open_pull_request(branch, "Scale frontend to 3", "body")
    assert not isinstance(refused.value, ProviderUnavailable)  # the run fails with the reason, no retry


def test_a_merge_the_host_could_not_decide_is_not_a_conflict(host: Host) -> None:
    provider = host.provider()
    opened = provider.open_pull_request(host.push(1, 3), "Scale frontend to 3", "body")
    host.sim.faults.outage(60, status=500, methods=("PUT", "POST"))  # the merge itself, not the reads before it
    with pytest.raises(ProviderUnavailable, match="answered 500") as failed:
        provider.merge(opened.number, "merge", expected_head=opened.head_sha)
    assert not isinstance(failed.value, MergeConflict)
    host.sim.faults.clear()
    assert provider.merge(opened.number, "merge", expected_head=opened.head_sha).merged


def test_a_lost_answer_is_found_on_the_retry_not_opened_twice(host: Host) -> None:
    provider = host.provider()
    if host.kind == "gitlab":
        provider._gl.timeout = 2  # the client gives up on the held answer (python-gitlab reads it per request)
    else:
        provider.client.timeout = 2
    branch = host.push(1, 3)
    held = host.sim.faults.hold("POST", CREATE, when="after")  # opened on the host, the answer never arrives
    with pytest.raises(ProviderUnavailable, match="did not answer"):
        provider.open_pull_request(branch, "Scale frontend to 3", "body")
    assert held.reached.is_set()
    held.release()
    [opened_meanwhile] = host.sim.changes(host.path)

    again = provider.open_pull_request(branch, "Scale frontend to 3", "body")
    assert not again.created and again.number == opened_meanwhile.number
    assert len(host.sim.changes(host.path)) == 1


def test_github_merge_during_an_outage_is_unavailable_not_a_conflict(tmp_path: Path, helm_repo: Path) -> None:
    github = GitHubSimulator(tmp_path / "github", tokens=[BOT_TOKEN])
    api = github.start()
    try:
        bare = github.create_repo("org/fleet", source=str(helm_repo))
        wc = WorkingCopy(tmp_path / "cache", str(bare))
        wc.prepare()
        _scale(wc, 3)
        branch = wc.commit_branch("fluxplane/scale-1", DEV, "scale to 3").branch
        provider = GitHubProvider("org/fleet", BOT_TOKEN, "main", api)
        opened = provider.open_pull_request(branch, "Scale frontend to 3", "body")
        github.faults.outage(60, status=502, methods=("PUT",))  # the merge itself, not the reads before it
        with pytest.raises(ProviderUnavailable, match="GitHub answered 502") as failed:
            provider.merge(opened.number, "merge", expected_head=opened.head_sha)
        assert not isinstance(failed.value, MergeConflict)
        github.faults.clear()
        assert provider.merge(opened.number, "merge", expected_head=opened.head_sha).merged
    finally:
        github.stop()


def test_a_forgotten_hold_is_released_when_the_simulator_stops(host: Host) -> None:
    held = host.sim.faults.hold("GET", r".*")
    answers: list[object] = []
    asking = threading.Thread(target=lambda: answers.append(host.provider().find_open("nothing")))
    asking.start()
    assert held.wait_reached(20)
    host.sim.stop()  # releases the hold: no server thread is left waiting, the request is answered
    assert held.released.is_set()
    asking.join(timeout=40)
    assert not asking.is_alive() and answers == [None]
