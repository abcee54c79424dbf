"""Leases in Redis (controlplane/leases.py): one holder at a time, renewal only by the holder, hand-over."""

from __future__ import annotations

import time

from controlplane.leases import Lease


def test_one_holder_renewal_and_release(redis_connection):
    first, second = Lease(redis_connection, "t", ttl=5), Lease(redis_connection, "t", ttl=5)
    assert first.acquire() and first.held
    assert not second.acquire() and not second.held
    assert first.renew()
    assert first.holder() == first.token
    first.release()
    assert second.acquire() and second.holder() == second.token
    assert not first.renew() and not first.held  # released: it never extends the new holder's lease
    assert redis_connection.get("fluxplane:lease:t").decode() == second.token


def test_a_holder_that_stops_renewing_loses_the_lease(redis_connection):
    stale, standby = Lease(redis_connection, "t2", ttl=0.3), Lease(redis_connection, "t2", ttl=0.3)
    assert stale.acquire()
    time.sleep(0.5)  # the holder hung past the TTL
    assert standby.acquire()
    assert not stale.renew()  # and must step down when it wakes up


def test_redis_unreachable_means_not_held():
    import redis

    lease = Lease(redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5), "t3")
    assert not lease.acquire() and not lease.renew()
    lease.release()  # nothing held, nothing raised


def test_a_holder_that_counted_the_lease_lost_gets_it_back_if_still_its_own(redis_connection):
    lease, other = Lease(redis_connection, "t4", ttl=5), Lease(redis_connection, "t4", ttl=5)
    assert lease.acquire()
    lease.held = False  # e.g. a Redis timeout during renew: the key is still ours
    assert lease.acquire() and lease.held
    assert not other.acquire()
