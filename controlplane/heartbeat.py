"""Liveness for the processes that serve no HTTP (worker, scheduler, watcher): a heartbeat file.

Each loop of the process touches ``$FLUXPLANE_HEARTBEAT_DIR/<name>`` (default ``/tmp/fluxplane``); the container's
liveness probe (``fluxplane-entrypoint alive <name> <max-age-seconds>``) fails when the file is older than that,
so a hung process is restarted. The file lives on the pod's own disk and is touched whether or not the database or
Redis answer: liveness says "this process still turns its loop", never "its dependencies are up".
"""

from __future__ import annotations

import os
import time
from pathlib import Path

DEFAULT_DIR = "/tmp/fluxplane"  # noqa: S108 - the pod's private emptyDir /tmp, never shared


def path(name: str) -> Path:
    return Path(os.environ.get("FLUXPLANE_HEARTBEAT_DIR") or DEFAULT_DIR) / name


def beat(name: str) -> None:
    """Touch the heartbeat file (best effort: a full or read-only disk must not stop the process)."""
    target = path(name)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.touch()
    except OSError:
        pass


def age(name: str) -> float | None:
    """Seconds since the last beat, None when there never was one."""
    try:
        return time.time() - path(name).stat().st_mtime
    except OSError:
        return None
