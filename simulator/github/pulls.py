"""Pull requests and the issue side of them: create/list/get/update/merge, files, commits, reviews, requested
reviewers, comments and labels."""

from __future__ import annotations

from . import render
from .call import Call, validation
from .repo import Person
from .state import ApiError, Comment, Pull, RepoState, Review, next_id, now

Result = tuple[int, object]

GITHUB_COMMITTER = Person("GitHub", "noreply@github.com")


def mergeable(repo: RepoState, pull: Pull) -> bool | None:
    """Whether the head merges cleanly into the base (a real `git merge-tree`); None once closed."""
    if pull.state != "open":
        return None
    return repo.git.merge_tree(pull.base_sha, pull.head_sha) is not None


def _json(call: Call, pull: Pull, with_mergeable: bool = True) -> dict:
    # GitHub computes mergeability lazily and leaves it null in listings; the simulator does the same.
    return render.pull(call.urls, call.r, pull, mergeable(call.r, pull) if with_mergeable else None)


def _head_branch(call: Call, head: str) -> str:
    owner, _, branch = head.rpartition(":")
    if owner and owner != call.r.owner:
        raise validation(
            "Cross-repository pull requests are not supported by the simulator.", "head", "invalid", "PullRequest"
        )
    return branch


def _duplicate(repo: RepoState, head: str, base: str, exclude: int | None = None) -> None:
    for other in repo.pulls.values():
        if other.state == "open" and other.head == head and other.base == base and other.number != exclude:
            raise validation(
                f"A pull request already exists for {repo.owner}:{head}.", code="custom", resource="PullRequest"
            )


def create_pull(call: Call) -> Result:
    base = call.field("base", required=True)
    head = _head_branch(call, call.field("head", required=True))
    title = call.field("title")
    if title is None and call.field("issue") is None:
        raise validation('"title" wasn\'t supplied.', "title", "missing_field", "PullRequest")
    repo, git = call.r, call.r.git
    with git.lock:
        base_sha, head_sha = git.branch_sha(base), git.branch_sha(head)
        if base_sha is None:
            raise validation("base is invalid", "base", "invalid", "PullRequest")
        if head_sha is None:
            raise validation("head is invalid", "head", "invalid", "PullRequest")
        _duplicate(repo, head, base)
        if git.is_ancestor(head_sha, base_sha):
            raise validation(f"No commits between {base} and {head}", code="custom", resource="PullRequest")
        number = repo.next_number()
        pull = Pull(
            number,
            next_id(),
            title or f"#{call.field('issue')}",
            call.field("body", default="") or "",
            call.login,
            head,
            base,
            head_sha,
            base_sha,
            draft=call.field("draft", bool, default=False),
        )
        repo.pulls[number] = pull
    return 201, _json(call, pull)


def list_pulls(call: Call) -> Result:
    state = call.query.get("state", "open")
    if state not in ("open", "closed", "all"):
        raise validation("state must be open, closed or all", "state")
    head = call.query.get("head")
    base = call.query.get("base")
    result = []
    with call.r.git.lock:
        for pull in call.r.pulls.values():
            call.r.refresh(pull)
            if state != "all" and pull.state != state:
                continue
            if head and f"{call.r.owner}:{pull.head}" != head and ":" in head:
                continue
            if head and ":" not in head and pull.head != head:
                continue
            if base and pull.base != base:
                continue
            result.append(pull)
    # GitHub's default sort is newest first.
    reverse = call.query.get("direction", "desc") == "desc"
    result.sort(key=lambda p: p.number, reverse=reverse)
    return 200, [_json(call, p, with_mergeable=False) for p in result]


def get_pull(call: Call) -> Result:
    return 200, _json(call, call.r.pull(int(call.params["number"])))


def update_pull(call: Call) -> Result:
    repo = call.r
    with repo.git.lock:
        pull = repo.pull(int(call.params["number"]))
        title, body = call.field("title"), call.field("body")
        state, base = call.field("state"), call.field("base")
        if state not in (None, "open", "closed"):
            raise validation("state must be open or closed", "state")
        if base is not None:
            if repo.git.branch_sha(base) is None:
                raise validation("base is invalid", "base")
            if pull.state == "open":
                _duplicate(repo, pull.head, base, exclude=pull.number)
            pull.base = base
        if title is not None:
            pull.title = title
        if body is not None:
            pull.body = body
        if state == "closed" and pull.state == "open":
            pull.state, pull.closed_at = "closed", now()
        elif state == "open" and pull.state == "closed":
            if pull.merged:
                raise validation("Cannot reopen a merged pull request", "state")
            if repo.git.branch_sha(pull.head) is None:
                raise validation("Cannot reopen: the head branch was deleted", "state")
            _duplicate(repo, pull.head, pull.base, exclude=pull.number)
            pull.state, pull.closed_at = "open", None
            repo.refresh(pull)
        pull.touch()
    return 200, _json(call, pull)


