"""Repository, refs, contents, git data, commits, compare, statuses and check runs."""

from __future__ import annotations

from urllib.parse import quote

from . import render
from .call import Call, check_branch, check_path, decode_base64, validation
from .repo import SHA_RE, ZERO_SHA, GitError, Person
from .state import ApiError, CheckRun, Status, next_id, now

Result = tuple[int, object]


def _commit_or_404(call: Call, ref: str) -> str:
    sha = call.r.git.resolve(ref)
    if sha is None:
        raise ApiError(422 if SHA_RE.match(ref) else 404, f"No commit found for SHA: {ref}")
    return sha


def _branch_or_404(call: Call, branch: str) -> str:
    sha = call.r.git.branch_sha(branch)
    if sha is None:
        raise ApiError(404, "Branch not found")
    return sha


# -- repository and branches -----------------------------------------------------------------------------------


def get_repo(call: Call) -> Result:
    return 200, render.repository(call.urls, call.r)


def _branch(call: Call, name: str, sha: str) -> dict:
    info = call.r.git.read_commit(sha)
    api = call.urls.repo(call.r)
    return {
        "name": name,
        "commit": render.commit(call.urls, call.r, info),
        "protected": False,
        "_links": {"self": f"{api}/branches/{quote(name)}", "html": f"{call.urls.html(call.r)}/tree/{quote(name)}"},
    }


def get_branch(call: Call) -> Result:
    name = call.params["branch"]
    return 200, _branch(call, name, _branch_or_404(call, name))


def list_branches(call: Call) -> Result:
    return 200, [_branch(call, name, sha) for name, sha in sorted(call.r.git.branches().items())]


# -- refs ------------------------------------------------------------------------------------------------------


def _ref_json(call: Call, refname: str, sha: str, kind: str = "commit") -> dict:
    return render.branch_ref(call.urls, call.r, refname, sha, kind)


def get_ref(call: Call) -> Result:
    ref = call.params["ref"]
    refname = f"refs/{ref}"
    for name, sha, kind in call.r.git.refs(refname):
        if name == refname:
            return 200, _ref_json(call, name, sha, kind)
    raise ApiError(404, "Not Found")


def list_refs(call: Call) -> Result:
    prefix = "refs/" + call.params.get("ref", "")
    return 200, [_ref_json(call, n, s, k) for n, s, k in call.r.git.refs("refs/") if n.startswith(prefix)]


def _heads(call: Call) -> str:
    ref = call.params["ref"]
    if not ref.startswith("heads/"):
        # Tags and other refs are read-only here: Fluxplane only moves branches.
        raise validation("Only branch references (heads/…) can be changed in the simulator.", "ref")
    return check_branch(ref.removeprefix("heads/"))


def create_ref(call: Call) -> Result:
    ref = call.field("ref", required=True)
    sha = call.field("sha", required=True)
    if not ref.startswith("refs/heads/"):
        raise validation("Reference name must start with 'refs/heads/' in the simulator.", "ref")
    branch = check_branch(ref.removeprefix("refs/heads/"))
    git = call.r.git
    if not SHA_RE.match(sha) or git.object_type(sha) != "commit":
        raise validation("Object does not exist", "sha")
    with git.lock:
        if git.branch_sha(branch):
            raise validation("Reference already exists", "ref")
        git.update_ref(branch, sha, ZERO_SHA)
    return 201, _ref_json(call, ref, sha)


def update_ref(call: Call) -> Result:
    branch = _heads(call)
    sha = call.field("sha", required=True)
    force = call.field("force", bool, default=False)
    git = call.r.git
    if not SHA_RE.match(sha) or git.object_type(sha) != "commit":
        raise validation("Object does not exist", "sha")
    with git.lock:
        current = git.branch_sha(branch)
        if current is None:
            raise validation("Reference does not exist", "ref")
        if not force and not git.is_ancestor(current, sha):
            raise validation("Update is not a fast forward", "sha")
        git.update_ref(branch, sha, current)
    return 200, _ref_json(call, f"refs/heads/{branch}", sha)


def delete_ref(call: Call) -> Result:
    branch = _heads(call)
    git = call.r.git
    with git.lock:
        if git.branch_sha(branch) is None:
            raise validation("Reference does not exist", "ref")
        git.delete_ref(branch)
    return 204, None


# -- contents --------------------------------------------------------------------------------------------------


