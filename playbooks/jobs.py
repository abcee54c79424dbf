"""Periodic jobs of the playbooks app."""

from controlplane import context
from playbooks.changes.tracking import track_changes  # noqa: F401  (scheduled from controlplane.cron)
from playbooks.models import PlaybookRun


def expire_pending_runs() -> int:
    """Periodic: requests nobody decided on before their expiry end as expired (idempotent)."""
    with context.work_context(context.Origin.JOB, request_id="cron:expire-pending-runs"):
        return PlaybookRun.expire_pending()
