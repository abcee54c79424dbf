"""The one job-runner base for multi-step work, and the RQ entry point that drives it.

Modelled on NetBox's Job/JobRunner: a Run row is created first and its job is enqueued when the transaction
commits; the worker receives only the runner name and the row's primary key, loads the row, and moves it
through running → succeeded | failed | errored. :class:`JobFailed` is an expected failure (the job explains
why); any other exception is a crash whose traceback is kept on the row.
"""

from __future__ import annotations

import logging
import threading
import traceback
from typing import Any, ClassVar

import django_rq
from django.conf import settings
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Q
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


class RetryLater(Exception):
    """A dependency did not answer (GitHub down, …): the run goes back to *queued* and is tried again with
    exponential backoff (15 s doubling to 5 min) by the sweep, up to FLUXPLANE_RUN_MAX_RETRIES times, then fails
    with this message. Only raised by jobs that resume from their last durable step."""


class JobRunner:
    """Base class for jobs. Subclasses set ``name`` and ``model`` and implement :meth:`run`.

    ``run`` may call :meth:`log` as it goes and returns a JSON-serialisable result stored on the row.
    """

    name: ClassVar[str]
    model: ClassVar[type[Run]]
    queue: ClassVar[str] = "default"
    description: ClassVar[str] = ""
    # Run again automatically when its worker died mid-run (the job is idempotent, or resumes from its last durable
    # step); otherwise such a run ends as errored.
    retry_after_crash: ClassVar[bool] = False

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
        run.started_at = run.heartbeat_at = timezone.now()
        run.attempts += 1
        run.save(update_fields=["status", "started_at", "heartbeat_at", "attempts"])

    with context.work_context(context.Origin.JOB, request_id=run.run_reference, user=run.requested_by):
        AuditEvent.record("run.started", run, message=f"{runner_name} started")
        runner = runner_cls(run)
        try:
            with Heartbeat(model, run.pk):
                result = runner.run()
        except JobFailed as exc:
            return finish(run, RunStatus.FAILED, error=str(exc))
        except RetryLater as exc:
            return retry_later(run, str(exc))
        except Exception as exc:  # noqa: BLE001 - a crash must end the run as errored, whatever it was
            logger.exception("run %s crashed", run.run_reference)
            return finish(run, RunStatus.ERRORED, error=f"{type(exc).__name__}: {exc}", tb=traceback.format_exc())
        return finish(run, RunStatus.SUCCEEDED, result=result)


class Heartbeat:
    """Touches ``heartbeat_at`` on the running row every FLUXPLANE_RUN_HEARTBEAT_SECONDS from a thread, so the sweep
    tells a long run (heartbeat fresh) from one whose worker was killed (heartbeat stops) within a minute, with no
    reliance on Redis."""

    def __init__(self, model: type[Run], pk: int):
        self.model, self.pk = model, pk
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, name=f"heartbeat-{pk}", daemon=True)

    def _beat(self) -> None:
        try:
            while not self.stop.wait(settings.FLUXPLANE_RUN_HEARTBEAT_SECONDS):
                try:
                    self.model.objects.filter(pk=self.pk, status=RunStatus.RUNNING).update(heartbeat_at=timezone.now())
                except Exception as exc:  # noqa: BLE001 - a missed beat is harmless; the next one retries
                    logger.debug("heartbeat of %s:%s failed: %s", self.model._meta.label_lower, self.pk, exc)
        finally:
            db_connection.close()  # this thread's own connection

    def __enter__(self) -> Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(timeout=5)


