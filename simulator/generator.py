"""Synthetic cluster contents for scale benchmarks: N namespaces × M apps of Flux objects and workloads.

Per namespace: a GitRepository and a HelmRepository. Per app: a Kustomization and a HelmRelease (Flux
objects); a ServiceAccount, ConfigMap and Service, and a Deployment → ReplicaSet → 5 Pods tree, all
labelled as applied by the Kustomization, with ownerReferences and healthy statuses, so a sync sees the
same shapes as on a real cluster. 100 × 50 gives 10,200 Flux objects and 50,000 children (`counts()`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

from .workloads import template_hash

PODS_PER_APP = 5
T0 = "2026-01-01T00:00:00Z"


def counts(namespaces: int, apps: int) -> dict[str, int]:
    """How many objects generate() yields, by family."""
    per_app_children = 5 + PODS_PER_APP  # ServiceAccount, ConfigMap, Service, Deployment, ReplicaSet, Pods
    return {"namespaces": namespaces, "flux": namespaces * (2 + 2 * apps),
            "children": namespaces * apps * per_app_children,
            "total": namespaces * (1 + 2 + apps * (2 + per_app_children))}


def _ready(rev: str) -> dict:
    return {"observedGeneration": 1, "lastAppliedRevision": rev, "conditions": [
        {"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded",
         "message": f"Applied revision: {rev}", "lastTransitionTime": T0, "observedGeneration": 1}]}


def generate(namespaces: int, apps: int, prefix: str = "team") -> Iterator[dict]:
    """Yield complete objects (namespaces first) for Store.bulk_load()."""
    rev = "main@sha1:" + "a" * 40
    for n in range(namespaces):
        ns = f"{prefix}-{n:04d}"
        yield {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {
            "toolkit.fluxcd.io/tenant": ns}}, "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}
        yield {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
               "metadata": {"name": "apps", "namespace": ns},
               "spec": {"url": f"https://git.example.com/{ns}/apps.git", "interval": "1m", "ref": {"branch": "main"}},
               "status": {**_ready(rev), "artifact": {"revision": rev, "digest": "sha256:" + "b" * 64,
                                                      "path": "x.tar.gz", "url": "http://x/x.tar.gz", "size": 1024,
                                                      "lastUpdateTime": T0}}}
        yield {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
               "metadata": {"name": "charts", "namespace": ns},
               "spec": {"url": "https://charts.example.com", "interval": "1h"}, "status": _ready(rev)}
        for a in range(apps):
            app = f"app-{a:04d}"
            flux_labels = {"kustomize.toolkit.fluxcd.io/name": app, "kustomize.toolkit.fluxcd.io/namespace": ns}
            ks_uid = str(uuid.uuid4())
            yield {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
                   "metadata": {"name": app, "namespace": ns, "uid": ks_uid},
                   "spec": {"interval": "10m", "path": f"./apps/{app}", "prune": True,
                            "sourceRef": {"kind": "GitRepository", "name": "apps"}},
                   "status": {**_ready(rev), "inventory": {"entries": [
                       {"id": f"{ns}_{app}_apps_Deployment", "v": "v1"}]}}}
            yield {"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
                   "metadata": {"name": app, "namespace": ns, "labels": flux_labels},
                   "spec": {"interval": "1h", "chart": {"spec": {"chart": app, "version": "1.0.0", "sourceRef": {
                       "kind": "HelmRepository", "name": "charts"}}}},
                   "status": _ready(rev)}
            sel = {"app": app}
            meta = {"namespace": ns, "labels": {**sel, **flux_labels}}
            yield {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": app, **meta}}
            yield {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"{app}-config", **meta},
                   "data": {"LOG_LEVEL": "info"}}
            yield {"apiVersion": "v1", "kind": "Service", "metadata": {"name": app, **meta},
                   "spec": {"type": "ClusterIP", "selector": sel, "ports": [{"port": 80, "protocol": "TCP"}]}}
            template = {"metadata": {"labels": sel}, "spec": {"containers": [{"name": app, "image": f"acme/{app}:1"}]}}
            h = template_hash(template)
            d_uid, rs_uid = str(uuid.uuid4()), str(uuid.uuid4())
            yield {"apiVersion": "apps/v1", "kind": "Deployment",
                   "metadata": {"name": app, "namespace": ns, "uid": d_uid, "labels": {**sel, **flux_labels}},
                   "spec": {"replicas": PODS_PER_APP, "selector": {"matchLabels": sel}, "template": template,
                            "progressDeadlineSeconds": 600},
                   "status": {"observedGeneration": 1, "replicas": PODS_PER_APP, "updatedReplicas": PODS_PER_APP,
                              "readyReplicas": PODS_PER_APP, "availableReplicas": PODS_PER_APP, "conditions": [
                                  {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
                                  {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}]}}
            rs_labels = {**sel, "pod-template-hash": h}
            yield {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                   "metadata": {"name": f"{app}-{h}", "namespace": ns, "uid": rs_uid, "labels": rs_labels,
                                "annotations": {"deployment.kubernetes.io/revision": "1"},
                                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": app,
                                                     "uid": d_uid, "controller": True, "blockOwnerDeletion": True}]},
                   "spec": {"replicas": PODS_PER_APP, "selector": {"matchLabels": rs_labels}, "template": template},
                   "status": {"observedGeneration": 1, "replicas": PODS_PER_APP, "fullyLabeledReplicas": PODS_PER_APP,
                              "readyReplicas": PODS_PER_APP, "availableReplicas": PODS_PER_APP}}
            for p in range(PODS_PER_APP):
                yield {"apiVersion": "v1", "kind": "Pod",
                       "metadata": {"name": f"{app}-{h}-{p:05d}", "namespace": ns, "labels": rs_labels,
                                    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                                         "name": f"{app}-{h}", "uid": rs_uid, "controller": True,
                                                         "blockOwnerDeletion": True}]},
                       "spec": {**template["spec"], "nodeName": "sim-node-1"},
                       "status": {"phase": "Running", "startTime": T0, "conditions": [
                           {"type": "Ready", "status": "True", "lastTransitionTime": T0}],
                           "containerStatuses": [{"name": app, "image": f"acme/{app}:1", "ready": True,
                                                  "restartCount": 0, "started": True,
                                                  "state": {"running": {"startedAt": T0}}}]}}
