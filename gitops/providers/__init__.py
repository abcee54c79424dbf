"""Change-request providers behind one interface (``PullRequestProvider``): GitHub through PyGithub, GitLab
through python-gitlab, Gitea/Forgejo through a small typed client, and plain git where Fluxplane tracks and merges
the "pull request" itself. Each client library is imported only by its adapter module."""

from __future__ import annotations

from typing import Any

from .base import (
    ChangeRequest,
    PullRequestInfo,
    PullRequestProvider,
    Review,
    is_loopback,
    repo_full_name,
    summarize_checks,
)
from .gitea import GiteaProvider
from .github import GitHubProvider
from .gitlab import GitLabProvider
from .plain import PlainGitProvider

HOSTED: dict[str, type[PullRequestProvider]] = {
    GitHubProvider.kind: GitHubProvider, GitLabProvider.kind: GitLabProvider, GiteaProvider.kind: GiteaProvider,
}
KINDS = (*HOSTED, PlainGitProvider.kind)


def hosted_provider(kind: str, connection: Any) -> PullRequestProvider:
    """The hosted provider of ``kind`` for a GitConnection-like object (``remote_repository``, ``api_url``,
    ``base_branch``, ``resolve_token()``). Raises ProviderError for a kind that is not hosted."""
    from ..errors import ProviderError

    cls = HOSTED.get(kind)
    if cls is None:
        raise ProviderError(f"{kind!r} is not a hosted git provider (one of {', '.join(HOSTED)})")
    return cls.from_connection(connection)


__all__ = [
    "HOSTED", "KINDS", "ChangeRequest", "GiteaProvider", "GitHubProvider", "GitLabProvider", "PlainGitProvider",
    "PullRequestInfo", "PullRequestProvider", "Review", "hosted_provider", "is_loopback", "repo_full_name",
    "summarize_checks",
]
