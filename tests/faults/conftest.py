"""A production-like Fluxplane stack of real processes for the fault matrix: its own redis-server on a free port
(stopped and started by the tests; nobody else's Redis is touched), a SQLite file in WAL mode, gunicorn, an RQ
worker for high/default/low, an RQ worker for playbooks, the scheduler (``manage.py scheduler``), and the cluster
simulator (in this process, so a test can play a Flux controller or take the API server down).

With ``DATABASE_URL`` set to PostgreSQL (how the suites run before a merge), the processes share a database of their
own on that server instead of the SQLite file (created for the row, dropped after it)."""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.conftest import clean_env
from tests.graph.conftest import simulator, wait_for  # noqa: F401 - the simulator fixture is used below
from tests.graph.flux_tree import flux_tree

ROOT = Path(__file__).resolve().parents[2]
REDIS_SERVER = "/usr/bin/redis-server"
FIGURES = Path(os.environ.get("FLUXPLANE_FAULT_FIGURES", "/tmp/fluxplane-fault-matrix.jsonl"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, stack = [], [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def _postgres_url() -> str:
    """A database of the row's own on the PostgreSQL server of DATABASE_URL, or "" (SQLite)."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        return ""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    name = f"{parts.path.lstrip('/') or 'fluxplane'}_faults_{os.getpid()}_{next(_DATABASES)}"
    return urlunsplit(parts._replace(path=f"/{name}"))


_DATABASES = itertools.count()


def _admin_sql(url: str, statement: str) -> None:
    """CREATE/DROP the database of ``url`` through the server's ``postgres`` database."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute(sql.SQL(statement).format(sql.Identifier(parts.path.lstrip("/"))))


def record(row: str, **figures) -> None:
    """One JSON line per matrix row (docs/operations.md shows them); printed too, never asserted on."""
    line = json.dumps({"row": row, **figures})
    print(line)
    with FIGURES.open("a") as out:
        out.write(line + "\n")


class Stack:
    def __init__(self, tmp_path: Path, cluster_url: str):
        self.dir = tmp_path
        self.redis_port, self.web_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.web_port}"
        self.db = tmp_path / "data" / "fluxplane.sqlite3"
        self.postgres = _postgres_url()
        self.env = clean_env(os.environ)
        self.env.update({
            "FLUXPLANE_DEMO": "1", "FLUXPLANE_DATA_DIR": str(tmp_path / "data"),
            "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0", "DJANGO_SETTINGS_MODULE": "controlplane.settings",
            # Short clocks so a row recovers in seconds; the mechanisms are the production ones.
            "FLUXPLANE_RUN_HEARTBEAT_SECONDS": "2", "FLUXPLANE_RUN_STALE_AFTER_SECONDS": "8",
            "FLUXPLANE_RUN_REQUEUE_AFTER_SECONDS": "5", "FLUXPLANE_EXEC_POLL_SECONDS": "0.2",
            "FLUXPLANE_RUN_RETRY_BASE_SECONDS": "2", "FLUXPLANE_SYNC_LOCK_SECONDS": "10",
            "PYTHONUNBUFFERED": "1", "FLUXPLANE_HEARTBEAT_DIR": str(tmp_path / "heartbeats"),
        })
        if self.postgres:
            self.env["DATABASE_URL"] = self.postgres
        self.cluster_url = cluster_url
        self.procs: dict[str, subprocess.Popen] = {}
        self.redis: subprocess.Popen | None = None

    # ------------------------------------------------------------------ processes
    def start_redis(self) -> None:
        (self.dir / "redis").mkdir(exist_ok=True)
        self.redis = subprocess.Popen(
            [REDIS_SERVER, "--bind", "127.0.0.1", "--port", str(self.redis_port), "--dir", str(self.dir / "redis"),
             "--appendonly", "yes", "--save", ""], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self.redis_answers, what="redis-server to answer")

    def redis_answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.redis_port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop_redis(self) -> None:
        self.redis.terminate()
        self.redis.wait(timeout=20)
        assert not self.redis_answers()

    def manage(self, *args: str, timeout: float = 120) -> str:
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True,
                              text=True, timeout=timeout)
        assert done.returncode == 0, f"manage.py {' '.join(args)}: {done.stdout}{done.stderr}"
        return done.stdout

    def start(self, name: str, *command: str) -> subprocess.Popen:
        log = open(self.dir / f"{name}.log", "ab")  # noqa: SIM115 - kept open for the process's life
        proc = subprocess.Popen(list(command), cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)  # its own process group: a kill takes the work horse too
        self.procs[name] = proc
        return proc

    def supervised(self, name: str, *command: str) -> subprocess.Popen:
        """Run ``command`` under scripts/run.sh's own supervisor (restarted with backoff when it dies)."""
        return self.start(name, "bash", "-c", 'source scripts/lib.sh && supervise "$@"', "supervise", name, *command)

    def kill_supervised(self, name: str) -> None:
        """SIGKILL what the supervisor runs and all its descendants at once (the OOM killer, kill -9). RQ's work
        horse runs in a session of its own, so a process-group kill would miss it. The supervisor survives."""
        for pid in descendants(self.procs[name].pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def log(self, name: str) -> str:
        return (self.dir / f"{name}.log").read_text(errors="replace")

    def boot(self) -> None:
        self.start_redis()
        if self.postgres:
            _admin_sql(self.postgres, "CREATE DATABASE {}")
        self.manage("migrate", "--noinput", "-v", "0")
        self.manage("collectstatic", "--noinput", "-v", "0")
        if not self.postgres:
            # The processes share one SQLite file: WAL mode, set by the settings on every connection, persists.
            assert self.sql("PRAGMA journal_mode") == [("wal",)]
        login = self.manage("ensure_admin")
        self.username, self.password = re.search(r"login: (\S+) / (\S+)", login).groups()
        self.manage("shell", "-c", "from controlplane.models import Cluster; Cluster.objects.create(name='c', "
                    f"connection='simulator', server_url='{self.cluster_url}')")
        self.manage("sync", "--cluster", "c")
        self.start("web", str(Path(sys.executable).parent / "gunicorn"), "controlplane.wsgi", "--bind",
                   f"127.0.0.1:{self.web_port}", "--workers", "2", "--timeout", "60")
        self.supervised("worker", sys.executable, "manage.py", "rqworker", "high", "default", "low",
                        "--with-scheduler", "--worker-ttl", "60")
        self.supervised("playbook-worker", sys.executable, "manage.py", "rqworker", "playbooks", "--worker-ttl", "60")
        self.supervised("scheduler", sys.executable, "manage.py", "scheduler")

        def web_up():
            try:
                return requests.get(f"{self.url}/livez", timeout=10).status_code == 200
            except requests.RequestException:
                return False

        wait_for(web_up, timeout=120, what="gunicorn to answer")

    def stop(self) -> None:
        leftovers = [pid for proc in self.procs.values() for pid in descendants(proc.pid)]
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        for pid in leftovers:  # work horses run in sessions of their own
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.redis and self.redis.poll() is None:
            self.redis.terminate()
            self.redis.wait(timeout=15)
        if self.postgres:
            _admin_sql(self.postgres, "DROP DATABASE IF EXISTS {} WITH (FORCE)")

    # ------------------------------------------------------------------ observing
    def sql(self, query: str, *params) -> list[tuple]:
        """A query on the stack's database (``?`` placeholders), committed; its rows (JSON columns as text)."""
        if self.postgres:
            import psycopg

            with psycopg.connect(self.postgres, autocommit=True) as conn:
                cursor = conn.execute(query.replace("?", "%s"), params)
                rows = cursor.fetchall() if cursor.description else []
            return [tuple(json.dumps(v) if isinstance(v, (dict, list)) else v for v in row) for row in rows]
        with sqlite3.connect(self.db, timeout=20) as conn:
            return conn.execute(query, params).fetchall()

    def run_row(self, pk: int) -> dict:
        rows = self.sql("SELECT status, attempts, error FROM playbooks_playbookrun WHERE id = ?", pk)
        status, attempts, error = rows[0]
        return {"status": status, "attempts": attempts, "error": error}

    def start_sync(self) -> int:
        """Ask for a sync of cluster c as a person does ("Sync now": a SystemRun on the high queue); its id."""
        out = self.manage("shell", "-c", "from controlplane.jobs import start_system_job; "
                          "print(start_system_job('sync', parameters={'cluster': 'c'}).pk)")
        return int(out.strip().splitlines()[-1])

    def system_run(self, pk: int) -> dict:
        status, attempts, error, result, log = self.sql(
            "SELECT status, attempts, error, result, log FROM controlplane_systemrun WHERE id = ?", pk)[0]
        return {"status": status, "attempts": attempts, "error": error, "result": json.loads(result or "null"),
                "log": [line["message"] for line in json.loads(log or "[]")]}

    def object_id(self, kind: str, namespace: str, name: str) -> int:
        return self.sql("SELECT id FROM graph_kubeobject WHERE kind = ? AND namespace = ? AND name = ? AND "
                        "deleted_at IS NULL", kind, namespace, name)[0][0]

    # ------------------------------------------------------------------ a person in a browser
    def session(self) -> requests.Session:
        web = requests.Session()
        page = web.get(f"{self.url}/admin/login/", timeout=30)
        assert page.status_code == 200, page.text[:500]
        answer = web.post(f"{self.url}/admin/login/", data={
            "username": self.username, "password": self.password, "next": "/admin/",
            "csrfmiddlewaretoken": web.cookies["csrftoken"]}, headers={"Referer": f"{self.url}/admin/login/"},
            allow_redirects=False, timeout=30)
        assert answer.status_code == 302, f"sign-in answered {answer.status_code}: {answer.text[:500]}"
        return web

    def request_reconcile(self, web: requests.Session, object_id: int) -> int:
        url = f"{self.url}/admin/playbooks/playbookrun/start/reconcile/{object_id}/"
        assert web.get(url, timeout=30).status_code == 200
        answer = web.post(url, data={"timeout": "600", "csrfmiddlewaretoken": web.cookies["csrftoken"]},
                          headers={"Referer": url}, allow_redirects=False, timeout=30)
        assert answer.status_code == 302, answer.text[:1000]
        return int(re.search(r"/playbookrun/(\d+)/", answer.headers["Location"]).group(1))


class FakeFluxController:
    """Plays kustomize-controller for one object in the simulator: handles each reconcile request (copies
    ``reconcile.fluxcd.io/requestedAt`` to ``status.lastHandledReconcileAt``), only while switched on."""

    def __init__(self, sim, namespace: str, name: str):
        self.sim, self.namespace, self.name = sim, namespace, name
        self.handled: list[str] = []

    def tick(self) -> None:
        import copy

        obj = copy.deepcopy(self.sim.store.peek("kustomizations", self.namespace, self.name))
        token = ((obj.get("metadata") or {}).get("annotations") or {}).get("reconcile.fluxcd.io/requestedAt")
        if token and (obj.get("status") or {}).get("lastHandledReconcileAt") != token:
            obj["status"]["lastHandledReconcileAt"] = token
            self.sim.store.update_status(obj)
            self.handled.append(token)


@pytest.fixture
def stack(tmp_path, simulator):  # noqa: F811 - the re-used fixture
    flux_tree(simulator)
    running = Stack(tmp_path, simulator.url)
    try:
        running.boot()
        yield running
    finally:
        running.stop()
