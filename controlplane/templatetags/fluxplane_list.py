"""``{% fluxplane_result_list cl %}``: Django's change-list table (``result_list``), with the rows from the ModelAdmin's
``result_rows(cl)`` when it has one and it answers (graph's object lists write theirs with per-page work done once:
graph/admin/rows.py); otherwise Django's own rows. The headers and the template are Django's."""

from __future__ import annotations

from django import template
from django.contrib.admin.templatetags import admin_list
from django.contrib.admin.templatetags.base import InclusionAdminNode

register = template.Library()


def result_list(cl) -> dict:
    """admin_list.result_list, the rows asked of the ModelAdmin first."""
    headers = list(admin_list.result_headers(cl))
    rows = getattr(cl.model_admin, "result_rows", lambda _cl: None)(cl)
    return {
        "cl": cl,
        "result_hidden_fields": list(admin_list.result_hidden_fields(cl)),
        "result_headers": headers,
        "num_sorted_fields": sum(1 for h in headers if h["sortable"] and h["sorted"]),
        "results": rows if rows is not None else list(admin_list.results(cl)),
    }


@register.tag(name="fluxplane_result_list")
def result_list_tag(parser, token):
    return InclusionAdminNode(parser, token, func=result_list, template_name="change_list_results.html",
                              takes_context=False)
