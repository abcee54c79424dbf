"""The kinds Fluxplane mirrors: every Flux kind, the workloads they create, and what goes in which family."""

from __future__ import annotations

from dataclasses import dataclass

from graph.choices import Family

KUSTOMIZE_GROUP = "kustomize.toolkit.fluxcd.io"
HELM_GROUP = "helm.toolkit.fluxcd.io"
SOURCE_GROUP = "source.toolkit.fluxcd.io"
SOURCE_EXT_GROUP = "source.extensions.fluxcd.io"
NOTIFICATION_GROUP = "notification.toolkit.fluxcd.io"
IMAGE_GROUP = "image.toolkit.fluxcd.io"

KUSTOMIZE_NAME_LABEL = "kustomize.toolkit.fluxcd.io/name"
KUSTOMIZE_NAMESPACE_LABEL = "kustomize.toolkit.fluxcd.io/namespace"
HELM_NAME_LABEL = "helm.toolkit.fluxcd.io/name"
HELM_NAMESPACE_LABEL = "helm.toolkit.fluxcd.io/namespace"
ORIGIN_ANNOTATION = "config.kubernetes.io/origin"


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
)
FLUX_GROUPS = frozenset(k.group for k in FLUX_KINDS)
SOURCE_KINDS = frozenset(k.kind for k in FLUX_KINDS if k.family == Family.SOURCE)
APPLIER_KINDS = frozenset({(KUSTOMIZE_GROUP, "Kustomization"), (HELM_GROUP, "HelmRelease")})

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


def split_api_version(api_version: str) -> tuple[str, str]:
    """``apps/v1`` → (``apps``, ``v1``); ``v1`` → (``""``, ``v1``)."""
    group, _, version = api_version.rpartition("/")
    return group, version
