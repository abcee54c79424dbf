"""The official kubernetes Python client against the simulator: discovery, list/watch, patches, conflicts."""

from __future__ import annotations

import pytest
from kubernetes import client, watch
from kubernetes.dynamic import DynamicClient

from simulator import Simulator

from .conftest import deployment, wait_for


def test_dynamic_client_discovers_flux_and_builtin_kinds(api: client.ApiClient, ns: str) -> None:
    dyn = DynamicClient(api)
    for api_version, kind in [("kustomize.toolkit.fluxcd.io/v1", "Kustomization"), ("helm.toolkit.fluxcd.io/v2",
                              "HelmRelease"), ("source.toolkit.fluxcd.io/v1", "OCIRepository"),
                              ("source.toolkit.fluxcd.io/v1", "ExternalArtifact"),
                              ("notification.toolkit.fluxcd.io/v1beta3", "Alert"),
                              ("notification.toolkit.fluxcd.io/v1", "Receiver"),
                              ("image.toolkit.fluxcd.io/v1", "ImageUpdateAutomation"), ("apps/v1", "Deployment"),
                              ("batch/v1", "CronJob"), ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
                              ("networking.k8s.io/v1", "Ingress"), ("v1", "Secret")]:
        assert dyn.resources.get(api_version=api_version, kind=kind).kind == kind
    ks = dyn.resources.get(api_version="kustomize.toolkit.fluxcd.io/v1", kind="Kustomization")
    created = ks.create(namespace=ns, body={
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization", "metadata": {"name": "apps"},
        "spec": {"interval": "10m", "path": "./apps", "prune": True,
                 "sourceRef": {"kind": "GitRepository", "name": "flux-system"}}})
    assert created.metadata.generation == 1 and created.metadata.uid
    listed = ks.get(namespace=ns)
    assert [i.metadata.name for i in listed.items] == ["apps"]
    assert int(listed.metadata.resourceVersion) >= int(created.metadata.resourceVersion)


def test_generation_moves_on_spec_changes_only_and_status_subresource(api: client.ApiClient, ns: str) -> None:
    dyn = DynamicClient(api)
    hr = dyn.resources.get(api_version="helm.toolkit.fluxcd.io/v2", kind="HelmRelease")
    hr.create(namespace=ns, body={"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
                                  "metadata": {"name": "podinfo"}, "spec": {"interval": "1h"}})
    o = hr.patch(namespace=ns, name="podinfo", body={"metadata": {"labels": {"a": "b"}}},
                 content_type="application/merge-patch+json")
    assert o.metadata.generation == 1
    o = hr.patch(namespace=ns, name="podinfo", body={"spec": {"suspend": True}},
                 content_type="application/merge-patch+json")
    assert o.metadata.generation == 2
    # Status goes through /status only; the main resource ignores it and vice versa.
    body = o.to_dict()
    body["status"] = {"observedGeneration": 2, "conditions": [{"type": "Ready", "status": "True"}]}
    body["spec"]["interval"] = "5m"
    s = hr.status.replace(namespace=ns, body=body)
    assert s.status.observedGeneration == 2 and s.spec.interval == "1h" and s.metadata.generation == 2
    m = hr.patch(namespace=ns, name="podinfo", body={"status": {"observedGeneration": 9}},
                 content_type="application/merge-patch+json")
    assert m.status.observedGeneration == 2
    rvs = [int(x.metadata.resourceVersion) for x in (o, s)]
    assert rvs == sorted(rvs) and len(set(rvs)) == 2


def test_patch_types_on_a_deployment(api: client.ApiClient, sim: Simulator, ns: str) -> None:
    apps = client.AppsV1Api(api)
    apps.create_namespaced_deployment(ns, deployment("api", ns))
    # Strategic merge: containers merge by name, so the second container is added, not replacing the first.
    smp = {"spec": {"template": {"spec": {"containers": [{"name": "side", "image": "busybox:1"}]}}}}
    d = apps.patch_namespaced_deployment("api", ns, smp, _content_type="application/strategic-merge-patch+json")
    assert [c.name for c in d.spec.template.spec.containers] == ["app", "side"]
    d = apps.patch_namespaced_deployment("api", ns, [{"op": "replace", "path": "/spec/replicas", "value": 4}],
                                         _content_type="application/json-patch+json")
    assert d.spec.replicas == 4
    d = apps.patch_namespaced_deployment("api", ns, {"metadata": {"annotations": {"x": "y"}}},
                                         _content_type="application/merge-patch+json")
    assert d.metadata.annotations == {"x": "y"} and d.spec.replicas == 4
    with pytest.raises(client.ApiException) as bad:
        apps.patch_namespaced_deployment("api", ns, [{"op": "test", "path": "/spec/replicas", "value": 1}],
                                         _content_type="application/json-patch+json")
    assert bad.value.status == 422


def test_stale_update_conflicts(api: client.ApiClient, ns: str) -> None:
    core = client.CoreV1Api(api)
    cm = core.create_namespaced_config_map(ns, {"metadata": {"name": "c"}, "data": {"v": "1"}})
    cm.data["v"] = "2"
    fresh = core.replace_namespaced_config_map("c", ns, cm)
    assert fresh.data == {"v": "2"}
    cm.data["v"] = "3"  # still carries the old resourceVersion
    with pytest.raises(client.ApiException) as err:
        core.replace_namespaced_config_map("c", ns, cm)
    assert err.value.status == 409 and "the object has been modified" in err.value.body
    with pytest.raises(client.ApiException) as dup:
        core.create_namespaced_config_map(ns, {"metadata": {"name": "c"}})
    assert dup.value.status == 409 and "AlreadyExists" in dup.value.body


