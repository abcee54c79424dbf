"""Approvals: requester never approves, approvers need the permission on the target or an ancestor, rejections
need a reason, pending requests expire, the inbox lists what the user may decide, approvers get an email."""

from __future__ import annotations

import django_rq
import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone
from guardian.shortcuts import assign_perm

from controlplane.dispatch import rq_job_id
from controlplane.models import AuditEvent
from playbooks.choices import PlaybookRunStatus
from playbooks.exec_playbooks import Reconcile
from playbooks.jobs import expire_pending_runs
from playbooks.models import PlaybookRun
from tests.access.test_rules import tree  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def one_approval(settings):
    settings.FLUXPLANE_APPROVALS = {"exec": 1, "gitops": 1}


@pytest.fixture
def people(tree, make_user):  # noqa: F811
    requester = make_user("dev", perms=("graph.run_playbook",))
    requester.email = "dev@example.com"
    requester.save()
    approver = make_user("lead")
    approver.email = "lead@example.com"
    approver.save()
    assign_perm("graph.approve_run", approver, tree["apps"])
    bystander = make_user("other")
    bystander.email = "other@example.com"
    bystander.save()
    assign_perm("graph.approve_run", bystander, tree["infra"])
    return requester, approver, bystander


def request(tree, requester, django_capture_on_commit_callbacks) -> PlaybookRun:  # noqa: F811
    with django_capture_on_commit_callbacks(execute=True):
        return PlaybookRun.request(Reconcile, tree["release"], requester, {"timeout": 60})


def test_a_request_waits_for_approval_and_approvers_are_emailed(tree, people, django_capture_on_commit_callbacks):  # noqa: F811
    requester, approver, bystander = people
    run = request(tree, requester, django_capture_on_commit_callbacks)
    assert run.status == PlaybookRunStatus.PENDING_APPROVAL
    assert run.expires_at > timezone.now()
    assert [m.to for m in mail.outbox] == [["lead@example.com"]]
    assert "reconcile" in mail.outbox[0].subject and "/admin/playbooks/pendingapproval/" in mail.outbox[0].body


def test_the_requester_can_never_approve(tree, people, django_capture_on_commit_callbacks, client):  # noqa: F811
    requester, _approver, _ = people
    requester.is_superuser = True
    requester.save()
    run = request(tree, requester, django_capture_on_commit_callbacks)
    with pytest.raises(PermissionDenied, match="your own request"):
        run.approve(requester)
    client.force_login(requester)
    page = client.get(reverse("admin:playbooks_playbookrun_change", args=[run.pk])).content.decode()
    assert "cannot approve your own request" in page and 'value="approve"' not in page
    response = client.post(reverse("admin:playbooks_decide", args=[run.pk]), {"decision": "approve"})
    assert response.status_code == 403
    run.refresh_from_db()
    assert run.status == PlaybookRunStatus.PENDING_APPROVAL and not run.approvals.exists()


def test_an_approval_queues_the_run(tree, people, django_capture_on_commit_callbacks, client, redis_connection):  # noqa: F811
    requester, approver, bystander = people
    run = request(tree, requester, django_capture_on_commit_callbacks)
    with pytest.raises(PermissionDenied):
        run.approve(bystander, "not my tree")
    client.force_login(approver)
    inbox = client.get(reverse("admin:playbooks_pendingapproval_changelist")).content.decode()
    assert "HelmRelease podinfo/podinfo" in inbox
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:playbooks_decide", args=[run.pk]),
                               {"decision": "approve", "reason": "looks right"})
    assert response.status_code == 302
    run.refresh_from_db()
    assert run.status == PlaybookRunStatus.QUEUED
    assert django_rq.get_queue("playbooks").fetch_job(rq_job_id(run)) is not None
    approval = run.approvals.get()
    assert (approval.username, approval.decision, approval.reason) == ("lead", "approve", "looks right")
    assert AuditEvent.objects.filter(verb="run.approved", actor_username="lead", message="looks right").exists()
    with pytest.raises(ValidationError, match="not pending approval"):
        run.approve(approver)
    django_rq.get_queue("playbooks").empty()


