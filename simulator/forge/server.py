"""What the GitLab and Gitea simulators share: a threaded HTTP/1.1 JSON server with token auth, routing and
pagination, a registry of bare repositories, simulated CI ("a pipeline starts when a request opens") and merges
that wait for the checks. Each host's module supplies its routes, JSON shapes, error shape and page headers."""

from __future__ import annotations

import hmac
import json
import logging
import re
import threading
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qsl, unquote, urlsplit

from ..faults import Faults
from .bare import BareRepo, GitError, Person
from .changes import Change, ForgeRepo, Refused, next_id

log = logging.getLogger(__name__)
DEFAULT_LOGIN = "fluxplane-bot"


@dataclass
class Call:
    """One authenticated request: who, the path parameters, query and JSON (or form) body, and the repository
    the path names (when it names one)."""

    sim: ForgeSimulator
    login: str
    method: str
    params: dict[str, str]
    query: dict[str, str]
    body: Any
    repo: ForgeRepo | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def r(self) -> ForgeRepo:
        assert self.repo is not None
        return self.repo

    def arg(self, name: str, kind: type = str, required: bool = False, default: Any = None) -> Any:
        """A parameter from the body, else the query string (python-gitlab sends some as query), converted to
        ``kind``; 400 when missing (and required) or of the wrong type."""
        body = self.body if isinstance(self.body, dict) else {}
        value = body.get(name, self.query.get(name))
        if value is None:
            if required:
                raise Refused(400, f"{name} is missing")
            return default
        if kind is bool:
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("true", "1", "yes"):
                return True
            if str(value).lower() in ("false", "0", "no", ""):
                return False
        elif kind is int:
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            if isinstance(value, str) and value.isdigit():
                return int(value)
        elif kind is list:
            if isinstance(value, list):
                return value
            if isinstance(value, str):
                return [item.strip() for item in value.split(",") if item.strip()]
        elif isinstance(value, kind):
            return value
        raise Refused(400, f"{name} is invalid")


Handler = Callable[[Call], tuple[int, Any]]


def token_login(tokens: Mapping[str, str], token: str) -> str | None:
    """The login a token authenticates as, or None. Every known token is compared, in constant time, so neither
    the answer's timing nor an early exit reveals a matching prefix or position."""
    login = None
    for known, user in tokens.items():
        if hmac.compare_digest(known.encode(), token.encode()):
            login = user
    return login


def routes(prefix: str, table: list[tuple[str, str, Handler]]) -> list[tuple[str, re.Pattern[str], Handler]]:
    """Compile (method, pattern, handler) rows; ``prefix`` is put before every pattern."""
    return [(method, re.compile(f"^{prefix}{pattern}$"), handler) for method, pattern, handler in table]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, addr: tuple[str, int], sim: ForgeSimulator) -> None:
        super().__init__(addr, _Handler)
        self.sim = sim


