"""Shared by the health tables: a fixed clock and a helper merging a status snippet into a real manifest."""

from __future__ import annotations

from datetime import UTC, datetime

import yaml

NOW = datetime(2024, 5, 1, 10, 5, 0, tzinfo=UTC)
REV = "main@sha1:3b2c9f4e1a7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b"


def obj(base: str, extra: str = "") -> dict:
    """The base manifest merged (one level deep) with an extra YAML snippet (status, metadata, spec)."""
    out = yaml.safe_load(base)
    for key, value in (yaml.safe_load(extra) or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out

