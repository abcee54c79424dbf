"""JSON shapes of GitHub's REST API v3, filled in enough for PyGithub's objects (urls, users, timestamps)."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import quote

from .repo import CommitInfo, Person
from .state import CheckRun, Comment, Pull, RepoState, Review, Status


class Urls:
    """Where the simulator is reachable: ``api`` is what PyGithub gets as base_url, ``web`` the html root."""

    def __init__(self, web: str) -> None:
        self.web = web.rstrip("/")
        self.api = f"{self.web}/api/v3"

    def repo(self, repo: RepoState) -> str:
        return f"{self.api}/repos/{repo.full_name}"

    def html(self, repo: RepoState) -> str:
        return f"{self.web}/{repo.full_name}"


def user_id(login: str) -> int:
    """A stable numeric id per login so PyGithub's equality and caches behave."""
    return int(hashlib.sha256(login.encode()).hexdigest()[:8], 16)


def user(urls: Urls, login: str) -> dict:
    return {
        "login": login,
        "id": user_id(login),
        "node_id": f"U_{user_id(login)}",
        "type": "User",
        "site_admin": False,
        "url": f"{urls.api}/users/{login}",
        "html_url": f"{urls.web}/{login}",
        "avatar_url": f"{urls.web}/{login}.png",
    }


def repository(urls: Urls, repo: RepoState) -> dict:
    api = urls.repo(repo)
    return {
        "id": repo.id,
        "node_id": f"R_{repo.id}",
        "name": repo.name,
        "full_name": repo.full_name,
        "owner": user(urls, repo.owner),
        "private": False,
        "visibility": "public",
        "fork": False,
        "archived": False,
        "disabled": False,
        "description": None,
        "url": api,
        "html_url": urls.html(repo),
        # Not an https URL: the simulator does not serve git's smart HTTP; local consumers (the Flux simulation)
        # read the bare repository directly.
        "clone_url": repo.git.path.as_uri(),
        "git_url": repo.git.path.as_uri(),
        "pulls_url": f"{api}/pulls{{/number}}",
        "issues_url": f"{api}/issues{{/number}}",
        "default_branch": repo.git.default_branch(),
        "permissions": {"admin": True, "maintain": True, "push": True, "triage": True, "pull": True},
        "allow_merge_commit": True,
        "allow_squash_merge": True,
        "allow_rebase_merge": False,
        "delete_branch_on_merge": False,
        "created_at": repo.created_at,
        "updated_at": repo.created_at,
        "pushed_at": repo.created_at,
    }


def person(p: Person) -> dict:
    return {"name": p.name, "email": p.email, "date": p.date}


def git_commit(urls: Urls, repo: RepoState, c: CommitInfo) -> dict:
    """The git-data shape (`/git/commits/{sha}`), also used inside the contents API's answers."""
    api = urls.repo(repo)
    return {
        "sha": c.sha,
        "node_id": f"C_{c.sha}",
        "url": f"{api}/git/commits/{c.sha}",
        "html_url": f"{urls.html(repo)}/commit/{c.sha}",
        "author": person(c.author),
        "committer": person(c.committer),
        "message": c.message.rstrip("\n"),
        "tree": {"sha": c.tree, "url": f"{api}/git/trees/{c.tree}"},
        "parents": [
            {"sha": p, "url": f"{api}/git/commits/{p}", "html_url": f"{urls.html(repo)}/commit/{p}"} for p in c.parents
        ],
        "verification": {"verified": False, "reason": "unsigned", "signature": None, "payload": None},
    }


def commit(urls: Urls, repo: RepoState, c: CommitInfo, files: list[dict] | None = None) -> dict:
    """The repos shape (`/commits/{sha}`): a wrapper around the git commit, with files and stats when given."""
    api = urls.repo(repo)
    data = {
        "sha": c.sha,
        "node_id": f"C_{c.sha}",
        "url": f"{api}/commits/{c.sha}",
        "html_url": f"{urls.html(repo)}/commit/{c.sha}",
        "comments_url": f"{api}/commits/{c.sha}/comments",
        "commit": {**git_commit(urls, repo, c), "url": f"{api}/git/commits/{c.sha}", "comment_count": 0},
        "author": None,
        "committer": None,
        "parents": [
            {"sha": p, "url": f"{api}/commits/{p}", "html_url": f"{urls.html(repo)}/commit/{p}"} for p in c.parents
        ],
    }
    if files is not None:
        data["files"] = [file_entry(urls, repo, c.sha, f) for f in files]
        adds = sum(f["additions"] for f in files)
        dels = sum(f["deletions"] for f in files)
        data["stats"] = {"additions": adds, "deletions": dels, "total": adds + dels}
    return data


