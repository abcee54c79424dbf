"""Template tags the graph pages use to offer silencing (the link shows only when access.rules allows it)."""

from django import template
from django.urls import reverse

from access import rules

register = template.Library()


@register.simple_tag
def silence_url(obj, user) -> str:
    """URL of the "Silence alerts" form for ``obj`` when ``user`` may silence it, else an empty string."""
    if obj is None or getattr(obj, "deleted_at", None) is not None or not rules.can_silence(user, obj):
        return ""
    return reverse("admin:alerts_silence_new", args=[obj.pk])
