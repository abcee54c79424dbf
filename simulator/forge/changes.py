"""Change requests over a bare repository, as the GitLab and Gitea simulators keep them: merge/pull requests with
labels, approvals and notes, commit statuses grouped into pipelines, and "merge when the checks pass". Git objects
and branches live only in the bare repository; every merge is a real merge commit made with `git merge-tree`."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .bare import BareRepo, Person

_ids = itertools.count(5000)


def now() -> str:
    """UTC, milliseconds, trailing Z (what GitLab and Gitea both print)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def next_id() -> int:
    """Ids unique across every kind of object of one simulator process."""
    return next(_ids)


class Refused(Exception):
    """A request the host refuses: ``status`` is the HTTP status the simulator answers with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Note:
    """A comment on a change request."""

    id: int
    author: str
    body: str
    created_at: str = field(default_factory=now)


@dataclass
class Review:
    """A reviewer's verdict (APPROVED, REQUEST_CHANGES, COMMENT); GitLab approvals are APPROVED reviews."""

    id: int
    author: str
    state: str
    body: str
    commit_id: str
    submitted_at: str = field(default_factory=now)


@dataclass
class Change:
    """A merge request (GitLab) or pull request (Gitea). ``head_sha`` follows the source branch while it is open,
    then freezes. ``state`` is open, closed or merged."""

    number: int
    id: int
    title: str
    body: str
    author: str
    source: str
    target: str
    head_sha: str
    base_sha: str
    state: str = "open"
    merge_sha: str | None = None
    merged_by: str | None = None
    merged_at: str | None = None
    closed_at: str | None = None
    created_at: str = field(default_factory=now)
    updated_at: str = field(default_factory=now)
    labels: list[str] = field(default_factory=list)
    reviewers: list[str] = field(default_factory=list)
    reviews: list[Review] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    auto_merge_by: str | None = None  # who asked to merge when the checks pass
    auto_merge_message: str | None = None

    @property
    def merged(self) -> bool:
        return self.state == "merged"

    @property
    def approved_by(self) -> list[str]:
        """Users whose latest verdict is an approval, in the order they approved."""
        latest: dict[str, str] = {}
        for review in self.reviews:
            if review.state in ("APPROVED", "REQUEST_CHANGES", "UNAPPROVED"):
                latest[review.author] = review.state
        return [user for user, state in latest.items() if state == "APPROVED"]

    def touch(self) -> None:
        self.updated_at = now()


@dataclass
class CommitStatus:
    """One job's state on a commit (GitLab's commit status, Gitea's status per context)."""

    id: int
    sha: str
    name: str
    state: str  # pending | running | success | failed | canceled (GitLab) / pending | success | error | failure
    author: str
    ref: str = ""
    description: str = ""
    target_url: str = ""
    pipeline_id: int | None = None
    created_at: str = field(default_factory=now)
    updated_at: str = field(default_factory=now)


@dataclass
class Pipeline:
    """A pipeline on a commit: its status is folded from its jobs' latest statuses."""

    id: int
    iid: int
    sha: str
    ref: str
    source: str
    status: str = "created"
    created_at: str = field(default_factory=now)
    updated_at: str = field(default_factory=now)


_FAILED = ("failed", "failure", "error")


def fold(states: list[str]) -> str:
    """A pipeline's status from its jobs (GitLab's rules, simplified): failed beats running beats pending; all
    success is success; all canceled is canceled."""
    if not states:
        return "created"
    if any(s in _FAILED for s in states):
        return "failed"
    if any(s == "running" for s in states):
        return "running"
    if any(s in ("pending", "created") for s in states):
        return "pending"
    if all(s == "canceled" for s in states):
        return "canceled"
    return "success" if all(s in ("success", "skipped", "canceled", "warning") for s in states) else "running"


