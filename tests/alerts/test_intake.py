"""The machine endpoints: Flux notification-controller events (generic-hmac provider) and the Alertmanager webhook —
accepted when authenticated and well-formed, refused with 401/400 otherwise, nothing written on refusal."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from alerts.models import Alert
from tests.alerts.conftest import AM_TOKEN, FLUX_HMAC_KEY, obj

pytestmark = pytest.mark.django_db(transaction=True)
FLUX_URL = "/alerts/hooks/flux"
AM_URL = "/alerts/hooks/alertmanager"


def flux_payload(helmrelease, severity: str = "error", reason: str = "InstallFailed") -> dict:
    """An event exactly as notification-controller's generic provider posts it."""
    return {
        "involvedObject": {"kind": "HelmRelease", "namespace": helmrelease.namespace, "name": helmrelease.name,
                           "uid": helmrelease.uid, "apiVersion": "helm.toolkit.fluxcd.io/v2",
                           "resourceVersion": "4711"},
        "severity": severity, "timestamp": "2026-11-27T10:00:00Z",
        "message": "Helm install failed for release podinfo/frontend with chart podinfo@6.9.2: timed out",
        "reason": reason, "metadata": {"revision": "6.9.2", "helm.toolkit.fluxcd.io/revision": "6.9.2"},
        "reportingController": "helm-controller", "reportingInstance": "helm-controller-7f9c-abcde",
    }


def signed(client, body: bytes, key: str = FLUX_HMAC_KEY, **headers):
    signature = "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()
    return client.post(FLUX_URL, body, content_type="application/json", HTTP_X_SIGNATURE=signature, **headers)


def test_flux_events_fire_and_resolve_an_alert_on_the_object(client, cluster, alert_settings):
    frontend = obj("HelmRelease", "podinfo", "frontend")
    answer = signed(client, json.dumps(flux_payload(frontend)).encode())
    assert answer.status_code == 200, answer.content
    alert = Alert.objects.get(source="flux")
    assert (alert.status, alert.object, alert.name, alert.severity) == ("firing", frontend, "InstallFailed", "error")
    assert alert.cluster == cluster and "timed out" in alert.summary

    # The same failure again is the same alert; a success event resolves it.
    assert signed(client, json.dumps(flux_payload(frontend)).encode()).status_code == 200
    assert Alert.objects.get(source="flux").received_count == 2
    ok = flux_payload(frontend, "info", "UpgradeSucceeded")
    assert signed(client, json.dumps(ok).encode()).status_code == 200
    alert.refresh_from_db()
    assert alert.status == "resolved" and alert.ends_at is not None
    assert Alert.objects.count() == 1


@pytest.mark.parametrize("how", ["no signature", "wrong key", "tampered body", "bearer instead of signature"])
def test_unauthenticated_flux_events_are_refused(client, cluster, alert_settings, how):
    body = json.dumps(flux_payload(obj("HelmRelease", "podinfo", "frontend"))).encode()
    if how == "no signature":
        answer = client.post(FLUX_URL, body, content_type="application/json")
    elif how == "wrong key":
        answer = signed(client, body, key="not-the-key")
    elif how == "tampered body":
        signature = "sha256=" + hmac.new(FLUX_HMAC_KEY.encode(), body, hashlib.sha256).hexdigest()
        answer = client.post(FLUX_URL, body.replace(b"frontend", b"podinfo"), content_type="application/json",
                             HTTP_X_SIGNATURE=signature)
    else:
        answer = client.post(FLUX_URL, body, content_type="application/json", HTTP_AUTHORIZATION="Bearer x")
    assert answer.status_code == 401
    assert "X-Signature" in answer.json()["error"]
    assert not Alert.objects.exists()


def test_flux_endpoint_without_any_credential_configured_accepts_nothing(client, cluster, alert_settings):
    alert_settings.FLUXPLANE_FLUX_WEBHOOK_HMAC_KEY = ""
    answer = client.post(FLUX_URL, json.dumps(flux_payload(obj("HelmRelease", "podinfo", "frontend"))),
                         content_type="application/json")
    assert answer.status_code == 401 and "no HMAC key or token" in answer.json()["error"]
    assert not Alert.objects.exists()


@pytest.mark.parametrize(("body", "reason"), [
    (b"{not json", "not JSON"),
    (b"[1, 2]", "JSON object"),
    (json.dumps({"severity": "error", "reason": "x"}).encode(), "'involvedObject' must be an object"),
    (json.dumps({"involvedObject": {"kind": "HelmRelease"}, "severity": "error"}).encode(), "needs 'kind' and 'name'"),
    (json.dumps({"involvedObject": {"kind": "HelmRelease", "name": "a"}, "severity": "fatal"}).encode(),
     "'severity'"),
    (json.dumps({"involvedObject": {"kind": "HelmRelease", "name": "a"}, "severity": "error",
                 "timestamp": "yesterday"}).encode(), "RFC 3339"),
])
def test_malformed_flux_events_get_400_with_the_reason(client, cluster, alert_settings, body, reason, caplog):
    answer = signed(client, body)
    assert answer.status_code == 400
    assert reason in answer.json()["error"]
    assert not Alert.objects.exists()
    assert any("refused with 400" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(("headers", "body", "status", "reason"), [
    ({}, {"version": "4", "alerts": []}, 401, "bearer token"),
    ({"HTTP_AUTHORIZATION": "Bearer wrong"}, {"version": "4", "alerts": []}, 401, "bearer token"),
    ({"HTTP_AUTHORIZATION": f"Bearer {AM_TOKEN}"}, {"version": "3", "alerts": []}, 400, "version"),
    ({"HTTP_AUTHORIZATION": f"Bearer {AM_TOKEN}"}, {"version": "4", "alerts": {}}, 400, "'alerts' must be a list"),
    ({"HTTP_AUTHORIZATION": f"Bearer {AM_TOKEN}"}, {"version": "4", "alerts": [{"status": "burning"}]}, 400,
     "status"),
    ({"HTTP_AUTHORIZATION": f"Bearer {AM_TOKEN}"}, {"version": "4", "alerts": [
        {"status": "firing", "labels": ["a"]}]}, 400, "labels"),
])
def test_alertmanager_webhook_refusals(client, cluster, alert_settings, headers, body, status, reason):
    answer = client.post(AM_URL, json.dumps(body), content_type="application/json", **headers)
    assert answer.status_code == status
    assert reason in answer.json()["error"]
    assert not Alert.objects.exists()


def test_alertmanager_webhook_without_a_configured_token_refuses(client, cluster, alert_settings):
    alert_settings.FLUXPLANE_ALERTMANAGER_WEBHOOK_TOKEN = ""
    answer = client.post(AM_URL, json.dumps({"version": "4", "alerts": []}), content_type="application/json",
                         HTTP_AUTHORIZATION="Bearer ")
    assert answer.status_code == 401
    assert client.get(AM_URL).status_code == 405
