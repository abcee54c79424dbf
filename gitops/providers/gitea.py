"""Gitea and Forgejo (self-hosted, Codeberg, or the simulator) through the typed client in ``giteaapi``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import MergeConflict, ProviderError
from .base import PullRequestInfo, PullRequestProvider, Review, summarize_checks
from .giteaapi import GiteaApiError, GiteaClient, GiteaPull

_REVIEW_STATES = {"APPROVED": "approved", "REQUEST_CHANGES": "changes_requested", "COMMENT": "commented"}


class GiteaProvider(PullRequestProvider):
    """Pull requests on a Gitea or Forgejo repository ``owner/name``. Gitea's own "merge when checks succeed"
    differs between Gitea and Forgejo releases, so ``on-checks`` merges come from Fluxplane's tracking sweep."""

    kind = "gitea"

    def __init__(self, full_name: str, token: str, base_branch: str = "main", api_url: str = "") -> None:
        if not api_url:
            raise ProviderError("a Gitea/Forgejo connection needs the server's URL (API URL)")
        owner, _, name = full_name.partition("/")
        if not owner or not name:
            raise ProviderError(f"{full_name!r} is not owner/name")
        self.full_name = full_name
        self.base_branch = base_branch
        self.client = GiteaClient(api_url, token, owner, name)

    @classmethod
    def from_connection(cls, connection: Any) -> GiteaProvider:
        """Build from a GitConnection-like object (remote_repository, api_url, base_branch, resolve_token())."""
        return cls(connection.remote_repository, connection.resolve_token(), connection.base_branch,
                   connection.api_url or "")

    def _info(self, pr: GiteaPull, created: bool = False) -> PullRequestInfo:
        state = "merged" if pr.merged else pr.state
        return PullRequestInfo(branch=pr.head_ref, base=pr.base_ref, state=state, merged=pr.merged, number=pr.number,
                               url=pr.html_url, head_sha=pr.head_sha, created=created,
                               merge_sha=pr.merge_commit_sha if pr.merged else "")

    def find_open(self, branch: str) -> PullRequestInfo | None:
        """The open pull request from ``branch`` into the base branch, if there is one."""
        for pr in self.client.list_pulls("open"):
            if pr.head_ref == branch and pr.base_ref == self.base_branch:
                return self._info(pr)
        return None

    def open_pull_request(self, branch: str, title: str, body: str, labels: Sequence[str] = (),
                          reviewers: Sequence[str] = ()) -> PullRequestInfo:
        """Open a pull request, or return the open one for ``branch`` (retries never duplicate); labels are created
        on the repository when missing and (re)applied either way. Review requests are not sent (Gitea's
        requested-reviewers endpoint is missing from older Forgejo releases)."""
        existing = self.find_open(branch)
        ids = self.client.label_ids(list(labels)) if labels else []
        if existing is None:
            return self._info(self.client.create_pull(branch, self.base_branch, title, body, ids), created=True)
        if ids:
            self.client.add_labels(existing.number, ids)
        return self._info(self.client.get_pull(existing.number))

    def get(self, number: int) -> PullRequestInfo:
        info = self._info(self.client.get_pull(number))
        info.checks = self.checks(info.head_sha) if info.head_sha else {"state": "none"}
        return info

    def checks(self, sha: str) -> dict[str, Any]:
        """Commit statuses (Gitea Actions and external CI both report through them)."""
        combined = self.client.combined_status(sha)
        return {"state": summarize_checks(combined.statuses.values()), "statuses": combined.statuses}

    def reviews(self, number: int) -> list[Review]:
        latest: dict[str, str] = {}
        for login, state in self.client.reviews(number):
            verdict = _REVIEW_STATES.get(state)
            if verdict and (verdict != "commented" or login not in latest):
                latest[login] = verdict
        return [Review(user, state) for user, state in latest.items()]

    def merge(self, number: int, message: str = "", expected_head: str = "") -> PullRequestInfo:
        """Merge with a merge commit. Raises MergeConflict when Gitea refuses (conflict, closed, head moved)."""
        pr = self.client.get_pull(number)
        if pr.merged:
            return self._info(pr)
        try:
            self.client.merge_pull(number, message, expected_head)
        except GiteaApiError as exc:
            if exc.status in (405, 409, 422):
                raise MergeConflict(f"Gitea refused to merge #{number}: {exc}") from None
            raise
        return self._info(self.client.get_pull(number))

    def close(self, number: int) -> PullRequestInfo:
        pr = self.client.get_pull(number)
        if pr.state == "open" and not pr.merged:
            pr = self.client.close_pull(number)
        return self._info(pr)

    def comment(self, number: int, text: str) -> None:
        self.client.comment(number, text)

    def add_labels(self, number: int, labels: Sequence[str]) -> None:
        if labels:
            self.client.add_labels(number, self.client.label_ids(list(labels)))
