"""Telling approvers that a request waits for them: an email to each person who may decide it, and a message on
every notification channel that routes the target's namespace (alerts.models.Channel, as alerts are routed), with
the request, a summary of its diff and a link to decide it. Channel messages are Delivery rows sent by the worker
(alerts.jobs.deliver_job): attempts, failures and retries are recorded and audited as for alerts."""

from __future__ import annotations

import hashlib
import logging
import re

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse

from access import rules
from alerts.choices import DeliveryKind
from alerts.enqueue import enqueue_delivery
from alerts.models import Channel, Delivery
from playbooks.links import decision_links
from playbooks.models import PlaybookRun

logger = logging.getLogger(__name__)


def approvers_for(run) -> list:
    """Active users with an email address who may approve ``run`` (never its requester)."""
    users = get_user_model().objects.filter(is_active=True).exclude(email="").exclude(pk=run.requested_by_id)
    return [user for user in users if rules.can_approve(user, run)]


def on_approval_requested(sender, run_pk: int, **kwargs) -> None:
    """Receiver of playbooks.signals.approval_requested (connected in PlaybooksConfig.ready)."""
    try:
        notify_channels(run_pk)
    finally:
        notify_approvers(run_pk)


def decide_url(run: PlaybookRun) -> str:
    """Where an approver decides the request (FLUXPLANE_BASE_URL: the address people reach Fluxplane at)."""
    return settings.FLUXPLANE_BASE_URL.rstrip("/") + reverse("admin:playbooks_pendingapproval_change", args=[run.pk])


def diff_summary(diff: str) -> str:
    """``2 files changed, +3 −1: apps/a.yaml, apps/b.yaml`` from a unified diff; '' when there is none."""
    files = re.findall(r"^\+\+\+ b/(.+)$", diff or "", re.M)
    if not files:
        return ""
    added = sum(1 for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++"))
    removed = sum(1 for line in diff.splitlines() if line.startswith("-") and not line.startswith("---"))
    return f"{len(files)} file{'s' if len(files) != 1 else ''} changed, +{added} −{removed}: {', '.join(files)}"


def _parameters(run: PlaybookRun) -> str:
    return ", ".join(f"{k}={v}" for k, v in (run.parameters or {}).items()) or "none"


def _namespace(run: PlaybookRun) -> str:
    """The namespace a request is about (a Namespace target is its own)."""
    return run.target_name if run.target_kind == "Namespace" and not run.target_namespace else run.target_namespace


def compose(run: PlaybookRun, approver=None) -> dict:
    """The message of an approval request: title, text (chat and email), and the JSON fields for webhooks. The
    signed approve/reject links are made out to ``approver`` (an email), else to whoever may decide (a channel)."""
    link, summary = decide_url(run), diff_summary(run.diff)
    links = decision_links(run, approver)
    title = f"[Fluxplane] approval needed: {run.playbook} {run.target_label}"
    lines = [f"{run.requested_by_username} asks to run {run.playbook} on {run.target_label} "
             f"(cluster {run.cluster.name}).", f"Parameters: {_parameters(run)}"]
    if summary:
        lines.append(f"Change: {summary}")
    if run.expires_at:
        lines.append(f"Expires: {run.expires_at:%Y-%m-%d %H:%M} UTC")
    lines += [f"Decide: {link}", f"Approve: {links['approve']}", f"Reject: {links['reject']}"]
    payload = {"kind": "approval_request", "url": link, "approveUrl": links["approve"], "rejectUrl": links["reject"],
               "diffSummary": summary, "run": {
        "id": run.pk, "playbook": run.playbook, "target": run.target_label, "namespace": _namespace(run),
        "cluster": run.cluster.name, "requestedBy": run.requested_by_username, "parameters": run.parameters,
        "approvalsRequired": run.approvals_required,
        "expiresAt": run.expires_at.isoformat() if run.expires_at else None}}
    return {"title": title, "text": "\n".join(lines), "url": link, "payload": payload}


def notify_channels(run_pk: int) -> int:
    """Create (once per run and channel) and enqueue the approval request's delivery to every routing channel.
    Returns how many deliveries were created now."""
    run = PlaybookRun.objects.select_related("cluster").get(pk=run_pk)
    namespace = _namespace(run)
    channels = [c for c in Channel.objects.filter(enabled=True, approval_requests=True) if c.routes_approval(namespace)]
    if not channels:
        return 0
    subject = compose(run)
    key = hashlib.sha256(f"approval|run:{run.pk}".encode()).hexdigest()
    created = 0
    with transaction.atomic():
        for channel in channels:
            delivery, new = Delivery.objects.get_or_create(channel=channel, dedupe_key=key, defaults={
                "group_key": f"approval:run:{run.pk}", "status": DeliveryKind.APPROVAL, "subject": subject})
            if new:
                created += 1
                enqueue_delivery(delivery.pk)
    return created


def notify_approvers(run_pk: int) -> int:
    """Email everyone who may decide the request. Returns the number of recipients."""
    run = PlaybookRun.objects.select_related("target", "cluster").get(pk=run_pk)
    approvers = approvers_for(run)
    if not approvers:
        logger.info("no approver with an email address for %s", run)
        return 0
    for approver in approvers:  # one email each: the links in it are made out to that approver
        message = compose(run, approver)
        send_mail(message["title"], message["text"] + "\n", settings.DEFAULT_FROM_EMAIL, [approver.email])
    return len(approvers)
