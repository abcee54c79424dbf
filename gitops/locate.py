"""Find the source file and document of a mirrored object from plain data (no Django, no cluster access).

Order: the ``config.kubernetes.io/origin`` annotation joined with the Kustomization's ``spec.path`` (flux.md §5);
then a scan of the build (``resources`` lists, ``../base`` dirs, Flux's generated kustomization) for the document
with the same kind/name/namespace after kustomize's name and namespace transformers; otherwise ``NotEditable``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from . import kustomize, paths
from .errors import GitOpsError, NotEditable, PathEscape
from .render import substitute
from .yamldoc import documents

ORIGIN_ANNOTATION = "config.kubernetes.io/origin"
GIT_SOURCE_KINDS = ("GitRepository", "")
# Cluster-scoped kinds ignore the namespace transformer.
CLUSTER_SCOPED = {
    "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "ClusterIssuer", "GatewayClass",
    "PriorityClass", "StorageClass", "PersistentVolume", "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration", "APIService", "IngressClass", "RuntimeClass", "ClusterPolicy",
}


@dataclass(frozen=True)
class ObjectRef:
    """The live object: its kind, name, namespace (empty for cluster-scoped) and origin annotation value."""

    kind: str
    name: str
    namespace: str = ""
    api_version: str = ""
    origin: str | dict[str, Any] | None = None


@dataclass(frozen=True)
class KustomizationRef:
    """The owning Flux Kustomization: spec.path, name/namespace transformers and its source (kind, URL, ref)."""

    path: str = "."
    target_namespace: str = ""
    name_prefix: str = ""
    name_suffix: str = ""
    source_kind: str = "GitRepository"
    source_url: str = ""
    source_ref: str = ""
    components: tuple[str, ...] = ()  # spec.components, relative to path
    substitute: tuple[tuple[str, str], ...] = ()  # spec.postBuild.substitute (name, value) pairs


@dataclass(frozen=True)
class Location:
    """Where an object's source lives: repository-relative file, document index, build root, how it was found."""

    path: str
    index: int
    build_path: str
    source_url: str = ""
    source_ref: str = ""
    found_by: str = "origin"  # "origin" or "scan"
    components: tuple[str, ...] = ()  # the Kustomization's spec.components (part of the build)


def parse_origin(origin: str | dict[str, Any] | None) -> dict[str, Any]:
    """The origin annotation as a mapping ({} when absent or unparsable)."""
    if not origin:
        return {}
    if isinstance(origin, dict):
        return origin
    try:
        data = YAML(typ="safe", pure=True).load(origin)
    except Exception:  # noqa: BLE001 — a broken annotation just means "no origin", we fall back to scanning
        return {}
    return data if isinstance(data, dict) else {}


def _strip_affixes(name: str, prefix: str, suffix: str) -> str:
    if prefix and name.startswith(prefix):
        name = name[len(prefix):]
    if suffix and name.endswith(suffix):
        name = name[: -len(suffix)]
    return name


def _live_identity(doc: dict[str, Any], layers: list[kustomize.Layer], kz: KustomizationRef) -> tuple[str, str]:
    """The (name, namespace) a source document gets after the layers' and Flux's transformers and postBuild
    substitution."""
    meta = doc.get("metadata") or {}
    variables = dict(kz.substitute)
    name = substitute(str(meta.get("name") or ""), variables)
    namespace = substitute(str(meta.get("namespace") or ""), variables)
    is_namespace = doc.get("kind") == "Namespace"
    for layer in reversed(layers):  # innermost first, as kustomize applies them
        k = layer.kustomization or {}
        if not is_namespace:  # kustomize's prefix/suffix transformers skip Namespace objects
            name = f"{k.get('namePrefix') or ''}{name}{k.get('nameSuffix') or ''}"
        if k.get("namespace"):
            namespace = str(k["namespace"])
            if is_namespace:  # the namespace transformer renames Namespace objects too
                name = namespace
    if not is_namespace:
        name = f"{kz.name_prefix}{name}{kz.name_suffix}"
    if kz.target_namespace:
        namespace = kz.target_namespace
        if is_namespace:
            name = namespace
    if doc.get("kind") in CLUSTER_SCOPED:
        namespace = ""
    return name, namespace


def _matches(doc: Any, obj: ObjectRef, name: str, namespace: str) -> bool:
    if not isinstance(doc, dict) or doc.get("kind") != obj.kind or name != obj.name:
        return False
    if obj.api_version and doc.get("apiVersion") and doc["apiVersion"].split("/")[0] != obj.api_version.split("/")[0]:
        return False
    return not (obj.namespace and namespace and namespace != obj.namespace)


OCI_SOURCE = "org.opencontainers.image.source"
OCI_REVISION = "org.opencontainers.image.revision"


def oci_git_origin(metadata: dict[str, Any]) -> tuple[str, str]:
    """(git URL, branch) an OCI artifact was pushed from, from its ``org.opencontainers.image.source`` and
    ``.revision`` annotations (``flux push artifact --source --revision=<branch>@sha1:<sha>``); NotEditable names
    the missing one. The artifact's root is taken to be the repository's root (``--path=./``)."""
    url = str(metadata.get(OCI_SOURCE) or "").strip()
    revision = str(metadata.get(OCI_REVISION) or "").strip()
    missing = [a for a, v in ((OCI_SOURCE, url), (OCI_REVISION, revision)) if not v]
    if missing:
        raise NotEditable(f"the OCI artifact does not say which git repository it was built from: annotation "
                          f"{' and '.join(missing)} missing (push it with `flux push artifact --source=<git url> "
                          f"--revision=<branch>@sha1:<commit>`)")
    branch, at, _sha = revision.rpartition("@")
    if not at or not branch or not _sha.startswith("sha1:"):
        raise NotEditable(f"the OCI artifact's {OCI_REVISION} {revision!r} names no branch (expected "
                          f"<branch>@sha1:<commit>): a change could not be committed where the artifact is built")
    return url, branch.removeprefix("refs/heads/")