@dataclass
class ForgeRepo:
    """One simulated repository (``path`` is owner/name or group/subgroup/name) and what the host keeps beside
    git. Callers hold ``git.lock`` around every read-modify-write."""

    id: int
    path: str
    git: BareRepo
    created_at: str = field(default_factory=now)
    changes: dict[int, Change] = field(default_factory=dict)
    statuses: dict[str, list[CommitStatus]] = field(default_factory=dict)  # sha → oldest first
    pipelines: list[Pipeline] = field(default_factory=list)
    labels: dict[str, tuple[int, str]] = field(default_factory=dict)  # name → (id, colour)
    _numbers: itertools.count = field(default_factory=lambda: itertools.count(1))
    _pipeline_iids: itertools.count = field(default_factory=lambda: itertools.count(1))

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def namespace(self) -> str:
        return self.path.rsplit("/", 1)[0]

    # -- change requests -----------------------------------------------------------------------------------------

    def refresh(self, change: Change) -> None:
        """Follow the source and target branches of an open request."""
        if change.state != "open":
            return
        head, base = self.git.branch_sha(change.source), self.git.branch_sha(change.target)
        if head:
            change.head_sha = head
        if base:
            change.base_sha = base

    def change(self, number: int) -> Change:
        found = self.changes.get(number)
        if found is None:
            raise Refused(404, "Not Found")
        self.refresh(found)
        return found

    def open_change(self, author: str, source: str, target: str, title: str, body: str) -> Change:
        """A new request from ``source`` into ``target``; 409 when one is already open for the pair."""
        head, base = self.git.branch_sha(source), self.git.branch_sha(target)
        if head is None:
            raise Refused(404, f"source branch {source!r} does not exist")
        if base is None:
            raise Refused(404, f"target branch {target!r} does not exist")
        if source == target:
            raise Refused(422, "source and target branch are the same")
        for other in self.changes.values():
            if other.state == "open" and other.source == source and other.target == target:
                raise Refused(409, f"a request already exists for {source} into {target} (#{other.number})")
        if not title.strip():
            raise Refused(422, "title is required")
        change = Change(next(self._numbers), next_id(), title, body, author, source, target, head, base)
        self.changes[change.number] = change
        return change

    def mergeable(self, change: Change) -> bool:
        return change.state == "open" and self.git.merge_tree(change.base_sha, change.head_sha) is not None

    def merge(self, change: Change, merger: Person, login: str, message: str, expected_sha: str | None = None,
              committer: Person | None = None) -> str:
        """A merge commit of the head into the target branch (first parent: the target). Refused (nothing
        written): 405 not open or conflicting, 409 the head moved past ``expected_sha``."""
        self.refresh(change)
        if change.state != "open":
            raise Refused(405, "Method Not Allowed: the request is not open")
        if expected_sha and expected_sha != change.head_sha:
            raise Refused(409, "SHA does not match HEAD of source branch")
        if self.git.branch_sha(change.source) is None:
            raise Refused(405, "Method Not Allowed: the source branch is gone")
        tree = self.git.merge_tree(change.base_sha, change.head_sha)
        if tree is None:
            raise Refused(405, "Method Not Allowed: the request has conflicts")
        sha = self.git.commit_tree(tree, [change.base_sha, change.head_sha], message, merger, committer or merger)
        self.git.update_ref(change.target, sha, change.base_sha)
        stamp = now()
        change.state, change.merge_sha, change.merged_by, change.merged_at = "merged", sha, login, stamp
        change.auto_merge_by = change.auto_merge_message = None
        change.touch()
        return sha

    def close(self, change: Change) -> None:
        if change.state == "open":
            change.state, change.closed_at = "closed", now()
            change.auto_merge_by = None
            change.touch()

    def reopen(self, change: Change) -> None:
        if change.state == "closed":
            if self.git.branch_sha(change.source) is None:
                raise Refused(422, "cannot reopen: the source branch is gone")
            change.state, change.closed_at = "open", None
            self.refresh(change)
            change.touch()

    # -- labels --------------------------------------------------------------------------------------------------

    def label(self, name: str, colour: str = "#6699cc") -> int:
        """The id of label ``name``, created on first use."""
        if name not in self.labels:
            self.labels[name] = (next_id(), colour)
        return self.labels[name][0]

    def label_name(self, label_id: int) -> str:
        for name, (known, _colour) in self.labels.items():
            if known == label_id:
                return name
        raise Refused(422, f"label {label_id} does not exist")

    # -- statuses and pipelines ----------------------------------------------------------------------------------

    def latest_statuses(self, sha: str) -> list[CommitStatus]:
        """The newest status of each job name on ``sha``."""
        latest: dict[str, CommitStatus] = {}
        for status in self.statuses.get(sha, []):
            latest[status.name] = status
        return list(latest.values())

    def pipelines_of(self, sha: str) -> list[Pipeline]:
        return [p for p in self.pipelines if p.sha == sha]

    def start_pipeline(self, sha: str, ref: str, source: str) -> Pipeline:
        pipeline = Pipeline(next_id(), next(self._pipeline_iids), sha, ref, source)
        self.pipelines.append(pipeline)
        return pipeline

    def add_status(self, sha: str, name: str, state: str, author: str, ref: str = "", description: str = "",
                   target_url: str = "", pipeline_id: int | None = None) -> CommitStatus:
        """Record a job's state on a commit. It joins ``pipeline_id``, else the newest pipeline of the commit that
        has not finished or already runs this job, else a new external pipeline (as GitLab does); the pipeline's
        status is refolded."""
        if self.git.object_type(sha) != "commit":
            raise Refused(404, "404 Commit Not Found")
        pipelines = self.pipelines_of(sha)
        if pipeline_id is not None:
            pipeline = next((p for p in pipelines if p.id == pipeline_id), None)
            if pipeline is None:
                raise Refused(404, "404 Pipeline Not Found")
        else:
            pipeline = next((p for p in reversed(pipelines) if p.status not in ("success", "failed", "canceled")
                             or any(s.name == name for s in self.statuses.get(sha, []) if s.pipeline_id == p.id)),
                            None)
            if pipeline is None:
                pipeline = self.start_pipeline(sha, ref, "external")
        status = CommitStatus(next_id(), sha, name, state, author, ref or pipeline.ref, description, target_url,
                              pipeline.id)
        self.statuses.setdefault(sha, []).append(status)
        jobs: dict[str, str] = {}
        for s in self.statuses[sha]:
            if s.pipeline_id == pipeline.id:
                jobs[s.name] = s.state
        pipeline.status, pipeline.updated_at = fold(list(jobs.values())), now()
        return status

    def checks_state(self, sha: str) -> str:
        """success | pending | failed | none: the newest pipeline of ``sha`` when there is one."""
        pipelines = self.pipelines_of(sha)
        if pipelines:
            status = pipelines[-1].status
            return {"success": "success", "failed": "failed", "canceled": "failed"}.get(status, "pending")
        return "none"

    def auto_merge_ready(self) -> list[Change]:
        """Open requests waiting to be merged whose head's checks passed."""
        ready = []
        for change in self.changes.values():
            if change.state == "open" and change.auto_merge_by:
                self.refresh(change)
                if self.checks_state(change.head_sha) == "success":
                    ready.append(change)
        return ready