def get_contents(call: Call) -> Result:
    path = check_path(call.params.get("path", ""))
    git = call.r.git
    ref = call.query.get("ref") or git.default_branch()
    sha = _commit_or_404(call, ref)
    entry = git.entry(sha, path)
    if entry is None:
        raise ApiError(404, "Not Found")
    if entry.type == "tree":
        items = []
        for child in git.ls_tree(sha, path):
            child_path = f"{path}/{child.path}" if path else child.path
            kind = {"tree": "dir", "commit": "submodule"}.get(
                child.type, "symlink" if child.mode == "120000" else "file"
            )
            items.append(render.content(call.urls, call.r, child_path, kind, child.sha, child.size, ref))
        return 200, items
    return 200, render.content(call.urls, call.r, path, "file", entry.sha, entry.size, ref, git.read_blob(entry.sha))


def _author_committer(call: Call) -> tuple[Person, Person]:
    committer = call.identity("committer") or call.sim.person(call.login)
    author = call.identity("author") or committer
    return author, committer


def _commit_change(call: Call, path: str, blob: str | None, expected: str | None) -> Result:
    """Shared by PUT and DELETE contents: check the blob sha, write one commit on the branch, move the branch."""
    message = call.field("message", required=True)
    branch = call.field("branch") or call.r.git.default_branch()
    author, committer = _author_committer(call)
    git = call.r.git
    with git.lock:
        parent = git.branch_sha(branch)
        if parent is None:
            raise ApiError(404, f"Branch {branch} not found")
        current = git.entry(parent, path)
        if current is not None and current.type != "blob":
            raise validation(f"{path} is a directory", "path")
        if blob is None and current is None:
            raise ApiError(404, "Not Found")
        if current is not None and expected is None:
            raise validation('Invalid request.\n\n"sha" wasn\'t supplied.', "sha", "missing_field")
        if expected is not None and (current is None or current.sha != expected):
            raise ApiError(409, f"{path} does not match {expected}")
        mode = current.mode if current is not None else "100644"
        tree = git.build_tree(git.read_commit(parent).tree, [(path, mode, blob)])
        sha = git.commit_tree(tree, [parent], message, author, committer)
        git.update_ref(branch, sha, parent)
    info = git.read_commit(sha)
    content = None
    if blob is not None:
        content = render.content(call.urls, call.r, path, "file", blob, len(git.read_blob(blob)), branch)
    status = 201 if current is None else 200
    return status, {"content": content, "commit": render.git_commit(call.urls, call.r, info)}


def put_contents(call: Call) -> Result:
    path = check_path(call.params["path"])
    if not path:
        raise validation("path is required", "path")
    data = decode_base64(call.field("content", required=True))
    return _commit_change(call, path, call.r.git.write_blob(data), call.field("sha"))


def delete_contents(call: Call) -> Result:
    path = check_path(call.params["path"])
    return _commit_change(call, path, None, call.field("sha", required=True))


# -- git data --------------------------------------------------------------------------------------------------


def get_blob(call: Call) -> Result:
    sha = call.params["sha"]
    if call.r.git.object_type(sha) != "blob":
        raise ApiError(404, "Not Found")
    data = call.r.git.read_blob(sha)
    entry = render.content(call.urls, call.r, "", "file", sha, len(data), "", data)
    return 200, {
        "sha": sha,
        "node_id": f"B_{sha}",
        "size": len(data),
        "url": f"{call.urls.repo(call.r)}/git/blobs/{sha}",
        "content": entry["content"],
        "encoding": "base64",
    }


def create_blob(call: Call) -> Result:
    content = call.field("content", required=True)
    encoding = call.field("encoding", default="utf-8")
    if encoding not in ("utf-8", "base64"):
        raise validation("encoding must be utf-8 or base64", "encoding")
    data = decode_base64(content) if encoding == "base64" else content.encode("utf-8")
    sha = call.r.git.write_blob(data)
    return 201, {"sha": sha, "url": f"{call.urls.repo(call.r)}/git/blobs/{sha}"}


def _tree_json(call: Call, sha: str, recursive: bool) -> dict:
    api = call.urls.repo(call.r)
    entries = []
    for e in call.r.git.ls_tree(sha, recursive=recursive):
        item = {"path": e.path, "mode": e.mode, "type": e.type, "sha": e.sha, "url": f"{api}/git/{e.type}s/{e.sha}"}
        if e.size is not None:
            item["size"] = e.size
        entries.append(item)
    return {"sha": sha, "url": f"{api}/git/trees/{sha}", "tree": entries, "truncated": False}


