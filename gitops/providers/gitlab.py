"""GitLab (gitlab.com, self-managed, or the simulator) through python-gitlab: merge requests, pipelines as checks,
approvals as reviews, and "merge when pipeline succeeds". Only this module imports ``gitlab``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import MergeConflict, ProviderError, ProviderUnavailable
from .base import PullRequestInfo, PullRequestProvider, Review, is_loopback, summarize_checks

GITLAB_COM = "https://gitlab.com"
_STATES = {"opened": "open", "locked": "open", "closed": "closed", "merged": "merged"}


def instance_url(api_url: str) -> str:
    """The instance URL python-gitlab wants (``https://gitlab.example.com``, or with a sub-path), from what an admin
    may paste: the instance, its ``/api/v4`` URL, or nothing (gitlab.com)."""
    url = (api_url or GITLAB_COM).strip().rstrip("/")
    return url.removesuffix("/api/v4")


class GitLabError(ProviderError):
    """GitLab refused a request; ``message`` is what it said."""

    def __init__(self, status: int | None, message: str) -> None:
        super().__init__(f"GitLab answered {status}: {message}")
        self.status, self.message = status, message


class GitLabUnavailable(GitLabError, ProviderUnavailable):
    """GitLab answered 5xx: the same request may succeed later."""


def _provider_error(exc: Any) -> GitLabError:
    """The ProviderError for a python-gitlab error: 5xx (or no status at all) is an outage, the rest a refusal."""
    status = exc.response_code
    message = exc.error_message.decode(errors="replace") if isinstance(exc.error_message, bytes) else \
        str(exc.error_message)
    return (GitLabUnavailable if status is None or status >= 500 else GitLabError)(status, message)


class GitLabProvider(PullRequestProvider):
    """Merge requests on a GitLab project, addressed by path (``group/subgroup/name``) or numeric id."""

    kind = "gitlab"
    native_auto_merge = True

    def __init__(self, project: str | int, token: str, base_branch: str = "main", api_url: str = "",
                 timeout: float = 30) -> None:
        import gitlab  # local import: only this adapter needs python-gitlab

        self.project_ref = int(project) if str(project).isdigit() else str(project)
        self.base_branch = base_branch
        url = instance_url(api_url)
        self._gl = gitlab.Gitlab(url, private_token=token, timeout=timeout,
                                 retry_transient_errors=not is_loopback(url))
        self._project = None

    @classmethod
    def from_connection(cls, connection: Any) -> GitLabProvider:
        """Build from a GitConnection-like object (remote_repository, api_url, base_branch, resolve_token())."""
        return cls(connection.remote_repository, connection.resolve_token(), connection.base_branch,
                   connection.api_url or "")

    def _call(self, fn, *args, **kwargs):  # noqa: ANN001, ANN202
        from gitlab.exceptions import GitlabError
        from requests import RequestException

        try:
            return fn(*args, **kwargs)
        except GitlabError as exc:
            raise _provider_error(exc) from None
        except RequestException as exc:
            # python-gitlab lets connection errors and timeouts through: the same request may succeed later.
            raise ProviderUnavailable(f"GitLab did not answer ({type(exc).__name__})") from None

    @property
    def project(self):  # noqa: ANN201 — a python-gitlab Project, kept out of the public types
        """The project (lazy: no request until something is read from it)."""
        if self._project is None:
            self._project = self._gl.projects.get(self.project_ref, lazy=True)
        return self._project

    def _mr(self, iid: int):  # noqa: ANN202
        return self._call(self.project.mergerequests.get, iid)

    def _info(self, mr: Any, created: bool = False) -> PullRequestInfo:
        state = _STATES.get(mr.state, mr.state)
        merged = state == "merged"
        return PullRequestInfo(
            branch=mr.source_branch, base=mr.target_branch, state=state, merged=merged, number=mr.iid,
            url=mr.web_url, head_sha=mr.sha or "", merge_sha=(mr.merge_commit_sha or mr.squash_commit_sha or "")
            if merged else "", created=created, auto_merge=bool(getattr(mr, "merge_when_pipeline_succeeds", False)))

    def find_open(self, branch: str) -> PullRequestInfo | None:
        """The open merge request from ``branch`` into the base branch, if there is one."""
        mrs = self._call(self.project.mergerequests.list, state="opened", source_branch=branch,
                         target_branch=self.base_branch, get_all=True)
        return next((self._info(mr) for mr in mrs if mr.source_branch == branch), None)

    def open_pull_request(self, branch: str, title: str, body: str, labels: Sequence[str] = (),
                          reviewers: Sequence[str] = ()) -> PullRequestInfo:
        """Open a merge request, or return the open one for ``branch`` (retries never duplicate). Labels are
        (re)applied either way; reviewers are GitLab usernames."""
        existing = self.find_open(branch)
        if existing is None:
            data: dict[str, Any] = {"source_branch": branch, "target_branch": self.base_branch, "title": title,
                                    "description": body}
            if labels:
                data["labels"] = ",".join(labels)
            if reviewers:
                data["reviewer_ids"] = self._user_ids(reviewers)
            mr = self._call(self.project.mergerequests.create, data)
            return self._info(mr, created=True)
        if labels:
            self.add_labels(existing.number, labels)
        return self._info(self._mr(existing.number))

    def _user_ids(self, usernames: Sequence[str]) -> list[int]:
        ids = []
        for name in usernames:
            users = self._call(self._gl.users.list, username=name, get_all=True)
            if not users:
                raise ProviderError(f"GitLab has no user {name!r} to ask for a review")
            ids.append(users[0].id)
        return ids

    def get(self, iid: int) -> PullRequestInfo:
        """State, merge commit, head sha and pipeline of a merge request."""
        info = self._info(self._mr(iid))
        info.checks = self.checks(info.head_sha) if info.head_sha else {"state": "none"}
        return info

    def checks(self, sha: str) -> dict[str, Any]:
        """The newest pipeline of ``sha`` (GitLab's verdict; external CI statuses make one too) and the status of
        each job: {"state", "pipeline": {"id", "status", "url"}, "statuses": {name: status}}."""
        pipelines = self._call(self.project.pipelines.list, sha=sha, order_by="id", sort="desc", get_all=True)
        commit = self.project.commits.get(sha, lazy=True)
        statuses = {s.name: s.status for s in self._call(commit.statuses.list, get_all=True)}
        if pipelines:
            newest = pipelines[0]
            return {"state": summarize_checks([newest.status]), "statuses": statuses,
                    "pipeline": {"id": newest.id, "status": newest.status, "url": getattr(newest, "web_url", "")}}
        return {"state": summarize_checks(statuses.values()), "statuses": statuses, "pipeline": None}

    def reviews(self, iid: int) -> list[Review]:
        """Approvals: every user in ``approved_by`` is an approved review."""
        approvals = self._call(self._mr(iid).approvals.get)
        return [Review(entry["user"]["username"], "approved") for entry in approvals.approved_by or []]

    def merge(self, iid: int, message: str = "", expected_head: str = "") -> PullRequestInfo:
        """Accept the merge request now. Raises MergeConflict when GitLab refuses (conflict, closed, head moved)."""
        mr = self._mr(iid)
        if mr.state == "merged":
            return self._info(mr)
        self._accept(mr, message, expected_head)
        return self._info(self._mr(iid))

    def _accept(self, mr: Any, message: str, expected_head: str, when_pipeline_succeeds: bool = False) -> None:
        extra = {"sha": expected_head} if expected_head else {}
        try:
            self._call(mr.merge, merge_commit_message=message or None,
                       merge_when_pipeline_succeeds=when_pipeline_succeeds or None, **extra)
        except ProviderUnavailable:
            raise  # GitLab did not decide: the merge is tried again later
        except ProviderError as exc:
            raise MergeConflict(f"GitLab refused to merge !{mr.iid}: {exc.message}") from None

    def merge_when_checks_pass(self, iid: int, message: str = "") -> PullRequestInfo:
        """Merge now if the pipeline passed; while it runs, set GitLab's "merge when pipeline succeeds" so GitLab
        merges on success; leave it open when the pipeline failed or none exists."""
        info = self.get(iid)
        if info.merged or info.state != "open" or info.auto_merge:
            return info
        state = info.checks.get("state")
        if state == "success":
            return self.merge(iid, message, expected_head=info.head_sha)
        if state == "pending":
            self._accept(self._mr(iid), message, info.head_sha, when_pipeline_succeeds=True)
            return self.get(iid)
        return info

    def close(self, iid: int) -> PullRequestInfo:
        """Close the merge request without merging."""
        mr = self._mr(iid)
        if mr.state == "opened":
            mr.state_event = "close"
            self._call(mr.save)
        return self._info(self._mr(iid))

    def comment(self, iid: int, text: str) -> None:
        """A note on the merge request."""
        self._call(self._mr(iid).notes.create, {"body": text})

    def add_labels(self, iid: int, labels: Sequence[str]) -> None:
        mr = self._mr(iid)
        missing = [label for label in labels if label not in (mr.labels or [])]
        if missing:
            mr.add_labels = ",".join(missing)
            self._call(mr.save)
