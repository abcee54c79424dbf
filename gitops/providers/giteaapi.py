"""A small typed client of the Gitea/Forgejo REST API (``/api/v1``), the part Fluxplane uses: pull requests,
commit statuses, reviews, comments, labels and merge.

Why our own: PyPI's Gitea/Forgejo clients are either generated from one server's OpenAPI file (pyforgejo: Forgejo
only, 4 MB, pulls httpx, pydantic and python-dotenv) or no longer installable on Python 3.11 (py-gitea's current
releases need 3.13). Gitea and Forgejo share this API; the calls below exist in both since Gitea 1.17."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import requests

from ..errors import ProviderError, ProviderUnavailable


@dataclass(frozen=True)
class GiteaPull:
    """A pull request as Gitea returns it (the fields Fluxplane reads)."""

    number: int
    state: str  # open | closed
    merged: bool
    title: str
    head_ref: str
    head_sha: str
    base_ref: str
    html_url: str
    merge_commit_sha: str = ""
    labels: tuple[str, ...] = ()
    mergeable: bool | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GiteaPull:
        head, base = data.get("head") or {}, data.get("base") or {}
        return cls(number=int(data["number"]), state=str(data.get("state") or ""), merged=bool(data.get("merged")),
                   title=str(data.get("title") or ""), head_ref=str(head.get("ref") or ""),
                   head_sha=str(head.get("sha") or ""), base_ref=str(base.get("ref") or ""),
                   html_url=str(data.get("html_url") or ""), merge_commit_sha=str(data.get("merge_commit_sha") or ""),
                   labels=tuple(str(label.get("name")) for label in data.get("labels") or []),
                   mergeable=data.get("mergeable"))


@dataclass(frozen=True)
class GiteaCombinedStatus:
    """The combined commit status of a ref: Gitea's overall state and each context's latest state."""

    state: str
    statuses: dict[str, str] = field(default_factory=dict)


class GiteaApiError(ProviderError):
    """Gitea answered an error status; ``status`` is the HTTP code."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"Gitea answered {status}: {message}")
        self.status = status


class GiteaUnavailable(GiteaApiError, ProviderUnavailable):
    """Gitea answered 5xx: the same request may succeed later."""


