"""Health endpoints: liveness is the process only, readiness the dependencies; both answer whatever the Host."""

from __future__ import annotations

import pytest
from django.test import override_settings

from controlplane import health

HOSTS = ["10.244.1.7:8000", "fluxplane.example.com:8443", "evil.invalid", "[::1]:8000"]


@pytest.fixture
def reset_redis_client():
    health._redis = None
    yield
    health._redis = None


@pytest.mark.django_db
@pytest.mark.parametrize("host", HOSTS)
@override_settings(ALLOWED_HOSTS=[".example.com"])
def test_probes_answer_whatever_the_host_and_nothing_else_does(client, host, reset_redis_client):
    for path in ("/livez", "/readyz", "/healthz"):
        response = client.get(path, HTTP_HOST=host)
        assert response.status_code == 200, (path, host, response.content)
        assert response["Cache-Control"].startswith("max-age=0")
    assert client.get("/readyz", HTTP_HOST=host).json()["checks"] == {"database": "ok", "redis": "ok"}
    expected = 302 if host == "fluxplane.example.com:8443" else 400  # ALLOWED_HOSTS still applies elsewhere
    assert client.get("/admin/", HTTP_HOST=host).status_code == expected


@pytest.mark.django_db
@override_settings(REDIS_URL="redis://127.0.0.1:1/0")
def test_an_outage_fails_readiness_never_liveness(client, reset_redis_client):
    ready = client.get("/readyz", HTTP_HOST="10.0.0.1:8000")
    assert ready.status_code == 503
    assert ready.json() == {"status": "unavailable", "checks": {"database": "ok", "redis": "ConnectionError"}}
    live = client.get("/livez", HTTP_HOST="10.0.0.1:8000")
    assert live.status_code == 200 and live.json() == {"status": "ok"}


@pytest.mark.django_db
def test_probes_are_read_only(client):
    assert client.head("/livez").status_code == 200
    response = client.post("/readyz")
    assert response.status_code == 405 and response["Allow"] == "GET, HEAD"
