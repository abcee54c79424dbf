"""Leases in Redis: one holder at a time for work that must not run twice (the scheduler, a cluster's watch).

A lease is a Redis key set with ``NX`` and a time to live, holding a random token of its holder. The holder renews
it well within the TTL (compare-and-extend, so a holder that lost it never extends someone else's) and releases it
on shutdown (compare-and-delete), so a standby takes over at once on a clean stop and within one TTL after a crash.
A holder that cannot renew (Redis unreachable, the process was paused past the TTL) must stop the work at once:
:meth:`Lease.renew` returns False and the caller steps down.

Redis is already the queue every process needs; a Kubernetes Lease would give the scheduler (which needs no API
access) a token and a Role, and would not work on installs outside Kubernetes.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid

import redis

logger = logging.getLogger(__name__)

PREFIX = "fluxplane:lease:"
_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


def identity() -> str:
    """Who holds a lease, as operators read it: the pod name (the host name in Kubernetes) and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Lease:
    """One named lease; ``held`` says whether this process holds it (as of the last acquire/renew)."""

    def __init__(self, connection: redis.Redis, name: str, ttl: float = 30.0):
        self.connection = connection
        self.key = PREFIX + name
        self.ttl_ms = int(ttl * 1000)
        self.token = f"{identity()}:{uuid.uuid4().hex[:8]}"
        self.held = False

    def acquire(self) -> bool:
        """Take the lease if nobody holds it, or extend it if we do (also when this process had counted it lost,
        e.g. after a Redis error: the key may still be ours). Redis errors count as "not held"."""
        try:
            if self.connection.eval(_RENEW, 1, self.key, self.token, self.ttl_ms):
                self.held = True
            else:
                self.held = bool(self.connection.set(self.key, self.token, nx=True, px=self.ttl_ms))
        except redis.RedisError as exc:
            logger.warning("lease %s: %s", self.key, exc)
            self.held = False
        return self.held

    def renew(self) -> bool:
        """Extend the lease we hold; False (and ``held`` False) when it expired or went to another holder."""
        try:
            self.held = bool(self.connection.eval(_RENEW, 1, self.key, self.token, self.ttl_ms))
        except redis.RedisError as exc:
            logger.warning("lease %s: cannot renew: %s", self.key, exc)
            self.held = False
        return self.held

    def release(self) -> None:
        """Give the lease up (only if still ours), so a standby takes over without waiting for the TTL."""
        if not self.held:
            return
        try:
            self.connection.eval(_RELEASE, 1, self.key, self.token)
        except redis.RedisError as exc:
            logger.warning("lease %s: cannot release: %s", self.key, exc)
        self.held = False

    def holder(self) -> str | None:
        """The token of the current holder (host:pid:random), or None."""
        value = self.connection.get(self.key)
        return value.decode() if isinstance(value, bytes) else value
