"""helm-controller and Helm sources simulation: HelmChart generation, install/upgrade, failures, retries."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulator.flux.common import kstatus

from .flux_fixtures import HR, FluxEnv, cond, eventually, ready

NS = "apps"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[FluxEnv]:
    e = FluxEnv(tmp_path)
    e.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    e.create({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
              "metadata": {"name": "podinfo", "namespace": NS},
              "spec": {"interval": "5m", "url": "https://stefanprodan.github.io/podinfo"}})
    yield e
    e.close()


def release(name: str, values: dict | None = None, version: str = "6.5.x", **spec: object) -> dict:
    return {"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"interval": "10m", "chart": {"spec": {"chart": "podinfo", "version": version,
                                                           "sourceRef": {"kind": "HelmRepository", "name": "podinfo"}}},
                     "values": values or {}, **spec}}


def test_install_then_upgrade_on_values_change(env: FluxEnv) -> None:
    env.create(release("web", {"replicaCount": 2, "service": {"type": "NodePort", "port": 8080},
                               "resources": {"limits": {"memory": "64Mi"}}}))
    hr = env.wait_ready(HR, NS, "web")
    assert cond(hr, "Released")["reason"] == "InstallSucceeded"
    assert cond(hr, "Ready")["message"] == "Helm install succeeded for release apps/web.v1 with chart podinfo@6.5.4"
    assert hr["status"]["observedGeneration"] == hr["metadata"]["generation"] == cond(hr, "Ready")[
        "observedGeneration"]
    assert hr["status"]["helmChart"] == f"{NS}/{NS}-web"
    chart = env.store.get("helmcharts", NS, f"{NS}-web")
    assert chart["metadata"]["labels"] == {"helm.toolkit.fluxcd.io/name": "web",
                                           "helm.toolkit.fluxcd.io/namespace": NS}
    assert "ownerReferences" not in chart["metadata"]
    assert chart["status"]["artifact"]["revision"] == "6.5.4" and ready(chart)
    dep = env.apps.read_namespaced_deployment("web-podinfo", NS)
    assert dep.spec.replicas == 2
    assert dep.spec.template.spec.containers[0].image == "ghcr.io/stefanprodan/podinfo:6.5.4"
    assert dep.spec.template.spec.containers[0].resources.limits == {"memory": "64Mi"}
    assert dep.metadata.labels["helm.toolkit.fluxcd.io/name"] == "web"
    assert dep.metadata.labels["app.kubernetes.io/managed-by"] == "Helm"
    assert dep.metadata.annotations == {"meta.helm.sh/release-name": "web", "meta.helm.sh/release-namespace": NS}
    svc = env.core.read_namespaced_service("web-podinfo", NS)
    assert svc.spec.type == "NodePort" and svc.spec.ports[0].port == 8080
    assert [e["id"] for e in hr["status"]["inventory"]["entries"]] == [
        "apps_web-podinfo__Service", "apps_web-podinfo_apps_Deployment"]
    h = hr["status"]["history"]
    assert len(h) == 1 and h[0]["status"] == "deployed" and h[0]["version"] == 1
    assert (h[0]["chartName"], h[0]["chartVersion"], h[0]["appVersion"]) == ("podinfo", "6.5.4", "6.5.4")
    assert h[0]["digest"].startswith("sha256:") and h[0]["firstDeployed"] and h[0]["lastDeployed"]

    env.custom.patch_namespaced_custom_object(*HR[:2], NS, HR[2], "web", {"spec": {"values": {"replicaCount": 3}}})
    hr = eventually(lambda: (o := env.get(HR, NS, "web")) and cond(o, "Released").get("reason")
                    == "UpgradeSucceeded" and o, what="upgrade")
    assert [x["status"] for x in hr["status"]["history"]] == ["deployed", "superseded"]  # type: ignore[index]
    assert hr["status"]["history"][0]["version"] == 2  # type: ignore[index]
    assert env.apps.read_namespaced_deployment("web-podinfo", NS).spec.replicas == 3
    assert env.core.read_namespaced_service("web-podinfo", NS).spec.type == "NodePort"  # merge patch kept it
    # Helm's own storage: the double base64 + gzip JSON that `flux tree` decodes.
    sec = env.core.read_namespaced_secret("sh.helm.release.v1.web.v2", NS)
    assert sec.type == "helm.sh/release.v1" and sec.metadata.labels["status"] == "deployed"
    rel = json.loads(gzip.decompress(base64.b64decode(base64.b64decode(sec.data["release"]))))
    assert rel["chart"]["metadata"]["version"] == "6.5.4" and "kind: Deployment" in rel["manifest"]
    assert env.core.read_namespaced_secret("sh.helm.release.v1.web.v1", NS).metadata.labels["status"] == "superseded"


def test_broken_image_fails_install_then_stalls_and_reset_retries(env: FluxEnv) -> None:
    env.create(release("bad", {"image": {"tag": "6.5.4-broken"}}, timeout="1s",
                       install={"remediation": {"retries": 1}}))
    first = eventually(lambda: (o := env.get(HR, NS, "bad")) and cond(o, "Released").get("reason")
                       == "InstallFailed" and o, what="InstallFailed")
    assert "timeout waiting for: [Deployment/apps/bad-podinfo status: 'InProgress']" in cond(first, "Released")[
        "message"]
    dep = env.store.get("deployments", NS, "bad-podinfo")
    assert kstatus(dep) == "InProgress"
    pods = env.core.list_namespaced_pod(NS).items
    assert any(p.status.container_statuses[0].state.waiting.reason == "ImagePullBackOff" for p in pods)
    hr = eventually(lambda: (o := env.get(HR, NS, "bad")) and cond(o, "Stalled").get("status") == "True" and o,
                    what="Stalled")
    assert cond(hr, "Stalled")["reason"] == "RetriesExceeded"
    assert cond(hr, "Stalled")["message"] == "Failed to install after 2 attempt(s)"
    assert hr["status"]["installFailures"] == 2 and hr["status"]["failures"] == 2  # type: ignore[index]
    assert not cond(hr, "Reconciling") and cond(hr, "Ready")["status"] == "False"
    assert kstatus(hr) == "Failed"  # type: ignore[arg-type]
    assert hr["status"]["history"][0]["status"] == "failed"  # type: ignore[index]
    events = [e for e in env.core.list_namespaced_event(NS).items if e.involved_object.name == "bad"]
    assert any(e.reason == "InstallFailed" and e.type == "Warning" and e.source.component == "helm-controller"
               for e in events)
    # `flux reconcile hr --reset`: counters cleared and attempts start again.
    token = env.request_reconcile(HR, NS, "bad", resetAt="")
    hr = eventually(lambda: (o := env.get(HR, NS, "bad"))["status"].get("lastHandledReconcileAt") == token and o,
                    what="reset handled")
    assert hr["status"]["lastHandledResetAt"] == token  # type: ignore[index]
    # The fresh attempts fail again, counted from zero (without the reset this would be 3).
    assert hr["status"]["installFailures"] in (1, 2)  # type: ignore[index]


def test_force_upgrades_without_changes(env: FluxEnv) -> None:
    env.create(release("web"))
    env.wait_ready(HR, NS, "web")
    token = env.request_reconcile(HR, NS, "web", forceAt="")
    hr = eventually(lambda: (o := env.get(HR, NS, "web"))["status"].get("lastHandledForceAt") == token and
                    ready(o) and len(o["status"]["history"]) == 2 and o, what="forced upgrade")
    assert hr["status"]["history"][0]["version"] == 2  # type: ignore[index]
    assert hr["status"]["lastHandledReconcileAt"] == token  # type: ignore[index]


def test_values_from_config_map_and_dependencies(env: FluxEnv) -> None:
    env.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "vals", "namespace": NS},
                "data": {"values.yaml": "replicaCount: 4\nimage:\n  tag: 6.5.1\n", "tag": "6.5.2"}})
    env.create(release("b", {"replicaCount": 1}, dependsOn=[{"name": "a"}],
                       valuesFrom=[{"kind": "ConfigMap", "name": "vals"},
                                   {"kind": "ConfigMap", "name": "vals", "valuesKey": "tag", "targetPath": "image.tag"},
                                   {"kind": "ConfigMap", "name": "nope", "optional": True}]))
    blocked = eventually(lambda: cond(env.get(HR, NS, "b"), "Ready").get("reason") == "DependencyNotReady"
                         and env.get(HR, NS, "b"), what="blocked")
    assert cond(blocked, "Ready")["message"] == "dependency 'apps/a' is not ready"
    env.create(release("a", valuesFrom=[{"kind": "Secret", "name": "missing"}]))
    bad = eventually(lambda: cond(env.get(HR, NS, "a"), "Ready").get("reason") == "ValuesError"
                     and env.get(HR, NS, "a"), what="ValuesError")
    assert "could not resolve Secret chart values reference 'apps/missing' with key 'values.yaml'" in cond(
        bad, "Ready")["message"]
    env.custom.patch_namespaced_custom_object(*HR[:2], NS, HR[2], "a", {"spec": {"valuesFrom": None}})
    env.wait_ready(HR, NS, "b")
    dep = env.apps.read_namespaced_deployment("b-podinfo", NS)
    assert dep.spec.replicas == 1  # spec.values wins over valuesFrom
    assert dep.spec.template.spec.containers[0].image.endswith(":6.5.2")  # targetPath beats the earlier file


def test_unknown_repository_and_oci_chart_ref(env: FluxEnv) -> None:
    env.create({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
                "metadata": {"name": "nowhere", "namespace": NS}, "spec": {"url": "https://charts.example.com"}})
    repo = eventually(lambda: cond(env.store.get("helmrepositories", NS, "nowhere"), "FetchFailed")
                      and env.store.get("helmrepositories", NS, "nowhere"), what="FetchFailed")
    assert cond(repo, "Ready")["reason"] == "IndexationFailed"
    assert "https://charts.example.com/index.yaml" in cond(repo, "Ready")["message"]
    env.create({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "OCIRepository",
                "metadata": {"name": "cm", "namespace": NS},
                "spec": {"interval": "1h", "url": "oci://quay.io/jetstack/charts/cert-manager",
                         "ref": {"semver": "1.16.x"}}})
    env.create({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
                "metadata": {"name": "cert-manager", "namespace": NS},
                "spec": {"interval": "1h", "chartRef": {"kind": "OCIRepository", "name": "cm"},
                         "values": {"crds": {"enabled": True}}}})
    hr = env.wait_ready(HR, NS, "cert-manager")
    oci = env.store.get("ocirepositories", NS, "cm")
    assert oci["status"]["artifact"]["revision"].startswith("v1.16.5@sha256:")
    assert hr["status"]["history"][0]["chartVersion"] == "v1.16.5"
    crd = env.store.get("customresourcedefinitions", None, "clusterissuers.cert-manager.io")
    assert crd["metadata"]["labels"]["helm.toolkit.fluxcd.io/name"] == "cert-manager"
    assert env.store.registry.by_kind("cert-manager.io/v1", "ClusterIssuer") is not None


def test_helm_storage_holds_the_real_chart_that_renders_the_release(env: FluxEnv, tmp_path: Path) -> None:
    """The storage Secret decodes (with the product's own reader) to a release holding the chart it was rendered
    from — templates, default values, files — and the config values; that chart renders the same objects again.
    A new chart version from the HelmRepository upgrades the release and its stored chart."""
    from gitops.charts import chart_dir_from_release, decode_storage
    from gitops.helmvalues import ChartRenderer

    values = {"redis": {"enabled": True, "replicaCount": 2}}
    env.create(release("shop", values))
    env.wait_ready(HR, NS, "shop")
    assert env.apps.read_namespaced_deployment("shop-podinfo-redis", NS).spec.replicas == 2
    assert env.apps.read_namespaced_deployment("shop-podinfo", NS).spec.replicas == 1  # the chart's default
    sec = env.core.read_namespaced_secret("sh.helm.release.v1.shop.v1", NS)
    record = decode_storage(sec.data["release"])
    chart = record["chart"]
    assert (chart["metadata"]["name"], chart["metadata"]["version"], chart["metadata"]["appVersion"]) == (
        "podinfo", "6.5.4", "6.5.4")
    assert {t["name"] for t in chart["templates"]} >= {"templates/deployment.yaml", "templates/redis.yaml",
                                                      "templates/_helpers.tpl"}
    assert chart["values"]["replicaCount"] == 1 and chart["values"]["redis"]["enabled"] is False
    assert record["config"] == values  # the release's values, not the chart's defaults
    assert "# Source: podinfo/templates/redis.yaml" in record["manifest"]
    renderer = ChartRenderer(str(chart_dir_from_release(record, tmp_path)))
    try:
        again = renderer.render(record["config"], "shop", NS)
    finally:
        renderer.close()
    live = env.store.get("deployments", NS, "shop-podinfo-redis")
    rendered = again[("Deployment", "shop-podinfo-redis")]["spec"]
    assert rendered["replicas"] == live["spec"]["replicas"] == 2
    assert rendered["template"]["metadata"] == live["spec"]["template"]["metadata"]
    assert [c["image"] for c in rendered["template"]["spec"]["containers"]] == [
        c["image"] for c in live["spec"]["template"]["spec"]["containers"]] == ["redis:7.0.7"]

    env.custom.patch_namespaced_custom_object(*HR[:2], NS, HR[2], "shop", {
        "spec": {"chart": {"spec": {"version": "6.6.x"}}}})
    hr = eventually(lambda: (o := env.get(HR, NS, "shop")) and ready(o) and
                    o["status"]["history"][0]["chartVersion"] == "6.6.3" and o, what="upgrade to 6.6.3")
    assert hr["status"]["history"][0]["version"] == 2  # type: ignore[index]
    dep = env.apps.read_namespaced_deployment("shop-podinfo", NS)
    assert dep.spec.template.spec.containers[0].image == "ghcr.io/stefanprodan/podinfo:6.6.3"
    assert dep.metadata.labels["helm.sh/chart"] == "podinfo-6.6.3"
    stored = decode_storage(env.core.read_namespaced_secret("sh.helm.release.v1.shop.v2", NS).data["release"])
    assert stored["chart"]["metadata"]["version"] == "6.6.3"


def test_a_template_error_fails_the_install_with_helms_message(env: FluxEnv) -> None:
    env.create(release("odd", {"ingress": {"enabled": True, "hosts": "not-a-list"}}))
    hr = eventually(lambda: (o := env.get(HR, NS, "odd")) and cond(o, "Released").get("reason") == "InstallFailed"
                    and o, what="InstallFailed")
    message = cond(hr, "Released")["message"]
    assert "template:" in message and "podinfo/templates/ingress.yaml" in message, message


def test_renders_are_cached_by_chart_version_release_and_values() -> None:
    from simulator.flux.charts import CHARTS
    from simulator.flux.helmengine import ENGINE

    podinfo = CHARTS["podinfo"]
    first = ENGINE.render(podinfo, "6.7.1", "cached", "ns", {"replicaCount": 2})
    hits, misses = ENGINE.hits, ENGINE.misses
    first[0][1]["metadata"]["name"] = "changed by the caller"
    again = ENGINE.render(podinfo, "6.7.1", "cached", "ns", {"replicaCount": 2})
    assert (ENGINE.hits, ENGINE.misses) == (hits + 1, misses)
    assert [o["metadata"]["name"] for _, o in again] == ["cached-podinfo", "cached-podinfo"]  # a fresh copy
    assert [o["kind"] for _, o in again] == ["Service", "Deployment"]  # Helm's install order
    ENGINE.render(podinfo, "6.7.1", "cached", "ns", {"replicaCount": 3})
    ENGINE.render(podinfo, "6.7.0", "cached", "ns", {"replicaCount": 2})
    assert (ENGINE.hits, ENGINE.misses) == (hits + 1, misses + 2)
