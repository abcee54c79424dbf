"""Health of the Flux Operator's kinds and of removed Flux API versions, table-driven from real manifests: the
fixture fleet (written in the style of controlplaneio-fluxcd/d2-fleet) with the status shapes the operator
documents (docs/api/v1/fluxinstance.md: Ready/Reconciling/Stalled, kstatus-compatible)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from graph.builder import build_graph
from graph.health import Health, assess
from tests.graph.health_common import obj

FLEET = Path(__file__).resolve().parents[1] / "fixtures" / "flux-operator-fleet"
INSTANCE = (FLEET / "clusters/staging/flux-system/flux-instance.yaml").read_text().replace(
    "  name: flux\n", "  name: flux\n  generation: 1\n", 1)
RESOURCESET = (FLEET / "tenants/apps.yaml").read_text().replace("  name: apps\n", "  name: apps\n  generation: 2\n", 1)
PROVIDER, MONITORING = (FLEET / "tenants/monitoring.yaml").read_text().split("---\n")
REV = "v2.9.0@sha256:4cc5babdb1279ad0177bf513292deadbfa3f7b7c3da0be7fa53b39ab434f7219"

CASES = [
    pytest.param(INSTANCE, f"""
status:
  conditions:
  - {{type: Ready, status: "True", reason: ReconciliationSucceeded, observedGeneration: 1,
     message: Reconciliation finished in 52s}}
  lastAppliedRevision: {REV}
  observedGeneration: 1
""", Health.HEALTHY, "ReconciliationSucceeded", "Reconciliation finished", id="instance-ready"),
    pytest.param(INSTANCE, """
status:
  conditions:
  - {type: Ready, status: Unknown, reason: Progressing, observedGeneration: 1, message: Reconciliation in progress}
  - {type: Reconciling, status: "True", reason: Progressing, observedGeneration: 1, message: Installing revision v2.9.0}
  observedGeneration: 1
""", Health.PROGRESSING, "Progressing", "Installing revision", id="instance-installing"),
    pytest.param(INSTANCE, """
status:
  conditions:
  - {type: Ready, status: "False", reason: ArtifactFailed, observedGeneration: 1,
     message: "no Flux distribution version matching '3.x' found"}
  - {type: Reconciling, status: "True", reason: ProgressingWithRetry, observedGeneration: 1, message: retrying}
  observedGeneration: 1
""", Health.DEGRADED, "ArtifactFailed", "matching '3.x' found (retrying)", id="instance-artifact-failed"),
    pytest.param(INSTANCE, """
status:
  conditions:
  - {type: Stalled, status: "True", reason: BuildFailed, observedGeneration: 1,
     message: "kustomize build failed: invalid patch"}
  - {type: Ready, status: "False", reason: BuildFailed, observedGeneration: 1, message: "kustomize build failed"}
  observedGeneration: 1
""", Health.FAILED, "BuildFailed", "invalid patch", id="instance-stalled"),
    pytest.param(INSTANCE, """
metadata: {name: flux, namespace: flux-system, generation: 1,
           annotations: {fluxcd.controlplane.io/reconcile: disabled}}
status:
  conditions:
  - {type: Ready, status: "True", reason: ReconciliationSucceeded, observedGeneration: 1, message: done}
  observedGeneration: 1
""", Health.SUSPENDED, "Suspended", "last status: done", id="instance-paused-by-annotation"),
    pytest.param(INSTANCE, "", Health.PROGRESSING, "AwaitingReconciliation", "FluxInstance controller",
                 id="instance-no-status"),
    pytest.param(RESOURCESET, """
status:
  conditions:
  - {type: Ready, status: "False", reason: DependencyNotReady, observedGeneration: 2,
     message: "dependency Kustomization/monitoring/monitoring-configs not ready"}
  observedGeneration: 1
""", Health.PROGRESSING, "DependencyNotReady", "waiting: dependency", id="resourceset-waiting"),
    pytest.param(RESOURCESET, """
status:
  conditions:
  - {type: Ready, status: "False", reason: BuildFailed, observedGeneration: 2,
     message: "failed to build resources: template: map has no entry for key \\"tenant\\""}
  observedGeneration: 1
""", Health.DEGRADED, "BuildFailed", "no entry for key", id="resourceset-template-error"),
    pytest.param(RESOURCESET, """
status:
  conditions:
  - {type: Ready, status: "True", reason: ReconciliationSucceeded, observedGeneration: 1, message: done}
  observedGeneration: 1
""", Health.PROGRESSING, "LatestGenerationNotObserved", "generation 2", id="resourceset-new-generation"),
    pytest.param(PROVIDER, """
metadata: {name: monitoring, namespace: flux-system, generation: 1}
status:
  conditions:
  - {type: Ready, status: "False", reason: ReconciliationFailed, observedGeneration: 1,
     message: "GET https://api.github.com/repos/x/y/pulls: 401 Bad credentials"}
  observedGeneration: 1
""", Health.DEGRADED, "ReconciliationFailed", "401 Bad credentials", id="provider-failing"),
]


@pytest.mark.parametrize(("base", "extra", "health", "reason", "message"), CASES)
def test_operator_health(base: str, extra: str, health: Health, reason: str, message: str) -> None:
    verdict = assess(obj(base, extra))
    assert (verdict.health, verdict.reason) == (health, reason), verdict
    assert message in verdict.message


KS_V1 = """
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: apps, namespace: flux-system, generation: 3}
spec: {interval: 10m, path: ./apps/staging, prune: true, sourceRef: {kind: GitRepository, name: flux-system}}
"""
HR_V2BETA2 = """
apiVersion: helm.toolkit.fluxcd.io/v2beta2
kind: HelmRelease
metadata: {name: podinfo, namespace: podinfo, generation: 1}
spec: {interval: 50m, chart: {spec: {chart: podinfo, sourceRef: {kind: HelmRepository, name: podinfo}}}}
"""

API_CASES = [
    pytest.param(KS_V1, """