def merge_pull(call: Call) -> Result:
    """PUT /pulls/{n}/merge: a real merge (or squash) commit on the base branch, or 405/409 with nothing written."""
    repo, git = call.r, call.r.git
    method = call.field("merge_method", default="merge")
    if method == "rebase":
        # git 2.39 has no `merge-tree --merge-base`, so replaying commits would need a work tree; the simulated
        # repository disallows rebase merges, which GitHub answers with 405.
        raise ApiError(405, "Rebase merges are not allowed on this repository.")
    if method not in ("merge", "squash"):
        raise validation(f"Merge method {method} is not allowed on this repository.", "merge_method")
    expected = call.field("sha")
    with git.lock:
        pull = repo.pull(int(call.params["number"]))
        if pull.state != "open" or pull.merged:
            raise ApiError(405, "Pull Request is not mergeable")
        if git.branch_sha(pull.head) is None or git.branch_sha(pull.base) is None:
            raise ApiError(405, "Pull Request is not mergeable")
        if expected is not None and expected != pull.head_sha:
            raise ApiError(409, "Head branch was modified. Review and try the merge again.")
        tree = git.merge_tree(pull.base_sha, pull.head_sha)
        if tree is None:
            raise ApiError(405, "Pull Request is not mergeable")
        title = call.field("commit_title")
        body = call.field("commit_message")
        merger = call.sim.person(call.login)
        if method == "merge":
            title = title or f"Merge pull request #{pull.number} from {repo.owner}/{pull.head}"
            body = pull.title if body is None else body
            parents = [pull.base_sha, pull.head_sha]
            # GitHub authors merge commits as the person who pressed the button and commits them as GitHub.
            author = merger
        else:
            title = title or f"{pull.title} (#{pull.number})"
            if body is None:
                shas = git.rev_list(pull.head_sha, f"^{pull.base_sha}")
                body = "\n\n".join(f"* {git.read_commit(s).message.strip()}" for s in reversed(shas))
            parents = [pull.base_sha]
            # A squash commit keeps the pull request's author, as GitHub does.
            author = call.sim.person(pull.user)
        message = f"{title}\n\n{body}\n" if body else f"{title}\n"
        sha = git.commit_tree(tree, parents, message, author, GITHUB_COMMITTER)
        git.update_ref(pull.base, sha, pull.base_sha)
        stamp = now()
        pull.merged, pull.merged_at, pull.merged_by = True, stamp, call.login
        pull.merge_commit_sha, pull.state, pull.closed_at = sha, "closed", stamp
        pull.touch()
    return 200, {"sha": sha, "merged": True, "message": "Pull Request successfully merged"}


def is_merged(call: Call) -> Result:
    pull = call.r.pull(int(call.params["number"]))
    if pull.merged:
        return 204, None
    raise ApiError(404, "Not Found")


def pull_files(call: Call) -> Result:
    pull = call.r.pull(int(call.params["number"]))
    git = call.r.git
    base = (
        git.merge_base(pull.base_sha, pull.head_sha)
        if not pull.merged
        else git.read_commit(pull.merge_commit_sha or pull.head_sha).parents[0]
    )
    files = git.diff_files(base, pull.head_sha)
    return 200, [render.file_entry(call.urls, call.r, pull.head_sha, f) for f in files]


def pull_commits(call: Call) -> Result:
    pull = call.r.pull(int(call.params["number"]))
    git = call.r.git
    shas = (
        reversed(git.rev_list(pull.head_sha, f"^{pull.base_sha}"))
        if not pull.merged
        else reversed(
            git.rev_list(pull.head_sha, f"^{git.read_commit(pull.merge_commit_sha or pull.head_sha).parents[0]}")
        )
    )
    return 200, [render.commit(call.urls, call.r, git.read_commit(s)) for s in shas]


# -- reviews and reviewers -------------------------------------------------------------------------------------

REVIEW_STATES = {"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED", "COMMENT": "COMMENTED"}


def create_review(call: Call) -> Result:
    repo = call.r
    pull = repo.pull(int(call.params["number"]))
    event = call.field("event")
    body = call.field("body", default="")
    if event is not None and event not in REVIEW_STATES:
        raise validation(f"Unexpected event {event}", "event")
    if call.login == pull.user and event == "APPROVE":
        raise validation("Can not approve your own pull request", code="custom", resource="PullRequestReview")
    if call.login == pull.user and event == "REQUEST_CHANGES":
        raise validation(
            "Can not request changes on your own pull request", code="custom", resource="PullRequestReview"
        )
    if event in ("REQUEST_CHANGES", "COMMENT") and not body:
        raise validation(f"Body is required when event is {event}", "body")
    review = Review(
        next_id(), call.login, body, REVIEW_STATES.get(event or "", "PENDING"), call.field("commit_id") or pull.head_sha
    )
    with repo.git.lock:
        pull.reviews.append(review)
        if event and call.login in pull.requested_reviewers:
            # A submitted review fulfils the request, as on GitHub.
            pull.requested_reviewers.remove(call.login)
        pull.touch()
    return 200, render.review(call.urls, repo, pull.number, review)


