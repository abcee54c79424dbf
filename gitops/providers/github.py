"""GitHub (github.com, GitHub Enterprise, or the simulator) through PyGithub. Only this module imports ``github``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import MergeConflict, ProviderError, ProviderUnavailable
from .base import PullRequestInfo, PullRequestProvider, Review, is_loopback, repo_full_name, summarize_checks


class GitHubError(ProviderError):
    """GitHub refused a request; ``message`` is what it said."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"GitHub answered {status}: {message}")
        self.status, self.message = status, message


class GitHubUnavailable(GitHubError, ProviderUnavailable):
    """GitHub answered 5xx: the same request may succeed later."""


class GitHubProvider(PullRequestProvider):
    """Pull requests on GitHub (or GitHub Enterprise, or the simulator) through PyGithub."""

    kind = "github"

    def __init__(self, full_name: str, token: str, base_branch: str = "main", api_url: str = "",
                 throttle: bool | None = None) -> None:
        from github import Auth, Github, GithubRetry  # local import: only this adapter needs PyGithub

        self.full_name = full_name
        self.base_branch = base_branch
        # Reads are retried a few times with a short backoff; writes never inside one call (a POST answered 5xx may
        # have happened): the run as a whole is retried and finds what it created (ProviderUnavailable).
        kwargs: dict[str, Any] = {"auth": Auth.Token(token), "retry": GithubRetry(
            total=3, backoff_factor=0.5, allowed_methods=frozenset({"GET", "HEAD"}), raise_on_status=False)}
        if api_url:
            kwargs["base_url"] = api_url.rstrip("/")
        if throttle is None:
            throttle = not (api_url and is_loopback(api_url))  # a local simulator needs no politeness delay
        if not throttle:
            kwargs.update(seconds_between_requests=0, seconds_between_writes=0)
        self._gh = Github(**kwargs)
        self._repo = None

    @classmethod
    def from_connection(cls, connection: Any) -> GitHubProvider:
        """Build from a GitConnection-like object (repository_url, api_url, base_branch, resolve_token())."""
        full_name = getattr(connection, "remote_repository", "") or repo_full_name(connection.repository_url)
        return cls(full_name, connection.resolve_token(), connection.base_branch, connection.api_url or "")

    @property
    def repo(self):  # noqa: ANN201 — a PyGithub Repository, kept out of the public types
        """The PyGithub repository (fetched once)."""
        if self._repo is None:
            self._repo = self._call(self._gh.get_repo, self.full_name)
        return self._repo

    def _call(self, fn, *args, **kwargs):  # noqa: ANN001, ANN202
        from github import GithubException
        from requests import RequestException

        try:
            return fn(*args, **kwargs)
        except GithubException as exc:
            message = (exc.data or {}).get("message") if isinstance(exc.data, dict) else str(exc.data)
            error = GitHubUnavailable if exc.status >= 500 else GitHubError
            raise error(exc.status, str(message)) from None
        except RequestException as exc:
            raise ProviderUnavailable(f"GitHub did not answer ({type(exc).__name__})") from None

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

    def open_pull_request(self, branch: str, title: str, body: str, labels: Sequence[str] = (),
                          reviewers: Sequence[str] = ()) -> PullRequestInfo:
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
            self._add_labels(pr, labels)
        if reviewers:
            self._call(pr.create_review_request, reviewers=list(reviewers))
        return self._info(self._call(self.repo.get_pull, pr.number), created)

    def _add_labels(self, pr: Any, labels: Sequence[str]) -> None:
        have = {label.name for label in pr.labels}
        missing = [label for label in labels if label not in have]
        if missing:
            self._call(pr.add_to_labels, *missing)

    def get(self, number: int) -> PullRequestInfo:
        """State, merged flag, merge commit and head sha of a pull request, with its checks."""
        info = self._info(self._call(self.repo.get_pull, number))
        info.checks = self.checks(info.head_sha)
        return info

    def checks(self, sha: str) -> dict[str, Any]:
        """Commit statuses and check runs of ``sha``: {"state", "statuses": {...}, "check_runs": {...}}; the state
        is folded from both (GitHub's own combined status ignores check runs)."""
        commit = self._call(self.repo.get_commit, sha)
        combined = self._call(commit.get_combined_status)
        runs = self._call(commit.get_check_runs)
        statuses = {s.context: s.state for s in combined.statuses}
        check_runs = {r.name: r.conclusion or r.status for r in runs}
        return {"state": summarize_checks([*statuses.values(), *check_runs.values()]), "statuses": statuses,
                "check_runs": check_runs}

    def reviews(self, number: int) -> list[Review]:
        """The latest verdict of each reviewer (GitHub keeps every review; a later one replaces an earlier)."""
        pr = self._call(self.repo.get_pull, number)
        latest: dict[str, tuple[str, str]] = {}
        for review in self._call(pr.get_reviews):
            if review.state in ("APPROVED", "CHANGES_REQUESTED", "COMMENTED") and review.user is not None:
                if review.state != "COMMENTED" or review.user.login not in latest:
                    latest[review.user.login] = (review.state.lower(), review.body or "")
        return [Review(user, state, body) for user, (state, body) in latest.items()]

    def merge(self, number: int, message: str = "", expected_head: str = "", method: str = "merge") -> PullRequestInfo:
        """Merge the pull request (merge commit by default). Raises MergeConflict when GitHub refuses to merge."""
        pr = self._call(self.repo.get_pull, number)
        if pr.merged:
            return self._info(pr)
        from github import GithubObject

        try:
            self._call(pr.merge, commit_message=message or GithubObject.NotSet, merge_method=method,
                       sha=expected_head or GithubObject.NotSet)
        except ProviderUnavailable:
            raise  # GitHub did not decide (5xx, no answer): the merge is tried again later
        except ProviderError as exc:
            raise MergeConflict(f"GitHub refused to merge #{number}: {exc.message}") from None
        return self._info(self._call(self.repo.get_pull, number))

    def close(self, number: int) -> PullRequestInfo:
        """Close a pull request without merging."""
        pr = self._call(self.repo.get_pull, number)
        self._call(pr.edit, state="closed")
        return self._info(self._call(self.repo.get_pull, number))

    def comment(self, number: int, text: str) -> None:
        """An issue comment on the pull request's conversation."""
        pr = self._call(self.repo.get_pull, number)
        self._call(pr.create_issue_comment, text)

    def add_labels(self, number: int, labels: Sequence[str]) -> None:
        self._add_labels(self._call(self.repo.get_pull, number), labels)
