"""Built-in system jobs and the periodic housekeeping functions the scheduler calls."""

from __future__ import annotations

import socket
from typing import Any

import django_rq
from django.conf import settings
from django.db import connection, transaction

from controlplane import context
from controlplane.dispatch import get_runner, register
from controlplane.models import AuditEvent, SystemRun
from controlplane.runners import JobFailed, JobRunner, requeue_orphaned_runs, sweep_stale_runs


@register
class PingRunner(JobRunner):
    """Proves the pipeline end to end: the worker picked the job up, reached the database and Redis."""

    name = "ping"
    model = SystemRun
    queue = "high"
    description = "Check that the worker, the database and Redis answer"
    retry_after_crash = True

    def run(self) -> dict[str, Any]:
        self.log(f"worker {socket.gethostname()} picked up the job")
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        self.log(f"database ({connection.vendor}) answered")
        if not django_rq.get_connection("high").ping():
            raise JobFailed("Redis did not answer PING")
        self.log("Redis answered")
        return {"pong": True, "database": connection.vendor, "worker": socket.gethostname()}


def start_system_job(job_name: str, user=None, parameters: dict | None = None) -> SystemRun:
    """Create a SystemRun row and enqueue its job on commit; returns the row."""
    runner = get_runner(job_name)
    if runner.model is not SystemRun:
        raise ValueError(f"{job_name!r} is not a system job")
    with transaction.atomic():
        run = SystemRun(runner=job_name)
        if user is not None:
            run.requested_by = user
            run.requested_by_username = user.get_username()
        run.set_parameters(parameters or {})
        run.request_id = context.current().request_id
        run.save()
        AuditEvent.record("run.requested", run, actor=user, message=f"{job_name} requested")
        run.enqueue()
    return run


def sweep_runs_job() -> dict[str, int]:
    """Periodic: end runs whose worker died (FLUXPLANE_RUN_STALE_AFTER_SECONDS) and enqueue runs whose job never
    reached Redis."""
    with context.work_context(context.Origin.JOB, request_id="cron:sweep-runs"):
        return {
            "stale": sweep_stale_runs(settings.FLUXPLANE_RUN_STALE_AFTER_SECONDS),
            "requeued": requeue_orphaned_runs(settings.FLUXPLANE_RUN_REQUEUE_AFTER_SECONDS),
        }
