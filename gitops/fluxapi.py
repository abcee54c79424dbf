"""Flux API versions: which ones current Flux serves, which were removed, and a minimal-diff migration of manifests.

The table follows the Flux API history (every GA API kept its beta predecessors for a while, then dropped them):
HelmRelease ``v2beta1``/``v2beta2`` → ``v2``; Kustomization ``v1beta1``/``v1beta2`` → ``v1``; the sources'
``v1beta1``/``v1beta2`` → ``v1``; Receiver → ``v1`` and Alert/Provider → ``v1beta3``; image automation → ``v1``.
:func:`migrate_text` rewrites what ``flux migrate -f`` rewrites (the ``apiVersion`` of every Flux object, at any depth,
e.g. inside a ResourceSet template) plus the fields renamed on the way to GA, line by line, so the diff shows only
those lines (comments, quotes, anchors and order untouched).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from . import paths
from .yamledit import Change

# (group, kind) → the version current Flux serves. Kinds not listed are not Flux's.
CURRENT: dict[tuple[str, str], str] = {
    ("kustomize.toolkit.fluxcd.io", "Kustomization"): "v1",
    ("helm.toolkit.fluxcd.io", "HelmRelease"): "v2",
    **{("source.toolkit.fluxcd.io", k): "v1" for k in ("GitRepository", "HelmRepository", "HelmChart", "Bucket",
                                                       "OCIRepository")},
    ("notification.toolkit.fluxcd.io", "Receiver"): "v1",
    ("notification.toolkit.fluxcd.io", "Alert"): "v1beta3",
    ("notification.toolkit.fluxcd.io", "Provider"): "v1beta3",
    **{("image.toolkit.fluxcd.io", k): "v1" for k in ("ImageRepository", "ImagePolicy", "ImageUpdateAutomation")},
}
# Versions current Flux no longer serves, per group (anything older than CURRENT in the same group).
REMOVED: dict[str, frozenset[str]] = {
    "kustomize.toolkit.fluxcd.io": frozenset({"v1beta1", "v1beta2"}),
    "helm.toolkit.fluxcd.io": frozenset({"v2beta1", "v2beta2"}),
    "source.toolkit.fluxcd.io": frozenset({"v1beta1", "v1beta2"}),
    "notification.toolkit.fluxcd.io": frozenset({"v1beta1", "v1beta2"}),
    "image.toolkit.fluxcd.io": frozenset({"v1beta1", "v1beta2"}),
}
FIX = "run the “Migrate API versions” playbook on the Kustomization (or `flux migrate -f <dir>`) and merge the PR"


def replacement(api_version: str, kind: str) -> str | None:
    """The apiVersion to use instead of ``api_version`` for ``kind``, or None when it is current (or not Flux's)."""
    group, _, version = str(api_version).rpartition("/")
    want = CURRENT.get((group, kind))
    if want is None or version == want or version not in REMOVED.get(group, frozenset()):
        return None
    return f"{group}/{want}"


def removed_message(api_version: str, kind: str) -> str | None:
    """Why a manifest on a removed Flux API fails and what to do, or None when the version is served."""
    new = replacement(api_version, kind)
    if new is None:
        return None
    return f"{kind} {api_version} is no longer served by Flux; migrate it to {new}: {FIX}"


_NO_MATCH = re.compile(r'no matches for kind "(?P<kind>[A-Za-z]+)" in version "(?P<api>[a-z0-9.-]+/[a-z0-9]+)"')


def removed_in_message(message: str) -> tuple[str, str] | None:
    """(kind, apiVersion) of a removed Flux API named in a controller's error ("no matches for kind ...")."""
    for m in _NO_MATCH.finditer(message or ""):
        if replacement(m.group("api"), m.group("kind")):
            return m.group("kind"), m.group("api")
    return None


@dataclass
class Rewrite:
    """One line to change: 0-based line number, its old and new text, and why (for the PR summary)."""

    line: int
    old: str
    new: str
    what: str


@dataclass
class Migration:
    """The result of migrating a tree: rewritten files and a line per object changed."""

    files: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)


_SEPARATOR = re.compile(r"^(---|\.\.\.)[ \t]*(#.*)?$")


def _docs_with_offsets(text: str) -> list[tuple[int, str]]:
    """(first line number, text) of each document in a YAML stream."""
    out: list[tuple[int, str]] = []
    start, current = 0, []
    for i, line in enumerate(text.splitlines(keepends=True)):
        if _SEPARATOR.match(line.rstrip("\r\n")):
            out.append((start, "".join(current)))
            start, current = i + 1, []
        else:
            current.append(line)
    out.append((start, "".join(current)))
    return out


def _walk(node: Any, found: list[CommentedMap]) -> None:
    if isinstance(node, CommentedMap):
        if isinstance(node.get("apiVersion"), str) and isinstance(node.get("kind"), str):
            found.append(node)
        for value in node.values():
            _walk(value, found)
    elif isinstance(node, CommentedSeq):
        for value in node:
            _walk(value, found)


def _value_line(mapping: CommentedMap, key: str) -> int | None:
    try:
        return mapping.lc.data[key][2]  # line of the value
    except (AttributeError, KeyError, IndexError, TypeError):
        return None


