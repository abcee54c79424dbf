"""Extension points: a page of one app shows panels and actions that other apps register.

NetBox's answer to the same problem (its template extensions): the object page (graph) and the dashboard
(controlplane) render what playbooks, alerts and just-in-time access add to them, so a lower package never imports a
higher one to render it. Apps register in their ``AppConfig.ready()``; a provider returns ``None`` (or nothing) when
it has nothing to show the user, and checks access.rules itself.

Slots in use:
- ``dashboard``: panels on the admin index (context: ``request``);
- ``object``: panels on a mirrored object's page (context: ``request``, ``object``);
- ``bulk``: admin actions offered on the object lists (``request`` → ``{name: (function, name, description)}``);
- navigation: ``register_nav(app_label, adjust)`` lets an app add entries to (or relabel) its own section of the
  sidebar and the index app list (``adjust(request, app)`` edits the admin's app dict in place).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe


@dataclass(frozen=True)
class Panel:
    """A template rendered into a slot with the context its provider returns (no panel when it returns None)."""

    slot: str
    template: str
    context: Callable[..., dict[str, Any] | None]
    order: int = 100


_panels: dict[str, list[Panel]] = defaultdict(list)
_actions: dict[str, list[Callable[..., dict]]] = defaultdict(list)


def register_panel(slot: str, template: str, *, order: int = 100) -> Callable:
    """Decorator: ``context(request, **page)`` supplies the template's context for ``slot``."""

    def decorate(context: Callable[..., dict[str, Any] | None]) -> Callable[..., dict[str, Any] | None]:
        panel = Panel(slot, template, context, order)
        if panel not in _panels[slot]:  # ready() may run twice in tests; registering is idempotent
            _panels[slot].append(panel)
            _panels[slot].sort(key=lambda p: p.order)
        return context

    return decorate


def panels(slot: str) -> list[Panel]:
    return list(_panels[slot])


def render_panels(slot: str, request, **page: Any) -> SafeString:
    """The HTML of every panel of ``slot`` that has something to show, in order."""
    html = []
    for panel in _panels[slot]:
        context = panel.context(request, **page)
        if context is not None:
            html.append(render_to_string(panel.template, {"request": request, **page, **context}, request=request))
    return mark_safe("".join(html))  # noqa: S308 - each part is rendered by the template engine with autoescape


def register_actions(slot: str, provider: Callable[..., dict]) -> None:
    """``provider(request)`` returns admin actions as ``{name: (function, name, description)}``."""
    if provider not in _actions[slot]:
        _actions[slot].append(provider)


def actions(slot: str, request) -> dict:
    found: dict = {}
    for provider in _actions[slot]:
        found.update(provider(request))
    return found


_nav: dict[str, list[Callable]] = defaultdict(list)


def register_nav(app_label: str, adjust: Callable[..., None]) -> None:
    if adjust not in _nav[app_label]:
        _nav[app_label].append(adjust)


def adjust_app_list(request, apps: list[dict]) -> list[dict]:
    """Apply the registered navigation adjustments; the job-queue dashboard (django_rq) goes last."""
    for app in apps:
        for adjust in _nav.get(app["app_label"], ()):
            adjust(request, app)
    return sorted(apps, key=lambda app: app["app_label"] == "django_rq")
