"""The provider interface every git host fits (GitHub, GitLab, Gitea/Forgejo, plain git), the record a change
request is read into, and the helpers the adapters share. No client library is imported here."""

from __future__ import annotations

import ipaddress
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlsplit

from ..errors import ProviderError


@dataclass
class PullRequestInfo:
    """A change request (pull request, merge request) as the provider sees it (``number``/``url`` are None for
    plain git). ``auto_merge`` is True once the provider itself will merge when the checks pass."""

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
    auto_merge: bool = False


ChangeRequest = PullRequestInfo  # the name the playbooks use for the same record


@dataclass(frozen=True)
class Review:
    """One reviewer's verdict on a change request: ``approved``, ``changes_requested`` or ``commented``."""

    user: str
    state: str
    body: str = ""  # what the reviewer wrote with the verdict (where the host keeps it)


# The check states each host reports, folded into four: success, pending, failure, none (no check at all).
_FAILED = {"failure", "failed", "error", "cancelled", "canceled", "timed_out", "action_required", "stale"}
_PASSED = {"success", "neutral", "skipped", "warning"}


def summarize_checks(states: Iterable[str]) -> str:
    """Fold check and status states into ``success`` | ``pending`` | ``failure`` | ``none``: any failure wins,
    then anything unfinished; ``none`` when nothing reported (so "all passed" never means "nothing ran")."""
    seen = [s.lower() for s in states if s]
    if not seen:
        return "none"
    if any(s in _FAILED for s in seen):
        return "failure"
    if all(s in _PASSED for s in seen):
        return "success"
    return "pending"


def repo_full_name(repository_url: str) -> str:
    """``owner/name`` from a clone URL or path (``https://github.com/o/n.git``, ``git@host:o/n``, ``/x/o/n.git``)."""
    text = repository_url.strip()
    scp = re.match(r"^[\w.-]+@[\w.-]+:(.+)$", text)
    path = scp.group(1) if scp else urlsplit(text).path
    parts = [p for p in path.rstrip("/").split("/") if p]
    if len(parts) < 2:
        raise ProviderError(f"cannot tell owner/name from {repository_url!r}")
    return f"{parts[-2]}/{parts[-1].removesuffix('.git')}"


def is_loopback(api_url: str) -> bool:
    """Whether an API URL points at this machine (a simulator: no politeness delays, no retries)."""
    host = urlsplit(api_url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class PullRequestProvider(ABC):
    """What Fluxplane asks of a git host. ``ref`` is the provider's handle of a change request: its number on a
    hosted provider, its branch for plain git. Every write is idempotent: a retried job never opens a second
    request, never merges twice. Errors are ProviderError (the host refused) or MergeConflict (it cannot merge).

    ``hosted`` is False for plain git, where the request lives in Fluxplane and Fluxplane merges it itself;
    ``native_auto_merge`` is True where the host merges by itself once the checks pass (GitLab's "merge when
    pipeline succeeds"); elsewhere Fluxplane's tracking sweep merges when the checks pass.
    """

    kind: ClassVar[str] = ""
    hosted: ClassVar[bool] = True
    native_auto_merge: ClassVar[bool] = False
    base_branch: str

    @abstractmethod
    def open_pull_request(self, branch: str, title: str, body: str, labels: Sequence[str] = (),
                          reviewers: Sequence[str] = ()) -> PullRequestInfo:
        """Open a request from ``branch`` into the base branch, or return the open one (``created`` False)."""

    @abstractmethod
    def get(self, ref: Any) -> PullRequestInfo:
        """State, merged flag, merge commit, head sha and checks of a request."""

    @abstractmethod
    def checks(self, sha: str) -> dict[str, Any]:
        """The checks of a commit: ``{"state": success|pending|failure|none, ...}`` plus provider details."""

    @abstractmethod
    def reviews(self, ref: Any) -> list[Review]:
        """Who approved or asked for changes (GitLab: approvals)."""

    @abstractmethod
    def merge(self, ref: Any, message: str = "", expected_head: str = "") -> PullRequestInfo:
        """Merge now (a merge commit). Merging a merged request returns it unchanged."""

    def merge_when_checks_pass(self, ref: Any, message: str = "") -> PullRequestInfo:
        """Merge if every check passed; ask the host to merge on success while checks run (where it can); leave
        the request open when a check failed or none reported. Returns the request as it then is."""
        info = self.get(ref)
        if info.merged or info.state != "open":
            return info
        if info.checks.get("state") == "success":
            return self.merge(ref, message, expected_head=info.head_sha)
        return info

    @abstractmethod
    def close(self, ref: Any) -> PullRequestInfo:
        """Close without merging."""

    @abstractmethod
    def comment(self, ref: Any, text: str) -> None:
        """Add a comment to the request's conversation."""

    @abstractmethod
    def add_labels(self, ref: Any, labels: Sequence[str]) -> None:
        """Add labels the request does not carry yet."""
