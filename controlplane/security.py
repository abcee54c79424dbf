"""Security plumbing: login throttling and the Content-Security-Policy header."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse

from controlplane.models import AuditEvent


def _client_ip(request: HttpRequest | None) -> str:
    # REMOTE_ADDR only: X-Forwarded-For is client-controlled unless a trusted proxy rewrites it.
    return (request.META.get("REMOTE_ADDR", "") if request is not None else "") or "unknown"


def _keys(request: HttpRequest | None, username: str) -> list[str]:
    user = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
    ip = hashlib.sha256(_client_ip(request).encode()).hexdigest()[:32]
    return [f"fluxplane:login-fail:user:{user}", f"fluxplane:login-fail:ip:{ip}"]


class ThrottledAdminAuthenticationForm(AdminAuthenticationForm):
    """The admin login form, refusing further attempts for a while after too many failures for the same user
    name or from the same address (``FLUXPLANE_LOGIN_MAX_FAILURES`` within ``FLUXPLANE_LOGIN_LOCKOUT_SECONDS``).

    Counters live in the shared cache (Redis in production), so every web process sees them.
    """

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "throttled": "Too many failed sign-in attempts. Try again in a few minutes.",
    }

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        keys = _keys(self.request, username)
        limit = settings.FLUXPLANE_LOGIN_MAX_FAILURES
        if any((cache.get(key) or 0) >= limit for key in keys):
            raise ValidationError(self.error_messages["throttled"], code="throttled")
        try:
            return super().clean()
        except ValidationError:
            for key in keys:
                cache.add(key, 0, settings.FLUXPLANE_LOGIN_LOCKOUT_SECONDS)
                count = cache.incr(key)
                if count == limit:
                    AuditEvent.record("login.throttled", message=f"sign-in throttled after {count} failures "
                                                                  f"({'user name' if ':user:' in key else 'address'})")
            raise


CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    # The admin and the graph use style attributes; no script is inline anywhere.
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])


class ContentSecurityPolicyMiddleware:
    """Adds a strict Content-Security-Policy: scripts only from Fluxplane's own static files."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", CSP)
        return response
