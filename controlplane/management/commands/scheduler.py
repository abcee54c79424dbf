"""``manage.py scheduler``: the periodic jobs of controlplane/cron.py, run by whichever replica holds the lease.

RQ's cron scheduler enqueues every registered job on its interval; two of them would enqueue everything twice.
Each replica of the scheduler role runs this command: the one holding the ``scheduler`` lease (controlplane/
leases.py) enqueues, the others stand by and take over within one lease TTL when it stops or hangs. Every loop
touches the heartbeat file that the liveness probe reads, leader or not.
"""

from __future__ import annotations

import logging
import signal
import threading

import django_rq
from django.core.management.base import BaseCommand
from django_rq.cron import DjangoCronScheduler
from redis.exceptions import RedisError

from controlplane import heartbeat
from controlplane.leases import Lease, identity

logger = logging.getLogger(__name__)

LEASE_NAME = "scheduler"


class Command(BaseCommand):
    help = "Run the periodic jobs (controlplane/cron.py) while holding the scheduler lease; stand by otherwise."

    def add_arguments(self, parser):
        parser.add_argument("--lease-seconds", type=float, default=30.0,
                            help="lease time to live; a standby takes over this long after a leader hangs")

    def handle(self, *args, lease_seconds: float, **options):
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        connection = django_rq.get_connection("default")
        scheduler = DjangoCronScheduler(connection=connection)
        scheduler.load_config_from_file("controlplane.cron")
        lease = Lease(connection, LEASE_NAME, ttl=lease_seconds)
        renew_every = lease_seconds / 3
        leading = False
        self.stdout.write(f"scheduler {identity()}: {len(scheduler.get_jobs())} periodic jobs; waiting for the lease")
        try:
            while not stop.is_set():
                heartbeat.beat("scheduler")
                wait = renew_every
                if lease.acquire():
                    if not leading:
                        leading = True
                        self.stdout.write(f"scheduler {identity()}: leading (holds the {LEASE_NAME} lease)")
                        self.stdout.flush()
                        _quietly(scheduler.register_birth)
                    try:
                        if scheduler.enqueue_jobs():
                            scheduler.save()
                        scheduler.heartbeat()
                        wait = min(scheduler.calculate_sleep_interval(), renew_every)
                    except RedisError as exc:
                        logger.warning("scheduler: %s", exc)
                elif leading:
                    leading = False
                    self.stdout.write(f"scheduler {identity()}: lost the lease; standing by")
                    self.stdout.flush()
                    _quietly(scheduler.register_death)
                stop.wait(max(wait, 0.2))
        finally:
            if leading:
                _quietly(scheduler.register_death)
            lease.release()
            self.stdout.write(f"scheduler {identity()}: stopped")


def _quietly(call) -> None:
    try:
        call()
    except RedisError as exc:
        logger.warning("scheduler: %s", exc)