def file_entry(urls: Urls, repo: RepoState, ref: str, f: dict) -> dict:
    api = urls.repo(repo)
    path = quote(f["filename"])
    return {
        **f,
        "blob_url": f"{urls.html(repo)}/blob/{ref}/{path}",
        "raw_url": f"{urls.html(repo)}/raw/{ref}/{path}",
        "contents_url": f"{api}/contents/{path}?ref={ref}",
    }


def content(
    urls: Urls, repo: RepoState, path: str, kind: str, sha: str, size: int | None, ref: str, data: bytes | None = None
) -> dict:
    """A contents-API entry; ``data`` (the blob) is included base64-encoded, wrapped at 60 columns as GitHub does."""
    api = urls.repo(repo)
    qpath = quote(path)
    git_url = f"{api}/git/{'trees' if kind == 'dir' else 'blobs'}/{sha}"
    html = f"{urls.html(repo)}/{'tree' if kind == 'dir' else 'blob'}/{ref}/{qpath}"
    entry = {
        "type": kind,
        "name": path.rsplit("/", 1)[-1],
        "path": path,
        "sha": sha,
        "size": size or 0,
        "url": f"{api}/contents/{qpath}?ref={quote(ref)}",
        "git_url": git_url,
        "html_url": html,
        "download_url": f"{urls.html(repo)}/raw/{ref}/{qpath}" if kind == "file" else None,
        "_links": {"self": f"{api}/contents/{qpath}?ref={quote(ref)}", "git": git_url, "html": html},
    }
    if data is not None:
        encoded = base64.b64encode(data).decode()
        entry["encoding"] = "base64"
        entry["content"] = "".join(encoded[i : i + 60] + "\n" for i in range(0, len(encoded), 60))
    return entry


def branch_ref(urls: Urls, repo: RepoState, refname: str, sha: str, kind: str = "commit") -> dict:
    api = urls.repo(repo)
    return {
        "ref": refname,
        "node_id": f"REF_{refname}",
        "url": f"{api}/git/{quote(refname)}",
        "object": {"type": kind, "sha": sha, "url": f"{api}/git/{kind}s/{sha}"},
    }


def pull(urls: Urls, repo: RepoState, p: Pull, mergeable: bool | None) -> dict:
    api = urls.repo(repo)
    html = f"{urls.html(repo)}/pull/{p.number}"
    owner = user(urls, repo.owner)
    repo_json = repository(urls, repo)

    def side(branch: str, sha: str) -> dict:
        return {"label": f"{repo.owner}:{branch}", "ref": branch, "sha": sha, "user": owner, "repo": repo_json}

    state = "clean" if mergeable else ("dirty" if mergeable is False else "unknown")
    return {
        "id": p.id,
        "node_id": f"PR_{p.id}",
        "number": p.number,
        "url": f"{api}/pulls/{p.number}",
        "html_url": html,
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "issue_url": f"{api}/issues/{p.number}",
        "commits_url": f"{api}/pulls/{p.number}/commits",
        "review_comments_url": f"{api}/pulls/{p.number}/comments",
        "comments_url": f"{api}/issues/{p.number}/comments",
        "statuses_url": f"{api}/statuses/{p.head_sha}",
        "state": p.state,
        "locked": False,
        "title": p.title,
        "body": p.body,
        "user": user(urls, p.user),
        "labels": [label(urls, repo, name) for name in p.labels],
        "assignees": [user(urls, a) for a in p.assignees],
        "requested_reviewers": [user(urls, r) for r in p.requested_reviewers],
        "requested_teams": [team(urls, t) for t in p.requested_teams],
        "draft": p.draft,
        "head": side(p.head, p.head_sha),
        "base": side(p.base, p.base_sha),
        "merged": p.merged,
        "mergeable": mergeable if p.state == "open" else None,
        "mergeable_state": state if p.state == "open" else "unknown",
        "merged_at": p.merged_at,
        "merged_by": user(urls, p.merged_by) if p.merged_by else None,
        "merge_commit_sha": p.merge_commit_sha,
        "closed_at": p.closed_at,
        "created_at": p.created_at,
        "updated_at": p.updated_at,
        "comments": len(p.comments),
        "review_comments": 0,
        "author_association": "OWNER" if p.user == repo.owner else "CONTRIBUTOR",
        "_links": {"self": {"href": f"{api}/pulls/{p.number}"}, "html": {"href": html}},
    }


