"""The fault matrix, against real processes (gunicorn, RQ workers, the scheduler, redis-server, the cluster
simulator): each row breaks one part while a person uses Fluxplane, then asserts the run's final state, that
nothing was lost (every requested run ends) or duplicated, and records the time to recover (docs/operations.md)."""

from __future__ import annotations

import re
import time

import redis
import requests

from tests.faults.conftest import FakeFluxController, descendants, record
from tests.graph.conftest import wait_for
from tests.graph.flux_tree import app


def test_redis_stopped_and_restarted(stack, simulator):
    controller = FakeFluxController(simulator, "flux-system", "apps")
    apps = stack.object_id("Kustomization", "flux-system", "apps")
    stack.stop_redis()
    stopped_at = time.monotonic()

    # Sign-in works (the throttle counts locally), pages render from the database with a banner, health says
    # which part is down, and a run requested now is kept.
    web = stack.session()
    page = web.get(f"{stack.url}/admin/graph/kubeobject/{apps}/change/", timeout=30)
    assert page.status_code == 200 and "The job queue (Redis) is not answering" in page.text
    graph = web.get(f"{stack.url}/admin/graph/kubeobject/graph/", params={"root": apps}, timeout=30)
    assert graph.status_code == 200 and "<svg" in graph.text
    assert requests.get(f"{stack.url}/livez", timeout=30).status_code == 200  # alive: no restart of the web
    ready = requests.get(f"{stack.url}/readyz", timeout=30)
    assert ready.status_code == 503 and ready.json()["checks"] == {"database": "ok", "redis": "ConnectionError"}
    run = stack.request_reconcile(web, apps)
    assert stack.run_row(run)["status"] == "queued"
    # The scheduler meets the outage at its next lease renewal and must wait for Redis instead of exiting.
    wait_for(lambda: re.search(r"(?i)connection refused|error 111", stack.log("scheduler")), timeout=60,
             what="the scheduler to meet the outage")
    assert "scheduler exited" not in stack.log("scheduler")  # it waited for Redis instead of exiting

    stack.start_redis()
    restarted_at = time.monotonic()

    def finished():
        controller.tick()
        return stack.run_row(run)["status"] in ("succeeded", "failed", "errored")

    wait_for(finished, timeout=180, interval=0.3, what="the run requested during the outage to end")
    recovered = time.monotonic() - restarted_at
    row = stack.run_row(run)
    assert row["status"] == "succeeded" and row["attempts"] == 1, row
    assert len(controller.handled) == 1  # reconciled once: the job ran once
    assert all(proc.poll() is None for proc in stack.procs.values())
    wait_for(lambda: requests.get(f"{stack.url}/readyz", timeout=30).status_code == 200, timeout=120,
             what="/readyz to answer 200 again")
    record("redis stopped, then restarted", outcome=row["status"], runs_lost=0, duplicates=0,
           outage_seconds=round(restarted_at - stopped_at, 1), recover_seconds=round(recovered, 1))


def test_worker_killed_during_an_exec_run(stack, simulator):
    controller = FakeFluxController(simulator, "flux-system", "apps")
    apps = stack.object_id("Kustomization", "flux-system", "apps")
    web = stack.session()
    run = stack.request_reconcile(web, apps)
    # The run is mid-way: it annotated the object and waits for the controller (which is not answering yet).
    wait_for(lambda: stack.run_row(run)["status"] == "running" and stack.sql(
        "SELECT log FROM playbooks_playbookrun WHERE id = ?", run)[0][0].count("waiting for the controller"),
        timeout=60, what="the run to be waiting for the controller")
    assert len(descendants(stack.procs["playbook-worker"].pid)) >= 2, "the job runs in a work horse"
    stack.kill_supervised("playbook-worker")
    killed_at = time.monotonic()

    def finished():
        controller.tick()
        return stack.run_row(run)["status"] in ("succeeded", "failed", "errored", "cancelled")

    wait_for(finished, timeout=180, interval=0.3, what="the run to be retried and to end")
    recovered = time.monotonic() - killed_at
    row = stack.run_row(run)
    assert row["status"] == "succeeded" and row["attempts"] == 2, row
    assert stack.sql("SELECT COUNT(*) FROM controlplane_auditevent WHERE verb = 'run.retried'")[0][0] == 1
    assert stack.sql("SELECT COUNT(*) FROM playbooks_playbookrun")[0][0] == 1
    assert "playbook-worker exited (status 137); restarting it" in stack.log("playbook-worker")
    record("worker SIGKILLed during an exec run", outcome=row["status"], attempts=row["attempts"], runs_lost=0,
           duplicates=0, recover_seconds=round(recovered, 1))


