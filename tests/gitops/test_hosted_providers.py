"""The GitLab (python-gitlab) and Gitea/Forgejo (typed client) providers against their simulators, through the
interface every provider shares: open (idempotent, labels), checks, reviews, merge (conflicts and a moved head
refused with nothing written), merge when checks pass, comments, close. The ground truth is the bare repository."""

from __future__ import annotations

from pathlib import Path

import gitlab
import pytest

from gitops import MergeConflict, ProviderError
from gitops.providers import GiteaProvider, GitLabProvider, PullRequestProvider, summarize_checks
from gitops.providers.giteaapi import GiteaClient
from gitops.repo import Identity, WorkingCopy, branch_name, commit_message
from simulator.gitea import GiteaSimulator
from simulator.gitlab import GitLabSimulator

from .conftest import git
from .test_repo_providers import _scale

DEV = Identity("Dev Eloper", "dev@example.com")
BOT_TOKEN = "bot-token"
TOKENS = {BOT_TOKEN: "fluxplane-bot", "reviewer-token": "reviewer"}


class Host:
    def __init__(self, kind: str, tmp_path: Path, helm_repo: Path, **options) -> None:
        self.kind = kind
        cls = GitLabSimulator if kind == "gitlab" else GiteaSimulator
        self.path = "platform/team/fleet" if kind == "gitlab" else "org/fleet"
        self.sim = cls(tmp_path / kind, tokens=TOKENS, **options)
        self.url = self.sim.start()
        self.bare = self.sim.create_repo(self.path, source=str(helm_repo))
        self.wc = WorkingCopy(tmp_path / "cache", str(self.bare))

    def provider(self, token: str = BOT_TOKEN) -> PullRequestProvider:
        if self.kind == "gitlab":
            return GitLabProvider(self.path, token, "main", self.url)
        return GiteaProvider(self.path, token, "main", self.url)

    def push(self, run_id: int, replicas: int) -> str:
        self.wc.prepare()
        _scale(self.wc, replicas)
        result = self.wc.commit_branch(branch_name("scale", run_id), DEV,
                                       commit_message("Deployment", "frontend", f"scale to {replicas}"))
        return result.branch

    def status(self, sha: str, passed: bool) -> None:
        if self.kind == "gitlab":
            self.sim.set_status(self.path, sha, "success" if passed else "failed", name="build")
        else:
            self.sim.set_status(self.path, sha, "success" if passed else "failure", context="build")

    def approve(self, number: int) -> None:
        if self.kind == "gitlab":
            gl = gitlab.Gitlab(self.url, private_token="reviewer-token")
            gl.projects.get(self.path).mergerequests.get(number).approve()
        else:
            owner, name = self.path.split("/")
            GiteaClient(self.url, "reviewer-token", owner, name).create_review(number, "APPROVED")


def test_open_is_idempotent_and_labels_are_applied_once(host: Host) -> None:
    provider = host.provider()
    branch = host.push(1, 3)
    first = provider.open_pull_request(branch, "Scale frontend to 3", "body", labels=["fluxplane"])
    again = provider.open_pull_request(branch, "Scale frontend to 3", "body", labels=["fluxplane", "scale"])
    assert first.created and not again.created and first.number == again.number
    assert first.state == "open" and first.head_sha == git(host.bare, "rev-parse", branch).strip()
    [only] = host.sim.changes(host.path)
    assert only.labels == ["fluxplane", "scale"] and only.body == "body"
    assert provider.get(first.number).checks == {"state": "none", "statuses": {}, **(
        {"pipeline": None} if host.kind == "gitlab" else {})}