class _Handler(BaseHTTPRequestHandler):
    """Reads the body, authenticates, routes, answers JSON (lists paginated by the host's rules)."""

    protocol_version = "HTTP/1.1"
    server: _Server
    wbufsize = 1 << 16  # headers and body in one segment, Nagle off: no delayed-ACK stalls on keep-alive
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature fixed by the base class
        log.debug("%s %s", self.server.sim.NAME, format % args)  # the request line only: never a header or token

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET  # noqa: N815

    def _send(self, status: int, payload: Any, extra: Mapping[str, str] | None = None) -> None:
        body = b"" if status == 204 or payload is None else json.dumps(payload).encode()
        self.send_response(status)
        if body:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _dispatch(self) -> None:
        sim = self.server.sim
        try:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            login = sim.authenticate(self.headers)
            split = urlsplit(self.path)
            if not split.path.startswith(sim.API_PREFIX):
                raise Refused(404, "Not Found")
            path = split.path[len(sim.API_PREFIX):].rstrip("/") or "/"
            status = sim.faults.outage_status(self.command)
            if status is not None:
                raise Refused(status, "Service Unavailable" if status == 503 else "Internal Server Error")
            query = dict(parse_qsl(split.query, keep_blank_values=True))
            body: Any = None
            if raw:
                kind = self.headers.get("Content-Type") or ""
                try:
                    body = dict(parse_qsl(raw.decode())) if "form-urlencoded" in kind else json.loads(raw)
                except ValueError:
                    raise Refused(400, "the body is not valid JSON") from None
            for method, pattern, handler in sim.ROUTES:
                match = pattern.match(path)
                if not match or method != self.command:
                    continue
                params = {k: unquote(v) for k, v in match.groupdict().items() if v is not None}
                call = Call(sim, login, self.command, params, query, body, None, dict(self.headers))
                call.repo = sim.find_repo(params)
                held = sim.faults.take_hold(self.command, path, "before")
                if held is not None:
                    sim.faults.wait(held)
                with call.repo.git.lock if call.repo is not None else _NO_LOCK:
                    status, payload = handler(call)
                    if call.repo is not None and self.command != "GET":
                        sim.run_auto_merges(call.repo)
                held = sim.faults.take_hold(self.command, path, "after")
                if held is not None:  # done on the host, the answer not sent yet (outside the repository's lock)
                    sim.faults.wait(held)
                if isinstance(payload, list):
                    payload, headers = sim.paginate(payload, query, sim.urls_web + split.path)
                    return self._send(status, payload, headers)
                return self._send(status, payload)
            raise Refused(404, "Not Found")
        except Refused as err:
            self._send(err.status, sim.error_payload(err.status, err.message))
        except GitError as err:
            log.warning("%s git error: %s", sim.NAME, err)
            self._send(409, sim.error_payload(409, "Git operation failed"))
        except Exception:  # a bug in the simulator: answer 500 and keep serving
            log.exception("%s internal error on %s %s", sim.NAME, self.command, urlsplit(self.path).path)
            self._send(500, sim.error_payload(500, "Internal simulator error"))


class _NoLock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


_NO_LOCK = _NoLock()


