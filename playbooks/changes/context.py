"""From a mirrored object to the git facts a change needs: the owning Kustomization, its source, the repository's
GitConnection, and the refs the git engine's ``locate`` takes."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from controlplane.models import GitConnection
from gitops import KustomizationRef, NotEditable, ObjectRef
from graph.kinds import HELM_GROUP, KUSTOMIZE_GROUP, ORIGIN_ANNOTATION, SOURCE_GROUP
from graph.models import KubeObject


@dataclass(frozen=True)
class ChangeContext:
    """Everything needed to edit ``obj``'s source: where its manifests are built from and which repository."""

    obj: KubeObject  # the object whose source document is edited (may be a HelmRelease for a Helm workload)
    kustomization: KubeObject
    connection: GitConnection
    object_ref: ObjectRef
    kustomization_ref: KustomizationRef
    workload: KubeObject | None = None  # the Helm-rendered workload the user picked (obj is then its HelmRelease)

    @property
    def repository_url(self) -> str:
        return self.kustomization_ref.source_url


def _normalise(url: str) -> str:
    url = url.strip().rstrip("/")
    return url[:-4] if url.endswith(".git") else url


def connection_for(url: str) -> GitConnection:
    """The GitConnection of a GitRepository URL (exact match after normalising), else the configured default
    (``FLUXPLANE_GIT_CONNECTION`` / ``FLUXPLANE_GIT_URL``)."""
    wanted = _normalise(url)
    for connection in GitConnection.objects.all():
        if _normalise(connection.repository_url) == wanted:
            return connection
    default = settings.FLUXPLANE_GIT_CONNECTION
    if default and settings.FLUXPLANE_GIT_URL and _normalise(settings.FLUXPLANE_GIT_URL) == wanted:
        found = GitConnection.objects.filter(name=default).first()
        if found:
            return found
    raise NotEditable(f"no git connection for {url}: add one in Fluxplane core → Git connections")


def helm_release_of(obj: KubeObject) -> KubeObject | None:
    """The HelmRelease that created a Helm-managed object (from its labels), if mirrored."""
    if obj.managed_by_kind != "HelmRelease":
        return None
    return KubeObject.objects.filter(cluster_id=obj.cluster_id, api_group=HELM_GROUP, kind="HelmRelease",
                                     namespace=obj.managed_by_namespace, name=obj.managed_by_name,
                                     deleted_at__isnull=True).first()


def context_for(obj: KubeObject) -> ChangeContext:
    """Resolve the source of ``obj``; raise NotEditable with the reason when it cannot be changed through git."""
    if obj.managed_by_kind != "Kustomization":
        if obj.managed_by_kind == "HelmRelease":
            raise NotEditable(f"{obj} is rendered by HelmRelease {obj.managed_by_namespace}/{obj.managed_by_name}: "
                              f"change the release's values instead")
        raise NotEditable(f"{obj} is not applied by a Flux Kustomization, so it has no source file in git")
    ks = KubeObject.objects.filter(cluster_id=obj.cluster_id, api_group=KUSTOMIZE_GROUP, kind="Kustomization",
                                   namespace=obj.managed_by_namespace, name=obj.managed_by_name,
                                   deleted_at__isnull=True).first()
    if ks is None:
        raise NotEditable(f"Kustomization {obj.managed_by_namespace}/{obj.managed_by_name} is not in the mirror")
    return context_for_kustomization(ks, obj)


def context_for_kustomization(ks: KubeObject, obj: KubeObject | None = None) -> ChangeContext:
    """The context of files under Kustomization ``ks`` (for creating new objects there, or editing ``obj``)."""
    spec = ks.spec or {}
    source = spec.get("sourceRef") or {}
    if source.get("kind") != "GitRepository":
        raise NotEditable(f"Kustomization {ks.namespace}/{ks.name} reads a {source.get('kind') or 'unknown'} "
                          f"source; only GitRepository sources can be changed through git")
    repo = KubeObject.objects.filter(cluster_id=ks.cluster_id, api_group=SOURCE_GROUP, kind="GitRepository",
                                     namespace=source.get("namespace") or ks.namespace, name=source.get("name"),
                                     deleted_at__isnull=True).first()
    if repo is None:
        raise NotEditable(f"GitRepository {source.get('name')} of Kustomization {ks.name} is not in the mirror")
    url = (repo.spec or {}).get("url", "")
    ref = (repo.spec or {}).get("ref") or {}
    if ref.get("tag") or ref.get("semver") or ref.get("commit"):
        raise NotEditable(f"GitRepository {repo.name} follows a tag or commit, not a branch: changes would never "
                          f"be applied")
    connection = connection_for(url)
    branch = ref.get("branch") or "main"
    if branch != connection.base_branch:
        raise NotEditable(f"GitRepository {repo.name} follows branch {branch!r} but git connection "
                          f"{connection.name} targets {connection.base_branch!r}")
    target = obj or ks
    object_ref = ObjectRef(kind=target.kind, name=target.name, namespace=target.namespace,
                           api_version=f"{target.api_group}/{target.api_version}".lstrip("/"),
                           origin=(target.annotations or {}).get(ORIGIN_ANNOTATION))
    kustomization_ref = KustomizationRef(
        path=str(spec.get("path") or "."), components=tuple(str(c) for c in spec.get("components") or ()),
        substitute=tuple((str(k), str(v)) for k, v in ((spec.get("postBuild") or {}).get("substitute") or {}).items()),
        target_namespace=str(spec.get("targetNamespace") or ""),
        name_prefix=str(spec.get("namePrefix") or ""), name_suffix=str(spec.get("nameSuffix") or ""),
        source_kind="GitRepository", source_url=url, source_ref=branch,
    )
    return ChangeContext(obj=target, kustomization=ks, connection=connection, object_ref=object_ref,
                         kustomization_ref=kustomization_ref)
