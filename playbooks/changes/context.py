"""From a mirrored object to the git facts a change needs: the owning Kustomization, its source, the repository's
GitConnection, and the refs the git engine's ``locate`` takes."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from controlplane.models import GitConnection
from gitops import KustomizationRef, NotEditable, ObjectRef
from gitops.locate import oci_git_origin
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


def _git_repository(ks: KubeObject, source: dict) -> tuple[str, str, str]:
    """(url, branch, kind) of a Kustomization's GitRepository; it must follow a branch."""
    repo = KubeObject.objects.filter(cluster_id=ks.cluster_id, api_group=SOURCE_GROUP, kind="GitRepository",
                                     namespace=source.get("namespace") or ks.namespace, name=source.get("name"),
                                     deleted_at__isnull=True).first()
    if repo is None:
        raise NotEditable(f"GitRepository {source.get('name')} of Kustomization {ks.name} is not in the mirror")
    ref = (repo.spec or {}).get("ref") or {}
    if ref.get("tag") or ref.get("semver") or ref.get("commit"):
        raise NotEditable(f"GitRepository {repo.name} follows a tag or commit, not a branch: changes would never "
                          f"be applied")
    name = str(ref.get("name") or "")
    branch = ref.get("branch") or (name.removeprefix("refs/heads/") if name.startswith("refs/heads/") else "main")
    return (repo.spec or {}).get("url", ""), branch, "GitRepository"


def _oci_git_origin(ks: KubeObject, source: dict) -> tuple[str, str, str]:
    """(url, branch, kind) of the git repository an OCIRepository's artifact was pushed from: ``flux push artifact
    --source=<git url> --revision=<branch>@sha1:<commit>`` stamps them as OCI annotations, which source-controller
    copies to ``status.artifact.metadata``."""
    oci = KubeObject.objects.filter(cluster_id=ks.cluster_id, api_group=SOURCE_GROUP, kind="OCIRepository",
                                    namespace=source.get("namespace") or ks.namespace, name=source.get("name"),
                                    deleted_at__isnull=True).first()
    if oci is None:
        raise NotEditable(f"OCIRepository {source.get('name')} of Kustomization {ks.name} is not in the mirror")
    origin = oci_git_origin(((oci.status or {}).get("artifact") or {}).get("metadata") or {})
    return origin[0], origin[1], "OCIRepository"


def context_for_kustomization(ks: KubeObject, obj: KubeObject | None = None) -> ChangeContext:
    """The context of files under Kustomization ``ks`` (for creating new objects there, or editing ``obj``)."""
    spec = ks.spec or {}
    source = spec.get("sourceRef") or {}
    if source.get("kind") == "OCIRepository":
        url, branch, source_kind = _oci_git_origin(ks, source)
    elif source.get("kind") == "GitRepository":
        url, branch, source_kind = _git_repository(ks, source)
    else:
        raise NotEditable(f"Kustomization {ks.namespace}/{ks.name} reads a {source.get('kind') or 'unknown'} "
                          f"source; only GitRepository sources, and OCIRepository artifacts that name their git "
                          f"origin, can be changed through git")
    connection = connection_for(url)
    if branch != connection.base_branch:
        raise NotEditable(f"{source.get('kind')} {source.get('name')} follows branch {branch!r} but git connection "
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
        source_kind=source_kind, source_url=url, source_ref=branch,
    )
    return ChangeContext(obj=target, kustomization=ks, connection=connection, object_ref=object_ref,
                         kustomization_ref=kustomization_ref)