def test_a_rejection_needs_a_reason_and_ends_the_run(tree, people, django_capture_on_commit_callbacks):  # noqa: F811
    requester, approver, _ = people
    run = request(tree, requester, django_capture_on_commit_callbacks)
    with pytest.raises(ValidationError, match="reason"):
        run.reject(approver, "  ")
    run.reject(approver, "not during the freeze")
    assert run.status == PlaybookRunStatus.REJECTED
    assert run.error == "rejected by lead: not during the freeze"
    assert AuditEvent.objects.filter(verb="run.rejected", message="not during the freeze").exists()


def test_the_inbox_lists_only_what_the_user_may_decide(tree, people, django_capture_on_commit_callbacks, client):  # noqa: F811
    requester, approver, bystander = people
    request(tree, requester, django_capture_on_commit_callbacks)
    client.force_login(bystander)
    body = client.get(reverse("admin:playbooks_pendingapproval_changelist")).content.decode()
    assert "HelmRelease podinfo/podinfo" not in body
    client.force_login(requester)
    assert client.get(reverse("admin:playbooks_pendingapproval_changelist")).status_code == 403


def test_pending_requests_expire(tree, people, django_capture_on_commit_callbacks):  # noqa: F811
    requester, approver, _ = people
    run = request(tree, requester, django_capture_on_commit_callbacks)
    PlaybookRun.objects.filter(pk=run.pk).update(expires_at=timezone.now() - timezone.timedelta(minutes=1))
    assert expire_pending_runs() == 1
    assert expire_pending_runs() == 0
    run.refresh_from_db()
    assert run.status == PlaybookRunStatus.EXPIRED
    with pytest.raises(ValidationError):
        run.approve(approver)


def test_the_requester_may_cancel(tree, people, django_capture_on_commit_callbacks):  # noqa: F811
    requester, approver, _ = people
    run = request(tree, requester, django_capture_on_commit_callbacks)
    with pytest.raises(PermissionDenied):
        run.cancel(approver)
    run.cancel(requester)
    assert run.status == PlaybookRunStatus.CANCELLED


def test_the_dashboard_lists_approvals_waiting_for_me(tree, people, django_capture_on_commit_callbacks, client):  # noqa: F811
    requester, approver, bystander = people
    request(tree, requester, django_capture_on_commit_callbacks)
    client.force_login(approver)
    assert "Waiting for your approval" in client.get(reverse("admin:index")).content.decode()
    client.force_login(bystander)
    assert "Waiting for your approval" not in client.get(reverse("admin:index")).content.decode()
    client.force_login(requester)
    body = client.get(reverse("admin:index")).content.decode()
    assert "Your recent runs" in body and "pending approval" in body


def test_an_administrator_cancels_a_stuck_running_run_from_its_page(tree, people, make_user, client,  # noqa: F811
                                                                    django_capture_on_commit_callbacks):
    requester, _approver, _ = people
    run = request(tree, requester, django_capture_on_commit_callbacks)
    PlaybookRun.objects.filter(pk=run.pk).update(status=PlaybookRunStatus.RUNNING, started_at=timezone.now())
    with pytest.raises(ValidationError, match="running run cannot be cancelled"):
        PlaybookRun.objects.get(pk=run.pk).cancel(requester)  # only an administrator ends a running run
    admin = make_user("root", superuser=True)
    client.force_login(admin)
    page = client.get(reverse("admin:playbooks_playbookrun_change", args=[run.pk]))
    assert reverse("admin:playbooks_cancel", args=[run.pk]) in page.content.decode()
    client.post(reverse("admin:playbooks_cancel", args=[run.pk]))
    run.refresh_from_db()
    assert run.status == PlaybookRunStatus.CANCELLED
    assert AuditEvent.objects.filter(verb="run.cancelled", actor_username="root").exists()
