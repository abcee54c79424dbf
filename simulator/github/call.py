"""What a route handler receives, and the small validation helpers every handler shares."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .render import Urls
from .repo import Person
from .state import ApiError, RepoState

if TYPE_CHECKING:
    from .server import GitHubSimulator


@dataclass
class Call:
    """One authenticated API request: who, which repository, the path parameters, query and JSON body."""

    sim: GitHubSimulator
    urls: Urls
    login: str
    params: dict[str, str]
    query: dict[str, str]
    body: Any
    repo: RepoState | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def r(self) -> RepoState:
        assert self.repo is not None
        return self.repo

    def field(self, name: str, kind: type | tuple = str, required: bool = False, default: Any = None) -> Any:
        """A body field of the given type; GitHub answers 422 on a missing or mistyped field."""
        body = self.body if isinstance(self.body, dict) else {}
        if name not in body or body[name] is None:
            if required:
                raise validation(f'"{name}" wasn\'t supplied.', field_name=name, code="missing_field")
            return default
        value = body[name]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise validation(f"Invalid request.\n\nFor '{name}', {value!r} is not of the expected type.", name)
        return value

    def identity(self, name: str) -> Person | None:
        """An author/committer object from the body ({name, email, date?}); both name and email are required."""
        raw = self.field(name, dict)
        if raw is None:
            return None
        if not isinstance(raw.get("name"), str) or not isinstance(raw.get("email"), str):
            raise validation(f'Invalid request.\n\n"name" and "email" are required for \'{name}\'.', name)
        date = raw.get("date")
        return Person(raw["name"], raw["email"], date if isinstance(date, str) else None)


def validation(message: str, field_name: str | None = None, code: str = "invalid", resource: str = "") -> ApiError:
    """GitHub's 422 'Validation Failed' with one error entry."""
    error: dict[str, Any] = {"code": code, "message": message}
    if field_name:
        error["field"] = field_name
    if resource:
        error["resource"] = resource
    return ApiError(422, message if code != "custom" else "Validation Failed", [error])


def decode_base64(value: str) -> bytes:
    try:
        return base64.b64decode(value.replace("\n", ""), validate=True)
    except (binascii.Error, ValueError):
        raise validation("content is not valid Base64", "content") from None


def check_path(path: str) -> str:
    """Repository paths from requests: no absolute paths, no '..' or '.git' components, no empty segments."""
    parts = path.strip("/").split("/") if path.strip("/") else []
    for part in parts:
        if part in ("", ".", "..", ".git") or "\0" in part:
            raise validation(f"path contains a malformed path component: {path!r}", "path")
    return "/".join(parts)


def check_branch(name: str) -> str:
    """Branch names as git accepts them (checked without a shell: `git check-ref-format` semantics, simplified)."""
    bad = ("..", "~", "^", ":", "?", "*", "[", "\\", " ", "@{", "//")
    if (
        not name
        or name.startswith(("-", "/", "."))
        or name.endswith(("/", ".lock", "."))
        or any(token in name for token in bad)
        or any(ord(ch) < 32 for ch in name)
    ):
        raise validation(f"{name!r} is not a valid ref name.", "ref")
    return name
