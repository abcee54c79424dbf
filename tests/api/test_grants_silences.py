"""Grants and silences through the API: the same rules and validation as the admin, nothing written on refusal."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from guardian.shortcuts import assign_perm

from access import rules
from access.jit.models import AccessGrant, GrantState
from alerts.models import Silence
from controlplane.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def grant(people, tree):
    now = timezone.now()
    return AccessGrant.objects.create(
        cluster=tree["ns"].cluster, namespace="podinfo", namespace_object=tree["ns"], role="view",
        subject_name="dev", duration_choice="1h", duration_seconds=3600, reason="debug", requested_by=people["dev"],
        requested_by_username="dev", state=GrantState.ACTIVE, activated_at=now, expires_at=now + timedelta(hours=1))


@pytest.mark.parametrize(("who", "sees"), [("root", True), ("dev", True), ("lead", True), ("nobody", False),
                                           ("auditor", False)])
def test_grants_visible_to_requester_approvers_and_admins(api_as, grant, who, sees):
    ids = {g["id"] for g in api_as(who).get("/api/grants/").json()["results"]}
    assert (grant.pk in ids) is sees
    assert api_as(who).get(f"/api/grants/{grant.pk}/").status_code == (200 if sees else 404)


@pytest.mark.parametrize(("who", "status"), [("nobody", 404), ("auditor", 404), ("dev", 200)])
def test_revoke_permission_table(api_as, grant, who, status):
    response = api_as(who).post(f"/api/grants/{grant.pk}/revoke/", {"reason": "done"}, format="json")
    assert response.status_code == status
    state = AccessGrant.objects.get(pk=grant.pk).state
    assert state == (GrantState.REVOKED if status == 200 else GrantState.ACTIVE)


def test_access_request_is_refused_with_the_admins_reason_and_nothing_written(api_as, tree, people):
    assign_perm(f"graph.{rules.REQUEST_ACCESS}", people["dev"], tree["ns"])
    client = api_as("dev")
    response = client.post("/api/grants/", {"namespace": tree["ns"].pk, "role": "cluster-admin", "duration": "1h",
                                            "reason": "please"}, format="json")
    assert response.status_code == 400 and response.json()["detail"]
    assert not AccessGrant.objects.exists()
    # No request_access permission on the namespace: 403; a namespace not visible at all: 404.
    assert api_as("lead").post("/api/grants/", {"namespace": tree["ns"].pk, "role": "view", "duration": "1h",
                                                "reason": "x"}, format="json").status_code == 403
    assert api_as("nobody").post("/api/grants/", {"namespace": tree["ns"].pk, "role": "view", "duration": "1h",
                                                  "reason": "x"}, format="json").status_code == 404


def test_silence_preview_create_and_end(api_as, tree, people):
    assign_perm(f"graph.{rules.SILENCE}", people["dev"], tree["ns"])
    client = api_as("dev")
    body = {"target": tree["release"].pk, "duration_minutes": 60, "reason": "upgrade", "preview": True}
    preview = client.post("/api/silences/", body, format="json")
    assert preview.status_code == 200
    assert {o["kind"] for o in preview.json()["objects"]} == {"HelmRelease", "Deployment"}
    assert not Silence.objects.exists()
    created = client.post("/api/silences/", {**body, "preview": False}, format="json")
    assert created.status_code == 201, created.content
    silence = Silence.objects.get()
    assert AuditEvent.objects.filter(verb="silence.created", actor=people["dev"]).exists()
    assert api_as("nobody").post(f"/api/silences/{silence.pk}/end/").status_code == 404
    assert client.post(f"/api/silences/{silence.pk}/end/").json()["expired_at"]


@pytest.mark.parametrize(("change", "field"), [
    ({"duration_minutes": 0}, "duration_minutes"),
    ({"duration_minutes": 10**6}, "duration_minutes"),
    ({"matchers": 'severity=~"("'}, "matchers"),
    ({"reason": ""}, "reason"),
])
def test_bad_silences_are_refused_and_nothing_written(api_as, tree, people, change, field):
    assign_perm(f"graph.{rules.SILENCE}", people["dev"], tree["ns"])
    body = {"target": tree["release"].pk, "duration_minutes": 60, "reason": "upgrade", **change}
    response = api_as("dev").post("/api/silences/", body, format="json")
    assert response.status_code == 400 and field in response.json()
    assert not Silence.objects.exists()


def test_silence_needs_the_silence_verb(api_as, tree):
    body = {"target": tree["release"].pk, "duration_minutes": 60, "reason": "upgrade"}
    assert api_as("dev").post("/api/silences/", body, format="json").status_code == 403
    assert api_as("nobody").post("/api/silences/", body, format="json").status_code == 404
