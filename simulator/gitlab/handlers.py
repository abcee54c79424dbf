"""GitLab API v4 handlers: projects, merge requests (create, list, update, merge with "merge when pipeline
succeeds", approvals, notes), pipelines and commit statuses."""

from __future__ import annotations

from simulator.forge.changes import Change, Note, Refused, Review, next_id
from simulator.forge.server import Call

from . import render

Result = tuple[int, object]
JOB_STATES = ("pending", "running", "success", "failed", "canceled", "skipped")


def get_user(call: Call) -> Result:
    return 200, {**render.user(call.sim, call.login), "email": call.sim.profile(call.login)["email"]}


def list_users(call: Call) -> Result:
    wanted = call.arg("username")
    return 200, [render.user(call.sim, login) for login in call.sim.known_logins() if wanted in (None, login)]


def get_project(call: Call) -> Result:
    return 200, render.project(call.sim, call.r)


def _mr(call: Call) -> Change:
    return call.r.change(int(call.params["iid"]))


def _json(call: Call, change: Change) -> dict:
    return render.merge_request(call.sim, call.r, change)


def list_mrs(call: Call) -> Result:
    state = call.arg("state", default="all")
    source, target = call.arg("source_branch"), call.arg("target_branch")
    found = []
    for change in sorted(call.r.changes.values(), key=lambda c: c.number, reverse=True):
        call.r.refresh(change)
        gitlab_state = {"open": "opened"}.get(change.state, change.state)
        if state not in ("all", gitlab_state) or source not in (None, change.source) or target not in (
                None, change.target):
            continue
        found.append(_json(call, change))
    return 200, found


def _logins_of(call: Call, ids: list) -> list[str]:
    by_id = {call.sim.user_id(login): login for login in call.sim.known_logins()}
    try:
        return [by_id[int(i)] for i in ids]
    except (KeyError, ValueError):
        raise Refused(400, "reviewer_ids contains an unknown user") from None


def create_mr(call: Call) -> Result:
    source, target = call.arg("source_branch", required=True), call.arg("target_branch", required=True)
    title = call.arg("title", required=True)
    for other in call.r.changes.values():
        if other.state == "open" and other.source == source and other.target == target:
            call.r.refresh(other)
            raise Refused(409, f"Another open merge request already exists for this source branch: !{other.number}")
    change = call.r.open_change(call.login, source, target, title, call.arg("description", default=""))
    change.labels = _unique(call.arg("labels", list, default=[]))
    change.reviewers = _logins_of(call, call.arg("reviewer_ids", list, default=[]))
    call.sim.start_ci(call.r, change)
    return 201, _json(call, change)


def _unique(items: list) -> list[str]:
    return list(dict.fromkeys(str(i) for i in items))


def get_mr(call: Call) -> Result:
    return 200, _json(call, _mr(call))


def update_mr(call: Call) -> Result:
    change = _mr(call)
    if (title := call.arg("title")) is not None:
        change.title = title
    if (description := call.arg("description")) is not None:
        change.body = description
    if (labels := call.arg("labels", list)) is not None:
        change.labels = _unique(labels)
    if add := call.arg("add_labels", list):
        change.labels = _unique([*change.labels, *add])
    if remove := call.arg("remove_labels", list):
        change.labels = [label for label in change.labels if label not in remove]
    if (reviewer_ids := call.arg("reviewer_ids", list)) is not None:
        change.reviewers = _logins_of(call, reviewer_ids)
    event = call.arg("state_event")
    if event == "close":
        call.r.close(change)
    elif event == "reopen":
        call.r.reopen(change)
    elif event is not None:
        raise Refused(400, "state_event does not have a valid value")
    change.touch()
    return 200, _json(call, change)


def merge_mr(call: Call) -> Result:
    """PUT …/merge: merge now, or — with merge_when_pipeline_succeeds (or auto_merge) while the head's pipeline
    runs — merge when it succeeds. 405 not open / pipeline must succeed, 406 conflict, 409 head moved."""
    repo, change = call.r, _mr(call)
    if change.state != "open":
        raise Refused(405, "405 Method Not Allowed")
    expected = call.arg("sha")
    if expected and expected != change.head_sha:
        raise Refused(409, f"SHA does not match HEAD of source branch: {change.head_sha}")
    if call.arg("squash", bool, default=False):
        raise Refused(400, "Squashing is not allowed in this project")  # the simulated project merges only
    if not repo.mergeable(change):
        raise Refused(406, "Branch cannot be merged")
    message = call.arg("merge_commit_message") or call.sim.merge_message(repo, change)
    checks = repo.checks_state(change.head_sha)
    wait = call.arg("merge_when_pipeline_succeeds", bool, default=False) or call.arg("auto_merge", bool,
                                                                                       default=False)
    if wait and checks == "pending":
        change.auto_merge_by, change.auto_merge_message = call.login, message
        change.touch()
        return 200, _json(call, change)
    if call.sim.pipelines_must_succeed and checks != "success":
        raise Refused(405, "405 Method Not Allowed")
    repo.merge(change, call.sim.person(call.login), call.login, message)
    return 200, _json(call, change)


