"""Approve or reject from chat: signed, expiring, single-use links that land on a confirmation page.

A link names one run and one decision, and — in an email — the approver it was sent to, signed with the secret key
(``django.core.signing``). A link posted to a shared channel names no approver: whoever opens it must be allowed to
decide the run. Opening a link still needs signing in; the page shows the request and its diff and the decision
happens only on its POST (CSRF-protected), through the run's own ``approve``/``reject`` — so the requester still
cannot approve, and a link is spent once the person using it has decided (one decision per approver and run).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse

from access import rules
from playbooks.choices import Decision, PlaybookRunStatus
from playbooks.models import PlaybookRun

SALT = "fluxplane.decision-link"


def link_max_age() -> int:
    return settings.FLUXPLANE_DECISION_LINK_HOURS * 3600


def decision_links(run: PlaybookRun, approver=None) -> dict[str, str]:
    """Absolute approve and reject links on ``run`` for notifications: made out to ``approver`` (an email), or to
    whoever may decide it (a shared channel)."""
    base = settings.FLUXPLANE_BASE_URL.rstrip("/")
    user = approver.pk if approver is not None else None
    return {decision: base + reverse("decision-link", args=[signing.dumps(
        {"run": run.pk, "user": user, "decision": decision}, salt=SALT, compress=True)])
        for decision in (Decision.APPROVE, Decision.REJECT)}


def _claims(token: str) -> dict:
    try:
        claims = signing.loads(token, salt=SALT, max_age=link_max_age())
    except signing.SignatureExpired:
        raise PermissionDenied("This link has expired: decide from the approvals inbox instead.") from None
    except signing.BadSignature:
        raise PermissionDenied("This link is not valid.") from None
    if claims.get("decision") not in (Decision.APPROVE, Decision.REJECT):
        raise PermissionDenied("This link is not valid.")
    return claims


@staff_member_required
def decide(request, token: str):
    """Confirmation page of a decision link (GET), and the decision itself (POST)."""
    claims = _claims(token)
    if claims.get("user") is not None and claims["user"] != request.user.pk:
        raise PermissionDenied("This link was sent to another approver: sign in as them, or use the approvals inbox.")
    run = get_object_or_404(PlaybookRun.objects.select_related("target", "cluster"), pk=claims["run"])
    decision = claims["decision"]
    spent = run.approvals.filter(user=request.user).exists()
    if request.method == "POST" and not spent:
        try:
            if decision == Decision.APPROVE:
                run.approve(request.user, request.POST.get("reason", ""))
            else:
                run.reject(request.user, request.POST.get("reason", ""))
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"Run #{run.pk} {'approved' if decision == Decision.APPROVE else 'rejected'}.")
            return HttpResponseRedirect(reverse("admin:playbooks_playbookrun_change", args=[run.pk]))
    context = {
        "title": f"{'Approve' if decision == Decision.APPROVE else 'Reject'} {run.playbook} {run.target_label}",
        "run": run, "decision": decision, "spent": spent,
        "may_decide": (not spent and run.status == PlaybookRunStatus.PENDING_APPROVAL
                       and rules.can_approve(request.user, run)),
        "has_permission": True, "site_header": "Fluxplane",
    }
    return TemplateResponse(request, "admin/playbooks/decide.html", context)
