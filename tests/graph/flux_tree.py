"""A small but realistic Flux tree written straight into a simulator's store, with statuses as Flux sets them.

flux-system/flux-system GitRepository ← Kustomizations infra and apps (apps dependsOn infra);
apps created Namespace podinfo, HelmRepository podinfo, HelmReleases podinfo/podinfo and podinfo/<broken>;
each HelmRelease created a Deployment and a Service; the simulator's workload controller adds ReplicaSets and Pods.
"""

from __future__ import annotations

from simulator import Simulator

REVISION = "main@sha1:4f1a5b1c0ffee00000000000000000000000000"
KS_LABELS = {"kustomize.toolkit.fluxcd.io/name": "apps", "kustomize.toolkit.fluxcd.io/namespace": "flux-system"}


def ready(message: str, reason: str = "ReconciliationSucceeded", generation: int = 1) -> dict:
    return {"type": "Ready", "status": "True", "reason": reason, "message": message, "observedGeneration": generation,
            "lastTransitionTime": "2026-11-27T10:00:00Z"}


def helm_labels(name: str, namespace: str = "podinfo") -> dict:
    return {"helm.toolkit.fluxcd.io/name": name, "helm.toolkit.fluxcd.io/namespace": namespace,
            "app.kubernetes.io/managed-by": "Helm"}


def create(sim: Simulator, obj: dict, status: dict | None = None) -> dict:
    created = sim.store.create(obj)
    if status is not None:
        created["status"] = status
        created = sim.store.update_status(created)
    return created


def app(sim: Simulator, name: str, image: str, replicas: int = 2, namespace: str = "podinfo") -> list[str]:
    """A HelmRelease with its Deployment and Service; returns its inventory ids."""
    create(sim, {
        "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
        "metadata": {"name": name, "namespace": namespace, "labels": KS_LABELS},
        "spec": {"interval": "50m", "chart": {"spec": {"chart": "podinfo", "version": ">=6.0.0", "sourceRef": {
            "kind": "HelmRepository", "name": "podinfo"}}}, "values": {"replicaCount": replicas}},
    }, {"observedGeneration": 1, "conditions": [ready(f"Helm install succeeded for release {namespace}/{name}.v1",
                                                      "InstallSucceeded")],
        "inventory": {"entries": [{"id": f"{namespace}_{name}_apps_Deployment", "v": "v1"},
                                  {"id": f"{namespace}_{name}__Service", "v": "v1"}]},
        "history": [{"chartName": "podinfo", "chartVersion": "6.9.2", "version": 1, "status": "deployed"}]})
    create(sim, {
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmChart",
        "metadata": {"name": f"{namespace}-{name}", "namespace": namespace, "labels": helm_labels(name, namespace)},
        "spec": {"chart": "podinfo", "sourceRef": {"kind": "HelmRepository", "name": "podinfo"}},
    }, {"observedGeneration": 1,
        "conditions": [ready("pulled 'podinfo' chart with version '6.9.2'", "ChartPullSucceeded")]})
    labels = {**helm_labels(name, namespace), "app.kubernetes.io/name": name}
    create(sim, {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
                 "template": {"metadata": {"labels": {"app.kubernetes.io/name": name}},
                              "spec": {"containers": [{"name": "podinfo", "image": image}]}}},
    })
    create(sim, {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"selector": {"app.kubernetes.io/name": name}, "ports": [{"port": 9898}]},
    })
    return [f"{namespace}_{name}_helm.toolkit.fluxcd.io_HelmRelease"]


def flux_tree(sim: Simulator, apps: int = 1, broken: bool = True) -> None:
    """Write the tree; ``apps`` healthy podinfo releases, plus one with a broken image when ``broken``."""
    create(sim, {
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
        "metadata": {"name": "flux-system", "namespace": "flux-system"},
        "spec": {"interval": "1m", "url": "https://github.com/example/fleet.git", "ref": {"branch": "main"}},
    }, {"observedGeneration": 1, "conditions": [ready(f"stored artifact for revision '{REVISION}'", "Succeeded")],
        "artifact": {"revision": REVISION}})
    create(sim, {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": "infra", "namespace": "flux-system"},
        "spec": {"interval": "1h", "path": "./infrastructure", "prune": True,
                 "sourceRef": {"kind": "GitRepository", "name": "flux-system"}},
    }, {"observedGeneration": 1, "conditions": [ready(f"Applied revision: {REVISION}")],
        "lastAppliedRevision": REVISION, "inventory": {"entries": []}})
    create(sim, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "podinfo", "labels": KS_LABELS}})
    create(sim, {
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
        "metadata": {"name": "podinfo", "namespace": "podinfo", "labels": KS_LABELS,
                     "annotations": {"config.kubernetes.io/origin": "path: ../base/podinfo/repository.yaml\n"}},
        "spec": {"interval": "5m", "url": "https://stefanprodan.github.io/podinfo"},
    }, {"observedGeneration": 1, "conditions": [ready("stored artifact: revision 'sha256:1234'", "Succeeded")]})
    inventory = ["_podinfo__Namespace", "podinfo_podinfo_source.toolkit.fluxcd.io_HelmRepository"]
    for index in range(apps):
        inventory += app(sim, "podinfo" if index == 0 else f"podinfo-{index}", "ghcr.io/stefanprodan/podinfo:6.9.2")
    if broken:
        inventory += app(sim, "frontend", "ghcr.io/example/frontend:broken")
    create(sim, {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": "apps", "namespace": "flux-system"},
        "spec": {"interval": "10m", "path": "./apps/staging", "prune": True, "wait": True,
                 "dependsOn": [{"name": "infra"}], "sourceRef": {"kind": "GitRepository", "name": "flux-system"}},
    }, {"observedGeneration": 1, "conditions": [ready(f"Applied revision: {REVISION}")],
        "lastAppliedRevision": REVISION, "inventory": {"entries": [{"id": i, "v": "v1"} for i in inventory]}})
