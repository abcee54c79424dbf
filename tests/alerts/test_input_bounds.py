"""Hostile bodies on the machine endpoints answer 400/413 with a JSON reason, never 500, and write nothing; bodies
up to the documented 5 MiB cap are accepted (Django's own 2.5 MB limit does not cut them off)."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from alerts.models import Alert
from tests.alerts.conftest import AM_TOKEN, FLUX_HMAC_KEY

pytestmark = pytest.mark.django_db(transaction=True)
AM_URL = "/alerts/hooks/alertmanager"
FLUX_URL = "/alerts/hooks/flux"


def am(client, body: bytes):
    return client.post(AM_URL, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {AM_TOKEN}")


def flux(client, body: bytes):
    signature = "sha256=" + hmac.new(FLUX_HMAC_KEY.encode(), body, hashlib.sha256).hexdigest()
    return client.post(FLUX_URL, body, content_type="application/json", HTTP_X_SIGNATURE=signature)


def alert(**labels) -> dict:
    return {"status": "firing", "labels": {"alertname": "Big", "namespace": "podinfo", **labels},
            "annotations": {}, "startsAt": "2026-11-27T10:00:00Z", "fingerprint": "fp-big"}


@pytest.mark.parametrize(("body", "status", "reason"), [
    # A lone surrogate is valid JSON text but no database stores it.
    (b'{"version": "4", "alerts": [{"status": "firing", "labels": {"alertname": "\\ud800"}}]}', 400,
     "not valid Unicode"),
    (b'{"version": "4", "alerts": [{"status": "firing", "labels": {"alertname": "a\\u0000b"}}]}', 400, "NUL"),
    (b'{"version": "4", "alerts": [], "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", 400, "nests deeper"),
    (b'{"version": "4", "alerts": [], "x": ' + b'{"a": ' * 100 + b"1" + b"}" * 100 + b"}", 400, "nests deeper"),
    (b'{"version": "4", "alerts": [], "pad": "' + b"x" * (6 * 1024 * 1024) + b'"}', 413, "larger than 5 MiB"),
    (b"\xff\xfe not utf-8", 400, "not JSON"),
])
def test_hostile_alertmanager_bodies_get_a_json_reason(client, cluster, alert_settings, body, status, reason):
    answer = am(client, body)
    assert answer.status_code == status, answer.content[:300]
    assert reason in answer.json()["error"]
    assert not Alert.objects.exists()


@pytest.mark.parametrize(("body", "reason"), [
    (b'{"involvedObject": {"kind": "HelmRelease", "name": "\\udfff"}, "severity": "error"}', "not valid Unicode"),
    (b'{"involvedObject": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", "nests deeper"),
])
def test_hostile_flux_events_get_a_json_reason(client, cluster, alert_settings, body, reason):
    answer = flux(client, body)
    assert answer.status_code == 400 and reason in answer.json()["error"]
    assert not Alert.objects.exists()


def test_a_body_between_django_s_limit_and_the_cap_is_accepted(client, cluster, alert_settings):
    payload = {"version": "4", "groupKey": "g", "alerts": [alert()],
               "commonAnnotations": {"runbook": "r" * (4 * 1024 * 1024)}}  # ≈4 MiB: above 2.5 MB, below 5 MiB
    body = json.dumps(payload).encode()
    assert 2_621_440 < len(body) < 5 * 1024 * 1024
    answer = am(client, body)
    assert answer.status_code == 200, answer.content[:300]
    assert answer.json()["alerts"] == 1
    assert Alert.objects.filter(name="Big").exists()
