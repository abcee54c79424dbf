"""Health tables from real Flux and Kubernetes status shapes (graph.health), plus roll-ups.

Shapes follow what the controllers write (research/flux.md §4) and the fixture manifests' specs
(/work/shared/fixtures/flux2-kustomize-helm-example). No database is touched.
"""

from __future__ import annotations

import pytest

from graph.health import Health, assess
from tests.graph.health_common import REV, obj

KS = """
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: apps, namespace: flux-system, generation: 2}
spec:
  interval: 10m0s
  dependsOn: [{name: infra-configs}]
  sourceRef: {kind: GitRepository, name: flux-system}
  path: ./apps/production
  prune: true
  wait: true
  timeout: 5m0s
"""

HR = """
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: podinfo, namespace: podinfo, generation: 1}
spec:
  releaseName: podinfo
  chart: {spec: {chart: podinfo, sourceRef: {kind: HelmRepository, name: podinfo}}}
  interval: 50m
  install: {remediation: {retries: 3}}
"""

GITREPO = """
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: flux-system, namespace: flux-system, generation: 1}
spec: {interval: 1m0s, ref: {branch: main}, url: "https://github.com/fluxcd/flux2-kustomize-helm-example"}
"""



FLUX_CASES = [
    pytest.param(KS, f"""
status:
  conditions:
  - {{type: Ready, status: "True", reason: ReconciliationSucceeded, observedGeneration: 2,
     lastTransitionTime: "2024-05-01T10:00:00Z", message: "Applied revision: {REV}"}}
  - {{type: Healthy, status: "True", reason: Succeeded, observedGeneration: 2,
     lastTransitionTime: "2024-05-01T10:00:00Z", message: Health check passed in 2.02s}}
  lastAppliedRevision: {REV}
  lastAttemptedRevision: {REV}
  observedGeneration: 2
""", Health.HEALTHY, "ReconciliationSucceeded", "Applied revision: main@sha1", id="kustomization-success"),
    pytest.param(KS, f"""
status:
  conditions:
  - {{type: Ready, status: "False", reason: BuildFailed, observedGeneration: 2,
     lastTransitionTime: "2024-05-01T10:00:00Z",
     message: "kustomize build failed: accumulating resources: accumulation err='accumulating resources from
       './podinfo': open /tmp/kustomization-1/apps/podinfo: no such file or directory'"}}
  - {{type: Reconciling, status: "True", reason: ProgressingWithRetry, observedGeneration: 2,
     lastTransitionTime: "2024-05-01T10:00:00Z", message: "Detecting drift for revision {REV} with a timeout of 5m0s"}}
  lastAttemptedRevision: {REV}
  observedGeneration: 1
""", Health.DEGRADED, "BuildFailed", "kustomize build failed", id="kustomization-buildfailed-after-spec-change"),
    pytest.param(KS, """
status:
  conditions:
  - {type: Ready, status: "False", reason: HealthCheckFailed, observedGeneration: 2,
     lastTransitionTime: "2024-05-01T10:00:00Z",
     message: "health check failed after 5m0.01s: timeout waiting for:
       [Deployment/podinfo/podinfo status: 'InProgress']"}
  - {type: Healthy, status: "False", reason: HealthCheckFailed, observedGeneration: 2,
     lastTransitionTime: "2024-05-01T10:00:00Z", message: "health check failed after 5m0.01s"}
  - {type: Reconciling, status: "True", reason: ProgressingWithRetry, observedGeneration: 2,
     lastTransitionTime: "2024-05-01T10:00:00Z", message: "Running health checks with a timeout of 5m0s"}
  observedGeneration: 2
""", Health.DEGRADED, "HealthCheckFailed", "(retrying)", id="kustomization-healthcheckfailed"),
    pytest.param(KS, """
status:
  conditions:
  - {type: Ready, status: "False", reason: DependencyNotReady, observedGeneration: 2,
     lastTransitionTime: "2024-05-01T10:00:00Z", message: "dependency 'flux-system/infra-configs' is not ready"}
  - {type: Reconciling, status: "True", reason: ProgressingWithRetry, observedGeneration: 2,
     lastTransitionTime: "2024-05-01T10:00:00Z", message: "Fetching manifests for revision main@sha1:3b2c"}
""", Health.PROGRESSING, "DependencyNotReady", "waiting: dependency 'flux-system/infra-configs'",
        id="kustomization-dependencynotready"),
    pytest.param(KS, """
status:
  conditions:
  - {type: Ready, status: "False", reason: ReconciliationFailed, observedGeneration: 2,
     lastTransitionTime: "2024-05-01T10:00:00Z",
     message: "Namespace/podinfo dry-run failed: namespaces \\"podinfo\\" is forbidden: User cannot create resource"}
  - {type: Reconciling, status: "True", reason: ProgressingWithRetry, observedGeneration: 2,
     lastTransitionTime: "2024-05-01T10:00:00Z", message: "Fetching manifests for revision main@sha1:3b2c"}
  observedGeneration: 2
""", Health.DEGRADED, "ReconciliationFailed", "dry-run failed", id="kustomization-retrying"),
    pytest.param(KS, """
status:
  conditions:
  - {type: Ready, status: Unknown, reason: Progressing, observedGeneration: 2,
     lastTransitionTime: "2024-05-01T10:00:00Z", message: Reconciliation in progress}
  - {type: Reconciling, status: "True", reason: Progressing, observedGeneration: 2,
     lastTransitionTime: "2024-05-01T10:00:00Z",
     message: "Fetching manifests for revision main@sha1:3b2c with a timeout of 5m0s"}
  observedGeneration: 1
""", Health.PROGRESSING, "Progressing", "Fetching manifests", id="kustomization-reconciling"),
    pytest.param(KS, """
status:
  conditions:
  - {type: Stalled, status: "True", reason: InvalidCELExpression, observedGeneration: 2,
     lastTransitionTime: "2024-05-01T10:00:00Z", message: "failed to parse expression: undeclared reference to 'x'"}
  - {type: Ready, status: "False", reason: InvalidCELExpression, observedGeneration: 2,
     lastTransitionTime: "2024-05-01T10:00:00Z", message: "failed to parse expression: undeclared reference to 'x'"}
  observedGeneration: 1
""", Health.FAILED, "InvalidCELExpression", "failed to parse expression", id="kustomization-stalled"),
    pytest.param(KS, f"""
metadata: {{generation: 3}}
status:
  conditions:
  - {{type: Ready, status: "True", reason: ReconciliationSucceeded, observedGeneration: 2,
     lastTransitionTime: "2024-05-01T10:00:00Z", message: "Applied revision: {REV}"}}
  observedGeneration: 2
""", Health.PROGRESSING, "LatestGenerationNotObserved", "generation 3", id="kustomization-stale-generation"),
    pytest.param(KS, f"""
metadata: {{generation: 3}}
status:
  conditions:
  - {{type: Ready, status: "True", reason: ReconciliationSucceeded, lastTransitionTime: "2024-05-01T10:00:00Z",
     message: "Applied revision: {REV}"}}
  observedGeneration: 2
""", Health.PROGRESSING, "LatestGenerationNotObserved", "last reconciled: 2",
        id="kustomization-stale-generation-no-per-condition-og"),
    pytest.param(KS, f"""
spec: {{suspend: true}}
status:
  conditions:
  - {{type: Ready, status: "True", reason: ReconciliationSucceeded, observedGeneration: 2,
     lastTransitionTime: "2024-05-01T10:00:00Z", message: "Applied revision: {REV}"}}
  observedGeneration: 1
""", Health.SUSPENDED, "Suspended", "last status: Applied revision", id="kustomization-suspended"),
    pytest.param(KS, "", Health.PROGRESSING, "AwaitingReconciliation", "not reconciled", id="kustomization-no-status"),
    pytest.param(KS, """
metadata: {deletionTimestamp: "2024-05-01T10:00:00Z", finalizers: [finalizers.fluxcd.io]}
spec: {suspend: true}
""", Health.PROGRESSING, "Terminating", "deleted", id="kustomization-terminating"),
    # HelmRelease
    pytest.param(HR, """
status:
  conditions:
  - {type: Ready, status: "True", reason: InstallSucceeded, observedGeneration: 1,
     lastTransitionTime: "2024-05-01T10:00:00Z",
     message: "Helm install succeeded for release podinfo/podinfo.v1 with chart podinfo@6.5.4"}
  - {type: Released, status: "True", reason: InstallSucceeded, observedGeneration: 1,
     lastTransitionTime: "2024-05-01T10:00:00Z",
     message: "Helm install succeeded for release podinfo/podinfo.v1 with chart podinfo@6.5.4"}
  observedGeneration: 1
  lastAttemptedRevision: 6.5.4
""", Health.HEALTHY, "InstallSucceeded", "Helm install succeeded", id="helmrelease-installed"),
    pytest.param(HR, """
status:
  conditions:
  - {type: Ready, status: "False", reason: InstallFailed, observedGeneration: 1,
     lastTransitionTime: "2024-05-01T10:00:00Z",
     message: "Helm install failed for release podinfo/podinfo with chart podinfo@6.5.4: context deadline exceeded"}
  - {type: Released, status: "False", reason: InstallFailed, observedGeneration: 1,
     lastTransitionTime: "2024-05-01T10:00:00Z",
     message: "Helm install failed for release podinfo/podinfo with chart podinfo@6.5.4: context deadline exceeded"}
  - {type: Reconciling, status: "True", reason: ProgressingWithRetry, observedGeneration: 1,
     lastTransitionTime: "2024-05-01T10:00:00Z", message: "retrying install"}
  failures: 1
  installFailures: 1
  observedGeneration: 1
""", Health.DEGRADED, "InstallFailed", "context deadline exceeded (retrying)", id="helmrelease-installfailed"),
    pytest.param(HR, """
status:
  conditions:
  - {type: Stalled, status: "True", reason: RetriesExceeded, observedGeneration: 1,
     lastTransitionTime: "2024-05-01T10:00:00Z", message: "Failed to install after 4 attempt(s)"}
  - {type: Ready, status: "False", reason: InstallFailed, observedGeneration: 1,
     lastTransitionTime: "2024-05-01T10:00:00Z",
     message: "Helm install failed for release podinfo/podinfo with chart podinfo@6.5.4: context deadline exceeded"}
  - {type: Released, status: "False", reason: InstallFailed, observedGeneration: 1,
     lastTransitionTime: "2024-05-01T10:00:00Z", message: "Helm install failed for release podinfo/podinfo"}
  failures: 4
  installFailures: 4
  observedGeneration: 1
""", Health.FAILED, "RetriesExceeded", "Failed to install after 4 attempt(s); Helm install failed",
        id="helmrelease-retriesexceeded-stalled"),
    pytest.param(HR, """
status:
  conditions:
  - {type: Ready, status: "False", reason: RollbackSucceeded, observedGeneration: 1,
     lastTransitionTime: "2024-05-01T10:00:00Z",
     message: "Helm rollback to previous release podinfo/podinfo.v2 with chart podinfo@6.5.3 succeeded"}
  - {type: Released, status: "False", reason: UpgradeFailed, observedGeneration: 1,
     lastTransitionTime: "2024-05-01T10:00:00Z",
     message: "Helm upgrade failed for release podinfo/podinfo with chart podinfo@6.5.4: context deadline exceeded"}
  - {type: Remediated, status: "True", reason: RollbackSucceeded, observedGeneration: 1,
     lastTransitionTime: "2024-05-01T10:00:00Z",
     message: "Helm rollback to previous release podinfo/podinfo.v2 with chart podinfo@6.5.3 succeeded"}
  failures: 1
  upgradeFailures: 1
  observedGeneration: 1
""", Health.DEGRADED, "RollbackSucceeded", "(after UpgradeFailed: Helm upgrade failed",
        id="helmrelease-remediated-rollback"),
    pytest.param(HR, """
status:
  conditions:
  - {type: Ready, status: "False", reason: RollbackFailed, observedGeneration: 1,
     lastTransitionTime: "2024-05-01T10:00:00Z", message: "Helm rollback to previous release failed: timed out"}
  - {type: Remediated, status: "True", reason: RollbackFailed, observedGeneration: 1,
     lastTransitionTime: "2024-05-01T10:00:00Z", message: "Helm rollback to previous release failed: timed out"}
  observedGeneration: 1
""", Health.FAILED, "RollbackFailed", "rollback", id="helmrelease-remediation-failed"),
    pytest.param(HR, """
status:
  conditions:
  - {type: Ready, status: "False", reason: DependencyNotReady, observedGeneration: 1,
     lastTransitionTime: "2024-05-01T10:00:00Z", message: "dependency 'cert-manager/cert-manager' is not ready"}
""", Health.PROGRESSING, "DependencyNotReady", "waiting", id="helmrelease-dependencynotready"),
    # Sources
    pytest.param(GITREPO, f"""
status:
  artifact: {{revision: "{REV}", digest: "sha256:abc", path: gitrepository/flux-system/flux-system/3b2c.tar.gz}}
  conditions:
  - {{type: Ready, status: "True", reason: Succeeded, observedGeneration: 1, lastTransitionTime: "2024-05-01T10:00:00Z",
     message: "stored artifact for revision '{REV}'"}}
  - {{type: ArtifactInStorage, status: "True", reason: Succeeded, observedGeneration: 1,
     lastTransitionTime: "2024-05-01T10:00:00Z", message: "stored artifact for revision '{REV}'"}}
  observedGeneration: 1
""", Health.HEALTHY, "Succeeded", "stored artifact", id="gitrepository-ready"),
    pytest.param(GITREPO, f"""
status:
  conditions:
  - {{type: Reconciling, status: "True", reason: ProgressingWithRetry, observedGeneration: 1,
     lastTransitionTime: "2024-05-01T10:00:00Z", message: "building artifact: new upstream revision"}}
  - {{type: Ready, status: "False", reason: AuthenticationFailed, observedGeneration: 1,
     lastTransitionTime: "2024-05-01T10:00:00Z",
     message: "failed to checkout and determine revision: unable to clone: authentication required"}}
  - {{type: FetchFailed, status: "True", reason: AuthenticationFailed, observedGeneration: 1,
     lastTransitionTime: "2024-05-01T10:00:00Z",
     message: "failed to checkout and determine revision: unable to clone: authentication required"}}
  - {{type: ArtifactInStorage, status: "True", reason: Succeeded, observedGeneration: 1,
     lastTransitionTime: "2024-05-01T09:00:00Z", message: "stored artifact for revision '{REV}'"}}
  observedGeneration: 1
""", Health.DEGRADED, "AuthenticationFailed", "FetchFailed: failed to checkout", id="gitrepository-fetchfailed"),
    pytest.param(GITREPO, f"""
status:
  conditions:
  - {{type: Reconciling, status: "True", reason: Progressing, observedGeneration: 1,
     lastTransitionTime: "2024-05-01T10:00:00Z", message: "building artifact: new upstream revision 'main@sha1:9f'"}}
  - {{type: Ready, status: Unknown, reason: Progressing, observedGeneration: 1,
     lastTransitionTime: "2024-05-01T10:00:00Z", message: "building artifact: new upstream revision 'main@sha1:9f'"}}
  - {{type: ArtifactOutdated, status: "True", reason: NewRevision, observedGeneration: 1,
     lastTransitionTime: "2024-05-01T10:00:00Z", message: "new upstream revision 'main@sha1:9f'"}}
  - {{type: ArtifactInStorage, status: "True", reason: Succeeded, observedGeneration: 1,
     lastTransitionTime: "2024-05-01T09:00:00Z", message: "stored artifact for revision '{REV}'"}}
  observedGeneration: 1
""", Health.PROGRESSING, "ArtifactOutdated", "new upstream revision", id="gitrepository-artifactoutdated"),
    pytest.param(GITREPO, """
status:
  conditions:
  - {type: Ready, status: "False", reason: NewRevision, observedGeneration: 1,
     lastTransitionTime: "2024-05-01T10:00:00Z", message: "new upstream revision 'main@sha1:9f'"}
  - {type: ArtifactOutdated, status: "True", reason: NewRevision, observedGeneration: 1,
     lastTransitionTime: "2024-05-01T10:00:00Z", message: "new upstream revision 'main@sha1:9f'"}
  observedGeneration: 1
""", Health.PROGRESSING, "ArtifactOutdated", "new upstream revision", id="gitrepository-artifactoutdated-ready-false"),
    pytest.param("""
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmChart
metadata: {name: podinfo-podinfo, namespace: flux-system, generation: 1}
spec: {chart: podinfo, sourceRef: {kind: HelmRepository, name: podinfo}, interval: 50m}
""", """
status:
  conditions:
  - {type: Ready, status: "False", reason: InvalidChartReference, observedGeneration: 1,
     lastTransitionTime: "2024-05-01T10:00:00Z",
     message: "invalid chart reference: no chart version found for podinfo-9"}
  - {type: BuildFailed, status: "True", reason: InvalidChartReference, observedGeneration: 1,
     lastTransitionTime: "2024-05-01T10:00:00Z",
     message: "invalid chart reference: no chart version found for podinfo-9"}
  observedGeneration: 1
""", Health.DEGRADED, "InvalidChartReference", "BuildFailed: invalid chart reference", id="helmchart-buildfailed"),
    pytest.param("""
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {name: podinfo, namespace: flux-system, generation: 1}
spec: {type: oci, url: "oci://ghcr.io/stefanprodan/charts", interval: 5m}
""", "", Health.HEALTHY, "Static", "static", id="helmrepository-oci-static"),
    pytest.param("""
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Alert
metadata: {name: slack, namespace: flux-system, generation: 1}
spec: {providerRef: {name: slack}, eventSources: [{kind: Kustomization, name: "*"}]}
""", "", Health.HEALTHY, "Static", "static", id="alert-static"),
    pytest.param("""
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata: {name: slack, namespace: flux-system, generation: 2}
spec: {type: slack, channel: general, suspend: true}
""", "", Health.SUSPENDED, "Suspended", "suspended", id="provider-suspended"),
    pytest.param("""
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {name: podinfo, namespace: flux-system, generation: 1}
spec: {image: ghcr.io/stefanprodan/podinfo, interval: 5m}
""", """
status:
  conditions:
  - {type: Ready, status: "True", reason: Succeeded, observedGeneration: 1,
     lastTransitionTime: "2024-05-01T10:00:00Z", message: "successful scan: found 42 tags"}
  observedGeneration: 1
""", Health.HEALTHY, "Succeeded", "found 42 tags", id="imagerepository-ready"),
    pytest.param("""
apiVersion: source.extensions.fluxcd.io/v1beta1
kind: ArtifactGenerator
metadata: {name: apps, namespace: flux-system, generation: 1}
spec: {sources: [{alias: repo, kind: GitRepository, name: flux-system}]}
""", """
status:
  conditions:
  - {type: Ready, status: "False", reason: BuildFailed, observedGeneration: 1,
     lastTransitionTime: "2024-05-01T10:00:00Z", message: "failed to build artifact: path not found"}
  observedGeneration: 1
""", Health.DEGRADED, "BuildFailed", "path not found", id="artifactgenerator-buildfailed"),
]


@pytest.mark.parametrize(("base", "extra", "health", "reason", "text"), FLUX_CASES)
def test_flux_kinds(base: str, extra: str, health: Health, reason: str, text: str) -> None:
    result = assess(obj(base, extra))
    assert (result.health, result.reason) == (health, reason), result
    assert text in result.message, result
