"""Template context for every admin page."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from controlplane.cache import redis_unavailable


def degraded(request: HttpRequest) -> dict:
    """``fluxplane_redis_down``: the banner saying Redis is down (pages still work from the database)."""
    if not request.path.startswith("/admin/") or not getattr(request, "user", None) or \
            not request.user.is_authenticated:
        return {}
    return {"fluxplane_redis_down": redis_unavailable()}


def live(request: HttpRequest) -> dict:
    """``fluxplane_live_interval_ms``: how often live.js polls the live parts of a page (FLUXPLANE_LIVE_INTERVAL_MS)."""
    return {"fluxplane_live_interval_ms": max(int(settings.FLUXPLANE_LIVE_INTERVAL_MS), 500)}
