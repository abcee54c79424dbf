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
MAX_BODY = 5 * 1024 * 1024  # the documented cap (docs/security.md); Django's own 2.5 MB limit does not apply here
MAX_DEPTH = 64  # Alertmanager and Flux payloads nest 4–5 levels; deeper is hostile, and would exhaust recursion
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


class BodyTooLarge(PayloadError):
    """The body exceeds MAX_BODY (answered 413)."""


def _body(request: HttpRequest) -> bytes:
    """The raw body, up to MAX_BODY, read from the stream (``request.body`` would apply Django's
    DATA_UPLOAD_MAX_MEMORY_SIZE of 2.5 MB and answer an HTML 400 below the documented cap)."""
    if not hasattr(request, "_fluxplane_body"):
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > MAX_BODY:
            raise BodyTooLarge(f"the body is larger than {MAX_BODY // (1024 * 1024)} MiB")
        body = request.read(MAX_BODY + 1)
        if len(body) > MAX_BODY:
            raise BodyTooLarge(f"the body is larger than {MAX_BODY // (1024 * 1024)} MiB")
        request._fluxplane_body = body
    return request._fluxplane_body


def _check_structure(value) -> None:
    """Refuse what would fail later in the database or in recursive code: nesting deeper than MAX_DEPTH, strings
    that are not valid Unicode (a lone surrogate such as ``\\ud800``) or hold NUL (PostgreSQL refuses both)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise PayloadError(f"the JSON nests deeper than {MAX_DEPTH} levels")
        if isinstance(item, dict):
            stack.extend((k, depth + 1) for k in item)
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
        elif isinstance(item, str):
            if "\x00" in item:
                raise PayloadError("a string in the JSON contains NUL (\\u0000)")
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise PayloadError("a string in the JSON is not valid Unicode (a lone surrogate)") from None


def _json(request: HttpRequest, endpoint: str):
    body = _body(request)
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise PayloadError(f"the body is not JSON: {exc}") from None
    except RecursionError:
        raise PayloadError(f"the JSON nests deeper than {MAX_DEPTH} levels") from None
    _check_structure(data)
    return data


def _payload_refusal(exc: PayloadError, endpoint: str, request: HttpRequest) -> JsonResponse:
    return _refuse(413 if isinstance(exc, BodyTooLarge) else 400, str(exc), endpoint, request)


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
        return _payload_refusal(exc, endpoint, request)
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
    try:
        body = _body(request)
    except PayloadError as exc:
        return _payload_refusal(exc, endpoint, request)
    if key and not _signature_ok(request, key, body):
        return _refuse(401, "missing or wrong X-Signature", endpoint, request)
    if token and not _bearer_ok(request, token):
        return _refuse(401, "missing or wrong bearer token", endpoint, request)
    try:
        result = ingest_flux_event(_json(request, endpoint), cluster_hint=request.GET.get("cluster", "")[:100])
    except PayloadError as exc:
        return _payload_refusal(exc, endpoint, request)
    return JsonResponse({"alerts": len(result.alert_ids), "notified": len(result.notify_ids)})