def _check_source(kz: KustomizationRef) -> None:
    if kz.source_kind == "OCIRepository" and kz.source_url:
        return  # an artifact pushed from git whose origin is known (oci_git_origin)
    if kz.source_kind not in GIT_SOURCE_KINDS:
        raise NotEditable(
            f"the Kustomization's source is a {kz.source_kind}; only GitRepository sources map to files in git "
            "(an artifact's layout is not the repository's layout)"
        )


def _from_origin(repo_dir: str, obj: ObjectRef, kz: KustomizationRef, build_path: str) -> Location | None:
    origin = parse_origin(obj.origin)
    if not origin:
        return None
    if origin.get("repo"):
        raise NotEditable(
            f"{obj.kind}/{obj.name} comes from a remote base ({origin['repo']} at {origin.get('ref') or 'HEAD'}); "
            "edit it in that repository"
        )
    if origin.get("configuredBy"):
        by = origin["configuredBy"] or {}
        raise NotEditable(
            f"{obj.kind}/{obj.name} is generated by {by.get('kind', 'a generator')} configured in "
            f"{paths.join(build_path, str(origin.get('configuredIn', 'kustomization.yaml')))}; edit the generator"
        )
    rel = origin.get("path")
    if not isinstance(rel, str) or not rel:
        return None
    file = paths.join(build_path, rel, field="origin")  # raises PathEscape for '..' above the root
    target = paths.confine(repo_dir, file, field="origin")  # raises PathEscape for symlinks out
    if not target.is_file():
        return None  # moved since the cluster's revision: the scan may still find it
    docs = documents(target.read_text(encoding="utf-8"))
    wanted = _strip_affixes(obj.name, kz.name_prefix, kz.name_suffix)
    candidates = [
        i for i, d in enumerate(docs)
        if isinstance(d, dict) and d.get("kind") == obj.kind
        and wanted.endswith(str((d.get("metadata") or {}).get("name") or "\0"))
    ]
    for i in candidates:
        ns = str((docs[i].get("metadata") or {}).get("namespace") or "")
        if not obj.namespace or not ns or ns == obj.namespace:
            return Location(file, i, build_path, kz.source_url, kz.source_ref, "origin")
    return Location(file, candidates[0], build_path, kz.source_url, kz.source_ref, "origin") if candidates else None


def _scan(repo_dir: str, obj: ObjectRef, kz: KustomizationRef, build_path: str) -> Location | None:
    found: list[Location] = []
    for manifest in kustomize.walk(repo_dir, build_path, kz.components):
        text = paths.confine(repo_dir, manifest.path).read_text(encoding="utf-8")
        try:
            docs = documents(text)
        except Exception:  # noqa: BLE001 — a non-YAML resource (e.g. a JSON CRD bundle) cannot hold the object
            continue
        for i, doc in enumerate(docs):
            if isinstance(doc, dict):
                name, namespace = _live_identity(doc, manifest.layers, kz)
                if _matches(doc, obj, name, namespace):
                    found.append(Location(manifest.path, i, build_path, kz.source_url, kz.source_ref, "scan"))
    found = list({(loc.path, loc.index): loc for loc in found}.values())  # a file reached twice is one source
    if len(found) > 1:
        where = ", ".join(f"{loc.path}#{loc.index}" for loc in found)
        raise NotEditable(f"{obj.kind}/{obj.name} is defined more than once ({where}); cannot tell which to edit")
    return found[0] if found else None


def locate(repo_dir: str, obj: ObjectRef, kustomization: KustomizationRef) -> Location:
    """Find the file and document index defining ``obj`` in the checked-out repository ``repo_dir``.

    Raises PathEscape when the origin or spec.path leaves the repository, NotEditable when the object is not in
    git (remote base, generator, Helm-rendered, other source kind, not found, defined twice)."""
    _check_source(kustomization)
    build_path = paths.flux_path(kustomization.path)
    if not paths.confine(repo_dir, build_path, field="spec.path").is_dir():
        raise NotEditable(f"the Kustomization path {kustomization.path!r} does not exist in the repository")
    try:
        location = _from_origin(repo_dir, obj, kustomization, build_path)
        if location is None:
            location = _scan(repo_dir, obj, kustomization, build_path)
    except (NotEditable, PathEscape):
        raise
    except GitOpsError as exc:
        raise NotEditable(f"cannot read the Kustomization's build: {exc}") from None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError, YAMLError) as exc:
        # a file the engine cannot read or parse is the repository's problem, shown to the user, never a 500
        raise NotEditable(f"cannot read the Kustomization's build under {build_path}/: {exc}") from None
    if location is not None and kustomization.components:
        location = replace(location, components=tuple(kustomization.components))
    if location is None:
        raise NotEditable(
            f"{obj.kind} {obj.namespace + '/' if obj.namespace else ''}{obj.name} was not found under "
            f"{build_path}/ (no origin annotation pointing at it, and no matching document in the build); "
            "objects rendered by a HelmRelease are edited through their HelmRelease"
        )
    return location
