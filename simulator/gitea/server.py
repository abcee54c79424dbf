"""The Gitea/Forgejo API simulator: REST API v1 (pull requests, reviews, comments, labels, commit statuses and
merge) over real bare repositories, on the shared forge server."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

from simulator.forge.changes import Change, ForgeRepo, Refused
from simulator.forge.server import ForgeSimulator, routes

from . import handlers as h

_R = r"/repos/(?P<owner>[^/]+)/(?P<name>[^/]+)"
_N = r"(?P<number>\d+)"


class GiteaSimulator(ForgeSimulator):
    """A local Gitea (or Forgejo: the same API) over bare repositories ``owner/name``. Tokens come in
    ``Authorization: token …`` (or ``Bearer``). ``base_url`` is the server URL Fluxplane's client takes."""

    NAME = "gitea-sim"
    API_PREFIX = "/api/v1"
    ROUTES = routes("", [
        ("GET", r"/user", h.get_user),
        ("GET", r"/version", h.version),
        ("GET", _R, h.get_repo),
        ("GET", _R + r"/pulls", h.list_pulls),
        ("POST", _R + r"/pulls", h.create_pull),
        ("GET", _R + rf"/pulls/{_N}", h.get_pull),
        ("PATCH", _R + rf"/pulls/{_N}", h.edit_pull),
        ("POST", _R + rf"/pulls/{_N}/merge", h.merge_pull),
        ("GET", _R + rf"/pulls/{_N}/merge", h.is_merged),
        ("GET", _R + rf"/pulls/{_N}/reviews", h.list_reviews),
        ("POST", _R + rf"/pulls/{_N}/reviews", h.create_review),
        ("GET", _R + rf"/issues/{_N}/comments", h.list_comments),
        ("POST", _R + rf"/issues/{_N}/comments", h.create_comment),
        ("GET", _R + rf"/issues/{_N}/labels", h.list_issue_labels),
        ("POST", _R + rf"/issues/{_N}/labels", h.add_issue_labels),
        ("GET", _R + r"/labels", h.list_labels),
        ("POST", _R + r"/labels", h.create_label),
        ("GET", _R + r"/commits/(?P<ref>[^/]+)/status", h.combined_status),
        ("GET", _R + r"/commits/(?P<ref>[^/]+)/statuses", h.list_statuses),
        ("POST", _R + r"/statuses/(?P<sha>[0-9a-f]{40})", h.create_status),
    ])

    def token_of(self, headers: Mapping[str, str]) -> str | None:
        scheme, _, token = (headers.get("Authorization") or "").partition(" ")
        return token if scheme.lower() in ("token", "bearer") else None

    def find_repo(self, params: dict[str, str]) -> ForgeRepo | None:
        owner, name = params.pop("owner", None), params.pop("name", None)
        if owner is None or name is None:
            return None
        return self.repo(f"{owner}/{name}")

    def paginate(self, items: list, query: dict[str, str], url: str) -> tuple[list, dict[str, str]]:
        """Gitea's ``page``/``limit`` (default 30, at most 50), X-Total-Count and a Link header."""
        try:
            page = max(1, int(query.get("page", 1)))
            limit = min(50, max(1, int(query.get("limit", 30))))
        except ValueError:
            raise Refused(422, "page and limit must be integers") from None
        pages = max(1, -(-len(items) // limit))
        links = []
        if page < pages:
            links.append(f'<{url}?{urlencode({**query, "page": page + 1, "limit": limit})}>; rel="next"')
        if page > 1:
            links.append(f'<{url}?{urlencode({**query, "page": page - 1, "limit": limit})}>; rel="prev"')
        headers = {"X-Total-Count": str(len(items))}
        if links:
            headers["Link"] = ", ".join(links)
        return items[(page - 1) * limit: page * limit], headers

    def merge_message(self, repo: ForgeRepo, change: Change) -> str:
        return (f"Merge pull request '{change.title}' ({repo.path}#{change.number}) from {change.source} into "
                f"{change.target}\n")

    # -- helpers for tests and the demo --------------------------------------------------------------------------

    def pulls(self, path: str, state: str = "all") -> list[Change]:
        """The pull requests of a repository (live objects; read them, do not mutate them)."""
        return self.changes(path, state)

    def set_status(self, path: str, sha: str, state: str, context: str = "ci") -> None:
        """Record a commit status as CI would (pending|success|error|failure|warning)."""
        repo = self.repo(path)
        with repo.git.lock:
            repo.add_status(sha, context, state, "gitea-actions")
            self.run_auto_merges(repo)
