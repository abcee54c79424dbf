"""Fluxplane's git engine: locate an object's source, edit it with minimal round-trip diffs, validate, commit and
open pull requests. Plain Python (no Django): playbook runners pass plain data in.

Modules: ``locate`` (find file + document), ``yamledit`` (edits where values live), ``create`` (new files, listed
correctly), ``validate`` (user input and ``kubectl kustomize`` builds), ``repo`` (working copies, branches,
commits, pushes), ``providers`` (GitHub via PyGithub, plain git). See docs/gitops-engine.md.
"""

from .errors import (
    GitCommandError,
    GitOpsError,
    InvalidInput,
    MergeConflict,
    NotEditable,
    PathEscape,
    ProviderError,
    ProviderUnavailable,
    PushConflict,
)
from .locate import KustomizationRef, Location, ObjectRef, locate
from .yamledit import Change

__all__ = [
    "Change", "GitCommandError", "GitOpsError", "InvalidInput", "KustomizationRef", "Location", "MergeConflict",
    "NotEditable", "ObjectRef", "PathEscape", "ProviderError", "ProviderUnavailable", "PushConflict",
    "locate",
]