class ForgeSimulator:
    """Base of the GitLab and Gitea simulators: repositories under ``repos_root``, tokens mapped to logins (an
    iterable of tokens authenticates them all as ``fluxplane-bot``; anything else gets 401), optional ``users``
    with display names and e-mails (git identities of merges), and ``ci_job``: when set, opening a request starts
    a pipeline on its head with that job pending, as a project with CI configured does; tests then report the
    job's result through the host's real status API."""

    NAME: ClassVar[str] = "forge-sim"
    API_PREFIX: ClassVar[str] = "/api"
    ROUTES: ClassVar[list[tuple[str, re.Pattern[str], Handler]]] = []

    def __init__(self, repos_root: Path | str, tokens: Mapping[str, str] | Iterable[str] = (),
                 users: Mapping[str, Mapping[str, str]] | None = None, host: str = "127.0.0.1", port: int = 0,
                 ci_job: str | None = None) -> None:
        self.repos_root = Path(repos_root)
        self.tokens: dict[str, str] = (
            dict(tokens) if isinstance(tokens, Mapping) else dict.fromkeys(tokens, DEFAULT_LOGIN))
        self.users = {login: dict(info) for login, info in (users or {}).items()}
        self.host, self.port = host, port
        self.ci_job = ci_job
        self._repos: dict[str, ForgeRepo] = {}
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.faults = Faults()  # outage / hold switches (simulator/faults.py)

    # -- lifecycle -----------------------------------------------------------------------------------------------

    @property
    def urls_web(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The URL a client is configured with (each host says which: instance URL or API URL)."""
        return self.urls_web

    def start(self) -> str:
        """Serve in a daemon thread on the configured (or an ephemeral) port; return ``base_url``."""
        self._server = _Server((self.host, self.port), self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name=self.NAME, daemon=True)
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
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()

    def __enter__(self) -> ForgeSimulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- identities ----------------------------------------------------------------------------------------------

    def token_of(self, headers: Mapping[str, str]) -> str | None:
        """The token a request carries (each host names its headers)."""
        raise NotImplementedError

    def authenticate(self, headers: Mapping[str, str]) -> str:
        """The login of the request's token, compared in constant time against every known token; else 401."""
        token = (self.token_of(headers) or "").strip()
        if not token:
            raise Refused(401, "401 Unauthorized")
        login = token_login(self.tokens, token)
        if login is None:
            raise Refused(401, "401 Unauthorized")
        return login

    @staticmethod
    def user_id(login: str) -> int:
        """A stable numeric id per login."""
        return zlib.crc32(login.encode()) % 1_000_000 + 1

    def profile(self, login: str) -> dict[str, str]:
        info = self.users.get(login, {})
        return {"name": info.get("name", login), "email": info.get("email", f"{login}@users.noreply.localhost")}

    def person(self, login: str) -> Person:
        profile = self.profile(login)
        return Person(profile["name"], profile["email"])

    def known_logins(self) -> list[str]:
        return sorted({*self.tokens.values(), *self.users})

    # -- repositories --------------------------------------------------------------------------------------------

    def create_repo(self, path: str, source: Path | str | None = None, *, default_branch: str = "main",
                    message: str = "Initial commit", login: str = DEFAULT_LOGIN) -> Path:
        """A new bare repository ``repos_root/<path>.git``, with ``source``'s files as the first commit."""
        _check_path(path)
        bare = self.repos_root / f"{path}.git"
        if bare.exists():
            raise FileExistsError(bare)
        git = BareRepo.init(bare, default_branch)
        if source is not None:
            git.import_directory(Path(source), default_branch, message, self.person(login))
        self._register(path, git)
        return bare

    def add_repo(self, path: str, bare_path: Path | str) -> Path:
        """Serve an existing bare repository in place under ``path``."""
        _check_path(path)
        git = BareRepo(Path(bare_path))
        if git.text("rev-parse", "--is-bare-repository").strip() != "true":
            raise ValueError(f"{bare_path} is not a bare git repository")
        self._register(path, git)
        return Path(bare_path)

    def _register(self, path: str, git: BareRepo) -> None:
        with self._lock:
            if path.lower() in self._repos:
                raise ValueError(f"repository {path} is already registered")
            self._repos[path.lower()] = ForgeRepo(next_id(), path, git)

    def repo(self, path: str) -> ForgeRepo:
        found = self._repos.get(path.lower())
        if found is None:
            raise Refused(404, "404 Project Not Found")
        return found

    def repo_by_id(self, repo_id: int) -> ForgeRepo:
        for found in self._repos.values():
            if found.id == repo_id:
                return found
        raise Refused(404, "404 Project Not Found")

    def find_repo(self, params: dict[str, str]) -> ForgeRepo | None:
        """The repository a route's path parameters name (None for routes outside a repository)."""
        raise NotImplementedError

    # -- host behaviour ------------------------------------------------------------------------------------------

    def error_payload(self, status: int, message: str) -> dict:
        return {"message": message}

    def paginate(self, items: list, query: dict[str, str], url: str) -> tuple[list, dict[str, str]]:
        raise NotImplementedError

    def merge_message(self, repo: ForgeRepo, change: Change) -> str:
        raise NotImplementedError

    def start_ci(self, repo: ForgeRepo, change: Change) -> None:
        """A request opened: start CI on its head when the project has CI (``ci_job``)."""
        if self.ci_job:
            pipeline = repo.start_pipeline(change.head_sha, change.source, "merge_request_event")
            repo.add_status(change.head_sha, self.ci_job, "pending", DEFAULT_LOGIN, change.source,
                            pipeline_id=pipeline.id)

    def run_auto_merges(self, repo: ForgeRepo) -> None:
        """Merge every request waiting for its checks whose checks passed, as the user who asked. A request that
        no longer merges cleanly stays open with its wish cleared, as the hosts do."""
        for change in repo.auto_merge_ready():
            login = change.auto_merge_by or DEFAULT_LOGIN
            try:
                repo.merge(change, self.person(login), login, change.auto_merge_message or
                           self.merge_message(repo, change))
            except Refused:
                change.auto_merge_by = None

    # -- helpers for tests and the demo --------------------------------------------------------------------------

    def changes(self, path: str, state: str = "all") -> list[Change]:
        """The requests of a repository (live objects: read, do not mutate)."""
        repo = self.repo(path)
        with repo.git.lock:
            for change in repo.changes.values():
                repo.refresh(change)
            return [c for c in repo.changes.values() if state == "all" or c.state == state]

    def repo_path(self, path: str) -> Path:
        return self.repo(path).git.path


def _check_path(path: str) -> None:
    parts = path.split("/")
    if len(parts) < 2 or any(not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", p) or p.endswith(".git")
                             for p in parts):
        raise ValueError(f"not a namespace/name repository path: {path!r}")