def cancel_auto_merge(call: Call) -> Result:
    change = _mr(call)
    if not change.auto_merge_by:
        raise Refused(406, "Can't cancel the automatic merge")
    change.auto_merge_by = change.auto_merge_message = None
    return 201, _json(call, change)


def approve(call: Call) -> Result:
    change = _mr(call)
    if change.state != "open":
        raise Refused(401, "401 Unauthorized")
    expected = call.arg("sha")
    if expected and expected != change.head_sha:
        raise Refused(409, "SHA does not match HEAD of source branch")
    if call.login in change.approved_by:
        raise Refused(401, "401 Unauthorized")  # GitLab's answer to a second approval by the same user
    change.reviews.append(Review(next_id(), call.login, "APPROVED", "", change.head_sha))
    return 201, render.approvals(call.sim, call.r, change, call.login)


def unapprove(call: Call) -> Result:
    change = _mr(call)
    if call.login not in change.approved_by:
        raise Refused(404, "404 Not found")
    change.reviews.append(Review(next_id(), call.login, "UNAPPROVED", "", change.head_sha))
    return 201, render.approvals(call.sim, call.r, change, call.login)


def approvals(call: Call) -> Result:
    return 200, render.approvals(call.sim, call.r, _mr(call), call.login)


def list_notes(call: Call) -> Result:
    change = _mr(call)
    return 200, [render.note(call.sim, change, n) for n in change.notes]


def create_note(call: Call) -> Result:
    change = _mr(call)
    body = call.arg("body", required=True)
    if not body.strip():
        raise Refused(400, "body is empty")
    note = Note(next_id(), call.login, body)
    change.notes.append(note)
    change.touch()
    return 201, render.note(call.sim, change, note)


def mr_pipelines(call: Call) -> Result:
    change = _mr(call)
    found = [p for p in call.r.pipelines if p.ref == change.source or p.sha == change.head_sha]
    return 200, [render.pipeline(call.sim, call.r, p) for p in sorted(found, key=lambda p: p.id, reverse=True)]


def list_pipelines(call: Call) -> Result:
    sha, ref, status = call.arg("sha"), call.arg("ref"), call.arg("status")
    found = [p for p in call.r.pipelines
             if sha in (None, p.sha) and ref in (None, p.ref) and status in (None, p.status)]
    reverse = call.arg("sort", default="desc") == "desc"
    found.sort(key=lambda p: p.updated_at if call.arg("order_by") == "updated_at" else p.id, reverse=reverse)
    return 200, [render.pipeline(call.sim, call.r, p) for p in found]


def get_pipeline(call: Call) -> Result:
    pid = int(call.params["pipeline"])
    found = next((p for p in call.r.pipelines if p.id == pid), None)
    if found is None:
        raise Refused(404, "404 Not found")
    return 200, render.pipeline(call.sim, call.r, found)


def list_statuses(call: Call) -> Result:
    sha = call.r.git.resolve(call.params["sha"])
    if sha is None:
        raise Refused(404, "404 Commit Not Found")
    every = call.arg("all", bool, default=False)
    statuses = call.r.statuses.get(sha, []) if every else call.r.latest_statuses(sha)
    name = call.arg("name")
    return 200, [render.status(call.sim, s) for s in statuses if name in (None, s.name)]


def create_status(call: Call) -> Result:
    state = call.arg("state", required=True)
    if state not in JOB_STATES:
        raise Refused(400, "state does not have a valid value")
    sha = call.params["sha"]
    status = call.r.add_status(sha, call.arg("name") or call.arg("context") or "default", state, call.login,
                               call.arg("ref", default=""), call.arg("description", default=""),
                               call.arg("target_url", default=""), call.arg("pipeline_id", int))
    return 201, render.status(call.sim, status)
