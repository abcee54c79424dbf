"""The kinds Fluxplane mirrors: every Flux kind, the workloads they create, and what goes in which family."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from graph.choices import Family

KUSTOMIZE_GROUP = "kustomize.toolkit.fluxcd.io"
HELM_GROUP = "helm.toolkit.fluxcd.io"
SOURCE_GROUP = "source.toolkit.fluxcd.io"
SOURCE_EXT_GROUP = "source.extensions.fluxcd.io"
NOTIFICATION_GROUP = "notification.toolkit.fluxcd.io"
IMAGE_GROUP = "image.toolkit.fluxcd.io"
# The Flux Operator (controlplaneio-fluxcd/flux-operator): FluxInstance installs Flux and its sync, ResourceSet
# templates objects from inputs, ResourceSetInputProvider feeds it inputs, FluxReport describes the installation.
OPERATOR_GROUP = "fluxcd.controlplane.io"

KUSTOMIZE_NAME_LABEL = "kustomize.toolkit.fluxcd.io/name"
KUSTOMIZE_NAMESPACE_LABEL = "kustomize.toolkit.fluxcd.io/namespace"
HELM_NAME_LABEL = "helm.toolkit.fluxcd.io/name"
HELM_NAMESPACE_LABEL = "helm.toolkit.fluxcd.io/namespace"
ORIGIN_ANNOTATION = "config.kubernetes.io/origin"
# Owner labels the Flux Operator stamps on what it applies (objects carry no ownerReferences).
OPERATOR_NAME_LABEL = "fluxcd.controlplane.io/name"
OPERATOR_NAMESPACE_LABEL = "fluxcd.controlplane.io/namespace"
RESOURCESET_NAME_LABEL = "resourceset.fluxcd.controlplane.io/name"
RESOURCESET_NAMESPACE_LABEL = "resourceset.fluxcd.controlplane.io/namespace"
# The operator's documented pause switch: `fluxcd.controlplane.io/reconcile: disabled` (it has no spec.suspend).
OPERATOR_RECONCILE_ANNOTATION = "fluxcd.controlplane.io/reconcile"


@dataclass(frozen=True)
class FluxKind:
    """A Flux kind and the API versions to prefer, newest first (clusters on Flux 2.3 serve older ones)."""

    group: str
    kind: str
    plural: str
    versions: tuple[str, ...]
    family: str


FLUX_KINDS: tuple[FluxKind, ...] = (
    FluxKind(KUSTOMIZE_GROUP, "Kustomization", "kustomizations", ("v1", "v1beta2"), Family.KUSTOMIZATION),
    FluxKind(HELM_GROUP, "HelmRelease", "helmreleases", ("v2", "v2beta2", "v2beta1"), Family.HELMRELEASE),
    FluxKind(SOURCE_GROUP, "GitRepository", "gitrepositories", ("v1", "v1beta2"), Family.SOURCE),
    FluxKind(SOURCE_GROUP, "HelmRepository", "helmrepositories", ("v1", "v1beta2"), Family.SOURCE),
    FluxKind(SOURCE_GROUP, "HelmChart", "helmcharts", ("v1", "v1beta2"), Family.SOURCE),
    FluxKind(SOURCE_GROUP, "OCIRepository", "ocirepositories", ("v1", "v1beta2"), Family.SOURCE),
    FluxKind(SOURCE_GROUP, "Bucket", "buckets", ("v1", "v1beta2"), Family.SOURCE),
    FluxKind(SOURCE_GROUP, "ExternalArtifact", "externalartifacts", ("v1",), Family.SOURCE),
    FluxKind(SOURCE_EXT_GROUP, "ArtifactGenerator", "artifactgenerators", ("v1beta1",), Family.SOURCE),
    FluxKind(NOTIFICATION_GROUP, "Alert", "alerts", ("v1beta3", "v1beta2"), Family.NOTIFICATION),
    FluxKind(NOTIFICATION_GROUP, "Provider", "providers", ("v1beta3", "v1beta2"), Family.NOTIFICATION),
    FluxKind(NOTIFICATION_GROUP, "Receiver", "receivers", ("v1", "v1beta2"), Family.NOTIFICATION),
    FluxKind(IMAGE_GROUP, "ImageRepository", "imagerepositories", ("v1", "v1beta2"), Family.IMAGE),
    FluxKind(IMAGE_GROUP, "ImagePolicy", "imagepolicies", ("v1", "v1beta2"), Family.IMAGE),
    FluxKind(IMAGE_GROUP, "ImageUpdateAutomation", "imageupdateautomations", ("v1", "v1beta2"), Family.IMAGE),
    FluxKind(OPERATOR_GROUP, "FluxInstance", "fluxinstances", ("v1",), Family.OPERATOR),
    FluxKind(OPERATOR_GROUP, "FluxReport", "fluxreports", ("v1",), Family.OPERATOR),
    FluxKind(OPERATOR_GROUP, "ResourceSet", "resourcesets", ("v1",), Family.OPERATOR),
    FluxKind(OPERATOR_GROUP, "ResourceSetInputProvider", "resourcesetinputproviders", ("v1",), Family.OPERATOR),
)
FLUX_GROUPS = frozenset(k.group for k in FLUX_KINDS)
SOURCE_KINDS = frozenset(k.kind for k in FLUX_KINDS if k.family == Family.SOURCE)
# Kinds that apply other objects and keep them in status.inventory (entries `<ns>_<name>_<group>_<kind>`).
APPLIER_KINDS = frozenset({(KUSTOMIZE_GROUP, "Kustomization"), (HELM_GROUP, "HelmRelease"),
                           (OPERATOR_GROUP, "FluxInstance"), (OPERATOR_GROUP, "ResourceSet")})
# The owner labels of each applier: name label → (namespace label, group, kind). A HelmRelease's objects also carry
# Kustomization labels of nobody, so the Helm labels are read last and win.
OWNER_LABELS: tuple[tuple[str, str, str, str], ...] = (
    (OPERATOR_NAME_LABEL, OPERATOR_NAMESPACE_LABEL, OPERATOR_GROUP, "FluxInstance"),
    (RESOURCESET_NAME_LABEL, RESOURCESET_NAMESPACE_LABEL, OPERATOR_GROUP, "ResourceSet"),
    (KUSTOMIZE_NAME_LABEL, KUSTOMIZE_NAMESPACE_LABEL, KUSTOMIZE_GROUP, "Kustomization"),
    (HELM_NAME_LABEL, HELM_NAMESPACE_LABEL, HELM_GROUP, "HelmRelease"),
)
MANAGER_KIND_GROUP = {kind: group for _n, _ns, group, kind in OWNER_LABELS}


def manager_selectors(flux_objects: list[dict]) -> tuple[str, ...]:
    """The owner-label selectors the sync lists managed kinds with: the operator's only when the cluster has
    FluxInstances or ResourceSets (each selector is one list request per kind)."""
    operator = any(str(o.get("apiVersion", "")).startswith(f"{OPERATOR_GROUP}/") and
                   o.get("kind") in ("FluxInstance", "ResourceSet") for o in flux_objects)
    return tuple(name for name, _ns, group, _kind in OWNER_LABELS if operator or group != OPERATOR_GROUP)

# Kinds listed with the Flux labels even before any inventory names them (inventories add the rest).
DEFAULT_MANAGED_KINDS: tuple[tuple[str, str], ...] = (
    ("", "Namespace"), ("", "Service"), ("", "ConfigMap"), ("", "ServiceAccount"), ("", "Secret"),
    ("", "PersistentVolumeClaim"), ("apps", "Deployment"), ("apps", "StatefulSet"), ("apps", "DaemonSet"),
    ("batch", "Job"), ("batch", "CronJob"), ("networking.k8s.io", "Ingress"),
    ("rbac.authorization.k8s.io", "Role"), ("rbac.authorization.k8s.io", "RoleBinding"),
    ("rbac.authorization.k8s.io", "ClusterRole"), ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("apiextensions.k8s.io", "CustomResourceDefinition"), ("autoscaling", "HorizontalPodAutoscaler"),
)
# Children found through ownerReferences rather than labels (listed whole, kept if their owner is mirrored).
OWNED_CHILD_KINDS: tuple[tuple[str, str], ...] = (("apps", "ReplicaSet"), ("", "Pod"))

WORKLOAD_KINDS = frozenset({
    ("apps", "Deployment"), ("apps", "StatefulSet"), ("apps", "DaemonSet"), ("apps", "ReplicaSet"), ("", "Pod"),
    ("batch", "Job"), ("batch", "CronJob"),
})
_FLUX_FAMILY = {(k.group, k.kind): k.family for k in FLUX_KINDS}


def family_of(group: str, kind: str) -> str:
    if (group, kind) in _FLUX_FAMILY:
        return _FLUX_FAMILY[(group, kind)]
    if (group, kind) in WORKLOAD_KINDS:
        return Family.WORKLOAD
    return Family.OTHER


def is_suspended(group: str, spec: dict | None, annotations: dict | None) -> bool:
    """Flux toolkit kinds pause with ``spec.suspend``; the operator's kinds with an annotation."""
    if group == OPERATOR_GROUP:
        return str((annotations or {}).get(OPERATOR_RECONCILE_ANNOTATION, "")).lower() == "disabled"
    return bool((spec or {}).get("suspend")) if isinstance(spec, dict) else False


@functools.lru_cache(maxsize=512)
def split_api_version(api_version: str) -> tuple[str, str]:
    """``apps/v1`` → (``apps``, ``v1``); ``v1`` → (``""``, ``v1``)."""
    group, _, version = api_version.rpartition("/")
    return group, version
