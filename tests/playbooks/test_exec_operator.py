"""Suspend, resume and reconcile on the Flux Operator's kinds, the way the operator documents them (the
fluxcd.controlplane.io/reconcile annotation, reconcile.fluxcd.io/requestedAt), through runs and the worker."""

from __future__ import annotations

import pytest

from controlplane.models import Cluster
from graph.sync import sync_cluster
from playbooks.choices import PlaybookRunStatus
from playbooks.exec_playbooks import Reconcile, Resume, Suspend
from tests.playbooks.conftest import mirrored
from tests.playbooks.test_exec import run_playbook
from tests.simulator.flux_fixtures import FluxEnv, eventually, ready
from tests.simulator.operator_fleet import bootstrap_operator, fleet_repo

pytestmark = pytest.mark.django_db
FI = ("fluxcd.controlplane.io", "v1", "fluxinstances")


@pytest.fixture
def fleet(tmp_path):
    env = FluxEnv(tmp_path / "sim")
    bootstrap_operator(env, fleet_repo(tmp_path / "fleet"))
    eventually(lambda: ready(env.store.peek("resourcesets.fluxcd.controlplane.io", "flux-system", "apps")), 90,
               "the fleet to converge")
    cluster = Cluster.objects.create(name="fleet", connection=Cluster.Connection.SIMULATOR, server_url=env.url)
    sync_cluster(cluster)
    yield env, cluster
    env.close()


def test_operator_kinds_pause_resume_and_reconcile_by_annotation(fleet, make_user, drain,
                                                                 django_capture_on_commit_callbacks):
    env, cluster = fleet
    user = make_user("operator", perms=("graph.run_playbook",))
    instance = mirrored("FluxInstance", "flux", "flux-system")
    assert Suspend.applies_to(instance) and Reconcile.applies_to(instance)

    run = run_playbook(Suspend, instance, user, {}, drain, django_capture_on_commit_callbacks)
    assert run.status == PlaybookRunStatus.SUCCEEDED, run.error
    live = env.get(FI, "flux-system", "flux")
    assert live["metadata"]["annotations"]["fluxcd.controlplane.io/reconcile"] == "disabled"
    assert "suspend" not in live["spec"]  # the operator has no spec.suspend
    sync_cluster(cluster)
    instance.refresh_from_db()
    assert instance.suspended and instance.health == "suspended"
    assert Reconcile.refusal(instance) == "FluxInstance flux-system/flux is suspended: resume it before reconciling."

    resumed = run_playbook(Resume, instance, user, {"timeout": 60}, drain, django_capture_on_commit_callbacks)
    assert resumed.status == PlaybookRunStatus.SUCCEEDED, resumed.error
    assert env.get(FI, "flux-system", "flux")["metadata"]["annotations"]["fluxcd.controlplane.io/reconcile"] == \
        "enabled"
    sync_cluster(cluster)
    instance.refresh_from_db()

    done = run_playbook(Reconcile, instance, user, {"timeout": 60}, drain, django_capture_on_commit_callbacks)
    assert done.status == PlaybookRunStatus.SUCCEEDED, done.error
    assert done.result["revision"].startswith("v2.9.0@sha256:")
    assert env.get(FI, "flux-system", "flux")["status"]["lastHandledReconcileAt"] == \
        done.result["lastHandledReconcileAt"]

    rset = mirrored("ResourceSet", "apps", "flux-system")
    again = run_playbook(Reconcile, rset, user, {"timeout": 60}, drain, django_capture_on_commit_callbacks)
    assert again.status == PlaybookRunStatus.SUCCEEDED, again.error