def test_checks_reviews_comment_and_merge(host: Host) -> None:
    provider = host.provider()
    pr = provider.open_pull_request(host.push(2, 4), "Scale frontend to 4", "body")
    host.status(pr.head_sha, passed=False)
    assert provider.get(pr.number).checks["state"] == "failure"
    host.status(pr.head_sha, passed=True)
    assert provider.get(pr.number).checks["state"] == "success"
    host.approve(pr.number)
    assert [(r.user, r.state) for r in provider.reviews(pr.number)] == [("reviewer", "approved")]
    provider.comment(pr.number, "merged by Fluxplane after approval")
    assert [n.body for n in host.sim.changes(host.path)[0].notes] == ["merged by Fluxplane after approval"]
    merged = provider.merge(pr.number, "Merge scale (approved in Fluxplane)", expected_head=pr.head_sha)
    assert merged.merged and merged.state == "merged"
    assert git(host.bare, "rev-parse", "main").strip() == merged.merge_sha
    parents = git(host.bare, "log", "-1", "--format=%P", "main").split()
    assert parents[1] == pr.head_sha  # a real merge commit: base first, head second
    assert git(host.bare, "log", "-1", "--format=%s", "main").strip() == "Merge scale (approved in Fluxplane)"
    assert provider.merge(pr.number).merge_sha == merged.merge_sha  # merging again changes nothing


def test_conflicts_and_a_moved_head_are_refused_with_nothing_written(host: Host) -> None:
    provider = host.provider()
    a = provider.open_pull_request(host.push(3, 5), "to 5", "")
    b = provider.open_pull_request(host.push(4, 6), "to 6", "")
    with pytest.raises(MergeConflict):
        provider.merge(a.number, expected_head="0" * 40)
    before = git(host.bare, "rev-parse", "main")
    provider.merge(a.number)
    after = git(host.bare, "rev-parse", "main")
    with pytest.raises(MergeConflict):
        provider.merge(b.number)  # both edit the same line
    assert git(host.bare, "rev-parse", "main") == after != before
    assert provider.get(b.number).state == "open"
    closed = provider.close(b.number)
    assert closed.state == "closed" and not closed.merged


def test_merge_when_checks_pass_waits_for_ci_and_never_merges_a_failure(tmp_path: Path, helm_repo: Path) -> None:
    for kind in ("gitlab", "gitea"):
        h = Host(kind, tmp_path / kind, helm_repo, ci_job="build")
        try:
            provider = h.provider()
            pr = provider.open_pull_request(h.push(5, 7), "to 7", "")
            waiting = provider.merge_when_checks_pass(pr.number)
            assert waiting.state == "open" and waiting.checks["state"] == "pending"
            assert waiting.auto_merge is (kind == "gitlab")  # GitLab: merge when pipeline succeeds is set
            h.status(pr.head_sha, passed=False)
            blocked = provider.merge_when_checks_pass(pr.number)
            assert blocked.state == "open" and blocked.checks["state"] == "failure"
            h.status(pr.head_sha, passed=True)
            done = provider.merge_when_checks_pass(pr.number)
            assert done.merged and git(h.bare, "rev-parse", "main").strip() == done.merge_sha
        finally:
            h.sim.stop()


def test_bad_token_and_missing_project_are_provider_errors(host: Host) -> None:
    with pytest.raises(ProviderError, match="401"):
        host.provider("wrong").get(1)
    missing = GitLabProvider("nobody/none", "bot-token", "main", host.url) if host.kind == "gitlab" else \
        GiteaProvider("nobody/none", "bot-token", "main", host.url)
    with pytest.raises(ProviderError, match="404"):
        missing.open_pull_request("x", "t", "b")


def test_gitlab_project_by_numeric_id_and_instance_url_forms(tmp_path: Path, helm_repo: Path) -> None:
    h = Host("gitlab", tmp_path, helm_repo)
    try:
        project_id = gitlab.Gitlab(h.url, private_token="bot-token").projects.get(h.path).id
        pr = GitLabProvider(str(project_id), "bot-token", "main", h.url + "/api/v4/").open_pull_request(
            h.push(6, 8), "to 8", "")
        assert pr.created and pr.url.endswith(f"/{h.path}/-/merge_requests/{pr.number}")
    finally:
        h.sim.stop()


@pytest.mark.parametrize(("states", "expected"), [
    ([], "none"), (["success"], "success"), (["success", "skipped", "neutral"], "success"),
    (["success", "pending"], "pending"), (["running"], "pending"), (["success", "failed"], "failure"),
    (["pending", "error"], "failure"), (["canceled"], "failure"), (["manual"], "pending"), (["warning"], "success"),
])
def test_check_states_fold_into_four(states: list[str], expected: str) -> None:
    assert summarize_checks(states) == expected
