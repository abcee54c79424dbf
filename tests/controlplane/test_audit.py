"""The audit log: written with request id and context, append-only, redacted, exportable."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from controlplane import context
from controlplane.models import AuditEvent, AuditImmutableError, Cluster

pytestmark = pytest.mark.django_db


@pytest.fixture
def event(admin_user):
    with context.work_context(context.Origin.COMMAND, request_id="cmd-12345678", user=admin_user):
        return AuditEvent.record("cluster.created", Cluster.objects.create(name="prod", kubeconfig_path="/k"))


def test_record_takes_origin_request_id_and_actor_from_the_context(event, admin_user):
    assert (event.context, event.request_id, event.actor_id, event.actor_username) == (
        "command", "cmd-12345678", admin_user.pk, "root",
    )
    assert event.target_repr == "prod"
    assert event.target == Cluster.objects.get(name="prod")


def test_events_written_by_a_web_request_carry_its_request_id(client, make_user, django_capture_on_commit_callbacks):
    user = make_user("operator", perms=("controlplane.start_systemrun", "controlplane.view_systemrun"))
    client.force_login(user)
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(reverse("admin:controlplane_systemrun_start"), {"job": "ping"},
                               HTTP_X_REQUEST_ID="req-abcdef123456")
    assert response.status_code == 302
    assert response["X-Request-ID"] == "req-abcdef123456"
    event = AuditEvent.objects.get(verb="run.requested")
    assert (event.context, event.request_id, event.actor_username) == ("web", "req-abcdef123456", "operator")


def test_an_unsafe_request_id_header_is_replaced(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="bad id\nwith newline")
    assert response["X-Request-ID"] != "bad id\nwith newline"
    assert len(response["X-Request-ID"]) == 32


def test_events_cannot_be_changed_or_deleted_in_code(event):
    event.message = "rewritten"
    with pytest.raises(AuditImmutableError):
        event.save()
    with pytest.raises(AuditImmutableError):
        event.delete()
    with pytest.raises(AuditImmutableError):
        AuditEvent.objects.filter(pk=event.pk).update(message="x")
    with pytest.raises(AuditImmutableError):
        AuditEvent.objects.filter(pk=event.pk).delete()
    event.refresh_from_db()
    assert event.message == ""


@pytest.mark.parametrize("method,url_name,data", [
    ("post", "admin:controlplane_auditevent_change", {"message": "x", "verb": "y"}),
    ("post", "admin:controlplane_auditevent_delete", {"post": "yes"}),
    ("get", "admin:controlplane_auditevent_add", None),
    ("post", "admin:controlplane_auditevent_add", {"verb": "forged"}),
])
def test_admin_refuses_to_add_change_or_delete_events_even_for_superusers(client, admin_user, event, method, url_name,
                                                                         data):
    client.force_login(admin_user)
    args = [] if url_name.endswith("_add") else [event.pk]
    response = getattr(client, method)(reverse(url_name, args=args), data or {})
    assert response.status_code == 403
    assert AuditEvent.objects.count() == 1
    event.refresh_from_db()
    assert event.verb == "cluster.created"


def test_bulk_delete_action_is_not_offered(client, admin_user, event):
    client.force_login(admin_user)
    response = client.post(reverse("admin:controlplane_auditevent_changelist"),
                           {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"})
    assert AuditEvent.objects.filter(pk=event.pk).exists()
    assert response.status_code in (200, 302)


def test_changelist_filters_and_search(client, admin_user, event):
    client.force_login(admin_user)
    url = reverse("admin:controlplane_auditevent_changelist")
    assert "prod" in client.get(url, {"q": "prod"}).content.decode()
    assert "prod" not in client.get(url, {"q": "nothing-like-it"}).content.decode()
    assert client.get(url, {"context__exact": "command"}).status_code == 200


def test_csv_export_needs_its_permission(client, make_user, event):
    viewer = make_user("viewer", perms=("controlplane.view_auditevent",))
    exporter = make_user("exporter", perms=("controlplane.view_auditevent", "controlplane.export_auditevent"))
    url = reverse("admin:controlplane_auditevent_changelist")
    payload = {"action": "export_csv", "_selected_action": [event.pk]}

    client.force_login(viewer)
    refused = client.post(url, payload)
    assert refused.status_code != 200 or refused.get("Content-Type") != "text/csv"

    client.force_login(exporter)
    response = client.post(url, payload)
    assert response["Content-Type"] == "text/csv"
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:5] == ["time", "actor_username", "context", "request_id", "verb"]
    assert rows[1][1:5] == ["root", "command", "cmd-12345678", "cluster.created"]
    assert AuditEvent.objects.filter(verb="audit.exported", actor_username="exporter").exists()


def test_csv_export_neutralises_formulas(client, admin_user):
    AuditEvent.record("note", message="=HYPERLINK(\"http://evil\")")
    client.force_login(admin_user)
    ids = list(AuditEvent.objects.values_list("pk", flat=True))
    response = client.post(reverse("admin:controlplane_auditevent_changelist"),
                           {"action": "export_csv", "_selected_action": ids})
    body = b"".join(response.streaming_content).decode()
    assert "'=HYPERLINK" in body


@pytest.mark.parametrize("before,after,message,expected_before,expected_after,expected_message", [
    ({"token": "s3cr3t"}, {"token_ref": "env:GH"}, "", {"token": "***"}, {"token_ref": "env:GH"}, ""),
    ({"password": "x", "name": "n"}, None, "", {"password": "***", "name": "n"}, None, ""),
    (None, {"url": "https://u:p@git.example/r.git"}, "", None, {"url": "https://***@git.example/r.git"}, ""),
    (None, None, "used ghp_" + "b" * 36, None, None, "used ***"),
    (None, {"headers": {"Authorization": "Bearer abc.def.ghi"}}, "", None, {"headers": {"Authorization": "***"}}, ""),
])
def test_secrets_are_redacted_before_storage(before, after, message, expected_before, expected_after,
                                             expected_message):
    event = AuditEvent.record("test", before=before, after=after, message=message)
    event.refresh_from_db()
    assert (event.before, event.after, event.message) == (expected_before, expected_after, expected_message)
