"""GitLab REST API v4 JSON shapes for the simulator (the fields python-gitlab and Fluxplane read, and the usual
neighbours so other clients are not surprised)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from simulator.forge.changes import Change, CommitStatus, ForgeRepo, Note, Pipeline

if TYPE_CHECKING:
    from .server import GitLabSimulator


def user(sim: GitLabSimulator, login: str | None) -> dict | None:
    if login is None:
        return None
    return {"id": sim.user_id(login), "username": login, "name": sim.profile(login)["name"], "state": "active",
            "locked": False, "avatar_url": None, "web_url": f"{sim.urls_web}/{login}"}


def project(sim: GitLabSimulator, repo: ForgeRepo) -> dict:
    web = f"{sim.urls_web}/{repo.path}"
    return {
        "id": repo.id, "name": repo.name, "path": repo.name, "path_with_namespace": repo.path,
        "name_with_namespace": repo.path.replace("/", " / "), "description": "", "visibility": "private",
        "namespace": {"full_path": repo.namespace, "path": repo.namespace.rsplit("/", 1)[-1], "kind": "group"},
        "default_branch": repo.git.default_branch(), "web_url": web, "http_url_to_repo": f"{web}.git",
        "ssh_url_to_repo": f"git@{sim.host}:{repo.path}.git", "created_at": repo.created_at, "archived": False,
        "merge_method": "merge", "merge_requests_enabled": True,
        "only_allow_merge_if_pipeline_succeeds": sim.pipelines_must_succeed,
    }


def pipeline(sim: GitLabSimulator, repo: ForgeRepo, p: Pipeline) -> dict:
    return {"id": p.id, "iid": p.iid, "project_id": repo.id, "sha": p.sha, "ref": p.ref, "status": p.status,
            "source": p.source, "created_at": p.created_at, "updated_at": p.updated_at,
            "web_url": f"{sim.urls_web}/{repo.path}/-/pipelines/{p.id}"}


def status(sim: GitLabSimulator, s: CommitStatus) -> dict:
    finished = s.updated_at if s.state in ("success", "failed", "canceled", "skipped") else None
    return {"id": s.id, "sha": s.sha, "ref": s.ref, "status": s.state, "name": s.name, "target_url": s.target_url
            or None, "description": s.description or None, "created_at": s.created_at, "started_at": s.created_at,
            "finished_at": finished, "allow_failure": False, "coverage": None, "author": user(sim, s.author),
            "pipeline_id": s.pipeline_id}


def detailed_merge_status(sim: GitLabSimulator, repo: ForgeRepo, c: Change) -> str:
    if c.state != "open":
        return "not_open"
    if not repo.mergeable(c):
        return "conflict"
    checks = repo.checks_state(c.head_sha)
    if checks == "pending":
        return "ci_still_running"
    if checks == "failed" and sim.pipelines_must_succeed:
        return "ci_must_pass"
    return "mergeable"


def merge_request(sim: GitLabSimulator, repo: ForgeRepo, c: Change) -> dict:
    pipelines = repo.pipelines_of(c.head_sha)
    state = {"open": "opened"}.get(c.state, c.state)
    detailed = detailed_merge_status(sim, repo, c)
    return {
        "id": c.id, "iid": c.number, "project_id": repo.id, "title": c.title, "description": c.body, "state": state,
        "created_at": c.created_at, "updated_at": c.updated_at, "merged_at": c.merged_at, "closed_at": c.closed_at,
        "merged_by": user(sim, c.merged_by), "merge_user": user(sim, c.merged_by or c.auto_merge_by),
        "closed_by": None, "target_branch": c.target, "source_branch": c.source, "source_project_id": repo.id,
        "target_project_id": repo.id, "author": user(sim, c.author), "assignees": [],
        "reviewers": [user(sim, r) for r in c.reviewers], "labels": list(c.labels), "draft": False,
        "work_in_progress": False, "merge_when_pipeline_succeeds": bool(c.auto_merge_by),
        "merge_status": "can_be_merged" if detailed in ("mergeable", "ci_still_running") else "cannot_be_merged",
        "detailed_merge_status": detailed, "has_conflicts": detailed == "conflict", "sha": c.head_sha,
        "merge_commit_sha": c.merge_sha, "squash_commit_sha": None, "squash": False,
        "user_notes_count": len(c.notes), "should_remove_source_branch": None, "force_remove_source_branch": False,
        "references": {"short": f"!{c.number}", "full": f"{repo.path}!{c.number}"},
        "web_url": f"{sim.urls_web}/{repo.path}/-/merge_requests/{c.number}",
        "head_pipeline": pipeline(sim, repo, pipelines[-1]) if pipelines else None,
        "diff_refs": {"base_sha": c.base_sha, "head_sha": c.head_sha, "start_sha": c.base_sha},
    }


def approvals(sim: GitLabSimulator, repo: ForgeRepo, c: Change, login: str) -> dict:
    approved = c.approved_by
    return {"id": c.id, "iid": c.number, "project_id": repo.id, "title": c.title, "state": c.state,
            "approved": bool(approved), "approvals_required": 0, "approvals_left": 0,
            "approved_by": [{"user": user(sim, who)} for who in approved], "user_has_approved": login in approved,
            "user_can_approve": c.state == "open" and login not in approved}


def note(sim: GitLabSimulator, c: Change, n: Note) -> dict:
    return {"id": n.id, "body": n.body, "author": user(sim, n.author), "created_at": n.created_at,
            "updated_at": n.created_at, "system": False, "noteable_id": c.id, "noteable_type": "MergeRequest",
            "noteable_iid": c.number, "resolvable": False}
