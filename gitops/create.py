"""Creators: new Kustomization, Namespace, Deployment (+ Service) and HelmRelease files, listed where kustomize
and Flux will find them.

Listing rule: a new file or folder goes into directory D. When D has a kustomization.yaml, the new entry is
appended to its ``resources`` with a path relative to D (never repository-absolute). When D has none, D must be
inside the Kustomization's ``spec.path`` with no kustomization.yaml between, so Flux's generated kustomization
(every manifest, recursively; subfolders with a kustomization.yaml as directories) already picks the file up — and
no kustomization.yaml is created there, because one would stop Flux from including D's other files. A new folder
(Create Namespace) always gets its own kustomization.yaml.
"""

from __future__ import annotations

import posixpath
import re
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from . import kustomize, paths, validate
from .errors import InvalidInput, NotEditable
from .locate import Location
from .yamldoc import documents, dump, edit_document
from .yamledit import Change

_EXACT = re.compile(r"^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")


def _new_file(repo_dir: str, rel: str, text: str) -> None:
    target = paths.confine(repo_dir, rel)
    if target.exists():
        raise InvalidInput(f"{rel} already exists in the repository; choose another name", "name")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")


def _covered_by_generation(repo_dir: str, build_path: str, rel_dir: str) -> bool:
    """True when Flux's generated kustomization of ``build_path`` reaches ``rel_dir`` without a kustomization file."""
    build_path = paths.normalize(build_path)
    if kustomize.kustomization_file(repo_dir, build_path) is not None:
        return False
    current = paths.normalize(rel_dir)
    if current != build_path and not current.startswith("" if build_path == "." else build_path + "/"):
        return False
    while current != build_path:
        if kustomize.kustomization_file(repo_dir, current) is not None:
            return False
        current = posixpath.dirname(current) or "."
    return True


def list_in_kustomization(repo_dir: str, rel_dir: str, entry_path: str, build_path: str) -> str | None:
    """Add ``entry_path`` to ``rel_dir``'s kustomization resources (relative to it); returns the kustomization file
    written, or None when Flux's generated kustomization covers it. Raises NotEditable when nothing would build it."""
    kfile = kustomize.kustomization_file(repo_dir, rel_dir)
    if kfile is None:
        if _covered_by_generation(repo_dir, build_path, rel_dir):
            return None
        raise NotEditable(
            f"{rel_dir}/ has no kustomization.yaml and is not under the Kustomization path {build_path}/ that Flux "
            "scans; a new file there would never be applied")
    entry = kustomize.relative_entry(rel_dir, entry_path)
    text = paths.confine(repo_dir, kfile).read_text(encoding="utf-8")
    current = documents(text)[0] or {}
    if entry in (current.get("resources") or []):
        return kfile

    def mutate(tree: CommentedMap) -> None:
        if not isinstance(tree.get("resources"), list):
            tree["resources"] = CommentedSeq()
        tree["resources"].append(entry)

    paths.confine(repo_dir, kfile).write_text(edit_document(text, 0, mutate), encoding="utf-8")
    return kfile


def _meta(name: str, namespace: str = "", annotations: dict[str, str] | None = None,
          labels: dict[str, str] | None = None) -> CommentedMap:
    meta = CommentedMap(name=name)
    if namespace:
        meta["namespace"] = namespace
    if labels:
        meta["labels"] = CommentedMap(labels)
    if annotations:
        meta["annotations"] = CommentedMap(annotations)
    return meta


def _finish(files: list[str], listed: list[str | None], build_paths: list[str], summary: str) -> Change:
    return Change(files + [f for f in listed if f], list(dict.fromkeys(build_paths)), summary)