def finish(run: Run, status: str, *, result: Any = None, error: str = "", tb: str = "") -> str:
    """Store the outcome of a run and write its audit event.

    Only a row still *running* is finished: when an administrator cancelled it, or the sweep gave it up or retried
    it meanwhile, that decision stands and this late outcome is only logged on the row.
    """
    fields = {"status": status, "finished_at": timezone.now(), "result": redact(result),
              "error": redact_text(error), "traceback": redact_text(tb)}
    if not type(run).objects.filter(pk=run.pk, status=RunStatus.RUNNING).update(**fields):
        run.refresh_from_db()
        run.append_log(f"the job ended ({status}) after the run was {run.status}: outcome not recorded", "warning")
        return run.status
    for name, value in fields.items():
        setattr(run, name, value)
    if error:
        run.append_log(error, "error")
    AuditEvent.record(f"run.{status}", run, after={"status": status, "result": run.result}, message=run.error)
    return status


def retry_later(run: Run, why: str) -> str:
    """Put a running run back in the queue for a later attempt (see :class:`RetryLater`), or fail it for good."""
    limit = settings.FLUXPLANE_RUN_MAX_RETRIES
    if run.attempts > limit:
        return finish(run, RunStatus.FAILED, error=f"{why} (gave up after {run.attempts} attempts)")
    delay = min(settings.FLUXPLANE_RUN_RETRY_BASE_SECONDS * 2 ** (run.attempts - 1), 300)
    # enqueued_at in the future on a queued row means "not before": requeue_orphaned_runs waits for it.
    not_before = timezone.now() + timezone.timedelta(seconds=delay)
    if not type(run).objects.filter(pk=run.pk, status=RunStatus.RUNNING).update(
            status=RunStatus.QUEUED, enqueued_at=not_before, heartbeat_at=None):
        run.refresh_from_db()
        return run.status
    run.refresh_from_db()
    run.append_log(f"{why}; trying again in {delay} s (attempt {run.attempts + 1} of {limit + 1})", "warning")
    AuditEvent.record("run.retried", run, message=why)
    return run.status


def sweep_stale_runs(stale_after_seconds: int) -> int:
    """Recover runs whose worker died: *running* with no heartbeat for ``stale_after_seconds``.

    A runner that is safe to repeat (``retry_after_crash``) is queued again under a new job id, up to
    FLUXPLANE_RUN_MAX_ATTEMPTS attempts; any other run ends as errored with the reason. Idempotent and safe to run
    from any number of schedulers: each row changes only while still running with a stale heartbeat.
    """
    from django.apps import apps

    cutoff = timezone.now() - timezone.timedelta(seconds=stale_after_seconds)
    stale = Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
    swept = 0
    for model in apps.get_models():
        if not issubclass(model, Run) or model._meta.proxy:  # a proxy (the approvals inbox) is its base table
            continue
        for run in model.objects.filter(stale, status=RunStatus.RUNNING):
            why = f"no heartbeat for {stale_after_seconds}s: the worker running it stopped"
            try:
                retry = get_runner(run.runner).retry_after_crash
            except LookupError:
                retry = False
            if retry and run.attempts < settings.FLUXPLANE_RUN_MAX_ATTEMPTS:
                updated = model.objects.filter(stale, pk=run.pk, status=RunStatus.RUNNING).update(
                    status=RunStatus.QUEUED, heartbeat_at=None, enqueued_at=None)
                if updated:
                    swept += 1
                    run.refresh_from_db()
                    run.append_log(f"{why}; running it again (attempt {run.attempts + 1})", "warning")
                    AuditEvent.record("run.retried", run, message=why)
                    enqueue_run(run)  # Redis down: the row stays queued and requeue_orphaned_runs enqueues it
                continue
            if retry:
                why += f" (gave up after {run.attempts} attempts)"
            updated = model.objects.filter(stale, pk=run.pk, status=RunStatus.RUNNING).update(
                status=RunStatus.ERRORED, finished_at=timezone.now(), error=why)
            if updated:
                swept += 1
                run.refresh_from_db()
                run.append_log(why, "error")
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
        if not issubclass(model, Run) or model._meta.proxy:  # a proxy (the approvals inbox) is its base table
            continue
        due = Q(enqueued_at__isnull=True) | Q(enqueued_at__lte=timezone.now())  # a future one waits (retry_later)
        for run in model.objects.filter(due, status=RunStatus.QUEUED, created_at__lt=cutoff):
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
