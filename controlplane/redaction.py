"""Removing secrets from anything that is stored or shown (audit events, run logs, errors).

Two layers, because a secret can hide in a value under an innocent key (a URL with credentials, a header dump):
key names that mean "secret" have their whole value replaced, and string values are scanned for well-known
token shapes.
"""

from __future__ import annotations

import re
from typing import Any

REDACTED = "***"

_SECRET_KEY = re.compile(
    r"(pass(word|wd)?|secret|token|api[_-]?key|private[_-]?key|authorization|credential|kubeconfig|"
    r"client[_-]?key|cookie|session[_-]?id|bearer)",
    re.IGNORECASE,
)
# Keys that contain a secret word but only *name* where a secret is (a reference), never the secret itself.
_REFERENCE_KEY = re.compile(r"(_ref|_reference|_path|_env|_name|_file)$", re.IGNORECASE)

_SECRET_VALUE_PATTERNS = [
    re.compile(r"gh[pousr]_[A-Za-z0-9]{20,}"),  # GitHub tokens
    re.compile(r"github_pat_[A-Za-z0-9_]{20,}"),
    re.compile(r"glpat-[A-Za-z0-9_-]{20,}"),  # GitLab
    re.compile(r"xox[abposr]-[A-Za-z0-9-]{10,}"),  # Slack
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"(?<=://)[^/@\s:]+:[^/@\s]+(?=@)"),  # user:password@ in URLs
]


def is_secret_key(key: str) -> bool:
    return bool(_SECRET_KEY.search(key)) and not _REFERENCE_KEY.search(key)


def redact_text(text: str) -> str:
    """Replace token-shaped substrings of ``text``."""
    for pattern in _SECRET_VALUE_PATTERNS:
        if pattern.groups:
            text = pattern.sub(lambda m: (m.group(1) or "") + REDACTED, text)
        else:
            text = pattern.sub(REDACTED, text)
    return text


def redact(value: Any) -> Any:
    """Return a copy of a JSON-like value with secrets replaced by ``***``. A ``{name, value}`` pair whose name
    means a secret (a container's ``env`` entry ``DB_PASSWORD``, a Helm ``set`` item) has its value replaced too."""
    if isinstance(value, dict):
        named_secret = isinstance(value.get("name"), str) and is_secret_key(value["name"])
        return {
            k: (REDACTED if isinstance(k, str) and (is_secret_key(k) or (named_secret and k == "value"))
                and v not in (None, "") else redact(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value
