"""Approve from chat: signed, single-use, expiring links; forged, reused, expired, foreign and self-approval links are
refused, and the decision still goes through the run's own rules."""

from __future__ import annotations

import time
from datetime import timedelta
from unittest import mock
from urllib.parse import urlsplit

import pytest
from django.core import signing
from django.core.exceptions import PermissionDenied

from playbooks.library import get_playbook
from playbooks.links import SALT, _claims, decision_links
from playbooks.models import PlaybookRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def pending(people, tree, settings):
    settings.FLUXPLANE_APPROVALS = {**settings.FLUXPLANE_APPROVALS, "reconcile": 1}
    return PlaybookRun.request(get_playbook("reconcile"), tree["release"], people["dev"], {"timeout": "5m"})


def _path(url: str) -> str:
    return urlsplit(url).path


def test_approver_confirms_on_the_page_and_the_link_is_then_spent(client, people, pending, drain):
    assert pending.status == "pending_approval"
    link = _path(decision_links(pending, people["lead"])["approve"])
    client.force_login(people["lead"])
    page = client.get(link)
    assert page.status_code == 200
    assert b"dev asks to run reconcile on HelmRelease podinfo/podinfo" in page.content
    assert PlaybookRun.objects.get(pk=pending.pk).status == "pending_approval"  # opening decides nothing
    response = client.post(link, {"reason": "go"})
    assert response.status_code == 302
    run = PlaybookRun.objects.get(pk=pending.pk)
    assert run.status == "queued" and run.approvals.get().username == "lead"
    again = client.post(link, {"reason": "twice"})
    assert again.status_code == 200 and b"already decided" in again.content
    assert run.approvals.count() == 1


def test_reject_link_needs_a_reason(client, people, pending):
    link = _path(decision_links(pending, people["lead"])["reject"])
    client.force_login(people["lead"])
    assert b"Give a reason" in client.post(link, {"reason": ""}, follow=True).content
    client.post(link, {"reason": "not now"})
    assert PlaybookRun.objects.get(pk=pending.pk).status == "rejected"


def test_forged_foreign_expired_and_self_approval_links_are_refused(client, people, pending):
    forged = signing.dumps({"run": pending.pk, "user": people["lead"].pk, "decision": "approve"}, salt=SALT,
                           key="not-the-secret-key", compress=True)
    client.force_login(people["lead"])
    assert client.post(f"/decide/{forged}/").status_code == 403
    # A link sent to the lead, opened by someone else signed in.
    link = _path(decision_links(pending, people["lead"])["approve"])
    client.force_login(people["root"])
    assert client.post(link, {"reason": "mine now"}).status_code == 403
    # Expired: the signature's timestamp is older than the allowed age.
    client.force_login(people["lead"])
    with mock.patch("django.core.signing.time.time", return_value=time.time() + 25 * 3600):
        assert client.get(link).status_code == 403
    # The requester cannot approve their own request, even with a link made out to them.
    own = _path(decision_links(pending, people["dev"])["approve"])
    client.force_login(people["dev"])
    assert client.post(own, {"reason": "self"}).status_code == 403
    run = PlaybookRun.objects.get(pk=pending.pk)
    assert run.status == "pending_approval" and not run.approvals.exists()


def test_links_expire_after_the_configured_hours(people, pending, settings):
    settings.FLUXPLANE_DECISION_LINK_HOURS = 1
    token = decision_links(pending, people["lead"])["approve"].rstrip("/").rsplit("/", 1)[1]
    assert _claims(token)["run"] == pending.pk
    with mock.patch("django.core.signing.time.time", return_value=time.time() + timedelta(hours=2).total_seconds()):
        with pytest.raises(PermissionDenied, match="expired"):
            _claims(token)


def test_a_channel_link_lets_any_approver_decide_but_never_the_requester(client, people, pending, make_user):
    links = decision_links(pending)  # as posted to a shared channel: made out to nobody in particular
    client.force_login(people["dev"])  # the requester
    assert client.post(_path(links["approve"]), {"reason": "me"}).status_code == 403
    client.force_login(people["nobody"])  # signed in, but may not approve this run
    assert b"nothing for you to decide" in client.get(_path(links["approve"])).content
    assert client.post(_path(links["approve"]), {"reason": "me"}).status_code == 403
    client.force_login(people["lead"])
    assert client.post(_path(links["approve"]), {"reason": "ok"}).status_code == 302
    assert PlaybookRun.objects.get(pk=pending.pk).approvals.get().username == "lead"


def test_notifications_carry_the_links(people, pending, mailoutbox, settings):
    from playbooks.notify import compose, notify_approvers

    people["lead"].email = "lead@example.com"
    people["lead"].save()
    assert notify_approvers(pending.pk) == 1
    body = mailoutbox[0].body
    approve = next(line for line in body.splitlines() if line.startswith("Approve: "))[len("Approve: "):]
    assert approve.startswith(settings.FLUXPLANE_BASE_URL.rstrip("/") + "/decide/")
    assert _claims(approve.rstrip("/").rsplit("/", 1)[1])["user"] == people["lead"].pk  # made out to the lead
    shared = compose(pending)["payload"]
    assert _claims(shared["approveUrl"].rstrip("/").rsplit("/", 1)[1])["user"] is None
