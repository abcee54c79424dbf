"""Reading kustomize layouts: which files a build includes, through ``resources`` and ``../base`` dirs, and which
patches and image overrides apply — the same way ``kustomize build`` and Flux's generated kustomization do."""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from . import paths
from .errors import GitOpsError
from .yamldoc import documents

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
_REMOTE = re.compile(r"^([a-z][a-z0-9+.-]*://|git@|github\.com/|gitlab\.com/|bitbucket\.org/)")


def kustomization_file(repo_dir: str, rel_dir: str) -> str | None:
    """The repository-relative path of ``rel_dir``'s kustomization file, or None when it has none."""
    for name in KUSTOMIZATION_FILES:
        rel = paths.join(rel_dir, name)
        if paths.confine(repo_dir, rel).is_file():
            return rel
    return None


def read_kustomization(repo_dir: str, rel_dir: str) -> dict[str, Any] | None:
    """The parsed kustomization of ``rel_dir`` (plain data), or None when the directory has none."""
    rel = kustomization_file(repo_dir, rel_dir)
    if rel is None:
        return None
    docs = documents(paths.confine(repo_dir, rel).read_text())
    return docs[0] if docs and isinstance(docs[0], dict) else {}


def is_remote(entry: str) -> bool:
    """True for remote bases (git URLs, ``github.com/...``), which the engine cannot edit."""
    return bool(_REMOTE.match(entry))


def generated_resources(repo_dir: str, rel_dir: str) -> list[str]:
    """What Flux's generated kustomization.yaml lists for a directory without one (flux.md §5, scanManifests):
    every ``*.yaml``/``*.yml`` holding a Kubernetes object, recursively; a subdirectory with its own
    kustomization file is listed as a directory and not descended."""
    root = paths.confine(repo_dir, rel_dir)
    out: list[str] = []
    for current, dirs, files in os.walk(root):
        dirs.sort()
        rel_current = os.path.relpath(current, root)
        if rel_current != "." and any(name in files for name in KUSTOMIZATION_FILES):
            out.append(rel_current.replace(os.sep, "/"))
            dirs[:] = []
            continue
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in sorted(files):
            if not name.endswith((".yaml", ".yml")):
                continue
            full = os.path.join(current, name)
            try:
                docs = documents(open(full, encoding="utf-8").read())
            except Exception:  # noqa: BLE001 — Flux skips files that are not manifests
                continue
            if any(isinstance(d, dict) and d.get("apiVersion") and d.get("kind") for d in docs):
                out.append(os.path.relpath(full, root).replace(os.sep, "/"))
    return out


@dataclass
class Layer:
    """One kustomization directory on the way from the build root to a file (outermost first)."""

    dir: str
    kustomization: dict[str, Any] | None  # None: Flux generates one


@dataclass
class Manifest:
    """A resource file included by a build, with the kustomization layers that include it (outermost first)."""

    path: str
    layers: list[Layer] = field(default_factory=list)


def walk(repo_dir: str, build_path: str, components: tuple[str, ...] | list[str] = ()) -> Iterator[Manifest]:
    """Every resource file a build of ``build_path`` includes, following ``resources``/``bases`` entries and
    kustomize ``components:`` (a component's resources are transformed by the kustomization that includes it, like
    a resource directory's). ``components`` are the Flux Kustomization's ``spec.components``, relative to
    ``build_path``."""
    seen: set[tuple[str, str]] = set()

    def visit(rel_dir: str, layers: list[Layer], generated_ok: bool, extra: list[str] = ()) -> Iterator[Manifest]:
        # the same component may be included by several kustomizations: each inclusion is its own layer stack
        key = (rel_dir, "/".join(layer.dir for layer in layers))
        if key in seen:
            return
        seen.add(key)
        kust = read_kustomization(repo_dir, rel_dir)
        if kust is None and not generated_ok:
            raise GitOpsError(f"{rel_dir}/ is listed as a resource but has no kustomization.yaml")
        layer = Layer(rel_dir, kust)
        here = layers + [layer]
        if kust is None:
            entries = generated_resources(repo_dir, rel_dir)
        else:
            entries = [e for e in (kust.get("resources") or []) + (kust.get("bases") or []) + list(
                kust.get("components") or []) if isinstance(e, str)]
        entries = [*entries, *extra]
        for entry in entries:
            if is_remote(entry):
                continue
            rel = paths.join(rel_dir, entry)
            target = paths.confine(repo_dir, rel)
            if target.is_dir():
                yield from visit(rel, here, False)
            elif target.is_file():
                yield Manifest(rel, here)

    yield from visit(paths.normalize(build_path), [], True, [c for c in components if isinstance(c, str)])


def patch_files(layer: Layer, repo_dir: str) -> list[tuple[str, dict[str, Any] | None]]:
    """Strategic-merge patch files of a layer as (repository path, target or None)."""
    kust = layer.kustomization or {}
    out: list[tuple[str, dict[str, Any] | None]] = []
    for entry in kust.get("patches") or []:
        if isinstance(entry, dict) and isinstance(entry.get("path"), str):
            out.append((paths.join(layer.dir, entry["path"]), entry.get("target")))
    for entry in kust.get("patchesStrategicMerge") or []:
        if isinstance(entry, str) and "\n" not in entry:
            out.append((paths.join(layer.dir, entry), None))
    return [(p, t) for p, t in out if paths.confine(repo_dir, p).is_file()]


def inline_patches(layer: Layer) -> list[tuple[str, dict[str, Any] | None]]:
    """Inline patches of a layer (patch text, target)."""
    kust = layer.kustomization or {}
    return [
        (e["patch"], e.get("target"))
        for e in kust.get("patches") or []
        if isinstance(e, dict) and isinstance(e.get("patch"), str)
    ]


def target_matches(target: dict[str, Any] | None, doc: dict[str, Any], kind: str, name: str) -> bool:
    """Whether a patch ``target`` (kind exact, name an anchored regex as in kustomize) selects the object."""
    if target is None:
        meta = doc.get("metadata") or {}
        return doc.get("kind") == kind and meta.get("name") == name
    if target.get("kind") and target["kind"] != kind:
        return False
    if target.get("name"):
        try:
            return re.fullmatch(str(target["name"]), name) is not None
        except re.error:
            return target["name"] == name
    return True


def relative_entry(from_dir: str, path: str) -> str:
    """How a kustomization in ``from_dir`` lists ``path`` (``../base/x`` style, never repository-absolute)."""
    return posixpath.relpath(paths.normalize(path), paths.normalize(from_dir))
