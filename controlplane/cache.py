"""The shared cache (Redis) with a per-process fallback, so a Redis outage degrades Fluxplane instead of failing it.

Everything Fluxplane caches is derived data (rendered graph SVGs, Helm repository indexes) or short-lived counters
(sign-in throttling). While Redis does not answer, :class:`FallbackRedisCache` serves the same calls from a local
in-memory cache: pages render (recomputing what they would have read), and sign-in throttling keeps counting per
process instead of answering 500. Redis is tried again every few seconds; nothing is written back when it returns.
"""

from __future__ import annotations

import logging
import threading
import time

from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

RETRY_SECONDS = 5.0  # while Redis is down, try it again at most this often (each try may wait for a connect timeout)

_lock = threading.Lock()
_down_until = 0.0
_last_error = ""


def mark_down(exc: BaseException) -> None:
    """Record that Redis just failed (logged once per outage)."""
    global _down_until, _last_error
    with _lock:
        first = _down_until == 0.0
        _down_until = time.monotonic() + RETRY_SECONDS
        _last_error = f"{type(exc).__name__}: {exc}"
    if first:
        logger.warning("Redis is unreachable (%s): serving from the local fallback cache", _last_error)


def mark_up() -> None:
    global _down_until
    with _lock:
        was_down, _down_until = _down_until != 0.0, 0.0
    if was_down:
        logger.warning("Redis answers again")


def recently_down() -> bool:
    """True while the last failure is fresher than RETRY_SECONDS (calls skip Redis meanwhile)."""
    return _down_until != 0.0 and time.monotonic() < _down_until


def redis_unavailable() -> bool:
    """Whether Redis is down now, for the page banner: the recent state, or one PING (short timeouts)."""
    if recently_down():
        return True
    import django_rq

    try:
        django_rq.get_connection("default").ping()
    except RedisError as exc:
        mark_down(exc)
        return True
    mark_up()
    return False


def _fallback(name: str):
    def method(self, *args, **kwargs):
        if not recently_down():
            try:
                result = getattr(RedisCache, name)(self, *args, **kwargs)
            except RedisError as exc:
                mark_down(exc)
            else:
                if _down_until:
                    mark_up()
                return result
        return getattr(self.local, name)(*args, **kwargs)

    method.__name__ = name
    method.__doc__ = f"RedisCache.{name}, or the local cache while Redis is down."
    return method


class FallbackRedisCache(RedisCache):
    """Django's RedisCache; every call falls back to a per-process LocMemCache while Redis does not answer."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self.local = LocMemCache("fluxplane-redis-fallback", {"TIMEOUT": params.get("TIMEOUT", 300),
                                                             "OPTIONS": {"MAX_ENTRIES": 5000}})

    for _name in ("add", "get", "set", "touch", "delete", "get_many", "has_key", "incr", "set_many", "delete_many",
                  "clear"):
        locals()[_name] = _fallback(_name)
    del _name
