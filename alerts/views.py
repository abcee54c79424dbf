"""Machine endpoints: the Alertmanager webhook receiver and the Flux notification-controller (generic provider)
endpoint. They are the only CSRF-exempt views of the app; each authenticates the caller by bearer token or HMAC
before reading the body, answers 401 without them, 400 with the reason for a malformed payload, never 500."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from alerts.intake import PayloadError, ingest_alertmanager, ingest_flux_event

logger = logging.getLogger(__name__)
MAX_BODY = 5 * 1024 * 1024
_HASHES = {"sha256": hashlib.sha256, "sha384": hashlib.sha384, "sha512": hashlib.sha512}


def _bearer_ok(request: HttpRequest, expected: str) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return bool(expected) and scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(),
                                                                                 expected.encode())


def _signature_ok(request: HttpRequest, key: str, body: bytes) -> bool:
    """Flux's generic-hmac provider sends ``X-Signature: <alg>=<hex HMAC of the body>``."""
    algorithm, _, digest = request.headers.get("X-Signature", "").partition("=")
    hash_ = _HASHES.get(algorithm.strip().lower())
    if not key or hash_ is None or not digest:
        return False
    expected = hmac.new(key.encode(), body, hash_).hexdigest()
    return hmac.compare_digest(expected, digest.strip().lower())


def _refuse(status: int, reason: str, endpoint: str, request: HttpRequest) -> JsonResponse:
    logger.warning("%s: refused with %s from %s: %s", endpoint, status, request.META.get("REMOTE_ADDR"), reason)
    return JsonResponse({"error": reason}, status=status)


def _json(request: HttpRequest, endpoint: str):
    body = request.body
    if len(body) > MAX_BODY:
        raise PayloadError("the body is too large")
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise PayloadError(f"the body is not JSON: {exc}") from None


@csrf_exempt
@require_POST
def alertmanager_webhook(request: HttpRequest) -> JsonResponse:
    """Alertmanager's webhook_config (payload version 4), authenticated by FLUXPLANE_ALERTMANAGER_WEBHOOK_TOKEN."""
    endpoint = "alertmanager webhook"
    token = settings.FLUXPLANE_ALERTMANAGER_WEBHOOK_TOKEN
    if not token:
        return _refuse(401, "no webhook token is configured (FLUXPLANE_ALERTMANAGER_WEBHOOK_TOKEN)", endpoint,
                       request)
    if not _bearer_ok(request, token):
        return _refuse(401, "missing or wrong bearer token", endpoint, request)
    try:
        result = ingest_alertmanager(_json(request, endpoint))
    except PayloadError as exc:
        return _refuse(400, str(exc), endpoint, request)
    return JsonResponse({"alerts": len(result.alert_ids), "notified": len(result.notify_ids)})


@csrf_exempt
@require_POST
def flux_event(request: HttpRequest) -> JsonResponse:
    """notification-controller's generic / generic-hmac provider. Authenticated by an HMAC signature
    (FLUXPLANE_FLUX_WEBHOOK_HMAC_KEY) and/or a bearer token (FLUXPLANE_FLUX_WEBHOOK_TOKEN, sent through the
    provider secret's ``headers``); every configured check must pass, and with none configured nothing is
    accepted. ``?cluster=<name>`` (or the event metadata ``cluster``) names the cluster."""
    endpoint = "flux event endpoint"
    key, token = settings.FLUXPLANE_FLUX_WEBHOOK_HMAC_KEY, settings.FLUXPLANE_FLUX_WEBHOOK_TOKEN
    if not key and not token:
        return _refuse(401, "no HMAC key or token is configured (FLUXPLANE_FLUX_WEBHOOK_HMAC_KEY / _TOKEN)",
                       endpoint, request)
    body = request.body
    if key and not _signature_ok(request, key, body):
        return _refuse(401, "missing or wrong X-Signature", endpoint, request)
    if token and not _bearer_ok(request, token):
        return _refuse(401, "missing or wrong bearer token", endpoint, request)
    try:
        result = ingest_flux_event(_json(request, endpoint), cluster_hint=request.GET.get("cluster", "")[:100])
    except PayloadError as exc:
        return _refuse(400, str(exc), endpoint, request)
    return JsonResponse({"alerts": len(result.alert_ids), "notified": len(result.notify_ids)})
