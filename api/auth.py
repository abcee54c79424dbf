"""Authentication and permission classes of the API: ``Authorization: Bearer <token>`` or the admin session."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from api.models import ApiToken


class TokenAuthentication(authentication.BaseAuthentication):
    """Personal API tokens (api.ApiToken). An unknown, expired or revoked token is refused outright."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].decode(errors="replace").lower() not in ("bearer", "token"):
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Give the token as 'Authorization: Bearer <token>'.")
        token = ApiToken.authenticate(header[1].decode(errors="replace"))
        if token is None:
            raise exceptions.AuthenticationFailed("Unknown, expired or revoked token.")
        return token.user, token

    def authenticate_header(self, request) -> str:
        return self.keyword


class TokenScope(permissions.BasePermission):
    """Signed-in (token or session) staff users; read-only tokens may only read."""

    message = "This token is read-only."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        token = request.auth if isinstance(request.auth, ApiToken) else None
        if token is not None and token.read_only and request.method not in permissions.SAFE_METHODS:
            return False
        return True


class TokenScheme(OpenApiAuthenticationExtension):
    """The token in the OpenAPI schema: an HTTP bearer scheme."""

    target_class = "api.auth.TokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema) -> dict:
        return {"type": "http", "scheme": "bearer", "description": "A personal API token (admin → API tokens)."}
