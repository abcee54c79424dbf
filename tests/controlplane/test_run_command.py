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
def stack_env() -> dict[str, str]:
    """Extra environment for scripts/run.sh (tests override it)."""
    return {}


@pytest.fixture
def running_stack(tmp_path, stack_env):
    env = clean_env(os.environ)
    env.pop("FLUXPLANE_BASE_URL", None)
    env.update({
        "FLUXPLANE_DATA_DIR": str(tmp_path / "data"),
        "FLUXPLANE_PORT": str(free_port()),
        "FLUXPLANE_EMBEDDED_REDIS_PORT": str(free_port()),
        "FLUXPLANE_VENV": sys.prefix,
        "FLUXPLANE_WEB_WORKERS": "1",
        **stack_env,
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
        terminal_is_quiet(lines, tmp_path / "data" / "log")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            left = subprocess.run(["ps", "-o", "pid,stat,etime,args", "-g", str(proc.pid)], capture_output=True,
                                  text=True).stdout
            os.killpg(proc.pid, signal.SIGKILL)
            raise AssertionError(f"run.sh did not stop within 30 s of SIGTERM; still running:\n{left}") from None
        redis_pid = tmp_path / "data" / "redis" / "redis.pid"
        assert not redis_pid.exists(), "the embedded Redis was left running"


ACCESS_LINE = re.compile(r'"(GET|POST|HEAD) /\S* HTTP/1\.[01]"')


def terminal_is_quiet(lines: list[str], log_dir: Path) -> None:
    """After a test has driven the stack: the terminal showed the URL, the logins and nothing of the processes'
    own chatter (access lines, RQ's job lines), which went to <data dir>/log/<process>.log instead."""
    terminal = "".join(lines)
    assert not ACCESS_LINE.search(terminal), terminal
    assert not re.search(r"\b(Job OK|Successfully completed|Worker .* started|Listening on)\b", terminal), terminal
    assert "exited" not in terminal, terminal  # nothing died
    if "Demo cluster:" in terminal:
        assert "login (developer): developer / " in terminal and "login (approver): approver / " in terminal
        assert (log_dir / "simulator.log").exists()
    assert f"Process logs: {log_dir}/" in terminal
    web = (log_dir / "web.log").read_text()
    assert ACCESS_LINE.search(web), "gunicorn's access lines go to the web log"
    for name in ("worker", "playbook-worker", "scheduler", "watcher"):
        assert (log_dir / f"{name}.log").read_text().startswith("--- "), name  # started, with its output there
    assert "Job OK" in (log_dir / "worker.log").read_text() or "default:" in (log_dir / "worker.log").read_text()


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
        if re.search(r'id="fp-run-status-words"[^>]*>(succeeded|failed|errored)<', page):
            break
        time.sleep(0.5)
    assert re.search(r'id="fp-run-status-words"[^>]*>succeeded<', page), page[-3000:]
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


WEBHOOK_TOKEN = "run-command-webhook-token"


@pytest.fixture
def receiver():
    from tests.alerts.test_notifications import Answering

    server = Answering([500, 200])  # the first delivery fails, the rest go through
    yield server
    server.close()


@pytest.mark.parametrize("stack_env", [{
    "FLUXPLANE_ALERTMANAGER_WEBHOOK_TOKEN": WEBHOOK_TOKEN,
    "FLUXPLANE_NOTIFY_RETRY_SECONDS": "1",
    "FLUXPLANE_APPROVALS_RECONCILE": "1",
}])
def test_run_command_notifies_channels_retries_a_failure_and_links_to_where_it_serves(receiver, running_stack):
    """The real web, worker and scheduler processes: an alert from the Alertmanager webhook reaches the channel made
    in the admin after its first delivery failed (recorded, then retried by the worker's scheduler); an approval
    request goes to the same channel; every link points at the host and port run.sh serves on."""
    admin_url, username, password, lines = running_stack
    base = admin_url.removesuffix("/admin/")
    session = requests.Session()
    login_url = admin_url + "login/"
    session.post(login_url, data={"username": username, "password": password,
                                  "csrfmiddlewaretoken": csrf(session, login_url), "next": "/admin/"},
                 headers={"Referer": login_url}, timeout=10)

    # A notification channel, made in the admin.
    add_url = admin_url + "alerts/channel/add/"
    answer = session.post(add_url, data={
        "name": "ops", "kind": "webhook", "url": f"{receiver.url}/ops", "emails": "", "namespaces": "",
        "severities": "", "send_resolved": "on", "approval_requests": "on", "enabled": "on",
        "csrfmiddlewaretoken": csrf(session, add_url)}, headers={"Referer": add_url}, timeout=10)
    assert answer.url.endswith("/admin/alerts/channel/"), answer.text[-2000:]

    # Alertmanager posts an alert; the worker delivers it (500), records the failure, and retries it.
    payload = {"version": "4", "groupKey": "{}:{alertname=\"KubePodCrashLooping\"}", "status": "firing",
               "receiver": "fluxplane", "alerts": [{
                   "status": "firing", "fingerprint": "run-command-1", "startsAt": "2026-11-27T10:00:00Z",
                   "endsAt": "0001-01-01T00:00:00Z", "annotations": {"summary": "crash looping"},
                   "labels": {"alertname": "KubePodCrashLooping", "severity": "warning", "namespace": "podinfo",
                              "pod": "podinfo-0"}}]}
    answer = requests.post(f"{base}/alerts/hooks/alertmanager", json=payload, timeout=10,
                           headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}"})
    assert answer.status_code == 200, answer.text
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and len(receiver.on("/ops")) < 2:
        time.sleep(0.5)
    alerts = receiver.on("/ops")
    assert len(alerts) == 2, f"expected the failed delivery and its retry, got {len(alerts)}"
    assert alerts[0] == alerts[1] and alerts[1]["status"] == "firing"
    assert alerts[1]["alerts"][0]["url"].startswith(f"{base}/admin/alerts/alert/"), alerts[1]["alerts"][0]["url"]

    deliveries = session.get(admin_url + "alerts/delivery/", timeout=10).text
    assert re.search(r'field-state">sent<', deliveries) and re.search(r'field-attempts">2<', deliveries), \
        deliveries[-3000:]
    audit = session.get(admin_url + "controlplane/auditevent/?q=notification", timeout=10).text
    assert "notification.failed" in audit and "notification.sent" in audit and "answered 500" in audit

    # An approval request (reconcile needs one approval here) goes to the channel, linking to the inbox.
    deadline = time.monotonic() + 60
    page = ""
    while time.monotonic() < deadline:
        page = session.get(admin_url + "graph/kustomization/?q=apps", timeout=10).text
        found = re.search(r'href="/admin/graph/kustomization/(\d+)/change/[^"]*">apps<', page)
        if found:
            break
        time.sleep(1)
    assert found, page[-2000:]
    start_url = f"{admin_url}playbooks/playbookrun/start/reconcile/{found.group(1)}/"
    answer = session.post(start_url, data={"timeout": "60", "csrfmiddlewaretoken": csrf(session, start_url)},
                          headers={"Referer": start_url}, timeout=10)
    run_id = re.search(r"/playbookrun/(\d+)/change/", answer.url).group(1)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(receiver.on("/ops")) < 3:
        time.sleep(0.5)
    approval = receiver.on("/ops")[2]
    assert approval["kind"] == "approval_request" and approval["run"]["requestedBy"] == username
    assert approval["url"] == f"{base}/admin/playbooks/pendingapproval/{run_id}/change/"
