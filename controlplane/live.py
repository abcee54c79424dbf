"""Live parts of pages: HTML fragments that a page's static script (live.js) polls and swaps in without a reload.

A template marks a part of its page with ``data-live="<url>"`` and ``data-live-part="<name>"``; live.js asks that
URL again every FLUXPLANE_LIVE_INTERVAL_MS with the request header ``X-Fluxplane-Live: <name>`` and the view that
served the page answers with only that part (the same view: the same permission checks through access.rules, so a
fragment never shows what the page would not). The answer carries ``X-Fluxplane-Live: <name>`` back; anything else
(a login page after the session ended, an error page) is not swapped in.

A part that is costly to render (the graph) has a change token: the page puts it in ``data-live-token``, live.js
sends it back as ``X-Fluxplane-Since`` and the view answers ``204 No Content`` while its token is the same.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

HEADER = "X-Fluxplane-Live"
SINCE_HEADER = "X-Fluxplane-Since"
CHANGE_HEADER = "X-Fluxplane-Token"
LIST_TEMPLATE = "admin/fluxplane/live_list.html"
DASHBOARD_TEMPLATE = "admin/fluxplane/live_dashboard.html"


def requested(request: HttpRequest, part: str) -> bool:
    """Whether this GET asks for the live part ``part`` of its page rather than the whole page."""
    return request.method == "GET" and request.headers.get(HEADER) == part


def interval_ms() -> int:
    """The poll interval (never below half a second, whatever the setting says)."""
    return max(int(settings.FLUXPLANE_LIVE_INTERVAL_MS), 500)


def token(*parts: Any) -> str:
    """A short change token from whatever says "the data changed" (times, counts, ids)."""
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:16]


def _mark(response: HttpResponse, part: str, change_token: str = "") -> HttpResponse:
    response[HEADER] = part
    if change_token:
        response[CHANGE_HEADER] = change_token
    # The page and its fragment share a URL: never cache either, and tell caches the header makes the difference.
    response["Cache-Control"] = "no-store"
    response["Vary"] = ", ".join(filter(None, [response.get("Vary"), HEADER]))
    return response


def unchanged(request: HttpRequest, part: str, change_token: str) -> HttpResponse | None:
    """``204 No Content`` when live.js already shows the part at ``change_token``, else None (render it)."""
    if requested(request, part) and request.headers.get(SINCE_HEADER) == change_token:
        return _mark(HttpResponse(status=204), part, change_token)
    return None


def fragment(request: HttpRequest, template: str, context: dict[str, Any], part: str,
             change_token: str = "") -> TemplateResponse:
    """The live part ``part`` rendered alone from ``template``."""
    return _mark(TemplateResponse(request, template, context), part, change_token)


def as_fragment(response: HttpResponse, template: str, part: str) -> HttpResponse:
    """A page's TemplateResponse turned into its live part: same view and context, a template with only the part.
    Anything else (a redirect, an error) passes through and live.js does not swap it in."""
    if isinstance(response, TemplateResponse) and response.status_code == 200:
        response.template_name = template
        _mark(response, part)
    return response


class LiveChangelistMixin:
    """A ModelAdmin whose change list refreshes itself: the result table is a live part (``list``).

    The live request runs the ordinary changelist_view (the same queryset scoping, filters, search, ordering and
    page as the page the user sees) and renders only the table (admin/fluxplane/live_list.html)."""

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        response = super().changelist_view(request, {**(extra_context or {}), "fluxplane_live_list": True})
        if requested(request, "list"):
            return as_fragment(response, LIST_TEMPLATE, "list")
        return response


def install_dashboard(site: admin.AdminSite) -> None:
    """The admin index's panels (controlplane.extensions' ``dashboard`` slot) as the live part ``dashboard``.
    Set on the site instance, like controlplane.admin's get_app_list, so the site class stays Django's."""
    stock_index = site.index

    def index(request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        response = stock_index(request, extra_context)
        if requested(request, "dashboard"):
            return as_fragment(response, DASHBOARD_TEMPLATE, "dashboard")
        return response

    site.index = index
