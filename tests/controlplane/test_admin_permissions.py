"""Who may reach which core admin page: checked server-side, not just hidden in the menu."""

from __future__ import annotations

import pytest
from django.urls import reverse

from controlplane.models import SystemRun

pytestmark = pytest.mark.django_db

# (url name, args, permissions that allow it)
PAGES = [
    ("admin:controlplane_auditevent_changelist", [], ("controlplane.view_auditevent",)),
    ("admin:controlplane_systemrun_changelist", [], ("controlplane.view_systemrun",)),
    ("admin:controlplane_systemrun_start", [], ("controlplane.start_systemrun",)),
    ("admin:django_rq_dashboard_changelist", [], ("django_rq.admin",)),
    ("admin:django_rq_home", [], ("django_rq.admin",)),
    ("admin:django_rq_jobs", [0], ("django_rq.admin",)),
    ("admin:controlplane_cluster_add", [], ("controlplane.add_cluster",)),
    ("admin:controlplane_gitconnection_changelist", [], ("controlplane.view_gitconnection",)),
]


@pytest.mark.parametrize("url_name,args,perms", PAGES)
def test_staff_without_permission_is_refused(client, make_user, url_name, args, perms):
    client.force_login(make_user("nobody"))
    assert client.get(reverse(url_name, args=args)).status_code == 403


@pytest.mark.parametrize("url_name,args,perms", PAGES)
def test_staff_with_permission_is_let_in(client, make_user, redis_connection, url_name, args, perms):
    client.force_login(make_user("somebody", perms=perms))
    assert client.get(reverse(url_name, args=args)).status_code == 200


@pytest.mark.parametrize("url_name,args,perms", PAGES)
def test_anonymous_is_sent_to_login(client, url_name, args, perms):
    response = client.get(reverse(url_name, args=args))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


def test_starting_a_job_without_permission_creates_nothing(client, make_user):
    client.force_login(make_user("viewer", perms=("controlplane.view_systemrun",)))
    response = client.post(reverse("admin:controlplane_systemrun_start"), {"job": "ping"})
    assert response.status_code == 403
    assert not SystemRun.objects.exists()


def test_start_form_rejects_unknown_jobs(client, make_user):
    client.force_login(make_user("operator", perms=("controlplane.start_systemrun",)))
    response = client.post(reverse("admin:controlplane_systemrun_start"), {"job": "rm-rf"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not SystemRun.objects.exists()


def test_run_pages_are_read_only(client, admin_user):
    run = SystemRun.objects.create(runner="ping", status="running")
    run.append_log("step one")
    client.force_login(admin_user)
    page = client.get(reverse("admin:controlplane_systemrun_change", args=[run.pk]))
    body = page.content.decode()
    assert page.status_code == 200
    assert "step one" in body
    # A running run's page updates its live part by itself: the static script polls the fragment, which answers
    # with the same permission and says whether it is still active.
    assert 'data-active="1"' in body and 'data-live-part="run"' in body and "controlplane/live.js" in body
    assert "<script>" not in body
    live = client.get(reverse("admin:controlplane_systemrun_live", args=[run.pk]))
    assert live.status_code == 200 and "step one" in live.content.decode()
    run.status = "succeeded"
    run.save(update_fields=["status"])
    assert 'data-active="0"' in client.get(reverse("admin:controlplane_systemrun_live", args=[run.pk])).content.decode()
    assert client.post(reverse("admin:controlplane_systemrun_change", args=[run.pk]), {}).status_code == 403
    delete_url = reverse("admin:controlplane_systemrun_delete", args=[run.pk])
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    assert SystemRun.objects.filter(pk=run.pk).exists()


def test_cluster_changes_are_audited(client, admin_user):
    from controlplane.models import AuditEvent

    client.force_login(admin_user)
    response = client.post(reverse("admin:controlplane_cluster_add"), {
        "name": "staging", "connection": "simulator", "server_url": "http://127.0.0.1:6443",
        "sync_interval_seconds": 300, "enabled": "on",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    event = AuditEvent.objects.get(verb="cluster.created")
    assert event.after["server_url"] == "http://127.0.0.1:6443"
    assert event.actor_username == "root"
