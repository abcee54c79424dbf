"""Who may see and act on access grants (built on access.rules, checked by every admin view and action)."""

from __future__ import annotations

import django_rq
from django.apps import apps
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from access import rules

from .models import AccessGrant, GrantState

REVOCABLE = (GrantState.PR_OPEN, GrantState.MERGED, GrantState.ACTIVE)


def sees_all(user) -> bool:
    """Platform admins (superusers, or ``access.view_accessgrant``) see every grant."""
    return bool(user.is_active and (user.is_superuser or user.has_perm("access.view_accessgrant")))


def visible_grants(user, queryset: QuerySet | None = None) -> QuerySet:
    """Grants a user may see: their own, those in namespaces where they may approve runs, or all for admins."""
    queryset = AccessGrant.objects.all() if queryset is None else queryset
    if not (user and user.is_authenticated and user.is_active):
        return queryset.none()
    if sees_all(user):
        return queryset
    approvable = rules.visible_objects(user, _namespaces(), rules.APPROVE_RUN)
    return queryset.filter(Q(requested_by=user) | Q(namespace_object__in=approvable))


def _namespaces() -> QuerySet:
    return apps.get_model("graph", "KubeObject").objects.filter(kind="Namespace", api_group="")


def can_view(user, grant: AccessGrant) -> bool:
    """A grant is visible to its requester, to approvers on its namespace and to platform admins."""
    return visible_grants(user, AccessGrant.objects.filter(pk=grant.pk)).exists()


def can_revoke(user, grant: AccessGrant) -> bool:
    """The requester may give access back; approvers on the namespace (and superusers) may take it away."""
    if not (user and user.is_authenticated and user.is_active):
        return False
    if grant.requested_by_id == user.pk or user.is_superuser:
        return True
    return grant.namespace_object is not None and rules.has_verb(user, rules.APPROVE_RUN, grant.namespace_object)


def can_extend(user, grant: AccessGrant) -> bool:
    """Only the requester asks for more time (as a new request, approved again)."""
    return bool(user and user.is_active and grant.requested_by_id == user.pk and grant.namespace_object is not None
                and rules.can_request_access(user, grant.namespace_object))


def revoke(grant: AccessGrant, user, reason: str = "") -> AccessGrant:
    """End a grant now: removal starts at once and the binding is deleted without waiting for a grace period."""
    with transaction.atomic():
        locked = AccessGrant.objects.select_for_update().get(pk=grant.pk)
        if not can_revoke(user, locked):
            raise PermissionDenied("You may not revoke this access.")
        if locked.state not in REVOCABLE:
            raise ValidationError(f"This grant is {locked.get_state_display()}: there is nothing to revoke.")
        now = timezone.now()
        locked.state = GrantState.REVOKED
        locked.revoked_at = locked.ends_at = now
        locked.expires_at = min(locked.expires_at or now, now)
        locked.revoked_by = user.get_username()
        locked.save(update_fields=["state", "revoked_at", "ends_at", "expires_at", "revoked_by"])
        locked.record("revoked", f"revoked by {user.get_username()}: {reason or 'no reason given'}", actor=user)
        transaction.on_commit(enqueue_sweep, robust=True)
    return locked


def enqueue_sweep() -> None:
    """Run a sweep soon (after a revocation) instead of waiting for the next minute."""
    # The sweep is the jit workflow, above access: RQ imports the job by its dotted name when it runs.
    django_rq.get_queue("high").enqueue("jit.jobs.sweep_access_grants")
