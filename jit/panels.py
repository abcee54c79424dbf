"""What just-in-time access adds to the dashboard (controlplane.extensions): the user's active namespace access."""

from __future__ import annotations

from access.jit.models import AccessGrant, GrantState
from controlplane import extensions


@extensions.register_panel("dashboard", "admin/jit/dashboard_grants.html", order=20)
def my_access(request) -> dict | None:
    grants = list(AccessGrant.objects.filter(requested_by=request.user, state=GrantState.ACTIVE).order_by(
        "expires_at")[:10])
    return {"my_grants": grants} if grants else None