def _plan(text: str) -> list[Rewrite]:
    lines = text.splitlines(keepends=True)
    yaml = YAML(typ="rt")
    rewrites: list[Rewrite] = []
    for offset, doc_text in _docs_with_offsets(text):
        try:
            data = yaml.load(doc_text)
        except YAMLError:
            continue  # not YAML (or a Go template): nothing we can rewrite safely
        found: list[CommentedMap] = []
        _walk(data, found)
        for obj in found:
            new = replacement(obj["apiVersion"], obj["kind"])
            if new is None:
                continue
            at = _value_line(obj, "apiVersion")
            if at is None or offset + at >= len(lines):
                continue
            line = lines[offset + at]
            if obj["apiVersion"] not in line:
                continue
            what = f"{obj['kind']} {(obj.get('metadata') or {}).get('name', '')}".strip()
            rewrites.append(Rewrite(offset + at, line, line.replace(obj["apiVersion"], new, 1),
                                    f"{what}: {obj['apiVersion']} → {new}"))
            rewrites.extend(_renamed_fields(obj, lines, offset))
    return rewrites


def _renamed_fields(obj: CommentedMap, lines: list[str], offset: int) -> list[Rewrite]:
    """Fields renamed or dropped on the way to GA that the new version refuses."""
    out: list[Rewrite] = []
    spec = obj.get("spec")
    group = str(obj["apiVersion"]).rpartition("/")[0]
    if not isinstance(spec, CommentedMap):
        return out
    if (group, obj["kind"]) == ("helm.toolkit.fluxcd.io", "HelmRelease"):
        chart_spec = (spec.get("chart") or {}).get("spec") if isinstance(spec.get("chart"), CommentedMap) else None
        if isinstance(chart_spec, CommentedMap) and isinstance(chart_spec.get("valuesFile"), str) and \
                "valuesFiles" not in chart_spec:
            at = _value_line(chart_spec, "valuesFile")
            if at is not None:
                line = lines[offset + at]
                m = re.match(r"^(\s*)valuesFile:\s*(.+?)(\s+#.*)?$", line.rstrip("\r\n"))
                if m:
                    end = line[len(line.rstrip("\r\n")):]
                    new = f"{m.group(1)}valuesFiles: [{m.group(2)}]{m.group(3) or ''}{end}"
                    out.append(Rewrite(offset + at, line, new, "spec.chart.spec.valuesFile → valuesFiles"))
    if (group, obj["kind"]) == ("source.toolkit.fluxcd.io", "GitRepository") and "gitImplementation" in spec \
            and len(spec) > 1:
        at = _value_line(spec, "gitImplementation")
        if at is not None and re.match(r"^\s*gitImplementation:\s*\S+\s*(#.*)?$", lines[offset + at]):
            out.append(Rewrite(offset + at, lines[offset + at], "", "spec.gitImplementation removed (go-git only)"))
    if (group, obj["kind"]) == ("kustomize.toolkit.fluxcd.io", "Kustomization") and "validation" in spec \
            and len(spec) > 1:
        at = _value_line(spec, "validation")
        if at is not None and re.match(r"^\s*validation:\s*\S+\s*(#.*)?$", lines[offset + at]):
            out.append(Rewrite(offset + at, lines[offset + at], "", "spec.validation removed"))
    return out


def migrate_text(text: str) -> tuple[str, list[str]]:
    """``text`` with every Flux object on a removed API version rewritten; and what changed (one line each)."""
    rewrites = _plan(text)
    if not rewrites:
        return text, []
    lines = text.splitlines(keepends=True)
    for r in rewrites:
        lines[r.line] = r.new
    return "".join(lines), [r.what for r in rewrites]


def migrate_tree(repo_dir: str, root: str = ".", build_paths: list[str] | None = None) -> Change:
    """Rewrite every YAML file under ``root`` of the working copy; the Change lists the files and what changed."""
    base = paths.confine(repo_dir, paths.normalize(root or ".", field="path"))
    files: list[str] = []
    changes: list[str] = []
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if d != ".git")
        for name in sorted(filenames):
            if not name.endswith((".yaml", ".yml")):
                continue
            full = os.path.join(dirpath, name)
            if os.path.islink(full):
                continue
            rel = os.path.relpath(full, repo_dir)
            text = paths.confine(repo_dir, rel).read_text(encoding="utf-8")
            new, what = migrate_text(text)
            if new != text:
                paths.confine(repo_dir, rel).write_text(new, encoding="utf-8")
                files.append(rel)
                changes.extend(f"{rel}: {w}" for w in what)
    summary = (f"migrate {len(changes)} Flux API reference{'s' if len(changes) != 1 else ''} in {len(files)} "
               f"file{'s' if len(files) != 1 else ''}") if files else "nothing to migrate"
    return Change(files=files, build_paths=list(build_paths or []), summary=summary)


def scan_tree(repo_dir: str, root: str = ".") -> list[str]:
    """What :func:`migrate_tree` would change, without writing (``path: Kind name: old → new`` lines)."""
    base = paths.confine(repo_dir, paths.normalize(root or ".", field="path"))
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if d != ".git")
        for name in sorted(filenames):
            if name.endswith((".yaml", ".yml")) and not os.path.islink(os.path.join(dirpath, name)):
                rel = os.path.relpath(os.path.join(dirpath, name), repo_dir)
                _new, what = migrate_text(paths.confine(repo_dir, rel).read_text(encoding="utf-8"))
                out.extend(f"{rel}: {w}" for w in what)
    return out
