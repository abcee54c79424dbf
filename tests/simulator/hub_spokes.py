"""A hub and two spokes, three simulators in one process: the hub runs Flux; Kustomizations there apply to the
spokes through kubeconfig Secrets (spec.kubeConfig), as in Flux's hub-and-spoke setups."""

from __future__ import annotations

import base64

from simulator import Simulator

from .flux_fixtures import GitRepo, deployment_yaml

SPOKES = ("spoke-1", "spoke-2")


def kubeconfig(server: str, name: str) -> str:
    """A kubeconfig as Cluster API writes into `<cluster>-kubeconfig` (key `value`)."""
    return (f"apiVersion: v1\nkind: Config\nclusters:\n- name: {name}\n  cluster:\n    server: {server}\n"
            f"contexts:\n- name: {name}-admin@{name}\n  context:\n    cluster: {name}\n    user: {name}-admin\n"
            f"current-context: {name}-admin@{name}\nusers:\n- name: {name}-admin\n  user:\n    token: not-a-secret\n")


def kubeconfig_secret(spoke: Simulator, name: str) -> dict:
    value = base64.b64encode(kubeconfig(spoke.url or "", name).encode()).decode()
    return {"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": f"{name}-kubeconfig", "namespace": "flux-system"},
            "type": "cluster.x-k8s.io/secret", "data": {"value": value}}


def spoke_kustomization(name: str) -> str:
    return f"""\
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: {name}-apps
  namespace: flux-system
spec:
  interval: 10m
  retryInterval: 1m
  path: ./apps
  prune: true
  wait: true
  timeout: 2m
  sourceRef:
    kind: GitRepository
    name: flux-system
  kubeConfig:
    secretRef:
      name: {name}-kubeconfig
"""


def hub_repo(repo: GitRepo) -> str:
    """The hub's fleet: clusters/hub lists one Kustomization per spoke; apps/ is what every spoke runs."""
    files = {f"clusters/hub/{s}.yaml": spoke_kustomization(s) for s in SPOKES}
    files.update({
        "apps/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
                                   "resources:\n  - namespace.yaml\n  - deployment.yaml\n",
        "apps/namespace.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: podinfo\n",
        "apps/deployment.yaml": deployment_yaml("podinfo", replicas=2).replace(
            "metadata:\n  name: podinfo\n", "metadata:\n  name: podinfo\n  namespace: podinfo\n", 1),
    })
    return repo.commit(files, "hub and spokes")
