"""Which job runner handles a run, and putting a run's job on its queue.

Kept apart from controlplane.runners (the runner base and the worker entry point, which load and save Run rows) so
that the Run model can enqueue itself without importing the module that uses it. Runners register here by name; the
worker calls ``controlplane.runners.execute``, named by its dotted path.
"""

from __future__ import annotations

import logging

import django_rq
from django.utils import timezone
from redis.exceptions import RedisError
from rq.job import Dependency

logger = logging.getLogger(__name__)

EXECUTE = "controlplane.runners.execute"  # the RQ entry point: (runner name, run primary key)

_REGISTRY: dict[str, type] = {}


def register(runner: type) -> type:
    """Class decorator: make a runner (a controlplane.runners.JobRunner) known to the worker by name."""
    if runner.name in _REGISTRY and _REGISTRY[runner.name] is not runner:
        raise ValueError(f"a job runner named {runner.name!r} is already registered")
    _REGISTRY[runner.name] = runner
    return runner


def get_runner(name: str) -> type:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise LookupError(f"unknown job runner {name!r}") from None


def registered_runners(model: type | None = None) -> dict[str, type]:
    return {n: r for n, r in sorted(_REGISTRY.items()) if model is None or r.model is model}


def rq_job_id(run) -> str:
    # Deterministic: enqueueing the same row twice replaces the job instead of creating a second one. A retry after
    # a crash gets its own id per attempt: RQ may still mark the dead attempt's job failed while the retry waits.
    base = f"fluxplane-{run._meta.app_label}-{run._meta.model_name}-{run.pk}"
    return f"{base}-retry{run.attempts}" if run.attempts else base


def enqueue_run(run, depends_on: str | None = None) -> bool:
    """Put the job for ``run`` (a controlplane Run row) on its runner's queue now. Returns False (and leaves the row
    queued for the sweep to retry) when Redis cannot be reached, so a request is never lost to a Redis outage."""
    runner = get_runner(run.runner)
    job_id = rq_job_id(run)
    try:
        dependency = Dependency(jobs=[depends_on], allow_failure=True) if depends_on else None
        django_rq.get_queue(runner.queue, commit_mode="auto").enqueue(
            EXECUTE, run.runner, run.pk, job_id=job_id, description=f"{run.runner} {run.run_reference}",
            depends_on=dependency,
        )
    except RedisError as exc:
        logger.warning("could not enqueue %s (%s); it stays queued and will be retried", run.run_reference, exc)
        return False
    type(run).objects.filter(pk=run.pk).update(rq_job_id=job_id, enqueued_at=timezone.now())
    return True
