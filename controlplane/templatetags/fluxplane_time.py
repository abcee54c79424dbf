"""``{{ when|ago }}`` and ``{{ delta|duration }}``: natural times on Fluxplane's pages (controlplane.presentation)."""

from django import template

from controlplane.presentation import naturaldelta, naturaltime

register = template.Library()
register.filter("ago", naturaltime)
register.filter("duration", naturaldelta)
