"""The GitHub API simulator: an HTTP/1.1 server (stdlib) with token auth, routing and pagination, and the
``GitHubSimulator`` class tests and the demo command start."""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from simulator.faults import Faults
from simulator.forge.server import token_login

from . import gitapi, pulls, render, web
from .call import Call
from .repo import BareRepo, GitError, Person
from .state import ApiError, CheckRun, Pull, RepoState, Status, next_id

log = logging.getLogger(__name__)

DOCS = "https://docs.github.com/rest"
DEFAULT_LOGIN = "fluxplane-bot"
FAULTS_PATH = "/_simulator/faults"  # under the API prefix: the fault switches over HTTP (simulator/faults.py)
Handler = Callable[[Call], tuple[int, Any]]

_R = r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"
_N = r"(?P<number>\d+)"
ROUTES: list[tuple[str, re.Pattern[str], Handler]] = [
    (method, re.compile(f"^{pattern}$"), handler)
    for method, pattern, handler in [
        ("GET", rf"{_R}", gitapi.get_repo),
        ("GET", rf"{_R}/branches", gitapi.list_branches),
        ("GET", rf"{_R}/branches/(?P<branch>.+)", gitapi.get_branch),
        ("GET", rf"{_R}/git/refs", gitapi.list_refs),
        ("GET", rf"{_R}/git/matching-refs/(?P<ref>.*)", gitapi.list_refs),
        ("GET", rf"{_R}/git/refs?/(?P<ref>.+)", gitapi.get_ref),
        ("POST", rf"{_R}/git/refs", gitapi.create_ref),
        ("PATCH", rf"{_R}/git/refs/(?P<ref>.+)", gitapi.update_ref),
        ("DELETE", rf"{_R}/git/refs/(?P<ref>.+)", gitapi.delete_ref),
        ("GET", rf"{_R}/contents/?(?P<path>.*)", gitapi.get_contents),
        ("PUT", rf"{_R}/contents/(?P<path>.+)", gitapi.put_contents),
        ("DELETE", rf"{_R}/contents/(?P<path>.+)", gitapi.delete_contents),
        ("GET", rf"{_R}/git/blobs/(?P<sha>[0-9a-f]+)", gitapi.get_blob),
        ("POST", rf"{_R}/git/blobs", gitapi.create_blob),
        ("GET", rf"{_R}/git/trees/(?P<sha>.+)", gitapi.get_tree),
        ("POST", rf"{_R}/git/trees", gitapi.create_tree),
        ("GET", rf"{_R}/git/commits/(?P<sha>[0-9a-f]+)", gitapi.get_git_commit),
        ("POST", rf"{_R}/git/commits", gitapi.create_git_commit),
        ("GET", rf"{_R}/commits", gitapi.list_commits),
        ("GET", rf"{_R}/commits/(?P<ref>.+)/status", gitapi.combined_status),
        ("GET", rf"{_R}/commits/(?P<ref>.+)/statuses", gitapi.list_statuses),
        ("GET", rf"{_R}/commits/(?P<ref>.+)/check-runs", gitapi.list_check_runs),
        ("GET", rf"{_R}/commits/(?P<ref>.+)", gitapi.get_commit),
        ("GET", rf"{_R}/compare/(?P<basehead>.+)", gitapi.compare),
        ("POST", rf"{_R}/statuses/(?P<sha>[0-9a-f]+)", gitapi.create_status),
        ("POST", rf"{_R}/check-runs", gitapi.create_check_run),
        ("POST", rf"{_R}/pulls", pulls.create_pull),
        ("GET", rf"{_R}/pulls", pulls.list_pulls),
        ("GET", rf"{_R}/pulls/{_N}", pulls.get_pull),
        ("PATCH", rf"{_R}/pulls/{_N}", pulls.update_pull),
        ("PUT", rf"{_R}/pulls/{_N}/merge", pulls.merge_pull),
        ("GET", rf"{_R}/pulls/{_N}/merge", pulls.is_merged),
        ("GET", rf"{_R}/pulls/{_N}/files", pulls.pull_files),
        ("GET", rf"{_R}/pulls/{_N}/commits", pulls.pull_commits),
        ("POST", rf"{_R}/pulls/{_N}/reviews", pulls.create_review),
        ("GET", rf"{_R}/pulls/{_N}/reviews", pulls.list_reviews),
        ("POST", rf"{_R}/pulls/{_N}/requested_reviewers", pulls.request_reviewers),
        ("DELETE", rf"{_R}/pulls/{_N}/requested_reviewers", pulls.remove_reviewers),
        ("GET", rf"{_R}/pulls/{_N}/requested_reviewers", pulls.list_requested_reviewers),
        ("GET", rf"{_R}/issues/{_N}", pulls.get_issue),
        ("POST", rf"{_R}/issues/{_N}/comments", pulls.create_comment),
        ("GET", rf"{_R}/issues/{_N}/comments", pulls.list_comments),
        ("POST", rf"{_R}/issues/{_N}/labels", pulls.add_labels),
        ("PUT", rf"{_R}/issues/{_N}/labels", pulls.set_labels),
        ("GET", rf"{_R}/issues/{_N}/labels", pulls.list_issue_labels),
        ("DELETE", rf"{_R}/issues/{_N}/labels/(?P<name>.+)", pulls.remove_label),
        ("GET", rf"{_R}/labels", pulls.list_repo_labels),
        ("POST", rf"{_R}/labels", pulls.create_repo_label),
    ]
]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, addr: tuple[str, int], sim: GitHubSimulator) -> None:
        super().__init__(addr, _Handler)
        self.sim = sim


