"""Edits of located documents, made where the value actually lives, with minimal round-trip diffs.

Where a value lives: a container image overridden by a kustomization ``images:`` entry is changed in that entry;
a field of an object patched by a strategic-merge patch *file* (an overlay such as apps/staging/podinfo-values.yaml)
is changed in the outermost such patch, so the change stays in that environment and is not baked into a base other
overlays share; otherwise the located document itself is edited. Inline and JSON6902 patches that set the field
make it ``NotEditable`` (the build would override the edit).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, LiteralScalarString, SingleQuotedScalarString

from . import kustomize, paths, validate
from .errors import InvalidInput, NotEditable
from .locate import Location
from .yamldoc import document_text, documents, dump, edit_document, replace_document_text

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicaSet")
SCALABLE_KINDS = ("Deployment", "StatefulSet", "ReplicaSet")


@dataclass
class Change:
    """What an edit wrote: repository-relative files, the build paths to check, a one-line summary."""

    files: list[str] = field(default_factory=list)
    build_paths: list[str] = field(default_factory=list)
    summary: str = ""
    notes: list[str] = field(default_factory=list)  # what the approver must know (aliases that follow an anchor …)


@dataclass
class _Target:
    path: str
    index: int
    is_patch: bool = False
    kustomization_images: bool = False
    flux_patch: dict[str, Any] | None = None  # set: edit the patch of this object in a Flux Kustomization


def _read(repo_dir: str, rel: str) -> str:
    return paths.confine(repo_dir, rel).read_text(encoding="utf-8")


def _write(repo_dir: str, rel: str, text: str) -> None:
    paths.confine(repo_dir, rel).write_text(text, encoding="utf-8")


def _doc(repo_dir: str, loc: Location) -> dict[str, Any]:
    docs = documents(_read(repo_dir, loc.path))
    if loc.index >= len(docs) or not isinstance(docs[loc.index], dict):
        raise NotEditable(f"{loc.path} has no document #{loc.index}")
    return docs[loc.index]


def _layers(repo_dir: str, loc: Location) -> list[kustomize.Layer]:
    for manifest in kustomize.walk(repo_dir, loc.build_path, loc.components):
        if manifest.path == loc.path:
            return manifest.layers
    raise NotEditable(f"{loc.path} is not part of the build of {loc.build_path}/")


def _count_targets(repo_dir: str, build_path: str, target: dict[str, Any] | None, kind: str, name: str,
                   components: tuple[str, ...] = ()) -> int:
    if target is None:
        return 1
    count = 0
    for manifest in kustomize.walk(repo_dir, build_path, components):
        try:
            docs = documents(_read(repo_dir, manifest.path))
        except Exception:  # noqa: BLE001 — non-YAML resources cannot be patch targets we edit
            continue
        for doc in docs:
            if isinstance(doc, dict) and kustomize.target_matches(
                target, doc, str(doc.get("kind")), str((doc.get("metadata") or {}).get("name"))
            ):
                count += 1
    return count


def _patch_identity(repo_dir: str, loc: Location) -> dict[str, Any]:
    """kind/name a Flux Kustomization patch selects the located object by (its name after the build's own
    kustomize layers; Flux applies ``spec.patches`` on top of the build)."""
    doc = _doc(repo_dir, loc)
    name = str((doc.get("metadata") or {}).get("name"))
    for layer in reversed(_layers(repo_dir, loc)):
        k = layer.kustomization or {}
        if doc.get("kind") != "Namespace":
            name = f"{k.get('namePrefix') or ''}{name}{k.get('nameSuffix') or ''}"
    return {"apiVersion": doc.get("apiVersion"), "kind": str(doc.get("kind")), "name": name}


def _edit_flux_patch(repo_dir: str, target: _Target, mutate) -> list[str]:
    """Apply ``mutate`` to the strategic-merge patch for ``target.flux_patch`` in a Flux Kustomization's
    ``spec.patches`` (created when missing): the change reaches only the clusters applying that Kustomization."""
    ident = target.flux_patch or {}
    text = _read(repo_dir, target.path)
    ks = documents(text)[target.index]
    if not isinstance(ks, dict) or ks.get("kind") != "Kustomization":
        raise NotEditable("the overlay patch goes into a Flux Kustomization; this document is not one")
    existing = None
    for i, entry in enumerate(((ks.get("spec") or {}).get("patches")) or []):
        sel = (entry or {}).get("target") or {}
        if isinstance(entry, dict) and isinstance(entry.get("patch"), str) and sel.get("kind") == ident["kind"] \
                and sel.get("name") == ident["name"] and set(sel) <= {"kind", "name", "group", "version"}:
            existing = i
            body = entry["patch"]
            break
    else:
        body = dump({"apiVersion": ident["apiVersion"], "kind": ident["kind"], "metadata": {"name": ident["name"]}})
    new_body = edit_document(body if body.endswith("\n") else body + "\n", 0, mutate)

    def add(tree: CommentedMap) -> None:
        spec = _ensure(tree, ("spec",))
        if existing is not None:
            spec["patches"][existing]["patch"] = LiteralScalarString(new_body)
            return
        if not isinstance(spec.get("patches"), list):
            spec["patches"] = CommentedSeq()
        spec["patches"].append(CommentedMap([("patch", LiteralScalarString(new_body)),
                                             ("target", CommentedMap(kind=ident["kind"], name=ident["name"]))]))

    new = edit_document(text, target.index, add)
    if new != text:
        _write(repo_dir, target.path, new)
    return []


def _where(repo_dir: str, loc: Location, field_path: tuple[str, ...], overlay: Location | None = None) -> _Target:
    """The document to edit for ``field_path`` of the located object (see the module docstring); ``overlay`` (the
    source of the picked Flux Kustomization): a patch in its ``spec.patches`` instead, so a shared base is left
    alone and only the clusters applying that Kustomization change."""
    if overlay is not None:
        return _Target(overlay.path, overlay.index, is_patch=True, flux_patch=_patch_identity(repo_dir, loc))
    doc = _doc(repo_dir, loc)
    kind, name = str(doc.get("kind")), str((doc.get("metadata") or {}).get("name"))
    layers = _layers(repo_dir, loc)
    pointer = "/" + "/".join(field_path)
    for layer in layers:
        for text, target in kustomize.inline_patches(layer):
            if kustomize.target_matches(target, {}, kind, name) if target else f"name: {name}" in text:
                if pointer in text or all(f"{part}:" in text for part in field_path):
                    raise NotEditable(
                        f"{pointer} of {kind}/{name} may be set by an inline patch in {layer.dir}/kustomization.yaml; "
                        "edit that patch by hand")
    for layer in layers:  # outermost first: its patches win
        for patch_path, target in kustomize.patch_files(layer, repo_dir):
            for i, pdoc in enumerate(documents(_read(repo_dir, patch_path))):
                if not isinstance(pdoc, dict) or pdoc.get("kind") != kind:
                    continue
                if not kustomize.target_matches(target, pdoc, kind, name):
                    continue
                if _count_targets(repo_dir, loc.build_path, target, kind, name, loc.components) != 1:
                    continue  # the patch changes several objects; editing it would change them all
                return _Target(patch_path, i, is_patch=True)
    return _Target(loc.path, loc.index)


def _get(node: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _ensure(node: CommentedMap, path: tuple[str, ...]) -> CommentedMap:
    for key in path:
        if key not in node or not isinstance(node[key], dict):
            node[key] = CommentedMap()
        node = node[key]
    return node


def _styled(old: Any, new: Any) -> Any:
    """A new scalar in the quoting style of the one it replaces."""
    if isinstance(new, str):
        if isinstance(old, DoubleQuotedScalarString):
            return DoubleQuotedScalarString(new)
        if isinstance(old, SingleQuotedScalarString):
            return SingleQuotedScalarString(new)
    return new


def _set(node: CommentedMap, path: tuple[str, ...], value: Any, *, first: bool = False) -> None:
    parent = _ensure(node, path[:-1])
    key = path[-1]
    if key in parent:
        parent[key] = _styled(parent[key], value)
    elif first:
        parent.insert(0, key, value)  # e.g. replicas goes first in spec, as kubectl writes it
    else:
        parent[key] = value


def _edit(repo_dir: str, target: _Target, mutate) -> list[str]:
    """Edit one document in place; returns the notes of the edit (aliases following a changed anchor)."""
    if target.flux_patch is not None:
        return _edit_flux_patch(repo_dir, target, mutate)
    text = _read(repo_dir, target.path)
    notes: list[str] = []
    new = edit_document(text, target.index, mutate, notes)
    if new != text:
        _write(repo_dir, target.path, new)
    return [f"{target.path}: {note}" for note in notes]


def _change(loc: Location, target: _Target, summary: str, notes: list[str] | None = None) -> Change:
    return Change([target.path], [loc.build_path], summary, list(notes or []))


def _pod_spec_path(kind: str) -> tuple[str, ...]:
    if kind == "CronJob":
        return ("spec", "jobTemplate", "spec", "template", "spec")
    if kind in WORKLOAD_KINDS:
        return ("spec", "template", "spec")
    if kind == "Pod":
        return ("spec",)
    raise NotEditable(f"{kind} has no pod template")


def set_replicas(repo_dir: str, loc: Location, replicas: int, *, overlay: Location | None = None) -> Change:
    """Set ``spec.replicas`` (an integer 0..1000) of a Deployment/StatefulSet/ReplicaSet.

    Raises InvalidInput (bad count), NotEditable (kind without replicas, e.g. DaemonSet)."""
    validate.replicas(replicas)
    doc = _doc(repo_dir, loc)
    if doc.get("kind") not in SCALABLE_KINDS:
        raise NotEditable(f"a {doc.get('kind')} has no spec.replicas to scale")
    target = _where(repo_dir, loc, ("spec", "replicas"), overlay)
    notes = _edit(repo_dir, target, lambda t: _set(t, ("spec", "replicas"), replicas, first=True))
    return _change(loc, target, f"scale to {replicas} replicas", notes)


def _find_container(pod_spec: Any, container: str) -> CommentedMap | None:
    for list_key in ("containers", "initContainers"):
        for item in (pod_spec or {}).get(list_key) or []:
            if isinstance(item, dict) and item.get("name") == container:
                return item
    return None


def _container_in(tree: CommentedMap, kind: str, container: str, *, create: bool) -> CommentedMap:
    spec_path = _pod_spec_path(kind)
    pod_spec = _get(tree, spec_path)
    found = _find_container(pod_spec, container)
    if found is not None:
        return found
    if not create:
        raise NotEditable(f"{kind} has no container named {container!r}")
    pod_spec = _ensure(tree, spec_path)
    if not isinstance(pod_spec.get("containers"), list):
        pod_spec["containers"] = CommentedSeq()
    item = CommentedMap(name=container)
    pod_spec["containers"].append(item)  # strategic merge: containers merge by name
    return item


def _image_entry(repo_dir: str, loc: Location, image_name: str) -> tuple[str, int] | None:
    """The outermost kustomization ``images:`` entry that rewrites ``image_name``: (kustomization file, index)."""
    layers = _layers(repo_dir, loc)
    names = {image_name}
    hits: list[tuple[str, int]] = []
    for layer in reversed(layers):  # innermost first, following renames
        for i, entry in enumerate((layer.kustomization or {}).get("images") or []):
            if isinstance(entry, dict) and entry.get("name") in names:
                hits.append((kustomize.kustomization_file(repo_dir, layer.dir) or "", i))
                if entry.get("newName"):
                    names.add(str(entry["newName"]))
    return hits[-1] if hits else None


def set_image(repo_dir: str, loc: Location, container: str, image: str, *, overlay: Location | None = None) -> Change:
    """Set the image of ``container`` in a workload's pod template, or in the kustomization ``images:`` entry
    that overrides it. Raises InvalidInput (bad reference), NotEditable (no such container / not a workload)."""
    validate.image_reference(image)
    validate.dns1123_label(container, "container")
    doc = _doc(repo_dir, loc)
    kind = str(doc.get("kind"))
    current = _find_container(_get(doc, _pod_spec_path(kind)), container)
    if current is None:
        raise NotEditable(f"{kind}/{doc['metadata'].get('name')} has no container named {container!r}")
    new_name, new_tag, new_digest = validate.split_image(image)
    old_name = validate.split_image(str(current.get("image")))[0] if current.get("image") else ""
    entry = _image_entry(repo_dir, loc, old_name) if old_name and not overlay else None
    if entry:
        kfile, i = entry

        def mutate_entry(tree: CommentedMap) -> None:
            item = tree["images"][i]
            effective = item.get("newName") or item.get("name")
            if new_name != effective:
                _set(item, ("newName",), new_name)
            for key, value in (("newTag", new_tag), ("digest", new_digest)):
                if value:
                    _set(item, (key,), value)
                elif key in item:
                    del item[key]

        target = _Target(kfile, 0, kustomization_images=True)
        notes = _edit(repo_dir, target, mutate_entry)
        return _change(loc, target, f"set image of {container} to {image}", notes)
    target = _where(repo_dir, loc, (*_pod_spec_path(kind), "containers"), overlay)
    notes = _edit(repo_dir, target,
                  lambda t: _set(_container_in(t, kind, container, create=target.is_patch), ("image",), image))
    return _change(loc, target, f"set image of {container} to {image}", notes)


def set_resources(repo_dir: str, loc: Location, container: str, requests: dict[str, str] | None = None,
                  limits: dict[str, str] | None = None, *, overlay: Location | None = None) -> Change:
    """Set cpu/memory requests and limits of one container (an empty value removes that key).

    Raises InvalidInput (bad quantity, limit < request), NotEditable (no such container)."""
    requests = dict(requests or {})
    limits = dict(limits or {})
    doc = _doc(repo_dir, loc)
    kind = str(doc.get("kind"))
    current = _find_container(_get(doc, _pod_spec_path(kind)), container)
    if current is None:
        raise NotEditable(f"{kind}/{doc['metadata'].get('name')} has no container named {container!r}")
    existing = current.get("resources") or {}
    merged_req = {**(existing.get("requests") or {}), **requests}
    merged_lim = {**(existing.get("limits") or {}), **limits}
    validate.resources({k: str(v) for k, v in merged_req.items() if v not in ("", None)},
                       {k: str(v) for k, v in merged_lim.items() if v not in ("", None)})
    target = _where(repo_dir, loc, (*_pod_spec_path(kind), "containers"), overlay)

    def mutate(tree: CommentedMap) -> None:
        item = _container_in(tree, kind, container, create=target.is_patch)
        for section, values in (("requests", requests), ("limits", limits)):
            for key, value in values.items():
                if value in ("", None):
                    section_map = _get(item, ("resources", section))
                    if isinstance(section_map, dict) and key in section_map:
                        del section_map[key]
                else:
                    _set(item, ("resources", section, key), str(value))

    notes = _edit(repo_dir, target, mutate)
    parts = [f"{s}.{k}={v}" for s, d in (("requests", requests), ("limits", limits)) for k, v in d.items()]
    return _change(loc, target, f"set resources of {container}: {', '.join(parts)}", notes)


def _helmrelease(repo_dir: str, loc: Location) -> dict[str, Any]:
    doc = _doc(repo_dir, loc)
    if doc.get("kind") != "HelmRelease":
        raise NotEditable(f"a {doc.get('kind')} is not a HelmRelease")
    return doc


def set_chart_version(repo_dir: str, loc: Location, version: str) -> Change:
    """Set ``spec.chart.spec.version`` (exact version or Helm range) of a HelmRelease.

    Raises InvalidInput (bad version), NotEditable (chartRef releases: the version lives in the OCIRepository)."""
    validate.semver_constraint(version)
    doc = _helmrelease(repo_dir, loc)
    if (doc.get("spec") or {}).get("chartRef"):
        raise NotEditable("this HelmRelease uses spec.chartRef; its version is set on the referenced source")
    path = ("spec", "chart", "spec", "version")
    target = _where(repo_dir, loc, path)

    def mutate(tree: CommentedMap) -> None:
        chart_spec = _ensure(tree, path[:-1])
        if "version" in chart_spec:
            chart_spec["version"] = _styled(chart_spec["version"], version)
        else:
            position = list(chart_spec).index("chart") + 1 if "chart" in chart_spec else len(chart_spec)
            chart_spec.insert(position, "version", DoubleQuotedScalarString(version))

    notes = _edit(repo_dir, target, mutate)
    return _change(loc, target, f"set chart version to {version}", notes)


def _deep_merge(node: CommentedMap, patch: dict[str, Any]) -> None:
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(node.get(key), dict):
            _deep_merge(node[key], value)
        elif value is None and key in node:
            del node[key]  # Helm semantics: null removes a key
        elif key in node:
            node[key] = _styled(node[key], value)
        else:
            node[key] = value


def merge_values(repo_dir: str, loc: Location, values: dict[str, Any] | str, *,
                 overlay: Location | None = None) -> Change:
    """Deep-merge ``values`` (a mapping or user YAML) into a HelmRelease's ``spec.values``, keeping comments;
    lists are replaced and ``null`` deletes a key, as Helm does; ``valuesFrom`` is never touched.

    Raises InvalidInput (bad YAML), NotEditable (not a HelmRelease)."""
    if isinstance(values, str):
        values = validate.load_user_yaml(values, "values")
    if not isinstance(values, dict):
        raise InvalidInput("values: expected a mapping", "values")
    values = json.loads(json.dumps(values, default=str))  # plain data only (no ruamel nodes; dates as text)
    _helmrelease(repo_dir, loc)
    target = _where(repo_dir, loc, ("spec", "values"), overlay)

    def mutate(tree: CommentedMap) -> None:
        _deep_merge(_ensure(tree, ("spec", "values")), values)

    notes = _edit(repo_dir, target, mutate)
    return _change(loc, target, "update values", notes)


def source_document(repo_dir: str, loc: Location) -> str:
    """The source text of the located document, for the Edit playbook's editor (never the live object)."""
    return document_text(_read(repo_dir, loc.path), loc.index)


