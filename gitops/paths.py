"""Repository-confined paths: every path the engine touches goes through ``confine``."""

from __future__ import annotations

import os
import posixpath
from pathlib import Path

from .errors import PathEscape


def normalize(path: str, *, field: str = "path") -> str:
    """Normalise a repository-relative path (``./apps/x/`` → ``apps/x``; ``.`` for the root).

    Raises PathEscape for absolute paths, NUL bytes, backslashes or any path leaving the root with ``..``."""
    if not isinstance(path, str) or "\0" in path or "\\" in path:
        raise PathEscape(f"{path!r} is not a valid repository path", field)
    if path.startswith("/") or (len(path) > 1 and path[1] == ":"):
        raise PathEscape(f"{path!r} is absolute; use a path relative to the repository root", field)
    norm = posixpath.normpath(path or ".")
    if norm == ".." or norm.startswith("../"):
        raise PathEscape(f"{path!r} leaves the repository (uses '..' above the root)", field)
    return norm


def join(base: str, rel: str, *, field: str = "path") -> str:
    """``normpath(base/rel)`` for repository-relative paths, refusing absolute ``rel`` and escapes."""
    if rel.startswith("/"):
        raise PathEscape(f"{rel!r} is absolute; kustomize paths are relative", field)
    return normalize(posixpath.join(normalize(base, field=field), rel), field=field)


def confine(repo_dir: str | os.PathLike, rel: str, *, field: str = "path") -> Path:
    """The absolute path of ``rel`` inside ``repo_dir``, after resolving symlinks; refuses anything outside."""
    root = Path(repo_dir).resolve()
    norm = normalize(rel, field=field)
    target = (root / norm).resolve()
    if target != root and root not in target.parents:
        raise PathEscape(f"{rel!r} resolves outside the repository (symlink?)", field)
    return target


def relative(from_dir: str, to_path: str) -> str:
    """The relative path from repository directory ``from_dir`` to ``to_path`` (both repository-relative)."""
    return posixpath.relpath(normalize(to_path), normalize(from_dir))


def flux_path(path: str | None, *, field: str = "spec.path") -> str:
    """A Flux Kustomization ``spec.path`` as a repository-relative path: Flux reads it relative to the repository
    root, so a leading ``/`` (``/clusters/prod``) means the same as ``./clusters/prod``."""
    return normalize((path or ".").lstrip("/") or ".", field=field)
