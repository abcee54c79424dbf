"""Suspend as a maintenance window: a suspend run with "silence until resumed" opens a silence on its target;
the resume of that target ends it. Called by playbooks.exec_playbooks after the cluster change succeeded."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from alerts.models import Silence

logger = logging.getLogger(__name__)


def open_for_suspend(run) -> Silence | None:
    """Open (once per run) a silence on the run's target until it is resumed, bounded by
    FLUXPLANE_MAINTENANCE_SILENCE_HOURS. The requester needs ``silence`` on the target (access.rules); without it
    the suspend stands and no silence is opened. Returns the silence or None."""
    existing = Silence.objects.filter(suspend_run=run, expired_at__isnull=True).first()
    if existing is not None:
        return existing
    if run.target is None or run.requested_by is None:
        return None
    ends_at = timezone.now() + timezone.timedelta(hours=settings.FLUXPLANE_MAINTENANCE_SILENCE_HOURS)
    try:
        return Silence.open(target=run.target, user=run.requested_by, ends_at=ends_at, until_resumed=True,
                            suspend_run=run, reason=f"maintenance: {run.target_label} suspended by "
                                                    f"{run.requested_by_username} (run #{run.pk}), until resumed")
    except (PermissionDenied, ValidationError) as exc:
        logger.warning("run #%s: no maintenance silence: %s", run.pk, exc)
        return None


def close_for_resume(run) -> int:
    """End every until-resumed silence on the run's target. Returns how many ended (0 when none was open)."""
    if run.target_id is None:
        return 0
    ended = 0
    for silence in Silence.objects.filter(target_id=run.target_id, until_resumed=True, expired_at__isnull=True):
        ended += silence.expire(message=f"{run.target_label} resumed (run #{run.pk}) by {run.requested_by_username}")
    return ended
