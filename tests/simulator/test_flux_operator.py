"""The simulated Flux Operator: a fleet bootstrapped by a FluxInstance goes Ready, ResourceSets render their
tenants, input providers feed them; plus the template renderer's table and its refusals."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from simulator.flux.common import kstatus
from simulator.flux.operator import RenderError, render_template

from .flux_fixtures import KS, FluxEnv, cond, eventually, ready
from .operator_fleet import bootstrap_operator, fleet_repo, operator_objects

FI = ("fluxcd.controlplane.io", "v1", "fluxinstances")
RSET = ("fluxcd.controlplane.io", "v1", "resourcesets")


@pytest.fixture
def env(tmp_path: Path) -> Iterator[FluxEnv]:
    e = FluxEnv(tmp_path)
    yield e
    e.close()


def flux_not_ready(env: FluxEnv) -> list[str]:
    kinds = ("gitrepositories", "kustomizations", "helmreleases")
    objs = [o for k in kinds for o in env.store.list(k)] + operator_objects(env)
    return [f"{o['kind']}/{o['metadata']['namespace']}/{o['metadata']['name']}: {cond(o, 'Ready').get('message')}"
            for o in objs if not ready(o)]


def test_fleet_bootstrapped_by_the_operator_goes_ready(env: FluxEnv, tmp_path: Path) -> None:
    repo = fleet_repo(tmp_path / "fleet")
    bootstrap_operator(env, repo)
    eventually(lambda: len(env.store.list("kustomizations")) >= 5 and not flux_not_ready(env), 90,
               "every Flux and operator object Ready")
    instance = env.get(FI, "flux-system", "flux")
    assert instance["status"]["lastAppliedRevision"].startswith("v2.9.0@sha256:")
    assert [c["name"] for c in instance["status"]["components"]] == [
        "source-controller", "kustomize-controller", "helm-controller", "notification-controller"]
    ids = {e["id"] for e in instance["status"]["inventory"]["entries"]}
    assert {"flux-system_flux-system_kustomize.toolkit.fluxcd.io_Kustomization",
            "flux-system_flux-system_source.toolkit.fluxcd.io_GitRepository",
            "flux-system_kustomize-controller_apps_Deployment"} <= ids
    # The generated sync objects carry the operator's owner labels, and the sync applied the fleet at HEAD.
    sync = env.get(KS, "flux-system", "flux-system")
    assert sync["metadata"]["labels"]["fluxcd.controlplane.io/name"] == "flux"
    sha = repo.git("rev-parse", "HEAD").strip()
    assert sync["status"]["lastAppliedRevision"] == f"refs/heads/main@sha1:{sha}"
    # The ResourceSet rendered one tenant per input, with postBuild variables substituted before rendering.
    apps = env.get(RSET, "flux-system", "apps")
    assert {"frontend_apps_kustomize.toolkit.fluxcd.io_Kustomization", "backend_flux_rbac.authorization.k8s.io_"
            "RoleBinding"} <= {e["id"] for e in apps["status"]["inventory"]["entries"]}
    frontend = env.get(KS, "frontend", "apps")
    assert frontend["metadata"]["labels"]["resourceset.fluxcd.controlplane.io/name"] == "apps"
    assert frontend["spec"]["path"] == "./apps/staging/frontend"
    assert env.store.get("configmaps", "frontend", "flux-runtime-info")["data"]["CLUSTER_NAME"] == "staging-1"
    # The Static input provider fed the monitoring ResourceSet.
    mon = env.get(KS, "flux-system", "monitoring")
    assert mon["metadata"]["labels"]["resourceset.fluxcd.controlplane.io/name"] == "monitoring"
    for name, ns in (("frontend", "frontend"), ("backend", "backend"), ("monitoring", "monitoring")):
        assert kstatus(env.store.get("deployments", ns, name)) == "Current"
    report = env.store.get("fluxreports.fluxcd.controlplane.io",
                           "flux-system", "flux")
    assert report["spec"]["distribution"]["version"] == "v2.9.0" and ready(report)


def test_removing_a_tenant_input_prunes_its_objects(env: FluxEnv, tmp_path: Path) -> None:
    repo = fleet_repo(tmp_path / "fleet")
    bootstrap_operator(env, repo)
    eventually(lambda: env.store.peek("kustomizations", "backend", "apps") is not None and
               ready(env.store.peek("kustomizations", "backend", "apps")), 90, "backend tenant ready")
    text = (repo.path / "tenants/apps.yaml").read_text()
    head, _, tail = text.partition("    - tenant: backend\n      environment: \"${ENVIRONMENT}\"\n")
    repo.commit({"tenants/apps.yaml": head + tail}, "drop backend")
    env.request_reconcile(("source.toolkit.fluxcd.io", "v1", "gitrepositories"), "flux-system", "flux-system")
    eventually(lambda: env.store.peek("namespaces", None, "backend") is None, 60, "backend namespace pruned")
    assert env.store.peek("namespaces", None, "frontend") is not None


def test_suspended_instance_is_left_alone_and_unknown_version_fails(env: FluxEnv, tmp_path: Path) -> None:
    repo = fleet_repo(tmp_path / "fleet")
    bootstrap_operator(env, repo)
    env.wait_ready(FI, "flux-system", "flux", 60)
    env.custom.patch_namespaced_custom_object(*FI[:2], "flux-system", FI[2], "flux", {
        "metadata": {"annotations": {"fluxcd.controlplane.io/reconcile": "disabled"}},
        "spec": {"distribution": {"version": "3.x"}}})
    before = env.get(FI, "flux-system", "flux")["status"]
    env.custom.patch_namespaced_custom_object(*FI[:2], "flux-system", FI[2], "flux", {
        "metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "now"}}})
    assert env.get(FI, "flux-system", "flux")["status"] == before  # paused: nothing happens
    env.custom.patch_namespaced_custom_object(*FI[:2], "flux-system", FI[2], "flux", {
        "metadata": {"annotations": {"fluxcd.controlplane.io/reconcile": "enabled"}}})
    failed = eventually(lambda: (o := env.get(FI, "flux-system", "flux")) and
                        cond(o, "Ready").get("reason") == "ArtifactFailed" and o, 30, "ArtifactFailed")
    assert "no Flux distribution version matching '3.x'" in cond(failed, "Ready")["message"]


RENDER_CASES = [
    ("name: << inputs.tenant >>", {"tenant": "a"}, "name: a"),
    ("path: ./<< inputs.env >>/<< inputs.tenant >>", {"tenant": "a", "env": "prod"}, "path: ./prod/a"),
    ("replicas: << inputs.n >>", {"n": 3}, "replicas: 3"),
    ("v: << inputs.tag | quote >>", {"tag": "1.0"}, 'v: "1.0"'),
    ("x: << inputs.a.b >>", {"a": {"b": "deep"}}, "x: deep"),
    ("no template", {}, "no template"),
]


@pytest.mark.parametrize(("text", "inputs", "want"), RENDER_CASES)
def test_render_template(text: str, inputs: dict, want: str) -> None:
    assert render_template(text, inputs) == want


@pytest.mark.parametrize(("text", "error"), [
    ("x: << inputs.missing >>", 'no entry for key "missing"'),
    ("<<- if inputs.x >>y<<- end >>", "renders only '<< inputs.field >>'"),
])
def test_render_template_refusals(text: str, error: str) -> None:
    with pytest.raises(RenderError, match=error):
        render_template(text, {"x": 1})
