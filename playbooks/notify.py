"""Telling approvers that a request waits for them (Django's email backend)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.urls import reverse

from access import rules
from playbooks.models import PlaybookRun

logger = logging.getLogger(__name__)


def approvers_for(run) -> list:
    """Active users with an email address who may approve ``run`` (never its requester)."""
    users = get_user_model().objects.filter(is_active=True).exclude(email="").exclude(pk=run.requested_by_id)
    return [user for user in users if rules.can_approve(user, run)]


def on_approval_requested(sender, run_pk: int, **kwargs) -> None:
    """Receiver of playbooks.signals.approval_requested (connected in PlaybooksConfig.ready)."""
    notify_approvers(run_pk)


def notify_approvers(run_pk: int) -> int:
    run = PlaybookRun.objects.select_related("target").get(pk=run_pk)
    recipients = [u.email for u in approvers_for(run)]
    if not recipients:
        logger.info("no approver with an email address for %s", run)
        return 0
    link = settings.FLUXPLANE_BASE_URL.rstrip("/") + reverse("admin:playbooks_pendingapproval_change", args=[run.pk])
    body = (f"{run.requested_by_username} asks to run {run.playbook} on {run.target_label} "
            f"(cluster {run.cluster.name}).\n\nParameters: {run.parameters}\n\nDecide: {link}\n")
    send_mail(f"[Fluxplane] approval needed: {run.playbook} {run.target_label}", body,
              settings.DEFAULT_FROM_EMAIL, recipients)
    return len(recipients)
