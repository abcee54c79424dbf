"""What alerts add to other apps' pages (controlplane.extensions): active silences on the dashboard and the
"Silence alerts" button on an object's page (shown only when access.rules allows silencing it)."""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone

from access import rules
from alerts.models import Silence
from controlplane import extensions


@extensions.register_panel("dashboard", "admin/alerts/dashboard_silences.html", order=30)
def active_silences(request) -> dict | None:
    now = timezone.now()
    silences = Silence.objects.filter(expired_at__isnull=True, starts_at__lte=now, ends_at__gt=now).select_related(
        "target").order_by("ends_at")[:50]
    visible = [s for s in silences if s.target is not None and rules.can_view(request.user, s.target)][:10]
    return {"silences": visible} if visible else None


@extensions.register_panel("object", "admin/alerts/object_panel.html", order=20)
def silence_button(request, object) -> dict | None:  # noqa: A002 - the page's own name for it
    """The "Silence alerts" form for a live object the user may silence."""
    if object is None or object.deleted_at is not None or not rules.can_silence(request.user, object):
        return None
    return {"silence_link": reverse("admin:alerts_silence_new", args=[object.pk])}