def get_tree(call: Call) -> Result:
    """A tree by tree sha, or the root tree of a commit sha or branch name (as GitHub accepts both)."""
    ref = call.params["sha"]
    git = call.r.git
    if git.object_type(ref) == "tree":
        sha = git.text("rev-parse", ref).strip()
    else:
        commit = git.resolve(ref)
        if commit is None:
            raise ApiError(404, "Not Found")
        sha = git.read_commit(commit).tree
    recursive = call.query.get("recursive", "") not in ("", "0", "false")
    return 200, _tree_json(call, sha, recursive)


def create_tree(call: Call) -> Result:
    items = call.field("tree", list, required=True)
    base_tree = call.field("base_tree")
    git = call.r.git
    if base_tree is not None and git.object_type(base_tree) not in ("tree", "commit"):
        raise validation("base_tree is not a valid tree oid", "base_tree")
    changes: list[tuple[str, str, str | None]] = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("path"), str):
            raise validation("tree entries need a path", "tree")
        path = check_path(item["path"])
        mode = item.get("mode", "100644")
        if mode not in ("100644", "100755", "120000") or item.get("type", "blob") != "blob":
            # Sub-trees and submodules by sha are not needed by Fluxplane's flows; refuse rather than guess.
            raise validation(f"only blob entries are supported by the simulator (got mode {mode})", "tree")
        if "content" in item and item["content"] is not None:
            changes.append((path, mode, git.write_blob(str(item["content"]).encode("utf-8"))))
        elif item.get("sha") is None:
            changes.append((path, mode, None))
        elif git.object_type(str(item["sha"])) == "blob":
            changes.append((path, mode, item["sha"]))
        else:
            raise validation(f"tree.sha {item['sha']} is not a valid blob", "tree")
    tree = git.build_tree(base_tree, changes)
    return 201, _tree_json(call, tree, recursive=True)


def get_git_commit(call: Call) -> Result:
    sha = call.params["sha"]
    if call.r.git.object_type(sha) != "commit":
        raise ApiError(404, "Not Found")
    return 200, render.git_commit(call.urls, call.r, call.r.git.read_commit(call.r.git.text("rev-parse", sha).strip()))


def create_git_commit(call: Call) -> Result:
    message = call.field("message", required=True)
    tree = call.field("tree", required=True)
    parents = call.field("parents", list, default=[])
    git = call.r.git
    if git.object_type(tree) != "tree":
        raise validation("Tree SHA does not exist", "tree")
    for parent in parents:
        if not isinstance(parent, str) or git.object_type(parent) != "commit":
            raise validation("Parent SHA does not exist or is not a commit object", "parents")
    author, committer = _author_committer(call)
    sha = git.commit_tree(tree, parents, message, author, committer)
    return 201, render.git_commit(call.urls, call.r, git.read_commit(sha))


# -- commits and compare ---------------------------------------------------------------------------------------


def get_commit(call: Call) -> Result:
    sha = _commit_or_404(call, call.params["ref"])
    info = call.r.git.read_commit(sha)
    files = call.r.git.diff_files(info.parents[0] if info.parents else None, sha)
    return 200, render.commit(call.urls, call.r, info, files)


def list_commits(call: Call) -> Result:
    git = call.r.git
    start = _commit_or_404(call, call.query.get("sha") or git.default_branch())
    path = check_path(call.query["path"]) if call.query.get("path") else None
    # GitHub pages through history; the simulator caps a listing at 1000 commits, far more than any test needs.
    shas = git.rev_list(start, path=path, limit=1000)
    return 200, [render.commit(call.urls, call.r, git.read_commit(s)) for s in shas]


def compare(call: Call) -> Result:
    spec = call.params["basehead"]
    if "..." not in spec:
        raise ApiError(404, "Not Found")
    base_ref, head_ref = (side.split(":", 1)[-1] for side in spec.split("...", 1))
    git = call.r.git
    base, head = _commit_or_404(call, base_ref), _commit_or_404(call, head_ref)
    merge_base = git.merge_base(base, head)
    if merge_base is None:
        raise ApiError(404, f"No common ancestor between {base_ref} and {head_ref}.")
    ahead = list(reversed(git.rev_list(head, f"^{base}")))
    behind = git.rev_list(base, f"^{head}")
    status = "identical" if base == head else "ahead" if not behind else "behind" if not ahead else "diverged"
    files = git.diff_files(merge_base, head)
    api = call.urls.repo(call.r)
    return 200, {
        "url": f"{api}/compare/{quote(spec)}",
        "html_url": f"{call.urls.html(call.r)}/compare/{quote(spec)}",
        "permalink_url": f"{call.urls.html(call.r)}/compare/{base}...{head}",
        "diff_url": f"{call.urls.html(call.r)}/compare/{quote(spec)}.diff",
        "patch_url": f"{call.urls.html(call.r)}/compare/{quote(spec)}.patch",
        "base_commit": render.commit(call.urls, call.r, git.read_commit(base)),
        "merge_base_commit": render.commit(call.urls, call.r, git.read_commit(merge_base)),
        "status": status,
        "ahead_by": len(ahead),
        "behind_by": len(behind),
        "total_commits": len(ahead),
        "commits": [render.commit(call.urls, call.r, git.read_commit(s)) for s in ahead],
        "files": [render.file_entry(call.urls, call.r, head, f) for f in files],
    }