def replace_document(repo_dir: str, loc: Location, new_yaml: str, *, allow_identity_change: bool = False) -> Change:
    """Replace the located document with user-edited YAML, verbatim (their comments and formatting).

    Raises InvalidInput when the YAML is unsafe or not one mapping, or when apiVersion/kind/name/namespace change
    without ``allow_identity_change``."""
    data = validate.load_user_yaml(new_yaml, "yaml", allow_anchors=True)  # the file's own anchors are kept
    old = _doc(repo_dir, loc)
    if not allow_identity_change:
        for label, getter in (
            ("apiVersion", lambda d: d.get("apiVersion")),
            ("kind", lambda d: d.get("kind")),
            ("metadata.name", lambda d: (d.get("metadata") or {}).get("name")),
            ("metadata.namespace", lambda d: (d.get("metadata") or {}).get("namespace")),
        ):
            if getter(old) != getter(data):
                raise InvalidInput(
                    f"yaml: {label} changed from {getter(old)!r} to {getter(data)!r}; renaming or moving an object "
                    "is not an edit", "yaml")
    text = _read(repo_dir, loc.path)
    new = replace_document_text(text, loc.index, new_yaml)
    if new != text:
        _write(repo_dir, loc.path, new)
    return Change([loc.path], [loc.build_path], f"edit {old.get('kind')}/{(old.get('metadata') or {}).get('name')}")
