"""``{% fluxplane_panels "slot" %}``: render the panels other apps registered for a slot (controlplane.extensions)."""

from django import template

from controlplane import extensions

register = template.Library()


@register.simple_tag(takes_context=True)
def fluxplane_panels(context, slot: str, **page):
    return extensions.render_panels(slot, context["request"], **page)
