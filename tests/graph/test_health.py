"""Health tables from real Flux and Kubernetes status shapes (graph.health), plus roll-ups.

Shapes follow what the controllers write (research/flux.md §4) and the fixture manifests' specs
(/work/shared/fixtures/flux2-kustomize-helm-example). No database is touched.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import yaml

from graph.health import Assessment, Health, assess, assess_with_children, rollup, rollup_all, worst

NOW = datetime(2024, 5, 1, 10, 5, 0, tzinfo=UTC)
REV = "main@sha1:3b2c9f4e1a7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b"

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


def obj(base: str, extra: str = "") -> dict:
    """The base manifest merged (one level deep) with an extra YAML snippet (status, metadata, spec)."""
    out = yaml.safe_load(base)
    for key, value in (yaml.safe_load(extra) or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


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


DEPLOY = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: podinfo, namespace: podinfo, generation: 2}
spec:
  replicas: 2
  progressDeadlineSeconds: 600
  selector: {matchLabels: {app.kubernetes.io/name: podinfo}}
  template: {spec: {containers: [{name: podinfo, image: "ghcr.io/stefanprodan/podinfo:6.5.4"}]}}
"""


def pod_yaml(extra: str) -> str:
    return """
apiVersion: v1
kind: Pod
metadata: {name: podinfo-7d9f8c6b5-x2x9z, namespace: podinfo, creationTimestamp: "2024-05-01T10:00:00Z"}
spec: {containers: [{name: podinfo, image: "ghcr.io/stefanprodan/podinfo:6.5.4"}]}
""" + extra


POD_RUNNING = """
status:
  phase: Running
  conditions:
  - {type: PodScheduled, status: "True"}
  - {type: Ready, status: "True"}
  containerStatuses:
  - {name: podinfo, ready: true, restartCount: 0, state: {running: {startedAt: "2024-05-01T10:00:02Z"}}}
"""
POD_PULL = """
status:
  phase: Pending
  conditions:
  - {type: PodScheduled, status: "True"}
  - {type: Ready, status: "False", reason: ContainersNotReady, message: "containers with unready status: [podinfo]"}
  containerStatuses:
  - name: podinfo
    ready: false
    restartCount: 0
    state:
      waiting: {reason: ImagePullBackOff, message: "Back-off pulling image \\"ghcr.io/stefanprodan/podinfo:9.9\\""}
"""
POD_CRASH = """
status:
  phase: Running
  conditions:
  - {type: PodScheduled, status: "True"}
  - {type: Ready, status: "False", reason: ContainersNotReady, message: "containers with unready status: [podinfo]"}
  containerStatuses:
  - name: podinfo
    ready: false
    restartCount: 5
    state: {waiting: {reason: CrashLoopBackOff, message: "back-off 5m0s restarting failed container=podinfo pod=x"}}
    lastState: {terminated: {exitCode: 137, reason: OOMKilled, startedAt: "2024-05-01T10:03:00Z"}}
"""
POD_UNSCHEDULABLE = """
status:
  phase: Pending
  conditions:
  - {type: PodScheduled, status: "False", reason: Unschedulable, lastTransitionTime: "2024-05-01T10:00:00Z",
     message: "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available"}
"""

