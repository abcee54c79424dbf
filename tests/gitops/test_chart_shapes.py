"""Values paths of charts of no known shape, found by what the picked workload renders now and proven by rendering
(gitops.helmvalues.probe_candidates), and image mappings written in the chart's own shape (registry/image,
registry/repository) — on the simulator's real Helm chart packages (simulator/flux/chart_packages), shaped like
ingress-nginx, loki, kube-prometheus-stack and bitnami's redis. Also: a charts folder option listing several
folders, and the corpus benchmark verifying the Flux example's releases with those packages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gitops import NotEditable, helmvalues
from gitops.charts import ChartUnavailable, find_in_folder

from .conftest import HELM, make_repo

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ROOT / "simulator" / "flux" / "chart_packages"
STAND_INS = ROOT / "tests" / "fixtures" / "charts"

SHAPES = {
    # name: (chart, release, values, workload, intent, expected path)
    "registry/image": ("ingress-nginx", "ingress-nginx", {},
                       helmvalues.Workload("Deployment", "ingress-nginx-controller", ("controller",)),
                       helmvalues.Intent("image", "ghcr.io/example/controller:v1.13.0", "controller"),
                       "controller.image"),
    "prefix replicas": ("ingress-nginx", "ingress-nginx", {},
                        helmvalues.Workload("Deployment", "ingress-nginx-controller", ("controller",)),
                        helmvalues.Intent("replicas", 3), "controller.replicaCount"),
    "registry/repository": ("redis", "redis", {}, helmvalues.Workload("StatefulSet", "redis-master", ("redis",)),
                            helmvalues.Intent("image", "ghcr.io/example/redis:8.0.1", "redis"), "image"),
    "probed replicas": ("loki", "loki", {"deploymentMode": "SingleBinary", "singleBinary": {"replicas": 1},
                                         "read": {"replicas": 0}},
                        helmvalues.Workload("StatefulSet", "loki", ("loki",)), helmvalues.Intent("replicas", 2),
                        "singleBinary.replicas"),
    "probed image": ("kube-prometheus-stack", "kube-prometheus-stack", {},
                     helmvalues.Workload("Deployment", "kube-prometheus-stack-operator", ("operator",)),
                     helmvalues.Intent("image", "quay.io/example/operator:v0.81.0", "operator"),
                     "prometheusOperator.image"),
    "probed resources": ("kube-prometheus-stack", "kube-prometheus-stack", {},
                         helmvalues.Workload("Deployment", "kube-prometheus-stack-operator", ("operator",)),
                         helmvalues.Intent("resources", {"requests": {"cpu": "250m"}}, "operator"),
                         "prometheusOperator.resources"),
}


@pytest.mark.parametrize("name", SHAPES)
def test_the_path_is_found_and_proven(name: str) -> None:
    chart, release, values, workload, intent, expected = SHAPES[name]
    renderer = helmvalues.ChartRenderer(str(PACKAGES / chart))
    try:
        proof = helmvalues.prove(release, "apps", values, workload, intent, renderer)
        assert proof.verified and proof.candidate.path == expected, proof
        before = renderer.render(renderer.effective(values), release, "apps")
        after = renderer.render(helmvalues.deep_merge(renderer.effective(values), proof.candidate.patch), release,
                                "apps")
    finally:
        renderer.close()
    # only the picked workload changed, and its field holds exactly what was asked
    assert [k for k in after if after[k] != before.get(k)] == [(workload.kind, workload.name)]
    obj = after[(workload.kind, workload.name)]
    if intent.field == "replicas":
        assert obj["spec"]["replicas"] == intent.value
    else:
        container = next(c for c in obj["spec"]["template"]["spec"]["containers"] if c["name"] == intent.container)
        got = container[intent.field]
        assert got == intent.value if intent.field == "image" else got["requests"]["cpu"] == "250m"


def test_the_image_keys_follow_the_chart_shape() -> None:
    ingress = {"registry": "registry.k8s.io", "image": "ingress-nginx/controller", "tag": ""}
    assert helmvalues._image_values("ghcr.io/a/b:1.0", "nested", ingress) == {
        "registry": "ghcr.io", "image": "a/b", "tag": "1.0"}
    bitnami = {"registry": "docker.io", "repository": "bitnami/redis", "tag": ""}
    # a Docker Hub reference names its registry and library/ namespace when the chart keeps the registry apart
    assert helmvalues._image_values("redis:8", "nested", bitnami) == {
        "registry": "docker.io", "repository": "library/redis", "tag": "8"}
    assert helmvalues._image_values("localhost:5000/app:2", "nested", bitnami) == {
        "registry": "localhost:5000", "repository": "app", "tag": "2"}
    # a chart with no digest key: the digest rides in the tag; without a known shape the digest key is written
    digest = "sha256:" + "a" * 64
    assert helmvalues._image_values(f"ghcr.io/a/b:1.0@{digest}", "nested", {"repository": "x", "tag": "y"}) == {
        "repository": "ghcr.io/a/b", "tag": f"1.0@{digest}"}
    assert helmvalues._image_values(f"ghcr.io/a/b:1.0@{digest}", "nested") == {
        "repository": "ghcr.io/a/b", "tag": "1.0", "digest": digest}


def test_a_field_the_chart_does_not_template_is_refused_never_guessed() -> None:
    # kube-prometheus-stack's grafana runs one replica whatever the values (in this chart): no path can be proven
    renderer = helmvalues.ChartRenderer(str(PACKAGES / "kube-prometheus-stack"))
    try:
        with pytest.raises(NotEditable, match="no values path could be proven") as info:
            helmvalues.prove("kube-prometheus-stack", "monitoring", {},
                             helmvalues.Workload("Deployment", "kube-prometheus-stack-grafana", ("grafana",)),
                             helmvalues.Intent("replicas", 2), renderer)
        assert "Update Helm values" in str(info.value)
    finally:
        renderer.close()
    # without the chart, a path found by probing is never offered (nothing could prove it)
    with pytest.raises(NotEditable, match="known chart shapes"):
        helmvalues.prove("kube-prometheus-stack", "monitoring", {"prometheusOperator": {"image": {"tag": "x"}}},
                         helmvalues.Workload("Deployment", "kube-prometheus-stack-operator", ("operator",)),
                         helmvalues.Intent("image", "quay.io/example/operator:v1", "operator"), None)


def test_a_charts_option_may_list_several_folders(tmp_path: Path) -> None:
    both = os.pathsep.join([str(PACKAGES), str(STAND_INS)])
    assert find_in_folder(both, "cert-manager", "1.x") == PACKAGES / "cert-manager"
    assert find_in_folder(both, "app-template", "4.2.0") == STAND_INS / "app-template"
    # the first folder holding the chart wins (both hold a podinfo)
    assert find_in_folder(os.pathsep.join([str(STAND_INS), str(PACKAGES)]), "podinfo") == STAND_INS / "podinfo"
    with pytest.raises(ChartUnavailable) as info:
        find_in_folder(both, "litellm-operator", "0.0.15")
    assert str(PACKAGES) in str(info.value) and str(STAND_INS) in str(info.value)


def test_the_bench_verifies_the_flux_example_with_the_simulator_charts(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, HELM)
    charts = os.pathsep.join(["simulator/flux/chart_packages", "tests/fixtures/charts"])
    out = subprocess.run([sys.executable, "bench/clickops_corpus.py", str(repo), "--charts", charts], cwd=ROOT,
                         capture_output=True, text=True, timeout=600, check=False,
                         env={**os.environ, "CLICKOPS_BENCH_EXAMPLES": "100"})
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout)
    assert result["wrong"] == 0 and result["crashed"] == 0 and result["refused"] == 0, result["examples"]
    assert result["unverified"] == 0, result["examples"]
    # every change through a chart but Update Helm values (no field to prove) is proven by rendering it
    helm_values = 3  # one per HelmRelease: cert-manager, ingress-nginx, podinfo
    plain = 3  # scale, image and resources of the frontend Deployment make_repo adds (no chart involved)
    assert result["verified"] == result["exact"] - helm_values - plain
    # each workload the charts render was a pick: cert-manager's three Deployments, ingress-nginx's controller
    assert result["attempted"] >= 3 * (3 + 1 + 2) + helm_values
