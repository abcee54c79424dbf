"""Pull-request providers: GitHub through PyGithub, and plain git where Fluxplane tracks and merges the "pull
request" itself. Only this module imports ``github``."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .errors import GitOpsError, MergeConflict, ProviderError
from .repo import Identity, WorkingCopy


@dataclass
class PullRequestInfo:
    """A change request as the provider sees it (``number``/``url`` are None for plain git)."""

    branch: str
    base: str
    state: str  # open | closed | merged
    merged: bool = False
    number: int | None = None
    url: str | None = None
    head_sha: str = ""
    merge_sha: str = ""
    created: bool = False  # True only when this call opened it
    checks: dict[str, Any] = field(default_factory=dict)


ChangeRequest = PullRequestInfo  # the name the playbooks use for the same record


def repo_full_name(repository_url: str) -> str:
    """``owner/name`` from a clone URL or path (``https://github.com/o/n.git``, ``git@host:o/n``, ``/x/o/n.git``)."""
    text = repository_url.strip()
    scp = re.match(r"^[\w.-]+@[\w.-]+:(.+)$", text)
    path = scp.group(1) if scp else urlsplit(text).path
    parts = [p for p in path.rstrip("/").split("/") if p]
    if len(parts) < 2:
        raise ProviderError(f"cannot tell owner/name from {repository_url!r}")
    return f"{parts[-2]}/{parts[-1].removesuffix('.git')}"


def _is_loopback(api_url: str) -> bool:
    host = urlsplit(api_url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class GitHubProvider:
    """Pull requests on GitHub (or GitHub Enterprise, or the simulator) through PyGithub."""

    def __init__(self, full_name: str, token: str, base_branch: str = "main", api_url: str = "",
                 throttle: bool | None = None) -> None:
        from github import Auth, Github  # local import: only this adapter needs PyGithub

        self.full_name = full_name
        self.base_branch = base_branch
        kwargs: dict[str, Any] = {"auth": Auth.Token(token)}
        if api_url:
            kwargs["base_url"] = api_url.rstrip("/")
        if throttle is None:
            throttle = not (api_url and _is_loopback(api_url))  # a local simulator needs no politeness delay
        if not throttle:
            kwargs.update(seconds_between_requests=0, seconds_between_writes=0)
        self._gh = Github(**kwargs)
        self._repo = None

    @classmethod
    def from_connection(cls, connection: Any) -> GitHubProvider:
        """Build from a GitConnection-like object (repository_url, api_url, base_branch, resolve_token())."""
        return cls(repo_full_name(connection.repository_url), connection.resolve_token(), connection.base_branch,
                   connection.api_url or "")

    @property
    def repo(self):  # noqa: ANN201 — a PyGithub Repository, kept out of the public types
        """The PyGithub repository (fetched once)."""
        if self._repo is None:
            self._repo = self._call(self._gh.get_repo, self.full_name)
        return self._repo

    def _call(self, fn, *args, **kwargs):  # noqa: ANN001, ANN202
        from github import GithubException

        try:
            return fn(*args, **kwargs)
        except GithubException as exc:
            message = (exc.data or {}).get("message") if isinstance(exc.data, dict) else str(exc.data)
            raise ProviderError(f"GitHub answered {exc.status}: {message}") from None

    def _info(self, pr: Any, created: bool = False) -> PullRequestInfo:
        merged = bool(pr.merged)
        return PullRequestInfo(
            branch=pr.head.ref, base=pr.base.ref, state="merged" if merged else pr.state, merged=merged,
            number=pr.number, url=pr.html_url, head_sha=pr.head.sha, merge_sha=(pr.merge_commit_sha or "") if merged
            else "", created=created)

    def find_open(self, branch: str) -> PullRequestInfo | None:
        """The open pull request from ``branch`` into the base branch, if there is one."""
        owner = self.full_name.split("/")[0]
        pulls = self._call(self.repo.get_pulls, state="open", head=f"{owner}:{branch}", base=self.base_branch)
        for pr in pulls:
            if pr.head.ref == branch:
                return self._info(pr)
        return None

    def open_pull_request(self, branch: str, title: str, body: str, labels: tuple[str, ...] | list[str] = (),
                          reviewers: tuple[str, ...] | list[str] = ()) -> PullRequestInfo:
        """Open a pull request, or return the already-open one for ``branch`` (retries never duplicate).

        Labels and reviewers are (re)applied either way. Raises ProviderError when GitHub refuses."""
        existing = self.find_open(branch)
        if existing is None:
            pr = self._call(self.repo.create_pull, title=title, body=body, head=branch, base=self.base_branch)
            created = True
        else:
            pr = self._call(self.repo.get_pull, existing.number)
            created = False
        if labels:
            have = {label.name for label in pr.labels}
            missing = [label for label in labels if label not in have]
            if missing:
                self._call(pr.add_to_labels, *missing)
        if reviewers:
            self._call(pr.create_review_request, reviewers=list(reviewers))
        return self._info(self._call(self.repo.get_pull, pr.number), created)

    def get(self, number: int) -> PullRequestInfo:
        """State, merged flag, merge commit and head sha of a pull request, with its checks."""
        info = self._info(self._call(self.repo.get_pull, number))
        info.checks = self.checks(info.head_sha)
        return info

    def checks(self, sha: str) -> dict[str, Any]:
        """Combined commit status and check runs of ``sha``: {"state", "statuses": {...}, "check_runs": {...}}."""
        commit = self._call(self.repo.get_commit, sha)
        combined = self._call(commit.get_combined_status)
        runs = self._call(commit.get_check_runs)
        return {
            "state": combined.state,
            "statuses": {s.context: s.state for s in combined.statuses},
            "check_runs": {r.name: r.conclusion or r.status for r in runs},
        }

    def reviews(self, number: int) -> list[dict[str, str]]:
        """The reviews of a pull request, oldest first: [{"user", "state", "body"}] (state APPROVED, …)."""
        pr = self._call(self.repo.get_pull, number)
        return [{"user": r.user.login if r.user else "", "state": r.state, "body": r.body or ""}
                for r in self._call(pr.get_reviews)]

    def merge(self, number: int, method: str = "merge", message: str = "", expected_head: str = "") -> PullRequestInfo:
        """Merge the pull request (merge commit by default). Raises MergeConflict when GitHub refuses to merge."""
        pr = self._call(self.repo.get_pull, number)
        if pr.merged:
            return self._info(pr)
        from github import GithubException, GithubObject

        try:
            pr.merge(commit_message=message or GithubObject.NotSet, merge_method=method,
                     sha=expected_head or GithubObject.NotSet)
        except GithubException as exc:
            detail = exc.data.get("message") if isinstance(exc.data, dict) else exc.data
            raise MergeConflict(f"GitHub refused to merge #{number}: {detail}") from None
        return self._info(self._call(self.repo.get_pull, number))

    def close(self, number: int) -> PullRequestInfo:
        """Close a pull request without merging."""
        pr = self._call(self.repo.get_pull, number)
        self._call(pr.edit, state="closed")
        return self._info(self._call(self.repo.get_pull, number))


class PlainGitProvider:
    """Any git remote: the branch is pushed, the change request lives in Fluxplane's database, and Fluxplane merges
    it into the base branch itself with a merge commit."""

    def __init__(self, working_copy: WorkingCopy) -> None:
        self.wc = working_copy
        self.base_branch = working_copy.base_branch

    def _fetch(self) -> None:
        self.wc.git("fetch", "--prune", "origin", "+refs/heads/*:refs/remotes/origin/*")

    def _rev(self, ref: str) -> str:
        proc = self.wc.git("rev-parse", "--verify", "--quiet", ref, check=False)
        return proc.stdout.strip() if proc.returncode == 0 else ""

    def open_pull_request(self, branch: str, title: str = "", body: str = "", labels=(), reviewers=()) -> PullRequestInfo:  # noqa: ANN001, E501
        """Nothing to open remotely: report the pushed branch (the caller records the request)."""
        return self.get(branch)

    def get(self, branch: str) -> PullRequestInfo:
        """``merged`` when the branch tip is contained in the base branch, ``closed`` when the branch is gone."""
        self._fetch()
        head = self._rev(f"refs/remotes/origin/{branch}")
        base = self._rev(f"refs/remotes/origin/{self.base_branch}")
        if not head:
            return PullRequestInfo(branch, self.base_branch, "closed")
        merged = self.wc.git("merge-base", "--is-ancestor", head, base, check=False).returncode == 0
        return PullRequestInfo(branch, self.base_branch, "merged" if merged else "open", merged, head_sha=head)

    def merge(self, branch: str, merger: Identity, message: str = "", retries: int = 3) -> PullRequestInfo:
        """Merge ``branch`` into the base with a merge commit (``--no-ff``) authored by ``merger`` and push.

        Raises MergeConflict (nothing pushed) when the branches conflict, GitOpsError if the branch is missing."""
        for _attempt in range(retries + 1):
            self._fetch()
            head = self._rev(f"refs/remotes/origin/{branch}")
            base = self._rev(f"refs/remotes/origin/{self.base_branch}")
            if not head:
                raise GitOpsError(f"branch {branch!r} is not on the remote")
            if self.wc.git("merge-base", "--is-ancestor", head, base, check=False).returncode == 0:
                return PullRequestInfo(branch, self.base_branch, "merged", True, head_sha=head, merge_sha=base)
            self.wc.git("checkout", "--force", "-B", "fluxplane-merge", base)
            self.wc.git("clean", "-ffdx")
            text = message or f"Merge branch '{branch}' into {self.base_branch}"
            proc = self.wc.git("merge", "--no-ff", "--no-edit", "-m", text, head, author=merger, check=False)
            if proc.returncode != 0:
                self.wc.git("merge", "--abort", check=False)
                raise MergeConflict(
                    f"{branch} conflicts with {self.base_branch}; it was not merged (rebase the change or edit it "
                    f"again): {proc.stdout.strip()[-500:]}")
            sha = self._rev("HEAD")
            push = self.wc.git("push", "--porcelain", "origin", f"{sha}:refs/heads/{self.base_branch}", check=False)
            if push.returncode == 0:
                return PullRequestInfo(branch, self.base_branch, "merged", True, head_sha=head, merge_sha=sha)
        raise MergeConflict(f"{self.base_branch} kept moving while merging {branch}; try again")