K8S_CASES = [
    pytest.param(DEPLOY, """
status:
  observedGeneration: 2
  replicas: 2
  updatedReplicas: 2
  readyReplicas: 2
  availableReplicas: 2
  conditions:
  - {type: Available, status: "True", reason: MinimumReplicasAvailable, message: Deployment has minimum availability.}
  - {type: Progressing, status: "True", reason: NewReplicaSetAvailable,
     message: ReplicaSet "podinfo-7d9f8c6b5" has successfully progressed.}
""", [], None, Health.HEALTHY, "Available", "2/2 ready", id="deployment-available"),
    pytest.param(DEPLOY, """
status:
  observedGeneration: 2
  replicas: 3
  updatedReplicas: 1
  readyReplicas: 2
  availableReplicas: 2
  unavailableReplicas: 1
  conditions:
  - {type: Available, status: "True", reason: MinimumReplicasAvailable, message: Deployment has minimum availability.}
  - {type: Progressing, status: "True", reason: ReplicaSetUpdated,
     message: ReplicaSet "podinfo-5c8d7b9f4" is progressing.}
""", [], None, Health.PROGRESSING, "RolloutInProgress", "2/2 ready, 1 of 2 updated", id="deployment-rollout"),
    pytest.param(DEPLOY, """
status:
  observedGeneration: 2
  replicas: 2
  updatedReplicas: 2
  readyReplicas: 1
  availableReplicas: 1
  conditions:
  - {type: Available, status: "True", reason: MinimumReplicasAvailable, message: Deployment has minimum availability.}
  - {type: Progressing, status: "True", reason: ReplicaSetUpdated,
     message: ReplicaSet "podinfo-5c8d7b9f4" is progressing.}
""", [], None, Health.PROGRESSING, "RolloutInProgress", "1/2 ready", id="deployment-1-of-2-ready"),
    pytest.param(DEPLOY, """
status:
  observedGeneration: 2
  replicas: 2
  updatedReplicas: 2
  unavailableReplicas: 2
  conditions:
  - {type: Available, status: "False", reason: MinimumReplicasUnavailable,
     message: Deployment does not have minimum availability.}
  - {type: Progressing, status: "True", reason: ReplicaSetUpdated,
     message: ReplicaSet "podinfo-5c8d7b9f4" is progressing.}
""", [pod_yaml(POD_PULL), pod_yaml(POD_PULL)], None, Health.DEGRADED, "ImagePullBackOff",
        "0/2 ready, ImagePullBackOff: Back-off pulling image", id="deployment-imagepullbackoff-pods"),
    pytest.param(DEPLOY, """
status:
  observedGeneration: 2
  replicas: 2
  updatedReplicas: 2
  unavailableReplicas: 2
  conditions:
  - {type: Available, status: "False", reason: MinimumReplicasUnavailable,
     message: Deployment does not have minimum availability.}
  - {type: Progressing, status: "False", reason: ProgressDeadlineExceeded,
     message: ReplicaSet "podinfo-5c8d7b9f4" has timed out progressing.}
""", [pod_yaml(POD_PULL)], None, Health.FAILED, "ProgressDeadlineExceeded", "0/2 ready, ImagePullBackOff",
        id="deployment-progressdeadlineexceeded"),
    pytest.param(DEPLOY, """
status:
  observedGeneration: 2
  replicas: 2
  updatedReplicas: 2
  readyReplicas: 1
  availableReplicas: 1
  unavailableReplicas: 1
  conditions:
  - {type: Available, status: "False", reason: MinimumReplicasUnavailable,
     message: Deployment does not have minimum availability.}
  - {type: Progressing, status: "True", reason: NewReplicaSetAvailable,
     message: ReplicaSet "podinfo-7d9f8c6b5" has successfully progressed.}
""", [pod_yaml(POD_RUNNING), pod_yaml(POD_CRASH)], None, Health.DEGRADED, "CrashLoopBackOff",
        "1/2 ready, CrashLoopBackOff: back-off 5m0s restarting failed container=podinfo",
        id="deployment-crashloop-after-rollout"),
    pytest.param(DEPLOY, """
status:
  observedGeneration: 2
  replicas: 2
  updatedReplicas: 2
  readyReplicas: 1
  availableReplicas: 1
  conditions:
  - {type: Available, status: "False", reason: MinimumReplicasUnavailable,
     message: Deployment does not have minimum availability.}
  - {type: Progressing, status: "True", reason: NewReplicaSetAvailable, message: has successfully progressed.}
""", [], None, Health.DEGRADED, "MinimumReplicasUnavailable", "1/2 ready", id="deployment-unavailable-no-pods"),
    pytest.param(DEPLOY, """
status:
  observedGeneration: 1
  replicas: 2
  readyReplicas: 2
""", [], None, Health.PROGRESSING, "LatestGenerationNotObserved", "generation 2", id="deployment-stale-generation"),
    pytest.param(DEPLOY, """
spec: {paused: true}
status: {observedGeneration: 2, replicas: 2, readyReplicas: 2}
""", [], None, Health.SUSPENDED, "Paused", "2/2 ready", id="deployment-paused"),
    # Pods
    pytest.param(pod_yaml(POD_RUNNING), "", [], None, Health.HEALTHY, "Running", "ready", id="pod-running"),
    pytest.param(pod_yaml(POD_CRASH), "", [], None, Health.DEGRADED, "CrashLoopBackOff",
                 "restarts: 5; last exit: OOMKilled, code 137", id="pod-crashloopbackoff"),
    pytest.param(pod_yaml(POD_PULL), "", [], None, Health.DEGRADED, "ImagePullBackOff", "Back-off pulling",
                 id="pod-imagepullbackoff"),
    pytest.param(pod_yaml(POD_UNSCHEDULABLE), "", [], datetime(2024, 5, 1, 10, 0, 5, tzinfo=UTC),
                 Health.PROGRESSING, "Unschedulable", "Insufficient cpu", id="pod-unschedulable-young"),
    pytest.param(pod_yaml(POD_UNSCHEDULABLE), "", [], NOW, Health.FAILED, "Unschedulable", "Insufficient cpu",
                 id="pod-unschedulable-old"),
    pytest.param(pod_yaml(POD_UNSCHEDULABLE), "", [], None, Health.FAILED, "Unschedulable", "Insufficient cpu",
                 id="pod-unschedulable-no-clock"),
    pytest.param(pod_yaml("""
status:
  phase: Pending
  conditions: [{type: PodScheduled, status: "True"}]
  containerStatuses:
  - {name: podinfo, ready: false, restartCount: 0, state: {waiting: {reason: ContainerCreating}}}
"""), "", [], None, Health.PROGRESSING, "ContainerCreating", "ContainerCreating", id="pod-containercreating"),
    pytest.param(pod_yaml("""
status: {phase: Failed, reason: Evicted, message: "The node was low on resource: memory."}
"""), "", [], None, Health.HEALTHY, "Evicted", "low on resource", id="pod-evicted-is-history"),
    pytest.param(pod_yaml("status: {phase: Succeeded}"), "", [], None, Health.HEALTHY, "Completed", "completed",
                 id="pod-succeeded"),
    # StatefulSet / DaemonSet / ReplicaSet
    pytest.param("""
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: redis, namespace: podinfo, generation: 3}
spec: {replicas: 3, updateStrategy: {type: RollingUpdate, rollingUpdate: {partition: 2}}}
""", """
status: {observedGeneration: 3, replicas: 3, readyReplicas: 3, currentReplicas: 2, updatedReplicas: 1,
         currentRevision: redis-5d8f, updateRevision: redis-7b9c}
""", [], None, Health.HEALTHY, "PartitionRolloutComplete", "partition 2", id="statefulset-partition-done"),
    pytest.param("""
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: redis, namespace: podinfo, generation: 3}
spec: {replicas: 3, updateStrategy: {type: RollingUpdate, rollingUpdate: {partition: 1}}}
""", """
status: {observedGeneration: 3, replicas: 3, readyReplicas: 3, currentReplicas: 2, updatedReplicas: 1,
         currentRevision: redis-5d8f, updateRevision: redis-7b9c}
""", [], None, Health.PROGRESSING, "RolloutInProgress", "partitioned rollout: 1 of 2 updated",
        id="statefulset-partition-rolling"),
    pytest.param("""
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: redis, namespace: podinfo, generation: 3}
spec: {replicas: 3}
""", """
status: {observedGeneration: 3, replicas: 3, readyReplicas: 3, currentReplicas: 3, updatedReplicas: 3,
         currentRevision: redis-7b9c, updateRevision: redis-7b9c}
""", [], None, Health.HEALTHY, "Available", "3/3 ready", id="statefulset-ready"),
    pytest.param("""
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: redis, namespace: podinfo, generation: 3}
spec: {replicas: 2}
""", """
status: {observedGeneration: 3, replicas: 2, readyReplicas: 1, currentReplicas: 2}
""", [pod_yaml(POD_CRASH)], None, Health.DEGRADED, "CrashLoopBackOff", "1/2 ready, CrashLoopBackOff",
        id="statefulset-crashloop-pod"),
    pytest.param("""
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: node-exporter, namespace: monitoring, generation: 1}
""", """
status: {desiredNumberScheduled: 3, currentNumberScheduled: 3, numberReady: 3, numberAvailable: 3,
         updatedNumberScheduled: 3}
""", [], None, Health.PROGRESSING, "LatestGenerationNotObserved", "observedGeneration",
        id="daemonset-missing-observedgeneration"),
    pytest.param("""
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: node-exporter, namespace: monitoring, generation: 1}
""", """
status: {observedGeneration: 1, desiredNumberScheduled: 3, currentNumberScheduled: 3, numberReady: 3,
         numberAvailable: 3, updatedNumberScheduled: 3}
""", [], None, Health.HEALTHY, "Available", "3/3 ready", id="daemonset-ready"),
    pytest.param("""
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: podinfo-7d9f8c6b5, namespace: podinfo, generation: 1}
spec: {replicas: 2}
""", """
status:
  observedGeneration: 1
  replicas: 0
  conditions:
  - {type: ReplicaFailure, status: "True", reason: FailedCreate,
     message: 'pods "podinfo-7d9f8c6b5-x" is forbidden: exceeded quota: compute-resources'}
""", [], None, Health.DEGRADED, "FailedCreate", "exceeded quota", id="replicaset-replicafailure"),
    pytest.param("""
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: podinfo-7d9f8c6b5, namespace: podinfo, generation: 1}
spec: {replicas: 2}
""", """
status: {observedGeneration: 1, replicas: 2, fullyLabeledReplicas: 2, readyReplicas: 2, availableReplicas: 2}
""", [], None, Health.HEALTHY, "Available", "2/2 ready", id="replicaset-ready"),
    # Job
    pytest.param("""
apiVersion: batch/v1
kind: Job
metadata: {name: migrate, namespace: podinfo, generation: 1}
""", """
status:
  startTime: "2024-05-01T10:00:00Z"
  completionTime: "2024-05-01T10:00:30Z"
  succeeded: 1
  conditions:
  - {type: Complete, status: "True", lastTransitionTime: "2024-05-01T10:00:30Z"}
""", [], None, Health.HEALTHY, "Complete", "1 succeeded", id="job-complete"),
    pytest.param("""
apiVersion: batch/v1
kind: Job
metadata: {name: migrate, namespace: podinfo, generation: 1}
""", """
status:
  startTime: "2024-05-01T10:00:00Z"
  failed: 7
  conditions:
  - {type: Failed, status: "True", reason: BackoffLimitExceeded, message: Job has reached the specified backoff limit}
""", [], None, Health.FAILED, "BackoffLimitExceeded", "backoff limit", id="job-failed"),
    pytest.param("""
apiVersion: batch/v1
kind: Job
metadata: {name: migrate, namespace: podinfo, generation: 1}
""", """
status: {startTime: "2024-05-01T10:00:00Z", active: 1}
""", [], None, Health.PROGRESSING, "JobRunning", "1 active", id="job-running"),
    pytest.param("""
apiVersion: batch/v1
kind: Job
metadata: {name: migrate, namespace: podinfo, generation: 1}
spec: {suspend: true}
""", "", [], None, Health.SUSPENDED, "Suspended", "suspended", id="job-suspended"),
    # PVC
    pytest.param("""
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data-redis-0, namespace: podinfo}
spec: {volumeName: pvc-8a1b2c3d}
""", "status: {phase: Bound, capacity: {storage: 8Gi}}", [], None, Health.HEALTHY, "Bound", "pvc-8a1b2c3d",
        id="pvc-bound"),
    pytest.param("""
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data-redis-0, namespace: podinfo}
""", "status: {phase: Pending}", [], None, Health.PROGRESSING, "Pending", "Pending", id="pvc-pending"),
    pytest.param("""
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data-redis-0, namespace: podinfo}
""", "status: {phase: Lost}", [], None, Health.FAILED, "Lost", "no longer exists", id="pvc-lost"),
    # Service
    pytest.param("""
apiVersion: v1
kind: Service
metadata: {name: ingress-nginx-controller, namespace: ingress-nginx}
spec: {type: LoadBalancer, clusterIP: 10.96.12.7, ports: [{port: 80}]}
""", "status: {loadBalancer: {}}", [], None, Health.HEALTHY, "ExternalAddressPending", "not yet assigned",
        id="service-lb-pending-external-address"),
    pytest.param("""
apiVersion: v1
kind: Service
metadata: {name: ingress-nginx-controller, namespace: ingress-nginx}
spec: {type: LoadBalancer, ports: [{port: 80}]}
""", "", [], None, Health.PROGRESSING, "ClusterIPPending", "cluster IP", id="service-lb-pending-clusterip"),
    pytest.param("""
apiVersion: v1
kind: Service
metadata: {name: ingress-nginx-controller, namespace: ingress-nginx}
spec: {type: LoadBalancer, clusterIP: 10.96.12.7}
""", "status: {loadBalancer: {ingress: [{ip: 203.0.113.10}]}}", [], None, Health.HEALTHY, "Current",
        "203.0.113.10", id="service-lb-ready"),
    # CRD
    pytest.param("""
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: helmreleases.helm.toolkit.fluxcd.io, generation: 1}
""", """
status:
  conditions:
  - {type: NamesAccepted, status: "True", reason: NoConflicts, message: no conflicts found for names}
  - {type: Established, status: "True", reason: InitialNamesAccepted, message: the initial names have been accepted}
""", [], None, Health.HEALTHY, "Established", "accepted", id="crd-established"),
    pytest.param("""
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com, generation: 1}
""", """
status:
  conditions:
  - {type: NamesAccepted, status: "False", reason: PluralConflict,
     message: '"helmreleases" is already in use'}
  - {type: Established, status: "False", reason: NotAccepted, message: not all names are accepted}
""", [], None, Health.FAILED, "PluralConflict", "already in use", id="crd-names-not-accepted"),
    pytest.param("""
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com, generation: 1}
""", """
status:
  conditions:
  - {type: Established, status: "False", reason: Installing, message: the initial names have been accepted}
""", [], None, Health.PROGRESSING, "Installing", "accepted", id="crd-installing"),
    # Always healthy / generic
    pytest.param("""
apiVersion: v1
kind: ConfigMap
metadata: {name: podinfo-values, namespace: podinfo}
data: {values.yaml: "replicaCount: 2"}
""", "", [], None, Health.HEALTHY, "Current", "current", id="configmap"),
    pytest.param("""
apiVersion: batch/v1
kind: CronJob
metadata: {name: backup, namespace: podinfo, generation: 1}
spec: {schedule: "0 3 * * *"}
""", "status: {}", [], None, Health.HEALTHY, "Current", "0 3 * * *", id="cronjob"),
    pytest.param("""
apiVersion: v1
kind: Namespace
metadata: {name: podinfo, deletionTimestamp: "2024-05-01T10:00:00Z"}
""", "status: {phase: Terminating}", [], None, Health.PROGRESSING, "Terminating", "deleted",
        id="namespace-terminating"),
    pytest.param("""
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata: {name: letsencrypt, generation: 1}
""", """
status:
  conditions:
  - {type: Ready, status: "False", reason: ErrRegisterACMEAccount, observedGeneration: 1,
     message: "Failed to register ACME account: 403"}
""", [], None, Health.DEGRADED, "ErrRegisterACMEAccount", "ACME", id="generic-ready-false"),
    pytest.param("""
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: podinfo-tls, namespace: podinfo, generation: 2}
""", """
status:
  observedGeneration: 2
  conditions:
  - {type: Ready, status: "True", reason: Ready, observedGeneration: 2, message: Certificate is up to date}
""", [], None, Health.HEALTHY, "Ready", "up to date", id="generic-ready-true"),
    pytest.param("""
apiVersion: example.com/v1
kind: Widget
metadata: {name: w, namespace: podinfo, generation: 2}
""", """
status:
  observedGeneration: 2
  conditions:
  - {type: Stalled, status: "True", reason: InvalidSpec, message: size must be positive}
""", [], None, Health.FAILED, "InvalidSpec", "positive", id="generic-stalled"),
]


