"""The README's run command, end to end: it brings up the admin at the printed URL with the printed login, a job
started from the admin runs in the real worker and its Run row shows success and its log, and with no cluster
configured the demo (simulated Kubernetes + Flux + git) is connected and synced into the graph.

Runs scripts/run.sh as a user would (demo mode: SQLite and the embedded Redis in a temporary data directory),
then drives the admin over HTTP with a real session and CSRF token.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import clean_env

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def running_stack(tmp_path):
    env = clean_env(os.environ)
    env.update({
        "FLUXPLANE_DATA_DIR": str(tmp_path / "data"),
        "FLUXPLANE_PORT": str(free_port()),
        "FLUXPLANE_EMBEDDED_REDIS_PORT": str(free_port()),
        "FLUXPLANE_VENV": sys.prefix,
        "FLUXPLANE_WEB_WORKERS": "1",
    })
    proc = subprocess.Popen(["bash", "scripts/run.sh"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not any(line.startswith("login:") for line in lines):
            assert proc.poll() is None, "run.sh exited early:\n" + "".join(lines)
            time.sleep(0.2)
        output = "".join(lines)
        url = re.search(r"Fluxplane is running at (http://\S+)", output)
        login = re.search(r"login: (\S+) / (\S+)", output)
        assert url and login, "run.sh did not print the URL and login:\n" + output
        yield url.group(1), login.group(1), login.group(2), lines
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
        redis_pid = tmp_path / "data" / "redis" / "redis.pid"
        assert not redis_pid.exists(), "the embedded Redis was left running"


def csrf(session: requests.Session, url: str) -> str:
    page = session.get(url, timeout=10)
    page.raise_for_status()
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)


def test_run_command_serves_the_admin_and_runs_a_job_in_the_worker(running_stack):
    admin_url, username, password, lines = running_stack
    session = requests.Session()
    login_url = admin_url + "login/"
    response = session.post(login_url, data={"username": username, "password": password,
                                             "csrfmiddlewaretoken": csrf(session, login_url), "next": "/admin/"},
                            headers={"Referer": login_url}, timeout=10)
    assert response.url == admin_url, "login with the printed credentials failed"
    assert "Fluxplane" in response.text

    start_url = admin_url + "controlplane/systemrun/start/"
    response = session.post(start_url, data={"job": "ping", "csrfmiddlewaretoken": csrf(session, start_url)},
                            headers={"Referer": start_url}, timeout=10)
    run_url = response.url
    assert re.search(r"/controlplane/systemrun/\d+/change/$", run_url), response.text[:500]

    deadline = time.monotonic() + 60
    page = ""
    while time.monotonic() < deadline:
        page = session.get(run_url, timeout=10).text
        if re.search(r'<div class="readonly">(succeeded|failed|errored)</div>', page):
            break
        time.sleep(0.5)
    assert '<div class="readonly">succeeded</div>' in page, page[-3000:]
    assert "Redis answered" in page
    assert "picked up the job" in page


def test_run_command_connects_and_syncs_the_demo_cluster(running_stack):
    admin_url, username, password, lines = running_stack
    assert any(line.startswith("Demo cluster: http://127.0.0.1:") for line in lines), "".join(lines)
    session = requests.Session()
    login_url = admin_url + "login/"
    session.post(login_url, data={"username": username, "password": password,
                                  "csrfmiddlewaretoken": csrf(session, login_url), "next": "/admin/"},
                 headers={"Referer": login_url}, timeout=10)
    deadline = time.monotonic() + 180  # red after the broken app's health-check timeout: slow machines need longer
    page = ""
    while time.monotonic() < deadline:
        page = session.get(admin_url + "graph/kustomization/", timeout=10).text
        if "infra-controllers" in page and "fp-health-degraded" in page:
            break
        time.sleep(1)
    assert "infra-controllers" in page and "apps" in page, page[-2000:]
    assert "fp-health-degraded" in page, "the demo's deliberately broken app shows red"
