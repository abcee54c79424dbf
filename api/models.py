"""Personal API tokens: stored as a SHA-256 hash, shown once, optionally read-only, with an expiry."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from controlplane.models import AuditEvent

PREFIX = "fpt_"  # recognisable in logs and secret scanners


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiToken(models.Model):
    """A user's token for the API and the CLI. The key itself is never stored: only its hash and first characters
    (to tell tokens apart); it acts with exactly its user's permissions, and read-only tokens only read."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="what the token is for (e.g. 'CI load tests')")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    key_prefix = models.CharField(max_length=12, editable=False)
    read_only = models.BooleanField(default=False, help_text="may only read (GET, HEAD, OPTIONS)")
    expires_at = models.DateTimeField(null=True, blank=True, help_text="empty: never expires")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "API token"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_prefix}…)"

    @property
    def is_usable(self) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > timezone.now())

    @classmethod
    def issue(cls, user, name: str, *, read_only: bool = False, expires_at=None, actor=None) -> tuple[ApiToken, str]:
        """Create a token for ``user``; returns the row and the key, which is shown this once and never again."""
        key = PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(user=user, name=name, key_hash=hash_key(key), key_prefix=key[:12],
                                   read_only=read_only, expires_at=expires_at)
        AuditEvent.record("api.token_created", token, actor=actor or user,
                          after={"user": user.get_username(), "read_only": read_only, "expires_at": expires_at},
                          message=f"API token {token} created for {user.get_username()}")
        return token, key

    @classmethod
    def authenticate(cls, key: str) -> ApiToken | None:
        """The usable token with this key (and its last use recorded), or None."""
        token = cls.objects.select_related("user").filter(key_hash=hash_key(key)).first()
        if token is None or not token.is_usable or not token.user.is_active:
            return None
        now = timezone.now()
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:  # one write a minute
            cls.objects.filter(pk=token.pk).update(last_used_at=now)
        return token

    def revoke(self, actor) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])
            AuditEvent.record("api.token_revoked", self, actor=actor, message=f"API token {self} revoked")
