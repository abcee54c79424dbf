"""Admin pages of alerts and silences: lists and filters render, scoping follows view grants, changes go through
the rules."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from guardian.shortcuts import assign_perm

from alerts.models import Silence
from tests.alerts.conftest import obj, pods
from tests.alerts.test_silences import fire

pytestmark = pytest.mark.django_db(transaction=True)


def test_lists_scoping_and_silence_changes(cluster, make_user, admin_user, client):
    fire({"alertname": "A", "namespace": "podinfo", "pod": pods("podinfo", "podinfo")[0].name},
         {"alertname": "C", "namespace": "cert-manager", "deployment": "cert-manager"},
         {"alertname": "Lost", "instance": "node-1"})
    client.force_login(admin_user)
    for url in ("/admin/alerts/alert/", "/admin/alerts/alert/?state=unresolved", "/admin/alerts/alert/?state=firing",
                "/admin/alerts/silence/?state=active", "/admin/alerts/channel/", "/admin/alerts/delivery/",
                "/admin/alerts/alertmanagerconnection/"):
        assert client.get(url).status_code == 200, url
    assert b"unresolved" in client.get("/admin/alerts/alert/?state=unresolved").content

    viewer = make_user("viewer")
    assign_perm("graph.view_kubeobject", viewer, obj("Kustomization", "flux-system", "apps"))
    client.force_login(viewer)
    listing = client.get("/admin/alerts/alert/").content.decode()
    assert ">A<" in listing and ">C<" not in listing and "Lost" not in listing

    oncall = make_user("oncall", perms=("graph.silence", "graph.view_kubeobject"))
    silence = Silence.open(target=obj("Kustomization", "flux-system", "apps"), user=oncall,
                           ends_at=timezone.now() + timedelta(hours=1), reason="rollout")
    page = client.get(f"/admin/alerts/silence/{silence.pk}/change/")
    assert page.status_code == 200 and b"End this silence now" not in page.content  # the viewer may not change it
    assert client.post(f"/admin/alerts/silence/{silence.pk}/expire/").status_code == 403
    silence.refresh_from_db()
    assert silence.expired_at is None

    client.force_login(oncall)
    page = client.get(f"/admin/alerts/silence/{silence.pk}/change/")
    assert b"End this silence now" in page.content and b"rollout" in page.content
    new_end = (timezone.localtime() + timedelta(hours=3)).strftime("%Y-%m-%d %H:%M")
    client.post(f"/admin/alerts/silence/{silence.pk}/update/", {"ends_at": new_end, "reason": "longer rollout"})
    silence.refresh_from_db()
    assert silence.reason == "longer rollout" and silence.ends_at > timezone.now() + timedelta(hours=2)
    client.post(f"/admin/alerts/silence/{silence.pk}/expire/")
    silence.refresh_from_db()
    assert silence.state == "expired"