class GiteaClient:
    """One repository on a Gitea or Forgejo server. ``api_url`` is the server (``https://git.example.com``) or its
    ``/api/v1`` URL; the token is sent as ``Authorization: token …`` and never logged."""

    def __init__(self, api_url: str, token: str, owner: str, name: str, timeout: float = 30) -> None:
        root = api_url.strip().rstrip("/").removesuffix("/api/v1")
        self.api = f"{root}/api/v1"
        self.repo_path = f"/repos/{quote(owner, safe='')}/{quote(name, safe='')}"
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers.update({"Accept": "application/json", "User-Agent": "fluxplane"})
        if token:
            self.session.headers["Authorization"] = f"token {token}"

    def request(self, method: str, path: str, json: Any = None, params: dict[str, Any] | None = None) -> Any:
        """One call; the decoded JSON body (None when empty). Raises GiteaApiError on an error status (GiteaUnavailable
        on 5xx) and ProviderUnavailable when the server cannot be reached (a later retry may succeed)."""
        try:
            response = self.session.request(method, self.api + path, json=json, params=params, timeout=self.timeout)
        except requests.RequestException as exc:
            raise ProviderUnavailable(f"Gitea did not answer at {self.api} ({type(exc).__name__})") from None
        if response.status_code >= 400:
            try:
                message = response.json().get("message") or response.reason
            except ValueError:
                message = response.reason
            error = GiteaUnavailable if response.status_code >= 500 else GiteaApiError
            raise error(response.status_code, str(message))
        return response.json() if response.content else None

    def paged(self, path: str, params: dict[str, Any] | None = None, limit: int = 50) -> list[Any]:
        """Every item of a list endpoint (``page``/``limit`` until a short page)."""
        items: list[Any] = []
        page = 1
        while True:
            chunk = self.request("GET", path, params={**(params or {}), "page": page, "limit": limit}) or []
            items.extend(chunk)
            if len(chunk) < limit:
                return items
            page += 1

    # -- pull requests -------------------------------------------------------------------------------------------

    def list_pulls(self, state: str = "open") -> list[GiteaPull]:
        return [GiteaPull.from_json(p) for p in self.paged(f"{self.repo_path}/pulls", {"state": state})]

    def get_pull(self, number: int) -> GiteaPull:
        return GiteaPull.from_json(self.request("GET", f"{self.repo_path}/pulls/{number}"))

    def create_pull(self, head: str, base: str, title: str, body: str, label_ids: list[int] | None = None) -> GiteaPull:
        payload: dict[str, Any] = {"head": head, "base": base, "title": title, "body": body}
        if label_ids:
            payload["labels"] = label_ids
        return GiteaPull.from_json(self.request("POST", f"{self.repo_path}/pulls", json=payload))

    def close_pull(self, number: int) -> GiteaPull:
        return GiteaPull.from_json(self.request("PATCH", f"{self.repo_path}/pulls/{number}", json={"state": "closed"}))

    def merge_pull(self, number: int, message: str = "", head_commit_id: str = "", style: str = "merge") -> None:
        """POST …/pulls/{n}/merge: 200 when merged; 405 not mergeable; 409 the head moved."""
        payload: dict[str, Any] = {"Do": style}
        if message:
            title, _, rest = message.strip().partition("\n")
            payload["MergeTitleField"] = title
            payload["MergeMessageField"] = rest.strip()
        if head_commit_id:
            payload["head_commit_id"] = head_commit_id
        self.request("POST", f"{self.repo_path}/pulls/{number}/merge", json=payload)

    def reviews(self, number: int) -> list[tuple[str, str]]:
        """(login, state) of each review, oldest first; state APPROVED | REQUEST_CHANGES | COMMENT | PENDING."""
        return [((r.get("user") or {}).get("login", ""), str(r.get("state") or ""))
                for r in self.paged(f"{self.repo_path}/pulls/{number}/reviews")]

    def create_review(self, number: int, event: str, body: str = "") -> None:
        self.request("POST", f"{self.repo_path}/pulls/{number}/reviews", json={"event": event, "body": body})

    # -- issues side: comments and labels ------------------------------------------------------------------------

    def comment(self, number: int, body: str) -> None:
        self.request("POST", f"{self.repo_path}/issues/{number}/comments", json={"body": body})

    def label_ids(self, names: list[str] | tuple[str, ...], create: bool = True) -> list[int]:
        """Ids of the repository's labels by name, creating the missing ones (Gitea's PR API takes ids)."""
        known = {label["name"]: int(label["id"]) for label in self.paged(f"{self.repo_path}/labels")}
        ids = []
        for name in names:
            if name not in known and create:
                made = self.request("POST", f"{self.repo_path}/labels", json={"name": name, "color": "#1f6feb"})
                known[name] = int(made["id"])
            ids.append(known[name])
        return ids

    def add_labels(self, number: int, label_ids: list[int]) -> None:
        self.request("POST", f"{self.repo_path}/issues/{number}/labels", json={"labels": label_ids})

    # -- commit statuses -----------------------------------------------------------------------------------------

    def combined_status(self, ref: str) -> GiteaCombinedStatus:
        data = self.request("GET", f"{self.repo_path}/commits/{quote(ref, safe='')}/status") or {}
        statuses = {str(s.get("context")): str(s.get("status") or s.get("state") or "")
                    for s in data.get("statuses") or []}
        return GiteaCombinedStatus(state=str(data.get("state") or ""), statuses=statuses)

    def create_status(self, sha: str, state: str, context: str, description: str = "", target_url: str = "") -> None:
        payload = {"state": state, "context": context, "description": description, "target_url": target_url}
        self.request("POST", f"{self.repo_path}/statuses/{sha}", json=payload)
