"""Where the current unit of work came from: a web request, a job, or a management command.

A ContextVar (not a thread local) so the value follows the code into threads started with
``contextvars.copy_context`` and is isolated between concurrent requests. Audit events and log lines read it,
which is how an event written deep inside a model method still knows its request id and actor.
"""

from __future__ import annotations

import contextlib
import logging
import re
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, replace


class Origin:
    """Values of :attr:`WorkContext.origin` (and of ``AuditEvent.context``)."""

    WEB = "web"
    JOB = "job"
    COMMAND = "command"
    SYSTEM = "system"


@dataclass(frozen=True)
class WorkContext:
    """Who is doing the current work, and under which request or run id."""

    origin: str = Origin.SYSTEM
    request_id: str = ""
    user_id: int | None = None
    username: str = ""


_DEFAULT = WorkContext()
_current: ContextVar[WorkContext | None] = ContextVar("fluxplane_work_context", default=None)

# Client-supplied request ids are accepted only when they look like an id, so they cannot inject text into logs.
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")


def current() -> WorkContext:
    return _current.get() or _DEFAULT


def new_request_id() -> str:
    return uuid.uuid4().hex


def clean_request_id(value: str | None) -> str:
    """Keep a client-supplied X-Request-ID only if it is safe to log; otherwise make a new one."""
    if value and _SAFE_REQUEST_ID.match(value):
        return value
    return new_request_id()


@contextlib.contextmanager
def work_context(origin: str, request_id: str | None = None, user=None) -> Iterator[WorkContext]:
    """Run a block as ``origin`` (web/job/command) with a request id and optional acting user."""
    ctx = WorkContext(
        origin=origin,
        request_id=request_id or new_request_id(),
        user_id=getattr(user, "pk", None),
        username=getattr(user, "get_username", lambda: "")() if user is not None else "",
    )
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)


FLUXPLANE_ACTOR = "Fluxplane"


@contextlib.contextmanager
def on_behalf_of(what: str) -> Iterator[WorkContext]:
    """Fluxplane acting by itself for ``what`` (a grant, a run): what is recorded meanwhile names
    "Fluxplane on behalf of <what>" as its actor, never a person who did not act."""
    ctx = replace(current(), user_id=None, username=f"{FLUXPLANE_ACTOR} on behalf of {what}"[:150])
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)


def set_user(user) -> None:
    """Attach the authenticated user to the current context (called once authentication has run)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return
    _current.set(replace(current(), user_id=user.pk, username=user.get_username()))


class RequestIdLogFilter(logging.Filter):
    """Adds ``request_id`` to every log record so log lines can be joined with audit events."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current().request_id or "-"
        return True
