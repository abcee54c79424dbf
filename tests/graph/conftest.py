"""Graph fixtures: a private simulator per test, holding a Flux tree, and a Cluster row pointing at it."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from controlplane.models import Cluster
from simulator import Simulator
from tests.graph.flux_tree import flux_tree


@pytest.fixture(autouse=True)
def no_stale_sync_locks(redis_connection):
    """Cluster primary keys repeat across tests (rolled back), so a lock left by an earlier test's sync must not
    make this test's sync report "in progress"."""
    for key in redis_connection.scan_iter("fluxplane:sync:*"):
        redis_connection.delete(key)


@pytest.fixture
def simulator():
    sim = Simulator()
    sim.start()
    yield sim
    sim.stop(save=False)


def wait_for(predicate: Callable[[], object], timeout: float = 20.0, interval: float = 0.1, what: str = "condition"):
    """Poll until ``predicate()`` is truthy; the timeout only bounds a failure, it is not asserted on."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def tree_sim(simulator):
    """The simulator with the Flux tree, once its Deployments have settled (pods created, statuses set)."""
    flux_tree(simulator)

    def settled():
        deployments = simulator.store.list("deployments", "podinfo")
        pods = simulator.store.list("pods", "podinfo")
        return len(pods) == 4 and all(d.get("status", {}).get("observedGeneration") for d in deployments) and \
            simulator.store.peek("deployments", "podinfo", "podinfo").get("status", {}).get("readyReplicas") == 2

    wait_for(settled, what="the simulator's workloads to settle")
    return simulator


@pytest.fixture
def cluster(db, tree_sim):
    return Cluster.objects.create(name="staging", connection=Cluster.Connection.SIMULATOR, server_url=tree_sim.url)