def create_kustomization(repo_dir: str, parent_path: str, *, name: str, path: str, source_name: str,
                         namespace: str = "flux-system", source_kind: str = "GitRepository",
                         source_namespace: str = "", interval: str = "10m", prune: bool = True,
                         depends_on: tuple[str, ...] | list[str] = (), target_namespace: str = "",
                         annotations: dict[str, str] | None = None) -> Change:
    """Write ``<parent_path>/<name>.yaml`` (a Flux Kustomization) beside the parent's manifests and list it.

    ``parent_path`` is the spec.path of the Kustomization that will apply the new one; ``path`` (the new one's
    spec.path) must exist. Raises InvalidInput for bad names, durations or paths, NotEditable when unlisted."""
    validate.dns1123_label(name)
    validate.dns1123_label(namespace, "namespace")
    validate.dns1123_subdomain(source_name, "source")
    validate.duration(interval)
    for dep in depends_on:
        validate.dns1123_subdomain(dep, "dependsOn")
    if target_namespace:
        validate.dns1123_label(target_namespace, "targetNamespace")
    parent = validate.repo_path(parent_path, "parent")
    new_path = validate.repo_path(path, "path")
    if not paths.confine(repo_dir, new_path).is_dir():
        raise InvalidInput(f"path: {path!r} is not a directory in the repository", "path")
    spec = CommentedMap(interval=interval)
    if depends_on:
        spec["dependsOn"] = CommentedSeq(CommentedMap(name=d) for d in depends_on)
    source = CommentedMap(kind=source_kind, name=source_name)
    if source_namespace:
        source["namespace"] = source_namespace
    spec["sourceRef"] = source
    spec["path"] = "./" + new_path if new_path != "." else "./"
    spec["prune"] = prune
    if target_namespace:
        spec["targetNamespace"] = target_namespace
    doc = CommentedMap(apiVersion="kustomize.toolkit.fluxcd.io/v1", kind="Kustomization",
                       metadata=_meta(name, namespace, annotations), spec=spec)
    rel = paths.join(parent, f"{name}.yaml")
    _new_file(repo_dir, rel, dump(doc))
    listed = list_in_kustomization(repo_dir, parent, rel, parent)
    return _finish([rel], [listed], [parent, new_path], f"create kustomization {name}")


def create_namespace(repo_dir: str, parent_path: str, name: str, *, folder: str = "",
                     labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None) -> Change:
    """Create ``<parent_path>/<folder or name>/`` with namespace.yaml and a kustomization.yaml (originAnnotations),
    listed in the parent's kustomization.yaml. Raises InvalidInput for bad names or an existing folder."""
    validate.dns1123_label(name)
    parent = validate.repo_path(parent_path, "parent")
    folder_rel = paths.join(parent, validate.repo_path(folder or name, "folder"))
    if paths.confine(repo_dir, folder_rel).exists():
        raise InvalidInput(f"{folder_rel} already exists in the repository", "name")
    parent_kust = kustomize.read_kustomization(repo_dir, parent) or {}
    if parent_kust.get("namespace"):
        # kustomize's namespace transformer renames Namespace objects too: the new one would become a duplicate
        raise NotEditable(
            f"{parent}/kustomization.yaml sets namespace: {parent_kust['namespace']}, which would rename the new "
            "Namespace; create it under a Kustomization without a namespace transformer")
    ns = CommentedMap(apiVersion="v1", kind="Namespace", metadata=_meta(name, "", annotations, labels))
    kust = CommentedMap(apiVersion="kustomize.config.k8s.io/v1beta1", kind="Kustomization")
    kust["buildMetadata"] = CommentedSeq(["originAnnotations"])
    kust["resources"] = CommentedSeq(["namespace.yaml"])
    _new_file(repo_dir, paths.join(folder_rel, "namespace.yaml"), dump(ns))
    _new_file(repo_dir, paths.join(folder_rel, "kustomization.yaml"), dump(kust))
    listed = list_in_kustomization(repo_dir, parent, folder_rel, parent)
    files = [paths.join(folder_rel, "namespace.yaml"), paths.join(folder_rel, "kustomization.yaml")]
    return _finish(files, [listed], [parent], f"create namespace {name}")


def _namespace_of(repo_dir: str, ns_loc: Location) -> str:
    docs = documents(paths.confine(repo_dir, ns_loc.path).read_text(encoding="utf-8"))
    doc = docs[ns_loc.index] if ns_loc.index < len(docs) else None
    if not isinstance(doc, dict) or doc.get("kind") != "Namespace":
        raise NotEditable(f"{ns_loc.path}#{ns_loc.index} is not a Namespace")
    return str(doc["metadata"]["name"])


