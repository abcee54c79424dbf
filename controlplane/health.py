"""Health endpoints for probes and load balancers, answered whatever the Host header says.

* ``/livez``: the process answers (no database, no Redis): the liveness probe. An outage of a dependency must not
  restart every web pod — a restart cannot fix the database and only adds load when it comes back.
* ``/readyz`` (and ``/healthz``, its older name): the database and Redis answer: the readiness probe and load
  balancers' check. A pod that cannot reach them is taken out of the Service until they are back.

Kubelets send the pod IP as Host (``10.0.3.7:8000``) and load balancers their own; none is in ALLOWED_HOSTS, and
the allowed hosts may be wildcards (``.example.com``) or carry a port, so no single Host could be chosen for a
probe. These three paths are exempt from the Host check *by path*: the middleware answers them before anything
calls ``request.get_host()``, and ALLOWED_HOSTS itself stays exactly what the operator set for every other path.
"""

from __future__ import annotations

from collections.abc import Callable

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import add_never_cache_headers

LIVE_PATH = "/livez"
READY_PATHS = frozenset({"/readyz", "/healthz"})
HEALTH_PATHS = READY_PATHS | {LIVE_PATH}
REDIS_TIMEOUT_SECONDS = 2.0
_redis: redis.Redis | None = None


def _redis_client() -> redis.Redis:
    """One client per process with short timeouts: a hung Redis must fail the probe, not outlast it."""
    global _redis
    if _redis is None:
        _redis = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=REDIS_TIMEOUT_SECONDS,
                                      socket_connect_timeout=REDIS_TIMEOUT_SECONDS)
    return _redis


def live() -> tuple[int, dict]:
    """The process serves requests: nothing else is checked."""
    return 200, {"status": "ok"}


def ready() -> tuple[int, dict]:
    """200 when the database and Redis answer, 503 naming the failing check (the exception's class only)."""
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        checks["database"] = type(exc).__name__
    try:
        _redis_client().ping()
        checks["redis"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["redis"] = type(exc).__name__
    healthy = all(v == "ok" for v in checks.values())
    return (200 if healthy else 503), {"status": "ok" if healthy else "unavailable", "checks": checks}


class HealthMiddleware:
    """Answers GET/HEAD on /livez, /readyz and /healthz before the Host header is validated (see module doc).

    Placed after SecurityMiddleware (whose SSL redirect exempts these paths, SECURE_REDIRECT_EXEMPT) and the
    response-header middleware, and before CommonMiddleware, the first to call ``request.get_host()``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info not in HEALTH_PATHS:
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            response = HttpResponse(status=405)
            response["Allow"] = "GET, HEAD"
            return response
        status, body = live() if request.path_info == LIVE_PATH else ready()
        response = JsonResponse(body, status=status)
        add_never_cache_headers(response)
        return response
