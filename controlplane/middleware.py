"""Request-scoped middleware: request ids and the acting user for audit events."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from controlplane import context

REQUEST_ID_HEADER = "X-Request-ID"


class RequestIdMiddleware:
    """Gives every request an id (a safe incoming ``X-Request-ID`` or a new one) and echoes it in the response.

    The id lives in a ContextVar for the duration of the request, so audit events and log lines written anywhere
    below carry it without being passed it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = context.clean_request_id(request.headers.get(REQUEST_ID_HEADER))
        with context.work_context(context.Origin.WEB, request_id=request_id):
            request.request_id = request_id
            response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response


class RequestUserMiddleware:
    """Records the authenticated user in the work context (must run after AuthenticationMiddleware)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        context.set_user(getattr(request, "user", None))
        return self.get_response(request)
