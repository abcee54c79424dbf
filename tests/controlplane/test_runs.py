"""Run lifecycle driven through real Redis and a non-forking RQ worker."""

from __future__ import annotations

import django_rq
import pytest
from django.utils import timezone

from controlplane.dispatch import register, rq_job_id
from controlplane.jobs import start_system_job, sweep_runs_job
from controlplane.models import AuditEvent, RunStatus, SystemRun
from controlplane.runners import JobFailed, JobRunner, execute

pytestmark = pytest.mark.django_db


@register
class ExpectedFailureRunner(JobRunner):
    """Test runner: fails the way a job reports a refused input."""

    name = "test-expected-failure"
    model = SystemRun

    def run(self):
        self.log("checking the input")
        raise JobFailed("replicas must be between 0 and 100, got 500")


@register
class CrashRunner(JobRunner):
    """Test runner: crashes with an unexpected exception."""

    name = "test-crash"
    model = SystemRun

    def run(self):
        self.log("about to divide")
        return {"value": 1 / 0}


def start(name, user=None, django_capture_on_commit_callbacks=None):
    with django_capture_on_commit_callbacks(execute=True):
        return start_system_job(name, user=user)


def test_ping_succeeds_and_keeps_its_log(drain, admin_user, django_capture_on_commit_callbacks):
    run = start("ping", admin_user, django_capture_on_commit_callbacks)
    run.refresh_from_db()
    assert run.status == RunStatus.QUEUED
    assert run.rq_job_id == rq_job_id(run)
    assert run.enqueued_at is not None

    drain()

    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED
    assert run.result["pong"] is True
    assert run.started_at <= run.finished_at
    assert run.attempts == 1
    messages = [line["message"] for line in run.log]
    assert "Redis answered" in messages
    assert any(m.startswith("database (") for m in messages)
    verbs = list(AuditEvent.objects.filter(target_id=str(run.pk)).order_by("id").values_list("verb", flat=True))
    assert verbs == ["run.requested", "run.started", "run.succeeded"]


def test_expected_failure_ends_failed_with_message_and_no_traceback(drain, django_capture_on_commit_callbacks):
    run = start("test-expected-failure", None, django_capture_on_commit_callbacks)
    drain()
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert run.error == "replicas must be between 0 and 100, got 500"
    assert run.traceback == ""
    assert [line["level"] for line in run.log] == ["info", "error"]


def test_crash_ends_errored_with_traceback(drain, django_capture_on_commit_callbacks):
    run = start("test-crash", None, django_capture_on_commit_callbacks)
    drain()
    run.refresh_from_db()
    assert run.status == RunStatus.ERRORED
    assert run.error == "ZeroDivisionError: division by zero"
    assert "Traceback (most recent call last)" in run.traceback
    assert "1 / 0" in run.traceback
    event = AuditEvent.objects.get(verb="run.errored", target_id=str(run.pk))
    assert event.context == "job"
    assert event.request_id == run.run_reference


def test_job_events_carry_run_id_and_requester(drain, admin_user, django_capture_on_commit_callbacks):
    run = start("ping", admin_user, django_capture_on_commit_callbacks)
    drain()
    started = AuditEvent.objects.get(verb="run.started", target_id=str(run.pk))
    assert (started.context, started.request_id) == ("job", f"controlplane.systemrun:{run.pk}")
    assert (started.actor_id, started.actor_username) == (admin_user.pk, "root")


def test_a_run_executes_once_even_if_its_job_is_delivered_twice(drain, django_capture_on_commit_callbacks):
    run = start("ping", None, django_capture_on_commit_callbacks)
    # A retried or duplicated delivery of the same job.
    django_rq.get_queue("high").enqueue(execute, "ping", run.pk)
    drain()
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED
    assert run.attempts == 1
    assert AuditEvent.objects.filter(verb="run.started", target_id=str(run.pk)).count() == 1


def test_a_run_created_while_redis_was_down_is_enqueued_by_the_sweep(drain):
    # The row exists but its job never reached Redis (no on-commit enqueue happened).
    run = SystemRun.objects.create(runner="ping")
    SystemRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - timezone.timedelta(minutes=5))
    assert sweep_runs_job() == {"stale": 0, "requeued": 1}
    assert sweep_runs_job() == {"stale": 0, "requeued": 0}, "a second sweep must not enqueue it again"
    drain()
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED


def test_the_sweep_retries_or_ends_runs_whose_worker_died(settings, drain):
    settings.FLUXPLANE_RUN_STALE_AFTER_SECONDS = 60
    long_ago = timezone.now() - timezone.timedelta(minutes=10)
    stuck = SystemRun.objects.create(runner="ping", status=RunStatus.RUNNING, started_at=long_ago,
                                     heartbeat_at=long_ago, attempts=1)
    spent = SystemRun.objects.create(runner="ping", status=RunStatus.RUNNING, started_at=long_ago, attempts=3)
    # Started long ago but its worker is alive: the heartbeat is fresh.
    alive = SystemRun.objects.create(runner="ping", status=RunStatus.RUNNING, started_at=long_ago,
                                     heartbeat_at=timezone.now(), attempts=1)
    assert sweep_runs_job()["stale"] == 2
    assert sweep_runs_job()["stale"] == 0
    for run in (stuck, spent, alive):
        run.refresh_from_db()
    assert stuck.status == RunStatus.QUEUED and "running it again (attempt 2)" in stuck.log[-1]["message"]
    assert spent.status == RunStatus.ERRORED and "worker running it stopped" in spent.error
    assert "gave up after 3 attempts" in spent.error
    assert alive.status == RunStatus.RUNNING
    drain()
    stuck.refresh_from_db()
    assert stuck.status == RunStatus.SUCCEEDED and stuck.attempts == 2
    assert AuditEvent.objects.filter(verb="run.retried", target_id=str(stuck.pk)).count() == 1


def test_a_late_outcome_does_not_overwrite_a_cancelled_run():
    from controlplane.runners import finish

    run = SystemRun.objects.create(runner="ping", status=RunStatus.CANCELLED)
    assert finish(run, RunStatus.SUCCEEDED, result={"x": 1}) == RunStatus.CANCELLED
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED and run.result is None and "outcome not recorded" in run.log[-1]["message"]


def test_log_lines_are_redacted():
    run = SystemRun.objects.create(runner="ping")
    run.append_log("cloning https://bot:hunter2@github.com/org/repo.git with ghp_" + "a" * 36)
    run.refresh_from_db()
    assert run.log[0]["message"] == "cloning https://***@github.com/org/repo.git with ***"


def test_unknown_system_job_is_refused():
    with pytest.raises(LookupError, match="unknown job runner 'nope'"):
        start_system_job("nope")
