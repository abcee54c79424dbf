"""The impact of a change on every cluster: which Flux Kustomizations build the edited files, and what each will
apply differently — the rendered diff, before and after, beside the source diff.

A file under a shared base (``infrastructure/controllers``, ``components/…``) is built by several Kustomizations,
often of several clusters; building only the picked one hides that the others change too. ``affected`` finds every
Kustomization whose build reads a changed file (a resource, a component, a patch or a kustomization.yaml on the
way); ``impacts`` builds each before and after (gitops.render) and diffs what it renders.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

import yaml

from . import kustomize, paths
from .errors import GitOpsError
from .render import Build, FluxKustomization, build, identity


@dataclass
class Impact:
    """One Kustomization's rendered change (empty diff: it builds the file but renders the same)."""

    kustomization: FluxKustomization
    picked: bool
    rendered_diff: str = ""
    changed_objects: list[str] | None = None
    error: str = ""


def build_inputs(repo_dir: str, ks: FluxKustomization) -> set[str]:
    """Every repository file a Kustomization's build reads (resources, kustomization files, patch files)."""
    files: set[str] = set()
    for manifest in kustomize.walk(repo_dir, paths.flux_path(ks.path), ks.components):
        files.add(manifest.path)
        for layer in manifest.layers:
            kfile = kustomize.kustomization_file(repo_dir, layer.dir)
            if kfile:
                files.add(kfile)
            files.update(p for p, _ in kustomize.patch_files(layer, repo_dir))
    root = paths.flux_path(ks.path)
    kfile = kustomize.kustomization_file(repo_dir, root)
    if kfile:
        files.add(kfile)
    return files


def affected(repo_dir: str, kustomizations: Iterable[FluxKustomization], changed: Iterable[str]
             ) -> list[FluxKustomization]:
    """The Kustomizations whose build reads one of the ``changed`` files (in the tree as it is now)."""
    wanted = {paths.normalize(c) for c in changed}
    out = []
    for ks in kustomizations:
        try:
            if build_inputs(repo_dir, ks) & wanted:
                out.append(ks)
        except (GitOpsError, OSError, ValueError):
            continue  # a Kustomization whose build cannot be read is not shown as affected; its own errors show
    return out


def _text(objects: dict) -> dict[tuple[str, str, str], str]:
    return {key: yaml.safe_dump(json.loads(json.dumps(obj, default=str)), sort_keys=True, width=4096)
            for key, obj in objects.items()}


def rendered_diff(before: Build, after: Build, label: str) -> tuple[str, list[str]]:
    """A unified diff of the rendered objects (YAML, keys sorted) and the identities that changed."""
    old, new = _text(before.objects), _text(after.objects)
    lines: list[str] = []
    changed = []
    for key in sorted(set(old) | set(new)):
        if old.get(key) == new.get(key):
            continue
        changed.append(identity(*key))
        lines += difflib.unified_diff((old.get(key) or "").splitlines(), (new.get(key) or "").splitlines(),
                                      f"a/{label}/{identity(*key)}", f"b/{label}/{identity(*key)}", lineterm="", n=2)
    return "\n".join(lines), changed


def impacts(repo_dir: str, kustomizations: Iterable[FluxKustomization], originals: dict[str, str | None],
            picked: FluxKustomization | None = None,
            variables: Callable[[FluxKustomization], FluxKustomization] | None = None) -> list[Impact]:
    """Build every affected Kustomization with the files as they were (``originals``: path → text, None for a new
    file) and as they are now; the working tree is left as it was found. ``variables`` gives an affected
    Kustomization its ``substituteFrom`` values (cluster data: read only for the Kustomizations that are built)."""
    changed = list(originals)
    current = {p: (paths.confine(repo_dir, p).read_text(encoding="utf-8")
                   if paths.confine(repo_dir, p).is_file() else None) for p in changed}
    hit = set(affected(repo_dir, kustomizations, changed))
    # a deleted file (or an entry removed) is found in the build as it was
    _swap(repo_dir, originals)
    try:
        hit |= set(affected(repo_dir, kustomizations, changed))
    finally:
        _swap(repo_dir, current)
    # a changed file may define Flux Kustomizations (a patch added to spec.patches): build those with the new spec
    renewed = _redefined(repo_dir, kustomizations, changed)
    hit |= set(renewed)
    if variables is not None:
        resolved = {ks: variables(ks) for ks in hit}
        renewed = {resolved[ks]: _keep_variables(new, resolved[ks]) for ks, new in renewed.items()}
        picked = resolved.get(picked, picked) if picked is not None else None
        hit = set(resolved.values())
    _swap(repo_dir, originals)
    try:
        befores = {ks: build(repo_dir, ks) for ks in hit}
    finally:
        _swap(repo_dir, current)
    out = []
    for ks in sorted(hit, key=lambda k: (k != picked, k.cluster, k.namespace, k.name)):
        after = build(repo_dir, renewed.get(ks, ks))
        error = befores[ks].error or after.error
        diff, objects = ("", []) if error else rendered_diff(befores[ks], after, f"{ks.namespace}/{ks.name}")
        out.append(Impact(ks, ks == picked, diff, objects, error))
    return out


