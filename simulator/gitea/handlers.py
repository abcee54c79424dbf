"""Gitea/Forgejo API v1 handlers: repositories, pull requests (create, list, edit, merge — with "merge when checks
succeed"), reviews, comments, labels and commit statuses."""

from __future__ import annotations

from simulator.forge.changes import Change, Note, Refused, Review, next_id
from simulator.forge.server import Call

from . import render

Result = tuple[int, object]
STATUS_STATES = ("pending", "success", "error", "failure", "warning")
REVIEW_EVENTS = {"APPROVED": "APPROVED", "APPROVE": "APPROVED", "REQUEST_CHANGES": "REQUEST_CHANGES",
                 "COMMENT": "COMMENT"}


def get_user(call: Call) -> Result:
    return 200, render.user(call.sim, call.login)


def version(call: Call) -> Result:
    return 200, {"version": "1.22.0+simulator"}


def get_repo(call: Call) -> Result:
    return 200, render.repository(call.sim, call.r)


def _pull(call: Call) -> Change:
    return call.r.change(int(call.params["number"]))


def _json(call: Call, change: Change) -> dict:
    return render.pull(call.sim, call.r, change)


def list_pulls(call: Call) -> Result:
    state = call.arg("state", default="open")
    if state not in ("open", "closed", "all"):
        raise Refused(422, "state must be open, closed or all")
    found = []
    for change in sorted(call.r.changes.values(), key=lambda c: c.number, reverse=True):
        call.r.refresh(change)
        simple = "open" if change.state == "open" else "closed"
        if state in ("all", simple):
            found.append(_json(call, change))
    return 200, found


def _label_names(call: Call, ids: list) -> list[str]:
    try:
        return [call.r.label_name(int(i)) for i in ids]
    except ValueError:
        raise Refused(422, "labels must be label ids") from None


def create_pull(call: Call) -> Result:
    head, base = call.arg("head", required=True), call.arg("base", required=True)
    head = head.rpartition(":")[2]  # "owner:branch" names a branch of this repository too
    for other in call.r.changes.values():
        call.r.refresh(other)
        if other.state == "open" and other.source == head and other.target == base:
            raise Refused(409, f"pull request already exists for these targets [id: {other.id}, issue_id: "
                               f"{other.number}, head_branch: {head}, base_branch: {base}]")
    labels = _label_names(call, call.arg("labels", list, default=[]))
    change = call.r.open_change(call.login, head, base, call.arg("title", required=True), call.arg("body", default=""))
    change.labels = list(dict.fromkeys(labels))
    call.sim.start_ci(call.r, change)
    return 201, _json(call, change)


def get_pull(call: Call) -> Result:
    return 200, _json(call, _pull(call))


def edit_pull(call: Call) -> Result:
    change = _pull(call)
    if (title := call.arg("title")) is not None:
        change.title = title
    if (body := call.arg("body")) is not None:
        change.body = body
    state = call.arg("state")
    if state == "closed":
        call.r.close(change)
    elif state == "open":
        call.r.reopen(change)
    elif state is not None:
        raise Refused(422, "state must be open or closed")
    change.touch()
    return 201, _json(call, change)


def merge_pull(call: Call) -> Result:
    """POST …/merge: 200 and an empty body when merged (or scheduled with merge_when_checks_succeed while checks
    run); 405 not mergeable or a style the repository does not allow; 409 the head moved."""
    repo, change = call.r, _pull(call)
    style = call.arg("Do", required=True)
    if style not in ("merge", "rebase", "rebase-merge", "squash", "fast-forward-only", "manually-merged"):
        raise Refused(422, "Do must be a merge style")
    if style != "merge":
        raise Refused(405, "The repository does not allow this merge style")
    if change.state != "open":
        raise Refused(405, "The PR is not open")
    expected = call.arg("head_commit_id")
    if expected and expected != change.head_sha:
        raise Refused(409, "head out of date")
    if not repo.mergeable(change):
        raise Refused(405, "Please try again later: the pull request has conflicts")
    title = call.arg("MergeTitleField") or (
        f"Merge pull request '{change.title}' ({repo.path}#{change.number}) from {change.source} into {change.target}")
    body = call.arg("MergeMessageField") or ""
    message = f"{title}\n\n{body}\n" if body else f"{title}\n"
    if call.arg("merge_when_checks_succeed", bool, default=False) and repo.checks_state(change.head_sha) == "pending":
        change.auto_merge_by, change.auto_merge_message = call.login, message
        return 200, None
    repo.merge(change, call.sim.person(call.login), call.login, message)
    return 200, None


def is_merged(call: Call) -> Result:
    if _pull(call).merged:
        return 204, None
    raise Refused(404, "404 Not Found")


def list_reviews(call: Call) -> Result:
    change = _pull(call)
    return 200, [render.review(call.sim, call.r, change, r) for r in change.reviews]


def create_review(call: Call) -> Result:
    change = _pull(call)
    event = REVIEW_EVENTS.get(str(call.arg("event", default="COMMENT")).upper())
    if event is None:
        raise Refused(422, "event must be APPROVED, REQUEST_CHANGES or COMMENT")
    if event != "COMMENT" and call.login == change.author:
        raise Refused(422, "approve your own pull is not allowed" if event == "APPROVED" else
                      "reject your own pull is not allowed")
    review = Review(next_id(), call.login, event, call.arg("body", default=""), change.head_sha)
    change.reviews.append(review)
    change.touch()
    return 200, render.review(call.sim, call.r, change, review)


def list_comments(call: Call) -> Result:
    change = _pull(call)
    return 200, [render.comment(call.sim, call.r, change, n) for n in change.notes]


def create_comment(call: Call) -> Result:
    change = _pull(call)
    body = call.arg("body", required=True)
    note = Note(next_id(), call.login, body)
    change.notes.append(note)
    change.touch()
    return 201, render.comment(call.sim, call.r, change, note)


def list_labels(call: Call) -> Result:
    return 200, [render.label(call.sim, call.r, name) for name in call.r.labels]


def create_label(call: Call) -> Result:
    name = call.arg("name", required=True)
    if not name.strip():
        raise Refused(422, "name is required")
    if name in call.r.labels:
        raise Refused(409, "label already exists")
    call.r.label(name, call.arg("color", default="#6699cc"))
    return 201, render.label(call.sim, call.r, name)


def add_issue_labels(call: Call) -> Result:
    change = _pull(call)
    names = _label_names(call, call.arg("labels", list, default=[]))
    change.labels = list(dict.fromkeys([*change.labels, *names]))
    change.touch()
    return 200, [render.label(call.sim, call.r, name) for name in change.labels]


def list_issue_labels(call: Call) -> Result:
    return 200, [render.label(call.sim, call.r, name) for name in _pull(call).labels]


def _sha(call: Call) -> str:
    sha = call.r.git.resolve(call.params["ref"])
    if sha is None:
        raise Refused(404, "404 Not Found")
    return sha


def combined_status(call: Call) -> Result:
    return 200, render.combined(call.sim, call.r, _sha(call))


def list_statuses(call: Call) -> Result:
    statuses = call.r.statuses.get(_sha(call), [])
    return 200, [render.status(call.sim, s) for s in reversed(statuses)]


def create_status(call: Call) -> Result:
    state = call.arg("state", required=True)
    if state not in STATUS_STATES:
        raise Refused(422, "state must be pending, success, error, failure or warning")
    status = call.r.add_status(call.params["sha"], call.arg("context") or "default", state, call.login,
                               description=call.arg("description", default=""),
                               target_url=call.arg("target_url", default=""))
    return 201, render.status(call.sim, status)
