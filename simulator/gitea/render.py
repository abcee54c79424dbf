"""Gitea/Forgejo API v1 JSON shapes for the simulator (the fields Fluxplane's client reads, and the usual
neighbours)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from simulator.forge.changes import Change, CommitStatus, ForgeRepo, Note, Review

if TYPE_CHECKING:
    from .server import GiteaSimulator

# Gitea's combined state: the worst of the latest statuses.
_ORDER = ["error", "failure", "pending", "warning", "success"]


def user(sim: GiteaSimulator, login: str | None) -> dict | None:
    if login is None:
        return None
    profile = sim.profile(login)
    return {"id": sim.user_id(login), "login": login, "username": login, "full_name": profile["name"],
            "email": profile["email"], "avatar_url": "", "html_url": f"{sim.urls_web}/{login}", "is_admin": False}


def repository(sim: GiteaSimulator, repo: ForgeRepo) -> dict:
    web = f"{sim.urls_web}/{repo.path}"
    return {"id": repo.id, "name": repo.name, "full_name": repo.path, "owner": user(sim, repo.namespace),
            "private": True, "html_url": web, "clone_url": f"{web}.git", "ssh_url": f"git@{sim.host}:{repo.path}.git",
            "default_branch": repo.git.default_branch(), "created_at": repo.created_at, "has_pull_requests": True,
            "allow_merge_commits": True, "allow_rebase": False, "allow_squash_merge": False}


def label(sim: GiteaSimulator, repo: ForgeRepo, name: str) -> dict:
    label_id, colour = repo.labels[name]
    return {"id": label_id, "name": name, "color": colour.lstrip("#"), "description": "", "exclusive": False,
            "url": f"{sim.urls_web}/api/v1/repos/{repo.path}/labels/{label_id}"}


def pull(sim: GiteaSimulator, repo: ForgeRepo, c: Change) -> dict:
    web = f"{sim.urls_web}/{repo.path}/pulls/{c.number}"

    def side(branch: str, sha: str) -> dict:
        return {"label": branch, "ref": branch, "sha": sha, "repo_id": repo.id, "repo": repository(sim, repo)}

    return {
        "id": c.id, "number": c.number, "user": user(sim, c.author), "title": c.title, "body": c.body,
        "labels": [label(sim, repo, name) for name in c.labels], "state": "open" if c.state == "open" else "closed",
        "is_locked": False, "comments": len(c.notes), "html_url": web, "diff_url": f"{web}.diff",
        "patch_url": f"{web}.patch", "url": web, "mergeable": repo.mergeable(c) if c.state == "open" else False,
        "merged": c.merged, "merged_at": c.merged_at, "merge_commit_sha": c.merge_sha, "merged_by": user(sim,
        c.merged_by), "base": side(c.target, c.base_sha), "head": side(c.source, c.head_sha),
        "merge_base": repo.git.merge_base(c.base_sha, c.head_sha), "created_at": c.created_at,
        "updated_at": c.updated_at, "closed_at": c.closed_at, "draft": False,
        "requested_reviewers": [user(sim, r) for r in c.reviewers],
    }


def review(sim: GiteaSimulator, repo: ForgeRepo, c: Change, r: Review) -> dict:
    return {"id": r.id, "user": user(sim, r.author), "body": r.body, "state": r.state, "commit_id": r.commit_id,
            "submitted_at": r.submitted_at, "official": r.state == "APPROVED", "stale": r.commit_id != c.head_sha,
            "dismissed": False, "html_url": f"{sim.urls_web}/{repo.path}/pulls/{c.number}#issuecomment-{r.id}"}


def comment(sim: GiteaSimulator, repo: ForgeRepo, c: Change, n: Note) -> dict:
    return {"id": n.id, "body": n.body, "user": user(sim, n.author), "created_at": n.created_at,
            "updated_at": n.created_at, "html_url": f"{sim.urls_web}/{repo.path}/pulls/{c.number}#issuecomment-{n.id}",
            "issue_url": f"{sim.urls_web}/{repo.path}/issues/{c.number}"}


def status(sim: GiteaSimulator, s: CommitStatus) -> dict:
    return {"id": s.id, "status": s.state, "context": s.name, "description": s.description,
            "target_url": s.target_url, "created_at": s.created_at, "updated_at": s.updated_at,
            "creator": user(sim, s.author)}


def combined(sim: GiteaSimulator, repo: ForgeRepo, sha: str) -> dict:
    latest = repo.latest_statuses(sha)
    states = [s.state for s in latest]
    state = min(states, key=lambda s: _ORDER.index(s) if s in _ORDER else 2) if states else ""
    return {"state": state, "sha": sha, "total_count": len(latest), "statuses": [status(sim, s) for s in latest],
            "repository": repository(sim, repo)}