status:
  conditions:
  - {type: Ready, status: "False", reason: ReconciliationFailed, observedGeneration: 3,
     message: "HelmRelease/podinfo/podinfo dry-run failed: no matches for kind \\"HelmRelease\\" in version
       \\"helm.toolkit.fluxcd.io/v2beta1\\""}
""", Health.DEGRADED, "RemovedAPIVersion", "migrate the manifests to helm.toolkit.fluxcd.io/v2",
                 id="git-holds-removed-helm-api"),
    pytest.param(KS_V1, """
status:
  conditions:
  - {type: Ready, status: "False", reason: ReconciliationFailed, observedGeneration: 3,
     message: "HelmRepository/podinfo/podinfo dry-run failed: no matches for kind \\"HelmRepository\\" in version
       \\"source.toolkit.fluxcd.io/v1beta2\\""}
""", Health.DEGRADED, "RemovedAPIVersion", "source.toolkit.fluxcd.io/v1 (run the “Migrate API versions”",
                 id="git-holds-removed-source-api"),
    pytest.param(KS_V1, """
status:
  conditions:
  - {type: Ready, status: "False", reason: ReconciliationFailed, observedGeneration: 3,
     message: "Widget/a/b dry-run failed: no matches for kind \\"Widget\\" in version \\"example.com/v1\\""}
""", Health.DEGRADED, "ReconciliationFailed", "Widget", id="unknown-crd-is-not-a-flux-migration"),
    pytest.param(HR_V2BETA2, """
status:
  conditions:
  - {type: Ready, status: "True", reason: UpgradeSucceeded, observedGeneration: 1,
     message: "Helm upgrade succeeded for release podinfo/podinfo.v2 with chart podinfo@6.5.4"}
  observedGeneration: 1
""", Health.HEALTHY, "DeprecatedAPIVersion", "serves HelmRelease only as helm.toolkit.fluxcd.io/v2beta2",
                 id="old-flux-cluster-serving-v2beta2"),
]


@pytest.mark.parametrize(("base", "extra", "health", "reason", "message"), API_CASES)
def test_removed_api_versions(base: str, extra: str, health: Health, reason: str, message: str) -> None:
    verdict = assess(obj(base, extra))
    assert (verdict.health, verdict.reason) == (health, reason), verdict
    assert message in verdict.message


def _uid(o: dict, uid: str) -> dict:
    o.setdefault("metadata", {})["uid"] = uid
    return o


def test_operator_edges_from_labels_inventories_and_input_providers() -> None:
    instance = _uid(yaml.safe_load(INSTANCE), "fi")
    instance["status"] = {"inventory": {"entries": [
        {"id": "flux-system_flux-system_kustomize.toolkit.fluxcd.io_Kustomization", "v": "v1"},
        {"id": "flux-system_source-controller_apps_Deployment", "v": "v1"}]}}
    sync = _uid({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
                 "metadata": {"name": "flux-system", "namespace": "flux-system"}, "spec": {}}, "ks")
    controller = _uid({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {
        "name": "source-controller", "namespace": "flux-system",
        "labels": {"fluxcd.controlplane.io/name": "flux", "fluxcd.controlplane.io/namespace": "flux-system"}}}, "dep")
    rset = _uid(yaml.safe_load(MONITORING), "rs")
    provider = _uid(yaml.safe_load(PROVIDER), "rsip")
    tenant_ks = _uid({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization", "metadata": {
        "name": "monitoring", "namespace": "flux-system",
        "labels": {"resourceset.fluxcd.controlplane.io/name": "monitoring",
                   "resourceset.fluxcd.controlplane.io/namespace": "flux-system"}}, "spec": {}}, "tks")
    tenants = _uid({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
                    "metadata": {"name": "tenants", "namespace": "flux-system"}, "spec": {}}, "tenants")
    graph = build_graph([instance, sync, controller, rset, provider, tenant_ks, tenants])
    assert {("fi", "ks", "created"), ("fi", "dep", "created"), ("rs", "tks", "created"), ("rs", "rsip", "source"),
            ("rs", "tenants", "depends-on")} <= graph.edges
    assert graph.nodes["dep"].fields["managed_by_kind"] == "FluxInstance"
    assert graph.nodes["fi"].fields["family"] == "operator"
    paused = _uid(yaml.safe_load(INSTANCE), "fi2")
    paused["metadata"]["annotations"]["fluxcd.controlplane.io/reconcile"] = "disabled"
    assert build_graph([paused]).nodes["fi2"].fields["suspended"] is True


def test_a_kubeconfig_applier_draws_no_local_inventory_edges() -> None:
    ks = _uid({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
               "metadata": {"name": "spoke-1-apps", "namespace": "flux-system"},
               "spec": {"kubeConfig": {"secretRef": {"name": "spoke-1-kubeconfig"}}},
               "status": {"inventory": {"entries": [{"id": "_podinfo__Namespace", "v": "v1"}]}}}, "ks")
    hub_ns = _uid({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "podinfo"}}, "ns")
    assert not build_graph([ks, hub_ns]).edges  # the hub's own namespace of the same name is not the spoke's
