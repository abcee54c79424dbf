"""End to end on every hosted provider: a developer requests a change, an approver approves, the worker opens a
merge request through python-gitlab on the GitLab simulator (a pull request through Fluxplane's Gitea client on the
Gitea simulator, through PyGithub on the GitHub simulator), a reviewer approves it on the host, it is merged, the
simulated Flux applies the merge and the request reads healthy. With FLUXPLANE_GIT_MERGE=on-checks a failing
pipeline (check) keeps the change unmerged until CI passes; with on-approval Fluxplane merges at once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gitlab
import pytest
from github import Auth, Github
from guardian.shortcuts import assign_perm

from controlplane.models import Cluster, GitConnection
from gitops.providers.giteaapi import GiteaClient
from graph.models import KubeObject
from graph.sync import sync_cluster
from playbooks.changes.library import Scale
from playbooks.changes.tracking import track_changes
from playbooks.choices import ChangeState
from simulator.flux.demo import start_demo
from simulator.gitea import GiteaSimulator
from simulator.github import GitHubSimulator
from simulator.gitlab import GitLabSimulator
from tests.graph.conftest import wait_for

from .test_gitops_e2e import follow, request_and_approve

pytestmark = pytest.mark.django_db(transaction=True)
BOT, REVIEWER = "bot-token-0123456789", "reviewer-token-0123456789"
CI = "build"


@dataclass
class Request:
    """A change request as the host holds it, the same fields for every simulator."""

    number: int
    source: str
    target: str
    head_sha: str
    state: str  # open | closed | merged
    merged: bool
    merge_sha: str | None
    merged_by: str | None
    labels: list[str]
    body: str
    auto_merge_by: str | None


def _github(sim: GitHubSimulator, token: str, path: str):  # noqa: ANN202
    return Github(base_url=sim.base_url, auth=Auth.Token(token), seconds_between_requests=0,
                  seconds_between_writes=0).get_repo(path)


@dataclass
class Host:
    """One provider's simulator, seen the way a person on that host (the reviewer, the CI runner) acts on it."""

    kind: str
    sim: Any
    path: str

    def approve(self, number: int) -> None:
        if self.kind == "github":
            _github(self.sim, REVIEWER, self.path).get_pull(number).create_review(event="APPROVE", body="looks right")
        elif self.kind == "gitlab":
            project = gitlab.Gitlab(self.sim.base_url, private_token=REVIEWER).projects.get(self.path)
            project.mergerequests.get(number).approve()
        else:
            owner, name = self.path.split("/")
            GiteaClient(self.sim.base_url, REVIEWER, owner, name).create_review(number, "APPROVED", "looks right")

    def merge_by_hand(self, number: int) -> None:
        if self.kind == "github":
            _github(self.sim, REVIEWER, self.path).get_pull(number).merge()
        elif self.kind == "gitlab":
            project = gitlab.Gitlab(self.sim.base_url, private_token=REVIEWER).projects.get(self.path)
            project.mergerequests.get(number).merge()
        else:
            owner, name = self.path.split("/")
            GiteaClient(self.sim.base_url, REVIEWER, owner, name).merge_pull(number)

    def report_ci(self, sha: str, passed: bool) -> None:
        """The CI runner reports the job through the host's own status API."""
        if self.kind == "github":
            _github(self.sim, BOT, self.path).get_commit(sha).create_status("success" if passed else "failure",
                                                                            context=CI)
        elif self.kind == "gitlab":
            project = gitlab.Gitlab(self.sim.base_url, private_token=BOT).projects.get(self.path, lazy=True)
            project.commits.get(sha, lazy=True).statuses.create({"state": "success" if passed else "failed",
                                                                 "name": CI})
        else:
            owner, name = self.path.split("/")
            GiteaClient(self.sim.base_url, BOT, owner, name).create_status(sha, "success" if passed else "failure",
                                                                          CI)

    def requests(self) -> list[Request]:
        if self.kind == "github":
            return [Request(p.number, p.head, p.base, p.head_sha, "merged" if p.merged else p.state, p.merged,
                            p.merge_commit_sha, p.merged_by, list(p.labels), p.body, None)
                    for p in self.sim.pulls(self.path)]
        return [Request(c.number, c.source, c.target, c.head_sha, c.state, c.merged, c.merge_sha, c.merged_by,
                        list(c.labels), c.body, c.auto_merge_by) for c in self.sim.changes(self.path)]

    def request(self, number: int) -> Request:
        return next(r for r in self.requests() if r.number == number)


@pytest.fixture(params=["github", "gitlab", "gitea"])
def host(request, tmp_path, settings):
    settings.FLUXPLANE_GIT_CACHE_DIR = str(tmp_path / "git-cache")
    demo = start_demo(tmp_path / "demo", source_interval="1h")
    tokens = {BOT: "fluxplane-bot", REVIEWER: "lead"}
    if request.param == "github":  # no simulated CI there: the runner reports its first status by hand below
        sim, path = GitHubSimulator(tmp_path / "github", tokens=tokens), "fluxplane/fleet"
    elif request.param == "gitlab":
        sim, path = GitLabSimulator(tmp_path / "gitlab", tokens=tokens, ci_job=CI), "platform/fleet/clusters"
    else:
        sim, path = GiteaSimulator(tmp_path / "gitea", tokens=tokens, ci_job=CI), "homelab/fleet"
    sim.add_repo(path, demo.bare_repo)
    url = sim.start()
    (tmp_path / "token").write_text(BOT)
    assert demo.wait_ready(60), "the demo did not converge"
    cluster = Cluster.objects.create(name="demo", connection="simulator", server_url=demo.api_url)
    connection = GitConnection(name="demo", provider=request.param, api_url=url, github_repository=path,
                               repository_url=demo.repo.url, token_ref=f"file:{tmp_path / 'token'}")
    connection.full_clean()
    connection.save()
    sync_cluster(cluster)
    yield Host(request.param, sim, path), cluster, connection
    sim.stop()
    demo.stop()


