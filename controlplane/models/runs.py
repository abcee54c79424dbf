"""Runs: one row per execution of multi-step work, with its status, timestamps and log.

``Run`` is the abstract base every kind of execution shares (system jobs here, playbook runs in the
playbooks app). The job-runner base in :mod:`controlplane.runners` drives a row through
queued → running → succeeded | failed | errored.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.utils import timezone

from controlplane import dispatch
from controlplane.redaction import redact, redact_text

MAX_LOG_LINES = 5000  # a runaway job must not grow one row without bound


class RunStatus(models.TextChoices):
    """Lifecycle shared by every run. Subclasses may add states before QUEUED (e.g. pending approval)."""

    QUEUED = "queued", "queued"
    RUNNING = "running", "running"
    SUCCEEDED = "succeeded", "succeeded"
    FAILED = "failed", "failed"  # expected failure: the job said why (bad input, refused by the cluster, …)
    ERRORED = "errored", "errored"  # crash: an unexpected exception, traceback kept
    CANCELLED = "cancelled", "cancelled"


TERMINAL_STATUSES = frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.ERRORED, RunStatus.CANCELLED})


class Run(models.Model):
    """Abstract base of an execution: who asked, status, timestamps, parameters, result, log and error.

    Log lines are stored on the row (not in a file or in Redis) so they survive worker restarts and are shown
    in the admin while the run is in progress.
    """

    runner = models.CharField(max_length=64, db_index=True, help_text="name of the job runner that executes it")
    status = models.CharField(max_length=24, choices=RunStatus.choices, default=RunStatus.QUEUED, db_index=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_by_username = models.CharField(max_length=150, blank=True)
    request_id = models.CharField(max_length=64, blank=True, help_text="the web request that created this run")
    parameters = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    result = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True,
                                        help_text="last sign of life from the worker running it (every few seconds)")
    finished_at = models.DateTimeField(null=True, blank=True)
    rq_job_id = models.CharField(max_length=128, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    traceback = models.TextField(blank=True)
    log = models.JSONField(default=list, blank=True, encoder=DjangoJSONEncoder)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]

    @property
    def is_finished(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None

    @property
    def run_reference(self) -> str:
        """An id for audit events and logs: ``<app>.<model>:<pk>``."""
        return f"{self._meta.label_lower}:{self.pk}"

    def append_log(self, message: str, level: str = "info") -> None:
        """Append one timestamped line and save only the log column, so the admin can follow progress."""
        if len(self.log) >= MAX_LOG_LINES:
            return
        line = {"time": timezone.now().isoformat(), "level": level, "message": redact_text(str(message))}
        if len(self.log) == MAX_LOG_LINES - 1:
            line = {**line, "level": "warning", "message": f"log truncated at {MAX_LOG_LINES} lines"}
        self.log.append(line)
        type(self).objects.filter(pk=self.pk).update(log=self.log)

    def set_parameters(self, parameters: dict[str, Any]) -> None:
        self.parameters = redact(parameters)

    def enqueue(self, depends_on: str | None = None) -> None:
        """Enqueue the job for this row once the surrounding transaction commits (jobs receive primary keys).

        ``depends_on`` (an RQ job id) makes it start after that job ends, whatever its outcome (ordered bulk runs).
        If Redis is down at that moment the row simply stays queued; the periodic sweep enqueues it later.
        """
        transaction.on_commit(lambda: dispatch.enqueue_run(self, depends_on=depends_on), robust=True)


class SystemRun(Run):
    """A run of a built-in system job (ping, housekeeping, cluster sync, …) started from the admin,
    a command or the scheduler."""

    class Meta(Run.Meta):
        verbose_name = "system job run"
        permissions = [("start_systemrun", "Can start system jobs")]

    def __str__(self) -> str:
        return f"{self.runner} #{self.pk} ({self.status})"