@pytest.mark.parametrize(("base", "extra", "children", "now", "health", "reason", "text"), K8S_CASES)
def test_kubernetes_kinds(base, extra, children, now, health, reason, text) -> None:
    result = assess_with_children(obj(base, extra), [yaml.safe_load(c) for c in children], now=now)
    assert (result.health, result.reason) == (health, reason), result
    assert text in result.message, result


@pytest.mark.parametrize(
    "bad",
    [None, {}, {"kind": "Pod", "status": "garbage"}, {"apiVersion": "apps/v1", "kind": "Deployment", "spec": []},
     {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization", "status": {"conditions": "x"}}],
)
def test_malformed_objects_never_raise(bad) -> None:
    assert isinstance(assess(bad), Assessment)


# ------------------------------------------------------------------ words and roll-ups


def test_severity_order() -> None:
    order = [Health.HEALTHY, Health.SUSPENDED, Health.UNKNOWN, Health.PROGRESSING, Health.DEGRADED, Health.FAILED]
    assert sorted(Health, key=lambda h: h.severity) == order
    assert Health.worst([]) == Health.HEALTHY
    assert Health.worst(["suspended", Health.FAILED, "healthy"]) == Health.FAILED
    assert Health.worst([Health.SUSPENDED, Health.HEALTHY]) == Health.SUSPENDED
    assert [v for v, _ in Health.choices()][0] == "failed"
    assert worst([]) is None
    first = Assessment(Health.DEGRADED, "A", "a")
    assert worst([Assessment(Health.HEALTHY, "", ""), first, Assessment(Health.DEGRADED, "B", "b")]) is first


def h(health: Health, reason: str = "R", message: str = "m") -> Assessment:
    return Assessment(health, reason, message)


def test_rollup_names_the_failing_path() -> None:
    own = {
        "apps": h(Health.DEGRADED, "HealthCheckFailed", "health check failed after 5m"),
        "hr": h(Health.DEGRADED, "InstallFailed", "context deadline exceeded"),
        "dep": h(Health.DEGRADED, "ImagePullBackOff", "0/2 ready, ImagePullBackOff: Back-off pulling image"),
        "svc": h(Health.HEALTHY, "Current", "ClusterIP service"),
        "rs": h(Health.PROGRESSING, "RolloutInProgress", "0/2 ready"),
    }
    kids = {"apps": ["hr"], "hr": ["svc", "dep"], "dep": ["rs"]}
    names = {"apps": "apps", "hr": "HelmRelease podinfo/podinfo", "dep": "Deployment podinfo/podinfo",
             "svc": "Service podinfo/podinfo", "rs": "ReplicaSet podinfo/podinfo-7d9f8c6b5"}
    result = rollup_all(own, kids, names.__getitem__)
    assert result["apps"] == Assessment(
        Health.DEGRADED, "ImagePullBackOff",
        "apps → HelmRelease podinfo/podinfo → Deployment podinfo/podinfo: 0/2 ready, ImagePullBackOff: "
        "Back-off pulling image", culprit="dep")
    assert result["svc"] == own["svc"]  # nothing below: own verdict unchanged
    assert result["dep"] == own["dep"]  # own degraded beats a progressing child
    assert rollup("hr", own, kids, names.__getitem__) == result["hr"]


def test_suspended_parent_does_not_hide_failed_child() -> None:
    own = {"apps": h(Health.SUSPENDED, "Suspended", "suspended"), "job": h(Health.FAILED, "BackoffLimitExceeded"),
           "cm": h(Health.HEALTHY)}
    result = rollup_all(own, {"apps": ["cm", "job"]}, str)
    assert (result["apps"].health, result["apps"].reason, result["apps"].culprit) == (
        Health.FAILED, "BackoffLimitExceeded", "job")
    assert result["apps"].message == "apps → job: m"
    quiet = rollup_all({"apps": own["apps"], "cm": own["cm"]}, {"apps": ["cm"]}, str)
    assert quiet["apps"] == own["apps"]  # a suspended parent over healthy children stays suspended


def test_healthy_tree_keeps_own_messages() -> None:
    own = {"a": h(Health.HEALTHY, "ReconciliationSucceeded", "Applied revision"), "b": h(Health.HEALTHY)}
    assert rollup_all(own, {"a": ["b"]}, str)["a"] == own["a"]


def test_rollup_cycles_are_safe() -> None:
    own = {"a": h(Health.HEALTHY), "b": h(Health.HEALTHY), "c": h(Health.HEALTHY), "d": h(Health.FAILED, "X", "boom"),
           "e": h(Health.PROGRESSING, "P", "p"), "self": h(Health.DEGRADED, "S", "s")}
    # a → b → c → a is a cycle; c → d (failed) leaves it; e → a enters it; self-loop and unknown ids are ignored.
    kids = {"a": ["b", "missing"], "b": ["c"], "c": ["a", "d"], "e": ["a"], "self": ["self"]}
    result = rollup_all(own, kids, str)
    assert result["a"].message == "a → b → c → d: boom"
    assert result["b"].message == "b → c → d: boom"
    assert result["c"].message == "c → d: boom"
    assert result["e"].message == "e → a → b → c → d: boom"
    assert all(result[n].health == Health.FAILED for n in "abce")
    assert result["self"] == own["self"]
    assert rollup("b", own, kids, str).message == "b → c → d: boom"


def test_rollup_cycle_worst_inside_the_cycle() -> None:
    own = {"a": h(Health.HEALTHY), "b": h(Health.DEGRADED, "D", "bad"), "c": h(Health.HEALTHY)}
    result = rollup_all(own, {"a": ["b"], "b": ["c"], "c": ["a"]}, str)
    assert result["c"].message == "c → a → b: bad"
    assert result["b"] == own["b"]


def test_rollup_10k_nodes_wide_and_deep() -> None:
    # A wide tree: 1 root, 100 Kustomizations, 99 objects each.
    own: dict[int, Assessment] = {i: h(Health.HEALTHY) for i in range(10_000)}
    kids: dict[int, list[int]] = {0: list(range(1, 101))}
    for k in range(1, 101):
        kids[k] = list(range(101 + (k - 1) * 99, 101 + k * 99))
    own[9_999] = h(Health.DEGRADED, "CrashLoopBackOff", "back-off")
    result = rollup_all(own, kids, lambda n: f"n{n}")
    assert len(result) == 10_000
    assert result[0].message == "n0 → n100 → n9999: back-off"
    # A 10k-deep chain with a cycle back to the top: no recursion limit, bounded messages.
    chain = {i: [i + 1] for i in range(9_999)}
    chain[9_999] = [0]
    own[5_000] = h(Health.FAILED, "Stalled", "stuck")
    deep = rollup_all(own, chain, lambda n: f"n{n}")
    assert deep[0].health == Health.FAILED and deep[0].culprit == 5_000
    assert deep[0].message.startswith("n0 → n1 → n2 → … (") and deep[0].message.endswith("n4999 → n5000: stuck")
    assert all(len(a.message) < 200 for a in deep.values())
