"""Exceptions raised by the git engine; every message is meant to be shown to the user as is."""

from __future__ import annotations


class GitOpsError(Exception):
    """Base class: something the git engine refuses or cannot do, with a human-readable reason."""


class InvalidInput(GitOpsError, ValueError):
    """User input (a name, image, quantity, YAML, path …) failed validation; nothing was written."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class PathEscape(InvalidInput):
    """A path would leave the repository (``..``, absolute path, symlink pointing outside)."""


class NotEditable(GitOpsError):
    """The object's source document cannot be found or safely edited; the message says why."""


class GitCommandError(GitOpsError):
    """A git command failed; carries the command's arguments (never a token) and stderr."""

    def __init__(self, args: list[str], returncode: int, stderr: str) -> None:
        super().__init__(f"git {' '.join(args)} failed ({returncode}): {stderr.strip()[-2000:]}")
        self.args_list = args
        self.returncode = returncode
        self.stderr = stderr


class PushConflict(GitOpsError):
    """The change could not be pushed (non-fast-forward retries exhausted or a rebase conflict).

    ``patch`` holds the change as ``git format-patch`` text so nothing is lost."""

    def __init__(self, message: str, patch: str = "") -> None:
        super().__init__(message)
        self.patch = patch


class MergeConflict(GitOpsError):
    """A branch cannot be merged into the base branch without conflicts; nothing was pushed."""


class ProviderError(GitOpsError):
    """The git hosting provider (GitHub …) refused or failed a request."""


class ProviderUnavailable(ProviderError):
    """The provider did not answer (connection refused, timeout, 5xx): the same request may succeed later."""
