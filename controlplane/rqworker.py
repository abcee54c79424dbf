"""The RQ worker class the worker role runs: RQ's own Worker plus the liveness heartbeat file."""

from __future__ import annotations

from rq.worker import Worker

from controlplane import heartbeat


class HeartbeatWorker(Worker):
    """Touches the ``worker`` heartbeat file whenever RQ sends its own heartbeat: between dequeues, while waiting
    for Redis to come back (before the Redis call, so an outage does not look like a hang) and while a job runs
    (the parent process monitors the work horse every ``job_monitoring_interval``)."""

    def heartbeat(self, *args, **kwargs):
        heartbeat.beat("worker")
        return super().heartbeat(*args, **kwargs)
