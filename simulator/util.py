"""Small helpers shared by the store modules."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any


def now() -> str:
    """RFC 3339 timestamp with second precision, as Kubernetes writes metadata times."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def clone(obj: Any) -> Any:
    """Deep copy through JSON: faster than copy.deepcopy and rejects what the API could not store."""
    return json.loads(json.dumps(obj))