class _Handler(BaseHTTPRequestHandler):
    """Authenticates, routes to a handler, encodes JSON, paginates lists with GitHub's Link header."""

    protocol_version = "HTTP/1.1"
    server: _Server
    # Headers and body leave in one segment (buffered, flushed by http.server after each request) with Nagle off:
    # otherwise a keep-alive client waits for a delayed ACK on every request.
    wbufsize = 1 << 16
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature fixed by the base class
        # The request line only (never headers, so never a token), at debug level.
        log.debug("github-sim %s", format % args)

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET  # noqa: N815

    def _send(self, status: int, payload: Any, extra: dict[str, str] | None = None) -> None:
        body = b"" if status == 204 or payload is None else json.dumps(payload).encode()
        self.send_response(status)
        if body:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-GitHub-Media-Type", "github.v3; format=json")
        self.send_header("X-RateLimit-Limit", "5000")
        self.send_header("X-RateLimit-Remaining", "4999")
        self.send_header("X-RateLimit-Reset", "4102444800")
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _error(self, err: ApiError) -> None:
        payload: dict[str, Any] = {"message": err.message, "documentation_url": DOCS, "status": str(err.status)}
        if err.errors:
            payload["errors"] = err.errors
        self._send(err.status, payload)

    def _dispatch(self) -> None:
        sim = self.server.sim
        try:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if web.serve(self, sim, urlsplit(self.path).path):  # a person's page (no token), not the API
                return
            login = sim.authenticate(self.headers.get("Authorization"))
            split = urlsplit(self.path)
            path = split.path
            if path == sim.API_PREFIX + FAULTS_PATH and self.command == "POST":
                return self._send(200, sim.set_faults(json.loads(raw or b"{}")))
            status = sim.faults.outage_status(self.command)
            if status is not None:
                raise ApiError(status, "Service Unavailable" if status == 503 else "Server Error")
            if not path.startswith(sim.API_PREFIX):
                raise ApiError(404, "Not Found")
            path = path[len(sim.API_PREFIX) :].rstrip("/") or "/"
            query = dict(parse_qsl(split.query))
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                raise ApiError(400, "Problems parsing JSON") from None
            self._route(sim, login, path, query, body)
        except ApiError as err:
            self._error(err)
        except GitError as err:
            # git refused something the handlers did not foresee (e.g. a ref moved outside the lock): answer
            # like GitHub does for a conflicting write, without leaking paths.
            log.warning("github-sim git error: %s", err)
            self._error(ApiError(409, "Git operation failed"))
        except Exception:  # a bug in the simulator: answer 500 and keep serving
            log.exception("github-sim internal error on %s %s", self.command, urlsplit(self.path).path)
            self._error(ApiError(500, "Internal simulator error"))

    def _route(self, sim: GitHubSimulator, login: str, path: str, query: dict[str, str], body: Any) -> None:
        urls = sim.urls
        if path == "/user" and self.command == "GET":
            return self._send(200, {**render.user(urls, login), **sim.profile(login)})
        if path.startswith("/users/") and self.command == "GET":
            name = unquote(path[len("/users/") :])
            return self._send(200, {**render.user(urls, name), **sim.profile(name)})
        if path == "/rate_limit":
            core = {"limit": 5000, "remaining": 4999, "reset": 4102444800, "used": 1}
            return self._send(200, {"resources": {"core": core}, "rate": core})
        for method, pattern, handler in ROUTES:
            match = pattern.match(path)
            if not match:
                continue
            if method != self.command:
                continue
            params = {k: unquote(v) for k, v in match.groupdict().items() if v is not None}
            repo = sim.repo_state(f"{params.pop('owner')}/{params.pop('repo')}")
            call = Call(sim, urls, login, params, query, body, repo, dict(self.headers))
            held = sim.faults.take_hold(self.command, path, "before")
            if held is not None:
                sim.faults.wait(held)
            status, payload = handler(call)
            held = sim.faults.take_hold(self.command, path, "after")
            if held is not None:  # done on "GitHub", the answer not sent yet
                sim.faults.wait(held)
            if isinstance(payload, list):
                payload, links = _paginate(payload, query, urls.web + urlsplit(self.path).path)
                return self._send(status, payload, links)
            return self._send(status, payload)
        raise ApiError(404, "Not Found")  # GitHub answers unknown routes and methods with 404


