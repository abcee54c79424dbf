"""Live parts of pages (controlplane/live.py) beyond the mirror's: the dashboard and the lists people watch (runs,
approvals, access grants, silences, alerts, the audit log) answer ``X-Fluxplane-Live`` with only their part, behind
the same permission checks as the pages, in a number of queries that does not grow with the rows."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from controlplane import live
from controlplane.models import AuditEvent, SystemRun

pytestmark = pytest.mark.django_db

LISTS = [
    "admin:controlplane_systemrun_changelist",
    "admin:controlplane_auditevent_changelist",
    "admin:playbooks_playbookrun_changelist",
    "admin:playbooks_pendingapproval_changelist",
    "admin:access_accessgrant_changelist",
    "admin:access_myaccessgrant_changelist",
    "admin:access_activeaccessgrant_changelist",
    "admin:alerts_alert_changelist",
    "admin:alerts_silence_changelist",
]


def part(client, url: str, name: str):
    return client.get(url, headers={live.HEADER: name})


@pytest.mark.parametrize("url_name", LISTS)
def test_every_watched_list_has_a_live_table(client, admin_user, url_name):
    client.force_login(admin_user)
    url = reverse(url_name)
    assert 'data-live-part="list"' in client.get(url).content.decode()
    response = part(client, url, "list")
    assert response.status_code == 200 and response[live.HEADER] == "list"
    assert "<html" not in response.content.decode()


@pytest.mark.parametrize("url_name", ["admin:controlplane_systemrun_changelist",
                                      "admin:controlplane_auditevent_changelist"])
def test_a_list_fragment_is_refused_like_its_page(client, make_user, url_name):
    SystemRun.objects.create(runner="sweep", requested_by_username="secret-person")
    AuditEvent.record("test.secret", None, message="secret-person")
    response = part(client, reverse(url_name), "list")
    assert response.status_code == 302 and live.HEADER not in response  # signed out: the login page
    client.force_login(make_user("nobody"))
    response = part(client, reverse(url_name), "list")
    assert response.status_code == 403 and live.HEADER not in response
    assert b"secret-person" not in response.content


def test_the_dashboard_fragment_is_its_panels(client, admin_user, make_user):
    client.force_login(admin_user)
    page = client.get(reverse("admin:index")).content.decode()
    assert 'data-live-part="dashboard"' in page
    assert '<meta name="fluxplane-live-interval" content="5000">' in page
    response = part(client, reverse("admin:index"), "dashboard")
    assert response.status_code == 200 and response[live.HEADER] == "dashboard"
    body = response.content.decode()
    assert 'id="fp-dashboard"' in body and "app-list" not in body and "<html" not in body
    # Who holds no view grant gets the same (empty) panels the page would show them: no health counts.
    client.force_login(make_user("nobody"))
    body = part(client, reverse("admin:index"), "dashboard").content.decode()
    assert 'id="fp-dashboard"' not in body


def test_the_interval_comes_from_the_setting(client, admin_user, settings):
    settings.FLUXPLANE_LIVE_INTERVAL_MS = 1500
    client.force_login(admin_user)
    assert '<meta name="fluxplane-live-interval" content="1500">' in client.get(reverse("admin:index")).content.decode()
    settings.FLUXPLANE_LIVE_INTERVAL_MS = 10  # a typo must not turn every open page into a flood
    assert live.interval_ms() == 500


def test_a_page_without_the_header_is_the_whole_page(client, admin_user):
    client.force_login(admin_user)
    response = client.get(reverse("admin:controlplane_auditevent_changelist"))
    assert "<html" in response.content.decode() and live.HEADER not in response


def test_queries_per_poll_do_not_grow_with_the_rows(client, admin_user):
    client.force_login(admin_user)
    polls = {reverse("admin:controlplane_systemrun_changelist"): "list",
             reverse("admin:controlplane_auditevent_changelist"): "list",
             reverse("admin:playbooks_playbookrun_changelist"): "list",
             reverse("admin:index"): "dashboard"}

    def counts() -> list[int]:
        found = []
        for url, name in polls.items():
            part(client, url, name)
            with CaptureQueriesContext(connection) as queries:
                assert part(client, url, name).status_code == 200
            found.append(len(queries))
        return found

    def add(n: int) -> None:
        for i in range(n):
            SystemRun.objects.create(runner="sweep", requested_by=admin_user, requested_by_username="root")
            AuditEvent.record("test.event", None, message=f"event {i}")

    add(2)
    small = counts()
    add(30)
    assert counts() == small
