"""In-memory state the GitHub simulator keeps beside each bare repository: pull requests, reviews, comments,
labels, commit statuses and check runs. Git objects and branches live only in the bare repository."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .repo import BareRepo


def now() -> str:
    """GitHub's timestamp format: UTC, seconds, trailing Z."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_ids = itertools.count(1000)


def next_id() -> int:
    """Globally unique ids for comments, reviews, statuses… (GitHub ids are unique per kind, this is stricter)."""
    return next(_ids)


class ApiError(Exception):
    """An HTTP error answered with GitHub's JSON error shape."""

    def __init__(self, status: int, message: str, errors: list | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors


@dataclass
class Comment:
    """An issue comment."""

    id: int
    user: str
    body: str
    created_at: str = field(default_factory=now)
    updated_at: str = field(default_factory=now)


@dataclass
class Review:
    """A pull request review (state APPROVED, CHANGES_REQUESTED, COMMENTED or PENDING)."""

    id: int
    user: str
    body: str
    state: str
    commit_id: str
    submitted_at: str = field(default_factory=now)


@dataclass
class Pull:
    """A pull request. ``head_sha`` follows the head branch while the PR is open, then freezes."""

    number: int
    id: int
    title: str
    body: str
    user: str
    head: str
    base: str
    head_sha: str
    base_sha: str
    draft: bool = False
    state: str = "open"
    merged: bool = False
    merged_at: str | None = None
    merged_by: str | None = None
    merge_commit_sha: str | None = None
    closed_at: str | None = None
    created_at: str = field(default_factory=now)
    updated_at: str = field(default_factory=now)
    comments: list[Comment] = field(default_factory=list)
    reviews: list[Review] = field(default_factory=list)
    requested_reviewers: list[str] = field(default_factory=list)
    requested_teams: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    assignees: list[str] = field(default_factory=list)

    def touch(self) -> None:
        self.updated_at = now()


@dataclass
class Status:
    """A commit status (state error|failure|pending|success) for one context."""

    id: int
    state: str
    context: str
    description: str | None
    target_url: str | None
    creator: str
    created_at: str = field(default_factory=now)
    updated_at: str = field(default_factory=now)


@dataclass
class CheckRun:
    """A check run on a commit (status queued|in_progress|completed, conclusion when completed)."""

    id: int
    name: str
    head_sha: str
    status: str
    conclusion: str | None
    details_url: str | None = None
    started_at: str = field(default_factory=now)
    completed_at: str | None = None


@dataclass
class RepoState:
    """One simulated repository: its owner/name, bare repository and everything GitHub stores beside git."""

    id: int
    owner: str
    name: str
    git: BareRepo
    created_at: str = field(default_factory=now)
    pulls: dict[int, Pull] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)  # name → colour
    statuses: dict[str, list[Status]] = field(default_factory=dict)  # sha → newest first
    check_runs: dict[str, list[CheckRun]] = field(default_factory=dict)
    _numbers: itertools.count = field(default_factory=lambda: itertools.count(1))

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def next_number(self) -> int:
        return next(self._numbers)

    def refresh(self, pull: Pull) -> None:
        """Follow the head and base branches of an open PR (GitHub updates head.sha when the branch moves)."""
        if pull.state != "open":
            return
        head = self.git.branch_sha(pull.head)
        base = self.git.branch_sha(pull.base)
        if head:
            pull.head_sha = head
        if base:
            pull.base_sha = base

    def pull(self, number: int) -> Pull:
        pull = self.pulls.get(number)
        if pull is None:
            raise ApiError(404, "Not Found")
        self.refresh(pull)
        return pull