def _paginate(items: list, query: dict[str, str], url: str) -> tuple[list, dict[str, str]]:
    """GitHub pagination: ``page``/``per_page`` (default 30, max 100) and a Link header PyGithub follows."""
    try:
        page = max(1, int(query.get("page", 1)))
        per_page = min(100, max(1, int(query.get("per_page", 30))))
    except ValueError:
        raise ApiError(422, "page and per_page must be integers") from None
    last = max(1, -(-len(items) // per_page))
    chunk = items[(page - 1) * per_page : page * per_page]
    links = []

    def link(n: int, rel: str) -> str:
        return f'<{url}?{urlencode({**query, "page": n, "per_page": per_page})}>; rel="{rel}"'

    if page < last:
        links += [link(page + 1, "next"), link(last, "last")]
    if page > 1:
        links += [link(1, "first"), link(page - 1, "prev")]
    return chunk, ({"Link": ", ".join(links)} if links else {})


class GitHubSimulator:
    """A local GitHub REST API v3 (the subset PyGithub uses for Fluxplane's flows) over real bare repositories.

    ``tokens`` maps each accepted token to the login it authenticates as (an iterable of tokens authenticates
    them all as ``fluxplane-bot``); any other token gets 401 "Bad credentials". ``users`` optionally gives a
    login a display name and e-mail, used as git identities for commits made through the API.

    Start it in a thread on an ephemeral port with ``start()`` (returns the API base URL for
    ``Github(base_url=...)``), stop it with ``stop()``. Repositories live under ``repos_root/<owner>/<name>.git``
    when created with ``create_repo``, or anywhere when registered with ``add_repo``.
    """

    API_PREFIX = "/api/v3"

    def __init__(
        self,
        repos_root: Path | str,
        tokens: Mapping[str, str] | Iterable[str] = (),
        users: Mapping[str, Mapping[str, str]] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.repos_root = Path(repos_root)
        self.tokens: dict[str, str] = (
            dict(tokens) if isinstance(tokens, Mapping) else dict.fromkeys(tokens, DEFAULT_LOGIN)
        )
        self.users = {login: dict(info) for login, info in (users or {}).items()}
        self.host, self.port = host, port
        self._repos: dict[str, RepoState] = {}
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.urls = render.Urls(f"http://{host}:{port}")
        self.faults = Faults()

    # -- lifecycle -----------------------------------------------------------------------------------------------

    def start(self) -> str:
        """Serve in a daemon thread; return the API base URL (``http://127.0.0.1:<port>/api/v3``)."""
        self._server = _Server((self.host, self.port), self)
        self.port = self._server.server_address[1]
        self.urls = render.Urls(f"http://{self.host}:{self.port}")
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="github-sim", daemon=True)
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        self.faults.clear()  # a held request must not keep a server thread
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def serve_forever(self) -> None:
        """Serve in the calling thread (for a management command); Ctrl-C ends it."""
        self._server = _Server((self.host, self.port), self)
        self.port = self._server.server_address[1]
        self.urls = render.Urls(f"http://{self.host}:{self.port}")
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()

    def __enter__(self) -> GitHubSimulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return self.urls.api

    def set_faults(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """The HTTP form of the fault switches: ``{"outage": seconds, "status": 503}`` or ``{"clear": true}``."""
        if spec.get("clear"):
            self.faults.clear()
        if "outage" in spec:
            try:
                self.faults.outage(float(spec["outage"]), int(spec.get("status", 503)))
            except (TypeError, ValueError) as exc:
                raise ApiError(422, str(exc)) from None
        return {"answered_outage": self.faults.answered_outage}

    # -- identities ----------------------------------------------------------------------------------------------

    def authenticate(self, header: str | None) -> str:
        """The login for an ``Authorization: token X`` / ``Bearer X`` header, else ApiError 401."""
        if not header:
            raise ApiError(401, "Requires authentication")
        scheme, _, token = header.partition(" ")
        if scheme.lower() not in ("token", "bearer") or not token.strip():
            raise ApiError(401, "Bad credentials")
        login = token_login(self.tokens, token.strip())
        if login is None:
            raise ApiError(401, "Bad credentials")
        return login

    def profile(self, login: str) -> dict[str, str]:
        info = self.users.get(login, {})
        return {"name": info.get("name", login), "email": info.get("email", self._email(login))}

    def _email(self, login: str) -> str:
        return f"{render.user_id(login)}+{login}@users.noreply.github.com"

    def person(self, login: str) -> Person:
        """The git identity commits made by ``login`` carry."""
        profile = self.profile(login)
        return Person(profile["name"], profile["email"])

    # -- repositories --------------------------------------------------------------------------------------------

    def create_repo(
        self,
        full_name: str,
        source: Path | str | None = None,
        *,
        default_branch: str = "main",
        message: str = "Initial commit",
        login: str | None = None,
    ) -> Path:
        """Create ``repos_root/<owner>/<name>.git``; with ``source`` (a directory), commit its files on
        ``default_branch`` as the first commit (its .git, if any, is ignored). Returns the bare repository path."""
        owner, name = _split(full_name)
        path = self.repos_root / owner / f"{name}.git"
        if path.exists():
            raise FileExistsError(path)
        git = BareRepo.init(path, default_branch)
        if source is not None:
            git.import_directory(Path(source), default_branch, message, self.person(login or owner))
        self._register(owner, name, git)
        return path

    def add_repo(self, full_name: str, bare_path: Path | str) -> Path:
        """Serve an existing bare repository in place as ``owner/name``."""
        owner, name = _split(full_name)
        path = Path(bare_path)
        git = BareRepo(path)
        if git.text("rev-parse", "--is-bare-repository").strip() != "true":
            raise ValueError(f"{path} is not a bare git repository")
        self._register(owner, name, git)
        return path

    def _register(self, owner: str, name: str, git: BareRepo) -> None:
        key = f"{owner}/{name}".lower()
        with self._lock:
            if key in self._repos:
                raise ValueError(f"repository {owner}/{name} is already registered")
            self._repos[key] = RepoState(next_id(), owner, name, git)

    def repo_state(self, full_name: str) -> RepoState:
        state = self._repos.get(full_name.lower())
        if state is None:
            raise ApiError(404, "Not Found")
        return state

    def repo_path(self, full_name: str) -> Path:
        """Where the bare repository of ``owner/name`` lives (what a Flux GitRepository simulation reads)."""
        return self.repo_state(full_name).git.path

    # -- helpers for tests and the demo --------------------------------------------------------------------------

    def pulls(self, full_name: str, state: str = "all") -> list[Pull]:
        """The pull requests of a repository (live objects; read them, do not mutate them)."""
        repo = self.repo_state(full_name)
        with repo.git.lock:
            for pull in repo.pulls.values():
                repo.refresh(pull)
            return [p for p in repo.pulls.values() if state == "all" or p.state == state]

    def set_status(
        self,
        full_name: str,
        sha: str,
        state: str,
        context: str = "default",
        description: str | None = None,
        target_url: str | None = None,
        creator: str = DEFAULT_LOGIN,
    ) -> Status:
        """Record a commit status as CI would (state error|failure|pending|success)."""
        repo = self.repo_state(full_name)
        with repo.git.lock:
            return gitapi.add_status(repo, sha, state, context, creator, description, target_url)

    def set_check_run(
        self, full_name: str, sha: str, name: str, status: str = "completed", conclusion: str | None = "success"
    ) -> CheckRun:
        """Record a check run on a commit (status queued|in_progress|completed)."""
        repo = self.repo_state(full_name)
        with repo.git.lock:
            return gitapi.add_check_run(repo, sha, name, status, conclusion)


def _split(full_name: str) -> tuple[str, str]:
    owner, _, name = full_name.partition("/")
    if (
        not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", owner or "")
        or not re.fullmatch(r"[A-Za-z0-9._-]+", name or "")
        or name in (".", "..")
    ):
        raise ValueError(f"not an owner/name repository name: {full_name!r}")
    return owner, name
