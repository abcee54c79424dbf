"""The one job-runner base for multi-step work, and the RQ entry point that drives it.

Modelled on NetBox's Job/JobRunner: a Run row is created first and its job is enqueued when the transaction
commits; the worker receives only the runner name and the row's primary key, loads the row, and moves it
through running → succeeded | failed | errored. :class:`JobFailed` is an expected failure (the job explains
why); any other exception is a crash whose traceback is kept on the row.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any, ClassVar

import django_rq
from django.db import transaction
from django.utils import timezone
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from controlplane import context
from controlplane.dispatch import enqueue_run, get_runner, rq_job_id
from controlplane.models import AuditEvent, Run, RunStatus
from controlplane.redaction import redact, redact_text

logger = logging.getLogger(__name__)


class JobFailed(Exception):
    """An expected failure: the run ends as *failed* with this message (no traceback)."""


class JobRunner:
    """Base class for jobs. Subclasses set ``name`` and ``model`` and implement :meth:`run`.

    ``run`` may call :meth:`log` as it goes and returns a JSON-serialisable result stored on the row.
    """

    name: ClassVar[str]
    model: ClassVar[type[Run]]
    queue: ClassVar[str] = "default"
    description: ClassVar[str] = ""

    def __init__(self, run: Run):
        self.run_row = run

    def log(self, message: str, level: str = "info") -> None:
        self.run_row.append_log(message, level)
        logger.log(logging.getLevelName(level.upper()), "%s: %s", self.run_row.run_reference, redact_text(message))

    def run(self) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError


def execute(runner_name: str, run_pk: int) -> str:  # noqa: C901 - one linear lifecycle
    """RQ entry point. Idempotent: a run that is not queued any more (already ran, cancelled) is left alone."""
    runner_cls = get_runner(runner_name)
    model = runner_cls.model
    with transaction.atomic():
        run = model.objects.select_for_update().filter(pk=run_pk).first()
        if run is None:
            logger.warning("run %s:%s vanished before it started", model._meta.label_lower, run_pk)
            return "missing"
        if run.status != RunStatus.QUEUED:
            logger.info("run %s is %s, not queued: not running it again", run.run_reference, run.status)
            return run.status
        run.status = RunStatus.RUNNING
        run.started_at = timezone.now()
        run.attempts += 1
        run.save(update_fields=["status", "started_at", "attempts"])

    with context.work_context(context.Origin.JOB, request_id=run.run_reference, user=run.requested_by):
        AuditEvent.record("run.started", run, message=f"{runner_name} started")
        runner = runner_cls(run)
        try:
            result = runner.run()
        except JobFailed as exc:
            return finish(run, RunStatus.FAILED, error=str(exc))
        except Exception as exc:  # noqa: BLE001 - a crash must end the run as errored, whatever it was
            logger.exception("run %s crashed", run.run_reference)
            return finish(run, RunStatus.ERRORED, error=f"{type(exc).__name__}: {exc}", tb=traceback.format_exc())
        return finish(run, RunStatus.SUCCEEDED, result=result)


def finish(run: Run, status: str, *, result: Any = None, error: str = "", tb: str = "") -> str:
    """Store the outcome of a run and write its audit event."""
    run.status = status
    run.finished_at = timezone.now()
    run.result = redact(result)
    run.error = redact_text(error)
    run.traceback = redact_text(tb)
    if error:
        run.append_log(error, "error")
    run.save(update_fields=["status", "finished_at", "result", "error", "traceback"])
    AuditEvent.record(f"run.{status}", run, after={"status": status, "result": run.result}, message=run.error)
    return status


def sweep_stale_runs(stale_after_seconds: int) -> int:
    """Mark runs stuck in *running* for longer than the limit as errored (their worker died).

    Idempotent and safe to run from any number of schedulers: each row is updated only while still running.
    """
    from django.apps import apps

    cutoff = timezone.now() - timezone.timedelta(seconds=stale_after_seconds)
    swept = 0
    for model in apps.get_models():
        if not issubclass(model, Run):
            continue
        for run in model.objects.filter(status=RunStatus.RUNNING, started_at__lt=cutoff):
            updated = model.objects.filter(pk=run.pk, status=RunStatus.RUNNING).update(
                status=RunStatus.ERRORED,
                finished_at=timezone.now(),
                error=f"no progress for {stale_after_seconds}s: the worker running it stopped",
            )
            if updated:
                swept += 1
                run.refresh_from_db()
                AuditEvent.record("run.errored", run, message=run.error)
    return swept


def requeue_orphaned_runs(older_than_seconds: int = 60) -> int:
    """Enqueue runs that are queued but have no job in Redis (Redis was down at enqueue time, or lost its data).

    Idempotent: the job id is deterministic and ``execute`` runs a row only while it is queued.
    """
    from django.apps import apps

    cutoff = timezone.now() - timezone.timedelta(seconds=older_than_seconds)
    connection = django_rq.get_connection("default")
    requeued = 0
    for model in apps.get_models():
        if not issubclass(model, Run):
            continue
        for run in model.objects.filter(status=RunStatus.QUEUED, created_at__lt=cutoff):
            if not _job_is_pending(rq_job_id(run), connection) and enqueue_run(run):
                requeued += 1
                logger.info("re-enqueued orphaned run %s", run.run_reference)
    return requeued


def _job_is_pending(job_id: str, connection) -> bool:
    """True when RQ still holds the job and will (or is about to) run it."""
    try:
        job = Job.fetch(job_id, connection=connection)
    except NoSuchJobError:
        return False
    return job.get_status(refresh=False) in (
        JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED
    )
