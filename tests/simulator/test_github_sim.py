"""The GitHub API simulator driven by the real PyGithub over HTTP, checked against the real bare repository."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from github import Auth, BadCredentialsException, Github, GithubException, InputGitAuthor, InputGitTreeElement

from simulator.flux.demo import fixtures_dir
from simulator.github import GitHubSimulator

FIXTURE = fixtures_dir() / "flux2-kustomize-helm-example"
VALUES = "apps/staging/podinfo-values.yaml"
REPO = "acme/fleet"
TOKENS = {"alice-token": "alice", "bob-token": "bob"}


def client(base_url: str, token: str) -> Github:
    """PyGithub as Fluxplane uses it, minus its client-side throttling (0.25 s per request, 1 s per write)."""
    return Github(
        base_url=base_url, auth=Auth.Token(token), retry=None, seconds_between_requests=0, seconds_between_writes=0
    )


def git(bare: Path, *args: str) -> str:
    """The real git against the bare repository (the ground truth the API must match)."""
    proc = subprocess.run(["git", "--git-dir", str(bare), *args], capture_output=True, text=True, check=True)
    return proc.stdout.strip()


@dataclass
class Env:
    sim: GitHubSimulator
    bare: Path
    alice: Github
    bob: Github

    def repo(self, who: str = "alice"):
        return getattr(self, who).get_repo(REPO)


@pytest.fixture
def gh(tmp_path: Path) -> Iterator[Env]:
    source = tmp_path / "source"
    shutil.copytree(FIXTURE, source)  # never touch the shared fixture itself
    sim = GitHubSimulator(tmp_path / "repos", tokens=TOKENS, users={"alice": {"name": "Alice", "email": "a@acme.io"}})
    base_url = sim.start()
    bare = sim.create_repo(REPO, source)
    clients = [client(base_url, t) for t in TOKENS]
    yield Env(sim, bare, *clients)
    for each in clients:
        each.close()
    sim.stop()


def edit_on_branch(repo, branch: str, path: str, old: str, new: str, message: str = "change") -> str:
    """Create ``branch`` from main and replace ``old`` by ``new`` in ``path`` through the contents API."""
    main = repo.get_branch("main").commit.sha
    repo.create_git_ref(f"refs/heads/{branch}", main)
    current = repo.get_contents(path, ref=branch)
    text = current.decoded_content.decode()
    assert old in text
    result = repo.update_file(path, message, text.replace(old, new, 1), current.sha, branch=branch)
    return result["commit"].sha


def test_branch_commit_pr_merge_is_a_real_merge_commit(gh: Env) -> None:
    repo = gh.repo()
    assert repo.default_branch == "main"
    assert gh.alice.get_user().login == "alice"
    main_before = git(gh.bare, "rev-parse", "main")
    assert repo.get_branch("main").commit.sha == main_before

    repo.create_git_ref("refs/heads/scale-podinfo", main_before)
    assert repo.get_git_ref("heads/scale-podinfo").object.sha == main_before
    current = repo.get_contents(VALUES, ref="scale-podinfo")
    assert current.sha == git(gh.bare, "rev-parse", f"main:{VALUES}")  # the real blob sha
    new_text = current.decoded_content.decode() + "  replicaCount: 3\n"
    author = InputGitAuthor("Dev One", "dev1@acme.io")
    result = repo.update_file(
        VALUES, "Scale podinfo to 3", new_text, current.sha, branch="scale-podinfo", author=author, committer=author
    )
    head = result["commit"].sha
    assert git(gh.bare, "rev-parse", "scale-podinfo") == head
    assert git(gh.bare, "log", "-1", "--format=%an <%ae>|%s", head) == "Dev One <dev1@acme.io>|Scale podinfo to 3"

    pr = repo.create_pull(base="main", head="scale-podinfo", title="Scale podinfo", body="Requested by dev1")
    assert (pr.number, pr.state, pr.merged, pr.mergeable) == (1, "open", False, True)
    assert (pr.head.ref, pr.head.sha, pr.base.ref, pr.user.login) == ("scale-podinfo", head, "main", "alice")
    assert pr.html_url.endswith("/acme/fleet/pull/1")
    assert pr.created_at.year >= 2024
    files = list(pr.get_files())
    assert [(f.filename, f.status, f.additions, f.deletions) for f in files] == [(VALUES, "modified", 1, 0)]
    assert "+  replicaCount: 3" in files[0].patch
    assert not pr.is_merged()

    merge = gh.repo().get_pull(1).merge(merge_method="merge", sha=head)
    assert merge.merged
    assert git(gh.bare, "rev-parse", "main") == merge.sha
    assert git(gh.bare, "log", "-1", "--format=%P", merge.sha).split() == [main_before, head]
    assert git(gh.bare, "show", f"main:{VALUES}") == new_text.rstrip("\n")
    assert git(gh.bare, "log", "-1", "--format=%an <%ae>|%cn|%s", merge.sha) == (
        "Alice <a@acme.io>|GitHub|Merge pull request #1 from acme/scale-podinfo"
    )
    merged = repo.get_pull(1)
    assert (merged.state, merged.merged, merged.merge_commit_sha, merged.merged_by.login) == (
        "closed",
        True,
        merge.sha,
        "alice",
    )
    assert merged.is_merged()
    git(gh.bare, "fsck", "--strict")  # the repository git sees is consistent


def test_squash_merge_has_one_parent_and_the_pr_author(gh: Env) -> None:
    repo = gh.repo()
    main_before = git(gh.bare, "rev-parse", "main")
    edit_on_branch(repo, "tweak", VALUES, "podinfo.staging", "podinfo.staging.acme", "first")
    pr = repo.create_pull(base="main", head="tweak", title="Tweak host")
    with pytest.raises(GithubException) as rebase:
        pr.merge(merge_method="rebase")  # not offered by the simulated repository, as allow_rebase_merge says
    assert rebase.value.status == 405
    assert git(gh.bare, "rev-parse", "main") == main_before
    assert {e.path for e in repo.get_git_tree("tweak", recursive=True).tree} >= {VALUES, "apps/staging"}
    result = gh.repo("bob").get_pull(pr.number).merge(merge_method="squash")
    assert git(gh.bare, "log", "-1", "--format=%P|%an|%s", result.sha) == f"{main_before}|Alice|Tweak host (#1)"
    assert "podinfo.staging.acme" in git(gh.bare, "show", f"main:{VALUES}")


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("token not-a-token", "Bad credentials"),
        ("Bearer alice-token-x", "Bad credentials"),
        (None, "Requires authentication"),
    ],
)
def test_bad_or_missing_token_gets_401(gh: Env, header: str | None, message: str) -> None:
    request = urllib.request.Request(f"{gh.sim.base_url}/repos/{REPO}")
    if header:
        request.add_header("Authorization", header)
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 401
    assert json.loads(caught.value.read())["message"] == message


def test_pygithub_bad_token_raises_bad_credentials(gh: Env) -> None:
    with pytest.raises(BadCredentialsException) as caught:
        client(gh.sim.base_url, "wrong").get_repo(REPO)
    assert caught.value.status == 401
    # Bearer works too, as for GitHub apps and fine-grained tokens.
    request = urllib.request.Request(f"{gh.sim.base_url}/user", headers={"Authorization": "Bearer bob-token"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert json.loads(response.read())["login"] == "bob"


def test_duplicate_open_pr_is_refused_with_422(gh: Env) -> None:
    repo = gh.repo()
    edit_on_branch(repo, "dup", VALUES, "podinfo.staging", "dup.staging")
    repo.create_pull(base="main", head="dup", title="first")
    with pytest.raises(GithubException) as caught:
        repo.create_pull(base="main", head="acme:dup", title="second")
    assert caught.value.status == 422
    assert "already exists" in json.dumps(caught.value.data)
    assert [p.number for p in repo.get_pulls(state="all")] == [1]
    # Once closed, a new PR for the same head is allowed again (Fluxplane retries after a rejection).
    repo.get_pull(1).edit(state="closed")
    assert repo.create_pull(base="main", head="dup", title="again").number == 2


def test_merge_with_a_stale_head_sha_gets_409_and_writes_nothing(gh: Env) -> None:
    repo = gh.repo()
    first = edit_on_branch(repo, "moving", VALUES, "podinfo.staging", "moving.staging")
    pr = repo.create_pull(base="main", head="moving", title="Moving")
    content = repo.get_contents("apps/staging/kustomization.yaml", ref="moving")
    second = repo.update_file(
        content.path, "later", b"# later\n" + content.decoded_content, content.sha, branch="moving"
    )["commit"].sha
    main_before = git(gh.bare, "rev-parse", "main")
    with pytest.raises(GithubException) as caught:
        pr.merge(sha=first)
    assert caught.value.status == 409
    assert git(gh.bare, "rev-parse", "main") == main_before
    refreshed = repo.get_pull(pr.number)
    assert (refreshed.head.sha, refreshed.merged) == (second, False)  # head follows the branch
    assert refreshed.merge(sha=second).merged


def test_conflicting_pr_gets_405_and_leaves_the_repository_untouched(gh: Env) -> None:
    repo = gh.repo()
    edit_on_branch(repo, "left", VALUES, "podinfo.staging", "left.staging")
    edit_on_branch(repo, "right", VALUES, "podinfo.staging", "right.staging")
    left = repo.create_pull(base="main", head="left", title="Left")
    right = repo.create_pull(base="main", head="right", title="Right")
    left.merge()
    main_after_left = git(gh.bare, "rev-parse", "main")
    refs_before = git(gh.bare, "for-each-ref")
    assert repo.get_pull(right.number).mergeable is False
    with pytest.raises(GithubException) as caught:
        right.merge()
    assert caught.value.status == 405
    assert caught.value.data["message"] == "Pull Request is not mergeable"
    assert git(gh.bare, "rev-parse", "main") == main_after_left
    assert git(gh.bare, "for-each-ref") == refs_before
    assert "left.staging" in git(gh.bare, "show", f"main:{VALUES}")
    # Merging an already merged PR is refused the same way.
    with pytest.raises(GithubException) as again:
        left.merge()
    assert again.value.status == 405


@pytest.mark.parametrize(
    ("sha", "status"),
    [("0" * 40, 409), ("deadbeef" * 5, 409), (None, 422)],
)
def test_contents_update_needs_the_current_blob_sha(gh: Env, sha: str | None, status: int) -> None:
    repo = gh.repo()
    before = git(gh.bare, "rev-parse", "main")
    with pytest.raises(GithubException) as caught:
        if sha is None:  # create_file on an existing path sends no sha
            repo.create_file(VALUES, "overwrite", "x: 1\n", branch="main")
        else:
            repo.update_file(VALUES, "overwrite", "x: 1\n", sha, branch="main")
    assert caught.value.status == status
    assert git(gh.bare, "rev-parse", "main") == before


def test_contents_create_list_and_delete(gh: Env) -> None:
    repo = gh.repo()
    created = repo.create_file("apps/staging/rbac/jit-alice.yaml", "JIT access", "kind: RoleBinding\n", branch="main")
    assert created["content"].sha == git(gh.bare, "rev-parse", "main:apps/staging/rbac/jit-alice.yaml")
    listing = repo.get_contents("apps/staging")
    assert sorted((c.name, c.type) for c in listing) == [
        ("kustomization.yaml", "file"),
        ("podinfo-values.yaml", "file"),
        ("rbac", "dir"),
    ]
    root = {c.name for c in repo.get_contents("")}
    assert root == {"apps", "clusters", "infrastructure"}
    repo.delete_file("apps/staging/rbac/jit-alice.yaml", "expire JIT access", created["content"].sha, branch="main")
    assert "rbac" not in git(gh.bare, "ls-tree", "--name-only", "main:apps/staging").split()
    with pytest.raises(GithubException) as caught:
        repo.get_contents("apps/staging/rbac/jit-alice.yaml")
    assert caught.value.status == 404


@pytest.mark.parametrize("path", ["../escape.yaml", "apps/../../x", ".git/config", "apps//x"])
def test_contents_refuses_bad_paths(gh: Env, path: str) -> None:
    before = git(gh.bare, "rev-parse", "main")
    with pytest.raises(GithubException) as caught:
        gh.repo().create_file(path, "bad", "x\n", branch="main")
    assert caught.value.status in (404, 422)
    assert git(gh.bare, "rev-parse", "main") == before


def test_multi_file_commit_with_git_data_and_compare(gh: Env) -> None:
    repo = gh.repo()
    main = repo.get_branch("main").commit
    blob = repo.create_git_blob(base64.b64encode(b"replicas: 2\n").decode(), "base64")
    base_tree = repo.get_git_tree(main.sha)
    tree = repo.create_git_tree(
        [
            InputGitTreeElement("apps/staging/new.yaml", "100644", "blob", sha=blob.sha),
            InputGitTreeElement("apps/staging/other.yaml", "100644", "blob", content="a: b\n"),
            InputGitTreeElement("clusters/staging/apps.yaml", "100644", "blob", sha=None),
        ],
        base_tree,
    )
    who = InputGitAuthor("Bot", "bot@acme.io", "2024-05-01T10:00:00Z")
    commit = repo.create_git_commit("Two files, one removal", tree, [repo.get_git_commit(main.sha)], who, who)
    assert commit.parents[0].sha == main.sha
    repo.create_git_ref("refs/heads/multi", commit.sha)
    assert git(gh.bare, "log", "-1", "--format=%an|%aI", "multi") == "Bot|2024-05-01T10:00:00+00:00"

    files = {f.filename: f for f in repo.get_commit(commit.sha).files}
    assert {name: f.status for name, f in files.items()} == {
        "apps/staging/new.yaml": "added",
        "apps/staging/other.yaml": "added",
        "clusters/staging/apps.yaml": "removed",
    }
    assert files["apps/staging/new.yaml"].patch == "@@ -0,0 +1 @@\n+replicas: 2"
    comparison = repo.compare("main", "multi")
    assert (comparison.status, comparison.ahead_by, comparison.behind_by) == ("ahead", 1, 0)
    assert [c.sha for c in comparison.commits] == [commit.sha]
    assert {f.filename for f in comparison.files} == set(files)
    assert repo.get_git_blob(blob.sha).content.replace("\n", "") == base64.b64encode(b"replicas: 2\n").decode()


def test_ref_update_fast_forward_force_and_delete(gh: Env) -> None:
    repo = gh.repo()
    root = git(gh.bare, "rev-parse", "main")
    tip = edit_on_branch(repo, "feature", VALUES, "podinfo.staging", "ff.staging")
    ref = repo.get_git_ref("heads/feature")
    with pytest.raises(GithubException) as caught:
        ref.edit(root)  # moving backwards is not a fast-forward
    assert caught.value.status == 422
    assert git(gh.bare, "rev-parse", "feature") == tip
    ref.edit(root, force=True)
    assert git(gh.bare, "rev-parse", "feature") == root
    with pytest.raises(GithubException) as exists:
        repo.create_git_ref("refs/heads/feature", root)
    assert exists.value.status == 422
    ref.delete()
    assert "refs/heads/feature" not in git(gh.bare, "for-each-ref", "--format=%(refname)")


def test_reviews_reviewers_comments_labels(gh: Env) -> None:
    edit_on_branch(gh.repo(), "review-me", VALUES, "podinfo.staging", "rv.staging")
    pr = gh.repo().create_pull(base="main", head="review-me", title="Review me")
    pr.create_review_request(reviewers=["bob"])
    users, teams = pr.get_review_requests()
    assert ([u.login for u in users], list(teams)) == (["bob"], [])
    with pytest.raises(GithubException) as self_review:
        pr.create_review(event="APPROVE")  # alice opened it: GitHub forbids approving your own PR
    assert self_review.value.status == 422
    with pytest.raises(GithubException) as self_request:
        pr.create_review_request(reviewers=["alice"])
    assert self_request.value.status == 422

    as_bob = gh.repo("bob").get_pull(pr.number)
    review = as_bob.create_review(body="LGTM", event="APPROVE")
    assert (review.state, review.user.login, review.commit_id) == ("APPROVED", "bob", pr.head.sha)
    assert [(r.user.login, r.state) for r in pr.get_reviews()] == [("bob", "APPROVED")]
    assert list(pr.get_review_requests()[0]) == []  # the review fulfilled the request

    for i in range(35):  # more than one page (30): PyGithub must follow the Link header
        pr.create_issue_comment(f"comment {i}")
    comments = list(pr.get_issue_comments())
    assert [c.body for c in comments][-1] == "comment 34" and len(comments) == 35
    pr.add_to_labels("fluxplane", "jit-access")
    pr.add_to_labels("fluxplane")
    assert [label.name for label in pr.get_labels()] == ["fluxplane", "jit-access"]
    issue = gh.repo().get_issue(pr.number)
    assert (issue.pull_request is not None, issue.comments, [x.name for x in issue.labels]) == (
        True,
        35,
        ["fluxplane", "jit-access"],
    )


def test_list_pulls_filters_and_reopen(gh: Env) -> None:
    repo = gh.repo()
    for name in ("a", "b", "c"):
        edit_on_branch(repo, f"br-{name}", VALUES, "podinfo.staging", f"{name}.staging")
        repo.create_pull(base="main", head=f"br-{name}", title=name)
    repo.get_pull(2).edit(state="closed", title="b (closed)")

    def numbers(**kwargs) -> list[int]:
        return sorted(p.number for p in repo.get_pulls(**kwargs))

    cases = [
        ({}, [1, 3]),
        ({"state": "closed"}, [2]),
        ({"state": "all"}, [1, 2, 3]),
        ({"state": "all", "head": "acme:br-b"}, [2]),
        ({"head": "acme:br-c"}, [3]),
        ({"base": "main"}, [1, 3]),
        ({"base": "other"}, []),
    ]
    for kwargs, expected in cases:
        assert numbers(**kwargs) == expected, kwargs
    assert [p.number for p in gh.sim.pulls(REPO, state="closed")] == [2]
    pr = repo.get_pull(2)
    pr.edit(state="open")
    assert (repo.get_pull(2).state, repo.get_pull(2).title) == ("open", "b (closed)")
    with pytest.raises(GithubException) as no_commits:
        repo.create_pull(base="main", head="main", title="nothing")
    assert no_commits.value.status == 422


def test_statuses_and_check_runs(gh: Env) -> None:
    repo = gh.repo()
    sha = git(gh.bare, "rev-parse", "main")
    commit = repo.get_commit(sha)
    assert commit.get_combined_status().state == "pending"  # no statuses yet, as on GitHub
    assert commit.get_check_runs().totalCount == 0
    repo.get_commit(sha).create_status("success", context="ci/build", description="built")
    gh.sim.set_status(REPO, sha, "pending", context="ci/test")
    assert commit.get_combined_status().state == "pending"
    gh.sim.set_status(REPO, sha, "failure", context="ci/test")
    combined = repo.get_commit("main").get_combined_status()
    assert (combined.state, combined.total_count) == ("failure", 2)
    assert {s.context: s.state for s in combined.statuses} == {"ci/build": "success", "ci/test": "failure"}
    gh.sim.set_check_run(REPO, sha, "kustomize-build", conclusion="success")
    runs = list(commit.get_check_runs())
    assert [(r.name, r.status, r.conclusion) for r in runs] == [("kustomize-build", "completed", "success")]


def test_concurrent_commits_on_one_branch_lose_nothing(gh: Env) -> None:
    repo = gh.repo()
    errors: list[Exception] = []

    def write(i: int) -> None:
        try:
            client(gh.sim.base_url, "alice-token").get_repo(REPO).create_file(
                f"apps/staging/c{i}.yaml", f"file {i}", f"i: {i}\n", branch="main"
            )
        except Exception as exc:  # collected and asserted below: a thread cannot fail the test itself
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    names = git(gh.bare, "ls-tree", "--name-only", "main:apps/staging").split()
    assert {f"c{i}.yaml" for i in range(8)} <= set(names)
    assert len(git(gh.bare, "rev-list", "main").split()) == 9
    assert repo.get_commits(sha="main").totalCount == 9


def test_register_existing_bare_repo(tmp_path: Path) -> None:
    bare = tmp_path / "existing.git"
    subprocess.run(["git", "init", "--quiet", "--bare", "--initial-branch", "trunk", str(bare)], check=True)
    sim = GitHubSimulator(tmp_path / "root", tokens=["t"])
    sim.add_repo("org/existing", bare)
    with sim:
        bot = client(sim.base_url, "t")
        repo = bot.get_repo("org/existing")
        assert repo.default_branch == "trunk"
        with pytest.raises(GithubException) as caught:
            repo.create_file("README.md", "first", "hello\n", branch="trunk")  # empty repo: no branch yet
        assert caught.value.status == 404
        assert bot.get_user().login == "fluxplane-bot"
    assert sim.repo_path("org/existing") == bare
    with pytest.raises(ValueError):
        sim.add_repo("org/existing", bare)


def test_fault_switches_over_http(gh: Env) -> None:
    """A simulator started on its own is put into an outage (and out of it) through its fault endpoint."""

    def call(path: str, body: dict | None = None) -> tuple[int, dict]:
        request = urllib.request.Request(gh.sim.base_url + path, data=json.dumps(body).encode() if body else None,
                                         headers={"Authorization": "token alice-token"},
                                         method="POST" if body else "GET")
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - the local simulator
                return answer.status, json.loads(answer.read() or b"{}")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"{}")

    assert call(f"/repos/{REPO}")[0] == 200
    assert call("/_simulator/faults", {"outage": 60, "status": 502}) == (200, {"answered_outage": 0})
    status, payload = call(f"/repos/{REPO}")
    assert status == 502 and payload["message"] == "Server Error"
    with pytest.raises(GithubException) as failed:
        gh.repo().get_pulls(state="all").totalCount  # noqa: B018 - the request is the point
    assert failed.value.status == 502
    assert call("/_simulator/faults", {"clear": True}) == (200, {"answered_outage": 2})
    assert call(f"/repos/{REPO}")[0] == 200
    assert call("/_simulator/faults", {"outage": 1, "status": 404})[0] == 422  # an outage is a 5xx
