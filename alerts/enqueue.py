"""Putting alert work on the queues: notifications, delivery attempts (and their retries) and Alertmanager pushes.

A small function module so that the Silence model can enqueue without importing alerts.jobs (which imports the
models); the jobs are named by their dotted path and imported by the worker.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import django_rq
from django.db import transaction
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)


def _enqueue(queue: str, func: str, *args, job_id: str | None = None, delay_seconds: int = 0) -> None:
    try:
        q = django_rq.get_queue(queue, commit_mode="auto")
        if delay_seconds > 0:  # run by the worker's scheduler (rqworker --with-scheduler)
            q.enqueue_in(timedelta(seconds=delay_seconds), func, *args, job_id=job_id)
        else:
            q.enqueue(func, *args, job_id=job_id)
    except RedisError as exc:
        # Not lost: the periodic jobs (re-push, delivery retry) pick the work up again.
        logger.warning("could not enqueue %s%s: %s", func, args, exc)


def enqueue_notify(alert_ids: list[int]) -> None:
    """Enqueue a notification job for these alerts when the transaction commits."""
    ids = sorted(set(alert_ids))
    if ids:
        transaction.on_commit(lambda: _enqueue("default", "alerts.jobs.notify_job", ids), robust=True)


def enqueue_delivery(delivery_pk: int, delay_seconds: int = 0, job_id: str | None = None) -> None:
    """Enqueue one delivery attempt (now, or after ``delay_seconds`` for a retry) when the transaction commits."""
    transaction.on_commit(lambda: _enqueue("default", "alerts.jobs.deliver_job", delivery_pk, job_id=job_id,
                                           delay_seconds=delay_seconds), robust=True)


def enqueue_push(silence_pk: int) -> None:
    """Enqueue the Alertmanager push of one silence (call on commit)."""
    _enqueue("high", "alerts.jobs.push_silence_job", silence_pk)
