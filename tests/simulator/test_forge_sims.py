"""The GitLab and Gitea/Forgejo simulators driven by real clients over HTTP (python-gitlab; requests for Gitea, as
Fluxplane's typed client does), checked against the real bare repository."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import gitlab
import pytest
import requests
from gitlab.exceptions import GitlabAuthenticationError, GitlabCreateError, GitlabGetError, GitlabMRClosedError

from simulator.flux.demo import fixtures_dir
from simulator.gitea import GiteaSimulator
from simulator.gitlab import GitLabSimulator

FIXTURE = fixtures_dir() / "flux2-kustomize-helm-example"
ALICE = "alice-token"
TOKENS = {ALICE: "alice", "bob-token": "bob"}


def git(bare: Path, *args: str) -> str:
    return subprocess.run(["git", "--git-dir", str(bare), *args], capture_output=True, text=True,
                          check=True).stdout.strip()


def branch_with_change(bare: Path, branch: str, text: str, base: str = "main") -> str:
    """A commit on a new branch changing one file, made with git plumbing straight in the bare repository."""
    blob = subprocess.run(["git", "--git-dir", str(bare), "hash-object", "-w", "--stdin"], input=text, text=True,
                          capture_output=True, check=True).stdout.strip()
    env_index = bare.parent / f"index-{branch.replace('/', '-')}"
    env = {"GIT_INDEX_FILE": str(env_index), "GIT_AUTHOR_NAME": "dev", "GIT_AUTHOR_EMAIL": "dev@example.com",
           "GIT_COMMITTER_NAME": "dev", "GIT_COMMITTER_EMAIL": "dev@example.com", "PATH": "/usr/bin:/bin"}
    run = lambda *a, **kw: subprocess.run(["git", "--git-dir", str(bare), *a], capture_output=True, text=True,  # noqa: E731
                                          check=True, env=env, **kw).stdout.strip()
    run("read-tree", base)
    run("update-index", "--add", "--cacheinfo", f"100644,{blob},NOTES.md")
    tree = run("write-tree")
    sha = run("commit-tree", tree, "-p", git(bare, "rev-parse", base), input=f"change {branch}\n")
    run("update-ref", f"refs/heads/{branch}", sha)
    return sha


@pytest.fixture
def gl(tmp_path: Path):
    source = tmp_path / "source"
    shutil.copytree(FIXTURE, source)
    sim = GitLabSimulator(tmp_path / "repos", tokens=TOKENS, ci_job="build")
    url = sim.start()
    bare = sim.create_repo("acme/platform/fleet", source)
    yield sim, url, bare
    sim.stop()


def test_gitlab_merge_request_lifecycle_with_python_gitlab(gl) -> None:
    sim, url, bare = gl
    alice = gitlab.Gitlab(url, private_token="alice-token")
    bob = gitlab.Gitlab(url, oauth_token="bob-token")  # Authorization: Bearer works too
    head = branch_with_change(bare, "feature/a", "one\n")
    project = alice.projects.get("acme/platform/fleet")
    assert project.path_with_namespace == "acme/platform/fleet" and alice.projects.get(project.id).id == project.id
    mr = project.mergerequests.create({"source_branch": "feature/a", "target_branch": "main", "title": "A",
                                       "labels": ["x", "y"]})
    assert (mr.iid, mr.state, mr.sha, mr.labels) == (1, "opened", head, ["x", "y"])
    assert mr.head_pipeline["status"] == "pending" and mr.detailed_merge_status == "ci_still_running"
    with pytest.raises(GitlabCreateError) as dup:
        project.mergerequests.create({"source_branch": "feature/a", "target_branch": "main", "title": "again"})
    assert dup.value.response_code == 409
    with pytest.raises(GitlabMRClosedError) as moved:
        mr.merge(sha="0" * 40)
    assert moved.value.response_code == 409
    mr.merge(merge_when_pipeline_succeeds=True)
    assert mr.merge_when_pipeline_succeeds and mr.state == "opened"
    bob.projects.get("acme/platform/fleet").mergerequests.get(1).approve()
    approvals = project.mergerequests.get(1).approvals.get()
    assert [a["user"]["username"] for a in approvals.approved_by] == ["bob"]
    project.mergerequests.get(1).notes.create({"body": "ship it"})
    assert [n.body for n in project.mergerequests.get(1).notes.list(get_all=True)] == ["ship it"]
    job = project.commits.get(head, lazy=True).statuses.create({"state": "success", "name": "build"})
    assert job.status == "success"
    merged = project.mergerequests.get(1)
    assert merged.state == "merged" and merged.merged_by["username"] == "alice"  # merged by who asked
    assert git(bare, "rev-parse", "main") == merged.merge_commit_sha
    assert git(bare, "log", "-1", "--format=%an|%s", "main") == "alice|Merge branch 'feature/a' into 'main'"
    pipelines = project.pipelines.list(sha=head, get_all=True)
    assert [p.status for p in pipelines] == ["success"]


def test_gitlab_auth_errors_conflicts_pagination_and_required_pipelines(gl) -> None:
    sim, url, bare = gl
    with pytest.raises(GitlabAuthenticationError):
        gitlab.Gitlab(url, private_token="nope").projects.get("acme/platform/fleet")
    alice = gitlab.Gitlab(url, private_token="alice-token")
    with pytest.raises(GitlabGetError) as missing:
        alice.projects.get("acme/none")
    assert missing.value.response_code == 404
    project = alice.projects.get("acme/platform/fleet", lazy=True)
    for n in range(25):
        branch_with_change(bare, f"b{n}", f"text {n}\n")
        project.mergerequests.create({"source_branch": f"b{n}", "target_branch": "main", "title": f"B{n}"})
    page = project.mergerequests.list(state="opened", per_page=10, page=2)
    assert [m.iid for m in page] == list(range(15, 5, -1))
    everything = project.mergerequests.list(state="opened", get_all=True)
    assert len(everything) == 25
    project.mergerequests.get(1).merge()
    with pytest.raises(GitlabMRClosedError) as conflict:
        project.mergerequests.get(2).merge()  # both write NOTES.md
    assert conflict.value.response_code == 406
    sim.pipelines_must_succeed = True
    branch_with_change(bare, "c", "after the merge\n")
    late = project.mergerequests.create({"source_branch": "c", "target_branch": "main", "title": "C"})
    with pytest.raises(GitlabMRClosedError) as pending:
        late.merge()  # its pipeline has not succeeded yet
    assert pending.value.response_code == 405


@pytest.fixture
def gt(tmp_path: Path):
    source = tmp_path / "source"
    shutil.copytree(FIXTURE, source)
    sim = GiteaSimulator(tmp_path / "repos", tokens=TOKENS, ci_job="ci/build")
    url = sim.start()
    bare = sim.create_repo("acme/fleet", source)
    yield sim, url + "/api/v1/repos/acme/fleet", bare
    sim.stop()


def call(method: str, url: str, token: str = ALICE, **kwargs) -> requests.Response:
    return requests.request(method, url, headers={"Authorization": f"token {token}"}, timeout=10, **kwargs)


def test_gitea_pull_request_lifecycle(gt) -> None:
    sim, repo, bare = gt
    head = branch_with_change(bare, "feature/a", "one\n")
    assert call("GET", repo, token="nope").status_code == 401
    label = call("POST", f"{repo}/labels", json={"name": "fluxplane", "color": "#00aabb"}).json()
    created = call("POST", f"{repo}/pulls", json={"head": "feature/a", "base": "main", "title": "A",
                                                   "labels": [label["id"]]})
    assert created.status_code == 201
    pr = created.json()
    assert (pr["number"], pr["state"], pr["head"]["sha"], [x["name"] for x in pr["labels"]]) == (
        1, "open", head, ["fluxplane"])
    again = call("POST", f"{repo}/pulls", json={"head": "feature/a", "base": "main", "title": "A"})
    assert again.status_code == 409
    own = call("POST", f"{repo}/pulls/1/reviews", json={"event": "APPROVED"})
    assert own.status_code == 422  # no approving your own pull request
    assert call("POST", f"{repo}/pulls/1/reviews", token="bob-token", json={"event": "APPROVED"}).status_code == 200
    combined = call("GET", f"{repo}/commits/{head}/status").json()
    assert combined["state"] == "pending" and combined["statuses"][0]["context"] == "ci/build"
    assert call("POST", f"{repo}/pulls/1/merge", json={"Do": "squash"}).status_code == 405
    assert call("POST", f"{repo}/pulls/1/merge", json={"Do": "merge", "head_commit_id": "0" * 40}).status_code == 409
    waiting = call("POST", f"{repo}/pulls/1/merge", json={"Do": "merge", "merge_when_checks_succeed": True})
    assert waiting.status_code == 200 and call("GET", f"{repo}/pulls/1").json()["merged"] is False
    call("POST", f"{repo}/statuses/{head}", token="bob-token", json={"state": "failure", "context": "ci/build"})
    assert call("GET", f"{repo}/pulls/1").json()["merged"] is False
    call("POST", f"{repo}/statuses/{head}", token="bob-token", json={"state": "success", "context": "ci/build"})
    merged = call("GET", f"{repo}/pulls/1").json()
    assert merged["merged"] and merged["state"] == "closed" and merged["merged_by"]["login"] == "alice"
    assert git(bare, "rev-parse", "main") == merged["merge_commit_sha"]
    assert call("GET", f"{repo}/pulls/1/merge").status_code == 204


def test_gitea_pagination_and_conflicts(gt) -> None:
    sim, repo, bare = gt
    for n in range(35):
        branch_with_change(bare, f"b{n}", f"text {n}\n")
        assert call("POST", f"{repo}/pulls", json={"head": f"b{n}", "base": "main", "title": f"B{n}"}).ok
    first = call("GET", f"{repo}/pulls", params={"state": "open", "limit": 20})
    assert first.headers["X-Total-Count"] == "35" and len(first.json()) == 20 and 'rel="next"' in first.headers["Link"]
    second = call("GET", f"{repo}/pulls", params={"state": "open", "limit": 20, "page": 2})
    assert [p["number"] for p in second.json()] == list(range(15, 0, -1))
    assert call("POST", f"{repo}/pulls/1/merge", json={"Do": "merge"}).status_code == 200
    conflict = call("POST", f"{repo}/pulls/2/merge", json={"Do": "merge"})
    assert conflict.status_code == 405 and "conflict" in conflict.json()["message"]