def issue(urls: Urls, repo: RepoState, p: Pull) -> dict:
    """A pull request seen through the issues API (GitHub's PRs are issues too)."""
    api = urls.repo(repo)
    html = f"{urls.html(repo)}/pull/{p.number}"
    return {
        "id": p.id,
        "node_id": f"I_{p.id}",
        "number": p.number,
        "url": f"{api}/issues/{p.number}",
        "html_url": html,
        "repository_url": api,
        "comments_url": f"{api}/issues/{p.number}/comments",
        "labels_url": f"{api}/issues/{p.number}/labels{{/name}}",
        "state": p.state,
        "state_reason": None,
        "title": p.title,
        "body": p.body,
        "user": user(urls, p.user),
        "labels": [label(urls, repo, name) for name in p.labels],
        "assignees": [user(urls, a) for a in p.assignees],
        "assignee": user(urls, p.assignees[0]) if p.assignees else None,
        "locked": False,
        "comments": len(p.comments),
        "created_at": p.created_at,
        "updated_at": p.updated_at,
        "closed_at": p.closed_at,
        "pull_request": {"url": f"{api}/pulls/{p.number}", "html_url": html, "merged_at": p.merged_at},
    }


def label(urls: Urls, repo: RepoState, name: str) -> dict:
    lid = user_id(f"{repo.full_name}:{name}")
    return {
        "id": lid,
        "node_id": f"LA_{lid}",
        "url": f"{urls.repo(repo)}/labels/{quote(name)}",
        "name": name,
        "color": repo.labels.get(name, "ededed"),
        "default": False,
        "description": None,
    }


def team(urls: Urls, slug: str) -> dict:
    return {"id": user_id(f"team:{slug}"), "slug": slug, "name": slug, "url": f"{urls.api}/teams/{slug}"}


def comment(urls: Urls, repo: RepoState, number: int, c: Comment) -> dict:
    api = urls.repo(repo)
    return {
        "id": c.id,
        "node_id": f"IC_{c.id}",
        "url": f"{api}/issues/comments/{c.id}",
        "html_url": f"{urls.html(repo)}/pull/{number}#issuecomment-{c.id}",
        "issue_url": f"{api}/issues/{number}",
        "body": c.body,
        "user": user(urls, c.user),
        "created_at": c.created_at,
        "updated_at": c.updated_at,
        "author_association": "OWNER" if c.user == repo.owner else "CONTRIBUTOR",
    }


def review(urls: Urls, repo: RepoState, number: int, r: Review) -> dict:
    api = urls.repo(repo)
    return {
        "id": r.id,
        "node_id": f"PRR_{r.id}",
        "user": user(urls, r.user),
        "body": r.body,
        "state": r.state,
        "commit_id": r.commit_id,
        "submitted_at": r.submitted_at if r.state != "PENDING" else None,
        "html_url": f"{urls.html(repo)}/pull/{number}#pullrequestreview-{r.id}",
        "pull_request_url": f"{api}/pulls/{number}",
        "author_association": "OWNER" if r.user == repo.owner else "CONTRIBUTOR",
        "_links": {
            "html": {"href": f"{urls.html(repo)}/pull/{number}"},
            "pull_request": {"href": f"{api}/pulls/{number}"},
        },
    }


def status(urls: Urls, repo: RepoState, s: Status) -> dict:
    return {
        "id": s.id,
        "node_id": f"SC_{s.id}",
        "url": f"{urls.repo(repo)}/statuses/{s.id}",
        "state": s.state,
        "context": s.context,
        "description": s.description,
        "target_url": s.target_url,
        "creator": user(urls, s.creator),
        "created_at": s.created_at,
        "updated_at": s.updated_at,
    }


def check_run(urls: Urls, repo: RepoState, c: CheckRun) -> dict:
    return {
        "id": c.id,
        "node_id": f"CR_{c.id}",
        "name": c.name,
        "head_sha": c.head_sha,
        "status": c.status,
        "conclusion": c.conclusion,
        "details_url": c.details_url,
        "external_id": str(c.id),
        "url": f"{urls.repo(repo)}/check-runs/{c.id}",
        "html_url": f"{urls.html(repo)}/runs/{c.id}",
        "started_at": c.started_at,
        "completed_at": c.completed_at,
        "output": {"title": None, "summary": None, "text": None, "annotations_count": 0},
        "pull_requests": [],
    }
