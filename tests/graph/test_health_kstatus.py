"""Health tables for Kubernetes kinds (kstatus rules and Fluxplane's documented differences), from real status
shapes. No database is touched."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import yaml

from graph.health import Assessment, Health, assess, assess_with_children
from tests.graph.health_common import NOW, obj

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
