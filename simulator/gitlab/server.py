"""The GitLab API simulator: REST API v4 (the part python-gitlab calls for merge requests, pipelines, approvals
and statuses) over real bare repositories, on the shared forge server."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

from simulator.forge.changes import Change, ForgeRepo, Refused
from simulator.forge.server import ForgeSimulator, routes

from . import handlers as h

_P = r"/projects/(?P<project>[^/]+)"
_MR = _P + r"/merge_requests/(?P<iid>\d+)"


class GitLabSimulator(ForgeSimulator):
    """A local GitLab (API v4) over bare repositories. Projects are addressed by numeric id or URL-encoded path
    (``group%2Fsubgroup%2Fname``) as on GitLab. Tokens come in ``PRIVATE-TOKEN`` or ``Authorization: Bearer``.

    ``base_url`` is the instance URL python-gitlab takes (``gitlab.Gitlab(base_url, private_token=…)``).
    ``pipelines_must_succeed`` is the project setting "Pipelines must succeed" (merges refused until then)."""

    NAME = "gitlab-sim"
    API_PREFIX = "/api/v4"
    ROUTES = routes("", [
        ("GET", r"/user", h.get_user),
        ("GET", r"/users", h.list_users),
        ("GET", _P, h.get_project),
        ("GET", _P + r"/merge_requests", h.list_mrs),
        ("POST", _P + r"/merge_requests", h.create_mr),
        ("GET", _MR, h.get_mr),
        ("PUT", _MR, h.update_mr),
        ("PUT", _MR + r"/merge", h.merge_mr),
        ("POST", _MR + r"/cancel_merge_when_pipeline_succeeds", h.cancel_auto_merge),
        ("POST", _MR + r"/approve", h.approve),
        ("POST", _MR + r"/unapprove", h.unapprove),
        ("GET", _MR + r"/approvals", h.approvals),
        ("GET", _MR + r"/notes", h.list_notes),
        ("POST", _MR + r"/notes", h.create_note),
        ("GET", _MR + r"/pipelines", h.mr_pipelines),
        ("GET", _P + r"/pipelines", h.list_pipelines),
        ("GET", _P + r"/pipelines/(?P<pipeline>\d+)", h.get_pipeline),
        ("GET", _P + r"/repository/commits/(?P<sha>[^/]+)/statuses", h.list_statuses),
        ("POST", _P + r"/statuses/(?P<sha>[0-9a-f]{40})", h.create_status),
    ])

    def __init__(self, *args, pipelines_must_succeed: bool = False, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.pipelines_must_succeed = pipelines_must_succeed

    def token_of(self, headers: Mapping[str, str]) -> str | None:
        private = headers.get("PRIVATE-TOKEN")
        if private:
            return private
        scheme, _, token = (headers.get("Authorization") or "").partition(" ")
        return token if scheme.lower() == "bearer" else None

    def find_repo(self, params: dict[str, str]) -> ForgeRepo | None:
        project = params.pop("project", None)
        if project is None:
            return None
        return self.repo_by_id(int(project)) if project.isdigit() else self.repo(project)

    def paginate(self, items: list, query: dict[str, str], url: str) -> tuple[list, dict[str, str]]:
        """GitLab's offset pagination: ``page``/``per_page`` (20, at most 100), X-* headers and a Link header."""
        try:
            page = max(1, int(query.get("page", 1)))
            per_page = min(100, max(1, int(query.get("per_page", 20))))
        except ValueError:
            raise Refused(400, "page and per_page must be integers") from None
        pages = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page: page * per_page]

        def link(n: int, rel: str) -> str:
            return f'<{url}?{urlencode({**query, "page": n, "per_page": per_page})}>; rel="{rel}"'

        links = [link(1, "first"), link(pages, "last")]
        headers = {"X-Page": str(page), "X-Per-Page": str(per_page), "X-Total": str(len(items)),
                   "X-Total-Pages": str(pages), "X-Next-Page": str(page + 1) if page < pages else "",
                   "X-Prev-Page": str(page - 1) if page > 1 else ""}
        if page < pages:
            links.insert(0, link(page + 1, "next"))
        if page > 1:
            links.insert(0, link(page - 1, "prev"))
        headers["Link"] = ", ".join(links)
        return chunk, headers

    def merge_message(self, repo: ForgeRepo, change: Change) -> str:
        """GitLab's default merge commit message."""
        return (f"Merge branch '{change.source}' into '{change.target}'\n\n{change.title}\n\n"
                f"See merge request {repo.path}!{change.number}")

    # -- helpers for tests and the demo --------------------------------------------------------------------------

    def merge_requests(self, path: str, state: str = "all") -> list[Change]:
        """The merge requests of a project (live objects; read them, do not mutate them)."""
        return self.changes(path, state)

    def set_status(self, path: str, sha: str, state: str, name: str = "ci") -> None:
        """Record a job's state on a commit as a runner would (pending|running|success|failed|canceled)."""
        repo = self.repo(path)
        with repo.git.lock:
            repo.add_status(sha, name, state, "gitlab-runner")
            self.run_auto_merges(repo)