def _keep_variables(new: FluxKustomization, known: FluxKustomization) -> FluxKustomization:
    """A Kustomization redefined by the change keeps the cluster variables read for it (the same ConfigMaps)."""
    return replace(new, cluster_variables=known.cluster_variables, unresolved=known.unresolved)


def _redefined(repo_dir: str, kustomizations: Iterable[FluxKustomization], changed: list[str]
               ) -> dict[FluxKustomization, FluxKustomization]:
    """Kustomizations (as known) whose definition is in a changed file → the same with the spec now in the file.
    The cluster of a definition is that of the Kustomizations building its file."""
    from .yamldoc import documents

    known = list(kustomizations)
    out: dict[FluxKustomization, FluxKustomization] = {}
    for rel in changed:
        target = paths.confine(repo_dir, rel)
        if not target.is_file() or not rel.endswith((".yaml", ".yml")):
            continue
        try:
            docs = documents(target.read_text(encoding="utf-8"))
        except Exception:  # noqa: BLE001, S112 — not YAML
            continue
        clusters = {ks.cluster for ks in affected(repo_dir, known, [rel])} or {
            ks.cluster for ks in known if ks.cluster == str(target.parent.relative_to(paths.confine(repo_dir, ".")))}
        for doc in docs:
            if not (isinstance(doc, dict) and doc.get("kind") == "Kustomization"
                    and str(doc.get("apiVersion", "")).startswith("kustomize.toolkit.fluxcd.io")):
                continue
            meta = doc.get("metadata") or {}
            for ks in known:
                if (ks.name, ks.namespace) == (meta.get("name"), meta.get("namespace") or ks.namespace) \
                        and ks.cluster in clusters:
                    out[ks] = FluxKustomization.from_spec(ks.name, ks.namespace, doc.get("spec") or {}, ks.cluster)
    return out


def _swap(repo_dir: str, contents: dict[str, str | None]) -> None:
    for rel, text in contents.items():
        target = paths.confine(repo_dir, rel)
        if text is None:
            target.unlink(missing_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")


def others_changed(found: list[Impact], picked: FluxKustomization | None = None) -> list[Impact]:
    """Impacts on Kustomizations other than the picked one that render differently (the loud warning). The picked
    Kustomization's own definition changing in its cluster's parent (a patch in its ``spec.patches``) is the
    intended route of an overlay change, not another impact."""
    own = identity("Kustomization", picked.namespace, picked.name) if picked else None
    return [i for i in found if not i.picked and (i.rendered_diff or i.error)
            and not (picked and i.kustomization.cluster == picked.cluster and i.changed_objects == [own])]


def kustomizations_in_repository(repo_dir: str) -> list[FluxKustomization]:
    """The Flux Kustomizations defined in a repository's files (the bench and tests: no mirror there)."""
    from .yamldoc import documents

    out = []
    root = paths.confine(repo_dir, ".")
    for path in sorted(root.rglob("*.y*ml")):
        if ".git" in path.parts:
            continue
        try:
            docs = documents(path.read_text(encoding="utf-8"))
        except Exception:  # noqa: BLE001, S112 — not YAML: not a Kustomization
            continue
        for doc in docs:
            if (isinstance(doc, dict) and doc.get("kind") == "Kustomization"
                    and str(doc.get("apiVersion", "")).startswith("kustomize.toolkit.fluxcd.io")):
                meta = doc.get("metadata") or {}
                where = str(path.parent.relative_to(root))  # stands for the cluster that applies the file
                out.append(FluxKustomization.from_spec(str(meta.get("name")), str(meta.get("namespace") or ""),
                                                       doc.get("spec") or {}, cluster=where))
    return out