@pytest.fixture
def people(make_user):
    dev, lead = make_user("dev"), make_user("lead", perms=("graph.approve_run",))
    assign_perm("graph.request_change", dev, KubeObject.objects.get(kind="Kustomization", name="apps"))
    return dev, lead


def _podinfo() -> KubeObject:
    return KubeObject.objects.get(kind="Deployment", namespace="podinfo", name="podinfo")


def _healthy_with(run, cluster, replicas: int) -> None:
    follow(run, cluster, {ChangeState.HEALTHY, ChangeState.UNHEALTHY})
    assert run.change_state == ChangeState.HEALTHY, run.log
    deployment = _podinfo()
    assert deployment.spec["replicas"] == replicas


def test_request_approve_review_merge_applied_healthy(host, people, drain):
    h, cluster, connection = host
    dev, lead = people
    run = request_and_approve(Scale, _podinfo(), dev, lead, {"replicas": 3}, drain)
    assert run.change_state == ChangeState.PR_OPEN and run.pr_number, run.log
    opened = h.request(run.pr_number)
    assert opened.source == f"fluxplane/scale-{run.pk}" and opened.target == "main" and opened.labels == ["fluxplane"]
    assert "Requested by **dev**" in opened.body and "lead (ok)" in opened.body
    assert str(run.pr_number) in run.pr_url
    noun = "merge request !" if h.kind == "gitlab" else "pull request #"
    assert any(line["message"].startswith(f"{noun}{run.pr_number} open") for line in run.log)

    provider = connection.pull_requests()
    if h.kind == "github":
        h.sim.set_status(h.path, opened.head_sha, "pending", context=CI)
    assert provider.get(run.pr_number).checks["state"] == "pending"  # CI started when the request opened
    h.approve(run.pr_number)
    assert [(r.user, r.state) for r in provider.reviews(run.pr_number)] == [("lead", "approved")]
    track_changes()  # manual merge policy: Fluxplane only watches
    run.refresh_from_db()
    assert run.change_state == ChangeState.PR_OPEN

    h.report_ci(opened.head_sha, passed=True)
    h.merge_by_hand(run.pr_number)
    _healthy_with(run, cluster, 3)
    merged = h.request(run.pr_number)
    assert merged.merged and merged.merged_by == "lead" and run.merge_sha == merged.merge_sha
    assert any(f"{noun}{run.pr_number} merged" in line["message"] for line in run.log)
    assert len(h.requests()) == 1  # retries and sweeps never opened a second request


def test_on_checks_a_failing_pipeline_blocks_the_merge_until_ci_passes(host, people, drain, settings):
    h, cluster, connection = host
    settings.FLUXPLANE_GIT_MERGE = "on-checks"
    dev, lead = people
    run = request_and_approve(Scale, _podinfo(), dev, lead, {"replicas": 2}, drain)
    assert run.change_state == ChangeState.PR_OPEN, run.log
    head = h.request(run.pr_number).head_sha
    if h.kind == "gitlab":  # GitLab itself was asked to merge when the pipeline succeeds
        assert h.request(run.pr_number).auto_merge_by == "fluxplane-bot"
        assert "merges it when the pipeline succeeds" in run.log[-1]["message"]

    h.report_ci(head, passed=False)
    for _ in range(3):  # sweeps see the failure and merge nothing
        sync_cluster(cluster)
        track_changes()
    run.refresh_from_db()
    assert run.change_state == ChangeState.PR_OPEN and h.request(run.pr_number).state == "open"
    warnings = [line["message"] for line in run.log if line["level"] == "warning"]
    assert len(warnings) == 1 and "is not merged" in warnings[0] and "failed (merge policy on-checks)" in warnings[0]
    assert _podinfo().spec["replicas"] != 2

    h.report_ci(head, passed=True)  # the job is retried and passes
    _healthy_with(run, cluster, 2)
    merged = h.request(run.pr_number)
    assert merged.merged and run.merge_sha == merged.merge_sha


def test_on_approval_merges_when_the_run_opens_it(host, people, drain, settings):
    h, cluster, connection = host
    settings.FLUXPLANE_GIT_MERGE = "manual"
    connection.merge_policy = GitConnection.MergePolicy.ON_APPROVAL  # the connection overrides the setting
    connection.save()
    dev, lead = people
    run = request_and_approve(Scale, _podinfo(), dev, lead, {"replicas": 4}, drain)
    assert run.change_state == ChangeState.MERGED, run.log
    merged = h.request(run.pr_number)
    assert merged.merged and merged.merged_by == "fluxplane-bot"
    _healthy_with(run, cluster, 4)


def test_a_closed_request_ends_the_change(host, people, drain):
    h, cluster, connection = host
    dev, lead = people
    run = request_and_approve(Scale, _podinfo(), dev, lead, {"replicas": 5}, drain)
    connection.pull_requests().close(run.pr_number)

    def closed() -> bool:
        track_changes()
        run.refresh_from_db()
        return run.change_state == ChangeState.CLOSED
    wait_for(closed, timeout=10, interval=0.2, what="the closed request to end the change")
    assert h.request(run.pr_number).state == "closed"