def list_reviews(call: Call) -> Result:
    pull = call.r.pull(int(call.params["number"]))
    return 200, [render.review(call.urls, call.r, pull.number, r) for r in pull.reviews]


def _names(call: Call, name: str) -> list[str]:
    values = call.field(name, list, default=[])
    if not all(isinstance(v, str) for v in values):
        raise validation(f"{name} must be a list of strings", name)
    return values


def request_reviewers(call: Call) -> Result:
    repo = call.r
    pull = repo.pull(int(call.params["number"]))
    users, teams = _names(call, "reviewers"), _names(call, "team_reviewers")
    if pull.user in users:
        raise validation("Review cannot be requested from pull request author.", code="custom", resource="PullRequest")
    with repo.git.lock:
        pull.requested_reviewers += [u for u in users if u not in pull.requested_reviewers]
        pull.requested_teams += [t for t in teams if t not in pull.requested_teams]
        pull.touch()
    return 201, _json(call, pull)


def remove_reviewers(call: Call) -> Result:
    repo = call.r
    pull = repo.pull(int(call.params["number"]))
    users, teams = set(_names(call, "reviewers")), set(_names(call, "team_reviewers"))
    with repo.git.lock:
        pull.requested_reviewers = [u for u in pull.requested_reviewers if u not in users]
        pull.requested_teams = [t for t in pull.requested_teams if t not in teams]
    return 200, _json(call, pull)


def list_requested_reviewers(call: Call) -> Result:
    pull = call.r.pull(int(call.params["number"]))
    return 200, {
        "users": [render.user(call.urls, u) for u in pull.requested_reviewers],
        "teams": [render.team(call.urls, t) for t in pull.requested_teams],
    }


# -- the issue side: issue, comments, labels -------------------------------------------------------------------


def get_issue(call: Call) -> Result:
    return 200, render.issue(call.urls, call.r, call.r.pull(int(call.params["number"])))


def create_comment(call: Call) -> Result:
    pull = call.r.pull(int(call.params["number"]))
    body = call.field("body", required=True)
    comment = Comment(next_id(), call.login, body)
    with call.r.git.lock:
        pull.comments.append(comment)
        pull.touch()
    return 201, render.comment(call.urls, call.r, pull.number, comment)


def list_comments(call: Call) -> Result:
    pull = call.r.pull(int(call.params["number"]))
    return 200, [render.comment(call.urls, call.r, pull.number, c) for c in pull.comments]


def _label_names(call: Call) -> list[str]:
    body = call.body
    names = body.get("labels") if isinstance(body, dict) else body
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        raise validation("labels must be a list of names", "labels")
    return names


def _labels_json(call: Call, pull: Pull) -> list[dict]:
    return [render.label(call.urls, call.r, n) for n in pull.labels]


def add_labels(call: Call) -> Result:
    repo = call.r
    pull = repo.pull(int(call.params["number"]))
    names = _label_names(call)
    with repo.git.lock:
        for name in names:
            repo.labels.setdefault(name, "ededed")  # GitHub creates unknown labels on the fly
            if name not in pull.labels:
                pull.labels.append(name)
        pull.touch()
    return 200, _labels_json(call, pull)


def set_labels(call: Call) -> Result:
    repo = call.r
    pull = repo.pull(int(call.params["number"]))
    names = _label_names(call)
    with repo.git.lock:
        for name in names:
            repo.labels.setdefault(name, "ededed")
        pull.labels = list(dict.fromkeys(names))
        pull.touch()
    return 200, _labels_json(call, pull)


def remove_label(call: Call) -> Result:
    repo = call.r
    pull = repo.pull(int(call.params["number"]))
    name = call.params["name"]
    with repo.git.lock:
        if name not in pull.labels:
            raise ApiError(404, "Label does not exist")
        pull.labels.remove(name)
        pull.touch()
    return 200, _labels_json(call, pull)


def list_issue_labels(call: Call) -> Result:
    return 200, _labels_json(call, call.r.pull(int(call.params["number"])))


def list_repo_labels(call: Call) -> Result:
    return 200, [render.label(call.urls, call.r, n) for n in sorted(call.r.labels)]


def create_repo_label(call: Call) -> Result:
    name = call.field("name", required=True)
    with call.r.git.lock:
        if name in call.r.labels:
            raise validation("Label already exists", "name", "already_exists", "Label")
        call.r.labels[name] = call.field("color", default="ededed").lstrip("#")
    return 201, render.label(call.urls, call.r, name)