def test_api_server_down_during_an_exec_run(stack, simulator):
    apps = stack.object_id("Kustomization", "flux-system", "apps")
    web = stack.session()
    simulator.stop(save=False)
    stopped_at = time.monotonic()
    run = stack.request_reconcile(web, apps)
    wait_for(lambda: stack.run_row(run)["status"] not in ("queued", "running"), timeout=120,
             what="the run to end while the API server is down")
    row = stack.run_row(run)
    assert row["status"] == "failed" and any(word in row["error"].lower() for word in ("unreachable", "connect")), \
        row
    page = web.get(f"{stack.url}/admin/graph/kubeobject/{apps}/change/", timeout=30)
    assert page.status_code == 200  # the mirror is still shown
    record("API server down", outcome=row["status"], error=row["error"][:80], runs_lost=0, duplicates=0,
           seconds_to_clear_error=round(time.monotonic() - stopped_at, 1))


def test_sync_killed(stack, simulator):
    [(cluster,)] = stack.sql("SELECT id FROM controlplane_cluster WHERE name = 'c'")
    stack.sql("UPDATE controlplane_cluster SET sync_interval_seconds = 86400 WHERE id = ?", cluster)  # no cron syncs
    lock_key = f"fluxplane:sync:{cluster}"
    queue = redis.Redis(host="127.0.0.1", port=stack.redis_port, db=0)
    held = simulator.faults.hold("GET", r"^/apis/apps/v1/deployments$")  # the sync is mid-way through its lists
    first = stack.start_sync()
    assert held.wait_reached(120), "the sync never listed Deployments"
    assert stack.system_run(first)["status"] == "running" and queue.exists(lock_key)
    stack.kill_supervised("worker")
    killed_at = time.monotonic()
    held.release()
    assert 0 < queue.ttl(lock_key) <= 10  # the dead sync's lock is still there, with a short TTL

    app(simulator, "late", "ghcr.io/stefanprodan/podinfo:6.9.2")  # only a sync that really runs mirrors it
    second = stack.start_sync()  # asked for while the dead sync's lock is held

    def ended() -> bool:
        return all(stack.system_run(pk)["status"] in ("succeeded", "failed", "errored") for pk in (first, second))

    wait_for(ended, timeout=180, interval=0.3, what="both syncs to end")
    recovered = time.monotonic() - killed_at
    runs = {pk: stack.system_run(pk) for pk in (first, second)}
    assert [run["status"] for run in runs.values()] == ["succeeded", "succeeded"], runs
    assert runs[first]["attempts"] >= 2, runs[first]  # the killed sync ran again
    for run in runs.values():  # each one that says "succeeded" synced: it counted the cluster's objects
        assert run["result"]["c"]["objects"] > 0, run
    assert stack.sql("SELECT COUNT(*) FROM graph_kubeobject WHERE kind = 'HelmRelease' AND name = 'late' AND "
                     "deleted_at IS NULL") == [(1,)]
    assert stack.sql("SELECT COUNT(*) FROM (SELECT 1 FROM graph_kubeobject WHERE deleted_at IS NULL GROUP BY "
                     "cluster_id, api_group, kind, namespace, name HAVING COUNT(*) > 1) AS twins") == [(0,)]
    waited = sum(line.startswith("another sync holds the lock of c") for run in runs.values() for line in run["log"])
    assert not queue.exists(lock_key)  # released by its owner, not left to expire
    assert stack.sql("SELECT COUNT(*) FROM controlplane_systemrun WHERE status NOT IN ('succeeded', 'failed', "
                     "'errored', 'cancelled')") == [(0,)]
    record("sync SIGKILLed (its lock left behind)", outcome="succeeded", attempts=runs[first]["attempts"],
           runs_lost=0, duplicates=0, waits_on_the_dead_lock=waited, recover_seconds=round(recovered, 1))
