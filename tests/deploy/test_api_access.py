"""What the code really asks of the Kubernetes API, recorded by the simulator, against graph/apiaccess.py — the
table the chart's ClusterRoles are generated from (tests/deploy/test_chart.py compares the roles with the table).

Each component runs its real code against a simulator holding a Flux tree: the worker syncs, suspends, resumes
and reconciles, and the JIT sweep lists and deletes a grant's RoleBinding; the watcher opens its watches; the web
reads what object pages show live (events, pod logs, Helm release history). Every
request the simulator received is turned into (API group, resource, verb) the way the API server's authorizer
does, and must be allowed to that component; and every list/watch the table grants must have been used.
"""

from __future__ import annotations

import pytest

from access.jit.models import GRANT_LABEL
from controlplane.kube import KubeAdapter
from controlplane.runners import JobFailed
from graph import apiaccess, live
from graph.kinds import KUSTOMIZE_GROUP
from graph.models import KubeObject
from graph.sync import sync_cluster
from graph.watch import ClusterWatcher
from jit.sweep import ClusterBindings
from playbooks.fluxexec import FluxExecutor
from simulator.flux.operator import operator_crds
from tests.graph.conftest import wait_for

DISCOVERY = ("api", "apis")


def authorize(method: str, path: str, query: dict[str, str]) -> tuple[str, str, str] | None:
    """(group, resource, verb) of one request as the API server's RBAC sees it; None for discovery paths."""
    parts = [p for p in path.split("/") if p]
    if parts[:1] == ["api"] and len(parts) >= 3:
        group, rest = "", parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 4:
        group, rest = parts[1], parts[3:]
    else:
        assert parts[:1] in (["api"], ["apis"]) or not parts, path  # discovery: system:discovery grants it
        return None
    if rest[0] == "namespaces" and len(rest) >= 3:
        rest = rest[2:]
    resource, name = rest[0], (rest[1] if len(rest) > 1 else "")
    if len(rest) > 2:  # a subresource: RBAC names it pods/log, deployments/scale
        resource = f"{resource}/{rest[2]}"
    if method == "GET":
        verb = "get" if name else ("watch" if query.get("watch") in ("1", "true") else "list")
    else:
        verb = {"PATCH": "patch", "DELETE": "delete" if name else "deletecollection", "POST": "create",
                "PUT": "update"}[method]
    return group, resource, verb


def with_flux_operator(sim) -> None:
    """Serve the Flux Operator's kinds too, so that every Flux kind the roles grant is there to be listed."""
    for crd in operator_crds():
        sim.store.create(crd)


def used(audit: list) -> set[tuple[str, str, str]]:
    return {entry for entry in (authorize(*request) for request in audit) if entry is not None}


def labelled_binding(name: str, grant: str = "7") -> dict:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": name, "namespace": "podinfo", "labels": {GRANT_LABEL: grant}},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"}]}


@pytest.mark.django_db(transaction=True)
def test_the_worker_asks_only_what_its_role_grants(tree_sim, cluster):
    audit = tree_sim.record_requests()
    tree_sim.store.create(labelled_binding("jit-alice"))
    with_flux_operator(tree_sim)

    sync_cluster(cluster)
    executor = FluxExecutor(KubeAdapter(cluster), log=lambda _line: None, poll_seconds=0.05)
    executor.suspend(KUSTOMIZE_GROUP, "Kustomization", "flux-system", "apps")
    try:
        executor.resume(KUSTOMIZE_GROUP, "Kustomization", "flux-system", "apps", timeout=0.3)
    except JobFailed:
        pass  # no Flux controller here to report Ready: the requests are what this test is about
    try:
        executor.reconcile(KUSTOMIZE_GROUP, "Kustomization", "flux-system", "apps", timeout=0.3)
    except JobFailed:
        pass
    bindings = ClusterBindings(cluster)
    assert bindings.delete("podinfo", "jit-alice") is True
    bindings.close()

    worker = used(audit)
    table = apiaccess.allowed(apiaccess.WORKER)
    assert worker <= table, sorted(worker - table)
    listed = {e for e in table if e[2] == "list"}
    assert listed <= worker, f"granted but never listed: {sorted(listed - worker)}"
    assert {verb for _g, _r, verb in worker} == {"get", "list", "patch", "delete"}
    assert ("rbac.authorization.k8s.io", "rolebindings", "delete") in worker
    assert ("", "secrets", "list") in worker  # by label only (rbac.secrets), see graph/apiaccess.py
    secret_lists = [q for m, p, q in audit if m == "GET" and p.endswith("/secrets")]
    assert secret_lists and all(q.get("labelSelector") for q in secret_lists)


@pytest.mark.django_db(transaction=True)
def test_the_watcher_only_lists_and_watches(tree_sim, cluster):
    with_flux_operator(tree_sim)
    audit = tree_sim.record_requests()
    watcher = ClusterWatcher(cluster)
    watcher.start()
    try:
        wait_for(lambda: watcher.established, what="every watch to be open")
    finally:
        watcher.stop()
    seen = used(audit)
    assert seen == apiaccess.allowed(apiaccess.WATCHER), (sorted(seen - apiaccess.allowed(apiaccess.WATCHER)),
                                                          sorted(apiaccess.allowed(apiaccess.WATCHER) - seen))


@pytest.mark.django_db(transaction=True)
def test_the_sweep_never_deletes_a_binding_it_did_not_list_with_the_label(tree_sim, cluster):
    tree_sim.store.create(labelled_binding("jit-bob"))
    unlabelled = labelled_binding("team-admins")
    unlabelled["metadata"]["labels"] = {}
    tree_sim.store.create(unlabelled)
    bindings = ClusterBindings(cluster)
    assert bindings.delete("podinfo", "team-admins") is False  # not listed with the grant label
    # recreated under the same name since the list (another uid): the uid precondition leaves it alone
    tree_sim.store.delete("rolebindings", "podinfo", "jit-bob")
    tree_sim.store.create(labelled_binding("jit-bob", grant="8"))
    assert bindings.delete("podinfo", "jit-bob") is False
    bindings.close()
    assert tree_sim.store.peek("rolebindings", "podinfo", "team-admins") is not None
    assert tree_sim.store.peek("rolebindings", "podinfo", "jit-bob") is not None


@pytest.mark.django_db(transaction=True)
def test_the_web_reads_logs_events_and_helm_storage_only(tree_sim, cluster):
    sync_cluster(cluster)
    audit = tree_sim.record_requests()
    deployment = KubeObject.objects.get(kind="Deployment", name="podinfo")
    found = live.workload_live(deployment)
    assert found.events and found.logs and not found.error
    pod = KubeObject.objects.filter(kind="Pod", namespace="podinfo", deleted_at__isnull=True).first()
    assert live.workload_live(pod).logs
    live.release_history(KubeObject.objects.get(kind="HelmRelease", name="podinfo"))

    web = used(audit)
    assert web == apiaccess.allowed(apiaccess.WEB), (sorted(web - apiaccess.allowed(apiaccess.WEB)),
                                                    sorted(apiaccess.allowed(apiaccess.WEB) - web))
    secret_lists = [q for m, p, q in audit if m == "GET" and p.endswith("/secrets")]
    assert secret_lists and all(q.get("labelSelector") == "owner=helm,name=podinfo" for q in secret_lists)
    event_lists = [q for m, p, q in audit if m == "GET" and p.endswith("/events")]
    assert event_lists and all(q.get("fieldSelector") for q in event_lists)  # never every event of a namespace
