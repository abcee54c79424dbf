"""Working copies, branches, commits, direct pushes with a concurrent writer, and both providers end to end:
PyGithub against the GitHub simulator, and plain git against a bare repository."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops import MergeConflict, yamledit
from gitops.locate import KustomizationRef, ObjectRef, locate
from gitops.providers import GitHubProvider, PlainGitProvider, repo_full_name
from gitops.repo import Identity, WorkingCopy, branch_name, commit_message
from simulator.github import GitHubSimulator

from .conftest import git

DEV = Identity("Dev Eloper", "dev@example.com")
APPS = KustomizationRef(path="./apps/staging")


def _scale(wc: WorkingCopy, replicas: int) -> None:
    loc = locate(str(wc.path), ObjectRef("Deployment", "frontend", "podinfo"), APPS)
    yamledit.set_replicas(str(wc.path), loc, replicas)


@pytest.fixture
def bare(tmp_path: Path, helm_repo: Path) -> Path:
    path = tmp_path / "fleet.git"
    git(tmp_path, "clone", "-q", "--bare", str(helm_repo), str(path))
    return path


def test_branch_commit_author_committer_and_literal_message(tmp_path: Path, bare: Path) -> None:
    wc = WorkingCopy(tmp_path / "cache", str(bare))
    base = wc.prepare()
    _scale(wc, 3)
    assert "-  replicas: 2 # scaled by the team\n+  replicas: 3 # scaled by the team" in wc.diff()
    evil = "say \"hi\" 'there' $(rm -rf /) `id` ; echo pwned"
    message = commit_message("Deployment", "frontend", evil, body="Requested by dev", run_id=42)
    result = wc.commit_branch(branch_name("scale", 42), DEV, message)
    assert result.created and result.branch == "fluxplane/scale-42"
    log = git(bare, "log", "-1", "--format=%an <%ae>|%cn <%ce>|%B", result.branch)
    assert log.startswith("Dev Eloper <dev@example.com>|Fluxplane <fluxplane@localhost>|")
    assert f"chore(deployment/frontend): {evil}" in log and "Fluxplane-Run: 42" in log
    assert git(bare, "rev-parse", "main").strip() == base  # base untouched in pull-request mode
    assert git(bare, "diff", "--name-only", "main", result.branch) == "apps/base/podinfo/frontend.yaml\n"


def test_rerun_with_same_run_id_reuses_branch_and_fetches_not_clones(tmp_path: Path, bare: Path) -> None:
    wc = WorkingCopy(tmp_path / "cache", str(bare))
    wc.prepare()
    marker = wc.path / ".git" / "fluxplane-marker"
    marker.write_text("same clone")
    _scale(wc, 5)
    first = wc.commit_branch(branch_name("scale", 7), DEV, commit_message("Deployment", "frontend", "scale to 5"))
    wc.prepare()
    assert marker.exists()  # the cached clone was fetched and reset, not re-cloned
    assert wc.diff() == ""
    _scale(wc, 5)
    second = wc.commit_branch(branch_name("scale", 7), DEV, commit_message("Deployment", "frontend", "scale to 5"))
    assert (second.sha, second.created) == (first.sha, False)
    assert git(bare, "rev-list", "--count", f"main..{first.branch}") == "1\n"


def test_direct_commit_rebases_over_a_concurrent_push(tmp_path: Path, bare: Path) -> None:
    wc = WorkingCopy(tmp_path / "cache", str(bare))
    wc.prepare()
    _scale(wc, 4)
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(bare), str(other))
    (other / "apps/staging/NOTES.md").write_text("pushed by someone else\n")
    git(other, "add", "-A")
    git(other, "commit", "-q", "-m", "concurrent change")
    git(other, "push", "-q", "origin", "main")
    result = wc.commit_to_base(DEV, commit_message("Deployment", "frontend", "scale to 4"), run_id=99)
    assert result.created and result.branch == "main"
    assert git(bare, "rev-parse", "main").strip() == result.sha
    subjects = git(bare, "log", "--format=%s", "-2", "main")
    assert subjects == "chore(deployment/frontend): scale to 4\nconcurrent change\n"
    assert "replicas: 4" in git(bare, "show", "main:apps/base/podinfo/frontend.yaml")
    assert git(bare, "show", "main:apps/staging/NOTES.md") == "pushed by someone else\n"
    wc.prepare()  # retrying the run finds its commit by the Fluxplane-Run trailer
    _scale(wc, 4)
    again = wc.commit_to_base(DEV, commit_message("Deployment", "frontend", "scale to 4"), run_id=99)
    assert (again.sha, again.created) == (result.sha, False)


def test_plain_git_provider_merges_and_refuses_conflicts(tmp_path: Path, bare: Path) -> None:
    wc = WorkingCopy(tmp_path / "cache", str(bare))
    provider = PlainGitProvider(wc)
    wc.prepare()
    _scale(wc, 3)
    a = wc.commit_branch(branch_name("scale", 1), DEV, commit_message("Deployment", "frontend", "scale to 3"))
    wc.prepare()
    _scale(wc, 6)
    b = wc.commit_branch(branch_name("scale", 2), DEV, commit_message("Deployment", "frontend", "scale to 6"))
    assert provider.open_pull_request(a.branch).state == "open"
    merged = provider.merge(a.branch, merger=Identity("Approver", "approver@example.com"))
    assert merged.merged and merged.state == "merged"
    assert git(bare, "rev-parse", "main").strip() == merged.merge_sha
    assert git(bare, "log", "-1", "--format=%P|%an", "main").count(" ") == 1  # two parents: a merge commit
    assert provider.get(a.branch).merged
    before = git(bare, "rev-parse", "main")
    with pytest.raises(MergeConflict, match="conflicts with main"):
        provider.merge(b.branch, merger=Identity("Approver", "approver@example.com"))
    assert git(bare, "rev-parse", "main") == before
    assert provider.get(b.branch).state == "open"


def test_github_provider_end_to_end_on_the_simulator(tmp_path: Path, helm_repo: Path) -> None:
    sim = GitHubSimulator(tmp_path / "gh", tokens={"t": "bot", "r": "reviewer"})
    api = sim.start()
    try:
        bare_path = sim.create_repo("org/fleet", source=str(helm_repo))
        assert repo_full_name(str(bare_path)) == "org/fleet"
        provider = GitHubProvider("org/fleet", "t", "main", api_url=api)
        wc = WorkingCopy(tmp_path / "cache", str(bare_path))

        def run() -> object:
            wc.prepare()
            _scale(wc, 3)
            diff = wc.diff()
            pushed = wc.commit_branch(branch_name("scale", 5), DEV, commit_message("Deployment", "frontend",
                                                                                     "scale to 3"))
            body = f"Requested by Dev Eloper\n\nParameters: replicas=3\n\n```diff\n{diff}```\n"
            return pushed, provider.open_pull_request(pushed.branch, "Scale frontend to 3", body,
                                                      labels=["fluxplane", "scale"], reviewers=["reviewer"])

        pushed, pr = run()
        assert pr.created and pr.state == "open" and pr.head_sha == pushed.sha
        pushed_again, pr_again = run()
        assert (pr_again.number, pr_again.created, pushed_again.created) == (pr.number, False, False)
        pulls = sim.pulls("org/fleet")
        assert len(pulls) == 1
        assert sorted(pulls[0].labels) == ["fluxplane", "scale"]
        assert pulls[0].requested_reviewers == ["reviewer"]
        assert "+  replicas: 3 # scaled by the team" in pulls[0].body
        sim.set_status("org/fleet", pr.head_sha, "success", context="ci/build")
        info = provider.get(pr.number)
        assert info.checks["state"] == "success" and info.checks["statuses"] == {"ci/build": "success"}
        merged = provider.merge(pr.number)
        assert merged.merged and merged.state == "merged" and merged.merge_sha
        assert git(bare_path, "rev-parse", "main").strip() == merged.merge_sha
        assert "replicas: 3 #" in git(bare_path, "show", "main:apps/base/podinfo/frontend.yaml")
    finally:
        sim.stop()