def create_deployment(repo_dir: str, ns_loc: Location, *, name: str, image: str, replicas: int = 1,
                      port: int | None = None, requests: dict[str, str] | None = None,
                      limits: dict[str, str] | None = None, service: bool = False,
                      annotations: dict[str, str] | None = None) -> Change:
    """Write ``<namespace folder>/<name>-deployment.yaml`` (Deployment, + Service when asked and a port is given)
    beside the Flux-managed Namespace's file and list it there. Raises InvalidInput for any bad field."""
    validate.dns1123_label(name)
    validate.image_reference(image)
    validate.replicas(replicas)
    requests = {k: v for k, v in (requests or {}).items() if v}
    limits = {k: v for k, v in (limits or {}).items() if v}  # blank limits are left out, never written as ""
    validate.resources(requests, limits)
    if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535):
        raise InvalidInput(f"port: must be a whole number between 1 and 65535, got {port!r}", "port")
    if service and port is None:
        raise InvalidInput("port: a Service needs the container port", "port")
    namespace = _namespace_of(repo_dir, ns_loc)
    labels = {"app.kubernetes.io/name": name}
    container = CommentedMap(name=name, image=image)
    if port is not None:
        container["ports"] = CommentedSeq([CommentedMap(name="http", containerPort=port)])
    if requests or limits:
        res = CommentedMap()
        if requests:
            res["requests"] = CommentedMap(requests)
        if limits:
            res["limits"] = CommentedMap(limits)
        container["resources"] = res
    spec = CommentedMap(replicas=replicas, selector=CommentedMap(matchLabels=CommentedMap(labels)))
    spec["template"] = CommentedMap(metadata=CommentedMap(labels=CommentedMap(labels)),
                                    spec=CommentedMap(containers=CommentedSeq([container])))
    docs = [CommentedMap(apiVersion="apps/v1", kind="Deployment",
                         metadata=_meta(name, namespace, annotations, labels), spec=spec)]
    if service:
        svc_spec = CommentedMap(selector=CommentedMap(labels), ports=CommentedSeq(
            [CommentedMap(name="http", port=port, targetPort="http")]))
        docs.append(CommentedMap(apiVersion="v1", kind="Service", metadata=_meta(name, namespace, annotations, labels),
                                 spec=svc_spec))
    folder = posixpath.dirname(ns_loc.path) or "."
    rel = paths.join(folder, f"{name}-deployment.yaml")
    _new_file(repo_dir, rel, "---\n".join(dump(d) for d in docs))
    listed = list_in_kustomization(repo_dir, folder, rel, ns_loc.build_path)
    return _finish([rel], [listed], [ns_loc.build_path], f"create deployment {name}")


def create_helmrelease(repo_dir: str, ns_loc: Location, *, name: str, chart: str, version: str,
                       repository_url: str, values: dict[str, Any] | str | None = None, interval: str = "10m",
                       annotations: dict[str, str] | None = None) -> Change:
    """Write ``<namespace folder>/<name>-helmrelease.yaml``: an https repository gives a HelmRepository and
    ``spec.chart.spec``; an ``oci://`` one gives an OCIRepository and ``spec.chartRef``. Listed like other files.
    Raises InvalidInput for bad names, versions, URLs, intervals or values YAML."""
    validate.dns1123_label(name)
    validate.dns1123_subdomain(chart, "chart")
    validate.semver_constraint(version)
    validate.duration(interval)
    if isinstance(values, str):
        values = validate.load_user_yaml(values, "values") if values.strip() else None
    if values is not None and not isinstance(values, dict):
        raise InvalidInput("values: expected a mapping", "values")
    if not re.match(r"^(https://|oci://)[A-Za-z0-9.-]+(:\d+)?(/[A-Za-z0-9._~/-]*)?$", repository_url or ""):
        raise InvalidInput(f"repository: {repository_url!r} is not an https:// or oci:// chart repository URL",
                           "repository")
    namespace = _namespace_of(repo_dir, ns_loc)
    release_spec = CommentedMap(interval=interval)
    if repository_url.startswith("oci://"):
        ref = CommentedMap(tag=version) if _EXACT.match(version) else CommentedMap(semver=version)
        source = CommentedMap(apiVersion="source.toolkit.fluxcd.io/v1", kind="OCIRepository",
                              metadata=_meta(name, namespace, annotations),
                              spec=CommentedMap(interval=interval, url=repository_url.rstrip("/") + "/" + chart,
                                                ref=ref))
        source["spec"]["layerSelector"] = CommentedMap(
            mediaType="application/vnd.cncf.helm.chart.content.v1.tar+gzip", operation="copy")
        release_spec["chartRef"] = CommentedMap(kind="OCIRepository", name=name)
    else:
        source = CommentedMap(apiVersion="source.toolkit.fluxcd.io/v1", kind="HelmRepository",
                              metadata=_meta(name, namespace, annotations),
                              spec=CommentedMap(interval=interval, url=repository_url))
        release_spec["chart"] = CommentedMap(spec=CommentedMap(
            chart=chart, version=DoubleQuotedScalarString(version),
            sourceRef=CommentedMap(kind="HelmRepository", name=name), interval=interval))
    if values:
        release_spec["values"] = values
    release = CommentedMap(apiVersion="helm.toolkit.fluxcd.io/v2", kind="HelmRelease",
                           metadata=_meta(name, namespace, annotations), spec=release_spec)
    folder = posixpath.dirname(ns_loc.path) or "."
    rel = paths.join(folder, f"{name}-helmrelease.yaml")
    _new_file(repo_dir, rel, dump(source) + "---\n" + dump(release))
    listed = list_in_kustomization(repo_dir, folder, rel, ns_loc.build_path)
    return _finish([rel], [listed], [ns_loc.build_path], f"create helmrelease {name}")