def test_list_limit_continue_and_field_selectors(api: client.ApiClient, sim: Simulator, ns: str) -> None:
    core = client.CoreV1Api(api)
    for i in range(7):
        core.create_namespaced_config_map(ns, {"metadata": {"name": f"c{i}", "labels": {"odd": str(i % 2)}}})
    seen, token, pages = [], None, 0
    while True:
        page = core.list_namespaced_config_map(ns, limit=3, _continue=token)
        seen += [c.metadata.name for c in page.items]
        pages += 1
        token = page.metadata._continue
        if not token:
            break
    assert seen == [f"c{i}" for i in range(7)] and pages == 3
    odd = core.list_namespaced_config_map(ns, label_selector="odd=1", limit=2)
    assert [c.metadata.name for c in odd.items] == ["c1", "c3"] and odd.metadata.remaining_item_count == 1
    one = core.list_config_map_for_all_namespaces(field_selector=f"metadata.namespace={ns},metadata.name=c4")
    assert [c.metadata.name for c in one.items] == ["c4"]
    with pytest.raises(client.ApiException) as bad:
        core.list_namespaced_config_map(ns, field_selector="spec.bogus=1")
    assert bad.value.status == 400


def test_watch_from_resource_version_sees_every_change_in_order(api: client.ApiClient, ns: str) -> None:
    core = client.CoreV1Api(api)
    rv = core.list_namespaced_config_map(ns).metadata.resource_version
    core.create_namespaced_config_map(ns, {"metadata": {"name": "a"}})
    core.patch_namespaced_config_map("a", ns, {"data": {"k": "v"}})
    core.delete_namespaced_config_map("a", ns)
    events = []
    w = watch.Watch()
    for ev in w.stream(core.list_namespaced_config_map, ns, resource_version=rv, timeout_seconds=5):
        events.append((ev["type"], ev["object"].metadata.name, int(ev["object"].metadata.resource_version)))
        if len(events) == 3:
            w.stop()
    assert [e[:2] for e in events] == [("ADDED", "a"), ("MODIFIED", "a"), ("DELETED", "a")]
    assert [e[2] for e in events] == sorted(e[2] for e in events) and events[0][2] > int(rv)


def test_watch_with_expired_resource_version_gets_410() -> None:
    small = Simulator(history=5, workloads=False)
    url = small.start()
    try:
        cfg = client.Configuration()
        cfg.host = url
        core = client.CoreV1Api(client.ApiClient(cfg))
        start = core.list_namespaced_config_map("default").metadata.resource_version
        for i in range(10):
            core.create_namespaced_config_map("default", {"metadata": {"name": f"x{i}"}})
        with pytest.raises(client.ApiException) as gone:
            for _ in watch.Watch().stream(core.list_namespaced_config_map, "default", resource_version=start,
                                          timeout_seconds=5):
                pass
        assert gone.value.status == 410
    finally:
        small.stop()


def test_delete_with_finalizer_sets_deletion_timestamp_until_released(api: client.ApiClient, ns: str) -> None:
    core = client.CoreV1Api(api)
    core.create_namespaced_config_map(ns, {"metadata": {"name": "f", "finalizers": ["example.com/hold"]}})
    core.delete_namespaced_config_map("f", ns)
    held = core.read_namespaced_config_map("f", ns)
    assert held.metadata.deletion_timestamp is not None
    core.patch_namespaced_config_map("f", ns, {"metadata": {"finalizers": None}})
    with pytest.raises(client.ApiException) as gone:
        core.read_namespaced_config_map("f", ns)
    assert gone.value.status == 404


def test_owner_reference_garbage_collection_and_orphan(api: client.ApiClient, sim: Simulator, ns: str) -> None:
    core = client.CoreV1Api(api)
    owner = core.create_namespaced_config_map(ns, {"metadata": {"name": "owner"}})
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.metadata.uid}
    for n in ("dep1", "dep2"):
        core.create_namespaced_config_map(ns, {"metadata": {"name": n, "ownerReferences": [ref]}})
    core.create_namespaced_secret(ns, {"metadata": {"name": "s", "ownerReferences": [ref]}})
    core.delete_namespaced_config_map("owner", ns)
    wait_for(lambda: [c.metadata.name for c in core.list_namespaced_config_map(ns).items] == [], what="GC")
    assert core.list_namespaced_secret(ns).items == []
    owner = core.create_namespaced_config_map(ns, {"metadata": {"name": "owner2"}})
    ref["uid"], ref["name"] = owner.metadata.uid, "owner2"
    core.create_namespaced_config_map(ns, {"metadata": {"name": "kept", "ownerReferences": [ref]}})
    core.delete_namespaced_config_map("owner2", ns, propagation_policy="Orphan")
    kept = core.read_namespaced_config_map("kept", ns)
    assert not kept.metadata.owner_references


def test_namespace_deletion_removes_its_objects(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    core.create_namespace({"metadata": {"name": "doomed"}})
    core.create_namespaced_config_map("doomed", {"metadata": {"name": "c"}})
    core.delete_namespace("doomed")
    with pytest.raises(client.ApiException) as gone:
        core.read_namespace("doomed")
    assert gone.value.status == 404
    with pytest.raises(client.ApiException) as nons:
        core.create_namespaced_config_map("doomed", {"metadata": {"name": "c"}})
    assert nons.value.status == 404