# -- statuses and check runs -----------------------------------------------------------------------------------

STATUS_STATES = ("error", "failure", "pending", "success")


def add_status(
    repo_state,
    sha: str,
    state: str,
    context: str,
    creator: str,
    description: str | None = None,
    target_url: str | None = None,
) -> Status:
    """Record a commit status (shared by the HTTP endpoint and GitHubSimulator.set_status)."""
    if state not in STATUS_STATES:
        raise validation(f"state must be one of {', '.join(STATUS_STATES)}", "state")
    status = Status(next_id(), state, context, description, target_url, creator)
    repo_state.statuses.setdefault(sha, []).insert(0, status)
    return status


def create_status(call: Call) -> Result:
    sha = call.params["sha"]
    if not SHA_RE.match(sha) or call.r.git.object_type(sha) != "commit":
        raise validation(f"No commit found for SHA: {sha}", "sha")
    status = add_status(
        call.r,
        sha,
        call.field("state", required=True),
        call.field("context", default="default"),
        call.login,
        call.field("description"),
        call.field("target_url"),
    )
    return 201, render.status(call.urls, call.r, status)


def _latest_statuses(call: Call, sha: str) -> list[Status]:
    seen: dict[str, Status] = {}
    for status in call.r.statuses.get(sha, []):
        seen.setdefault(status.context, status)
    return list(seen.values())


def combined_status(call: Call) -> Result:
    sha = _commit_or_404(call, call.params["ref"])
    latest = _latest_statuses(call, sha)
    states = {s.state for s in latest}
    # GitHub: failure if any context failed or errored, pending if any is pending or none exist, else success.
    state = (
        "failure" if states & {"error", "failure"} else "pending" if not latest or "pending" in states else "success"
    )
    api = call.urls.repo(call.r)
    return 200, {
        "state": state,
        "sha": sha,
        "total_count": len(latest),
        "statuses": [render.status(call.urls, call.r, s) for s in latest],
        "repository": render.repository(call.urls, call.r),
        "commit_url": f"{api}/commits/{sha}",
        "url": f"{api}/commits/{sha}/status",
    }


def list_statuses(call: Call) -> Result:
    sha = _commit_or_404(call, call.params["ref"])
    return 200, [render.status(call.urls, call.r, s) for s in call.r.statuses.get(sha, [])]


def add_check_run(
    repo_state,
    sha: str,
    name: str,
    status: str = "completed",
    conclusion: str | None = "success",
    details_url: str | None = None,
) -> CheckRun:
    """Record a check run (shared by POST /check-runs and GitHubSimulator.set_check_run)."""
    if status not in ("queued", "in_progress", "completed"):
        raise validation("status must be queued, in_progress or completed", "status")
    run = CheckRun(next_id(), name, sha, status, conclusion if status == "completed" else None, details_url)
    if status == "completed":
        run.completed_at = now()
    repo_state.check_runs.setdefault(sha, []).append(run)
    return run


def create_check_run(call: Call) -> Result:
    sha = call.field("head_sha", required=True)
    if not SHA_RE.match(sha) or call.r.git.object_type(sha) != "commit":
        raise validation(f"No commit found for SHA: {sha}", "head_sha")
    run = add_check_run(
        call.r,
        sha,
        call.field("name", required=True),
        call.field("status", default="queued"),
        call.field("conclusion"),
        call.field("details_url"),
    )
    return 201, render.check_run(call.urls, call.r, run)


def list_check_runs(call: Call) -> Result:
    sha = _commit_or_404(call, call.params["ref"])
    runs = call.r.check_runs.get(sha, [])
    return 200, {"total_count": len(runs), "check_runs": [render.check_run(call.urls, call.r, r) for r in runs]}


__all__ = ["GitError"]
