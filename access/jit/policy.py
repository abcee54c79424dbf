"""The just-in-time access policy, read from settings (``FLUXPLANE_JIT_*``, docs/jit-access.md).

Pure functions over plain values so the rules can be table-tested: which ClusterRoles may be requested where,
for how long, with how many approvals, and what a subject name may look like. Every refusal is a
``ValidationError`` whose message says what to do instead.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError

# The durations a requester chooses from (value, label, length); the policy caps them per role.
DURATIONS: tuple[tuple[str, str, timedelta], ...] = (
    ("1h", "1 hour", timedelta(hours=1)),
    ("4h", "4 hours", timedelta(hours=4)),
    ("8h", "8 hours", timedelta(hours=8)),
    ("1d", "1 day", timedelta(days=1)),
    ("3d", "3 days", timedelta(days=3)),
    ("7d", "7 days", timedelta(days=7)),
)
DURATION_CHOICES = [(value, label) for value, label, _ in DURATIONS]
_DURATION = {value: length for value, _, length in DURATIONS}
_UNIT = {"m": 60, "h": 3600, "d": 86400, "w": 604800}

# Kubernetes accepts almost any string as a user or group name; Fluxplane accepts the characters OIDC user names
# and e-mail addresses use and nothing that a shell, YAML or a template could read as syntax.
_SUBJECT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+:-]{0,252}$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


@dataclass(frozen=True)
class RolePolicy:
    """One requestable ClusterRole: its longest duration and the approvals a request needs (at least one)."""

    role: str
    max_duration: timedelta
    approvals: int


def parse_duration(text: str, what: str = "duration") -> timedelta:
    """``30m``, ``4h``, ``1d``, ``2w`` → timedelta (settings syntax; requesters pick from DURATIONS)."""
    match = re.fullmatch(r"(\d+)([mhdw])", text.strip())
    if not match or int(match.group(1)) <= 0:
        raise ImproperlyConfigured(f"{what}: {text!r} is not a duration such as 30m, 4h, 1d or 2w")
    return timedelta(seconds=int(match.group(1)) * _UNIT[match.group(2)])


def roles() -> dict[str, RolePolicy]:
    """The allow-list from ``FLUXPLANE_JIT_ROLES`` (``role:max:approvals,…``). A malformed entry fails loudly."""
    found: dict[str, RolePolicy] = {}
    for entry in (e.strip() for e in settings.FLUXPLANE_JIT_ROLES.split(",")):
        if not entry:
            continue
        parts = entry.split(":")
        if len(parts) != 3 or not _DNS_SUBDOMAIN.match(parts[0]) or not parts[2].strip().isdigit():
            raise ImproperlyConfigured(f"FLUXPLANE_JIT_ROLES: {entry!r} is not role:max-duration:approvals "
                                       f"(e.g. edit:1d:1)")
        if parts[0].startswith("system:") or parts[0] == "cluster-admin":
            raise ImproperlyConfigured(f"FLUXPLANE_JIT_ROLES: {parts[0]} can never be requested")
        # Never fewer than one approval: the requester cannot approve their own access.
        found[parts[0]] = RolePolicy(parts[0], parse_duration(parts[1], "FLUXPLANE_JIT_ROLES"),
                                     max(1, int(parts[2])))
    return found


def roles_for_namespace(namespace: str) -> list[str]:
    """Roles requestable in ``namespace``: the first ``pattern=role|role`` of ``FLUXPLANE_JIT_NAMESPACE_ROLES``
    whose glob matches, intersected with the allow-list; nothing in a denied namespace."""
    if namespace in settings.FLUXPLANE_JIT_DENY_NAMESPACES:
        return []
    allowed = roles()
    for entry in (e.strip() for e in settings.FLUXPLANE_JIT_NAMESPACE_ROLES.split(",")):
        if not entry:
            continue
        if "=" not in entry:
            raise ImproperlyConfigured(f"FLUXPLANE_JIT_NAMESPACE_ROLES: {entry!r} is not pattern=role|role")
        pattern, names = entry.split("=", 1)
        if fnmatch.fnmatchcase(namespace, pattern.strip()):
            return [r for r in (n.strip() for n in names.split("|")) if r in allowed]
    return []


def role_policy(namespace: str, role: str) -> RolePolicy:
    """The policy of ``role`` in ``namespace``, or a ValidationError naming what may be requested there."""
    allowed = roles_for_namespace(namespace)
    if role not in allowed:
        if namespace in settings.FLUXPLANE_JIT_DENY_NAMESPACES:
            raise ValidationError(f"Access to namespace {namespace} cannot be requested.")
        offer = ", ".join(allowed) or "none"
        raise ValidationError(f"Role {role!r} cannot be requested in namespace {namespace} (allowed: {offer}).")
    return roles()[role]


def duration_of(value: str, policy: RolePolicy) -> timedelta:
    """The chosen duration, refused when it is not one of the choices or exceeds the role's maximum."""
    if value not in _DURATION:
        raise ValidationError(f"Choose a duration among {', '.join(_DURATION)}.")
    length = _DURATION[value]
    if length > policy.max_duration:
        raise ValidationError(f"{value} is longer than the {_format(policy.max_duration)} allowed for role "
                              f"{policy.role}.")
    return length


def _format(length: timedelta) -> str:
    seconds = int(length.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def check_subject_name(name: str, what: str = "subject") -> str:
    """A user or group name safe to write into git: refuses control characters, shell or template syntax,
    spaces, and the ``system:`` names Kubernetes reserves for its own identities and groups."""
    if not _SUBJECT.match(name or ""):
        raise ValidationError(f"{what} {name!r} is not a valid Kubernetes subject name: use letters, digits and "
                              f". _ @ + : - only (no spaces, quotes, $ ; or line breaks).")
    if name.lower().startswith("system:"):
        raise ValidationError(f"{what} {name!r} is reserved by Kubernetes (system: names cannot be requested).")
    return name


def user_subject(user) -> str:
    """The requester's Kubernetes user name from ``FLUXPLANE_JIT_SUBJECT_TEMPLATE`` (``{username}``, ``{email}``),
    validated like any subject name."""
    template = settings.FLUXPLANE_JIT_SUBJECT_TEMPLATE
    try:
        name = template.format(username=user.get_username(), email=user.email or "")
    except (KeyError, IndexError, ValueError):
        raise ImproperlyConfigured(f"FLUXPLANE_JIT_SUBJECT_TEMPLATE {template!r} may use only {{username}} and "
                                   f"{{email}}") from None
    if not name:
        raise ValidationError("Your account has no e-mail address, which the subject mapping needs.")
    return check_subject_name(name, "Your Kubernetes user name")


def check_group(name: str) -> str:
    """A Group subject must be valid and listed in ``FLUXPLANE_JIT_GROUPS`` (empty: groups cannot be requested)."""
    check_subject_name(name, "group")
    allowed = settings.FLUXPLANE_JIT_GROUPS
    if name not in allowed:
        raise ValidationError(f"Group {name!r} cannot be requested (allowed: {', '.join(allowed) or 'none'}).")
    return name


def grace() -> timedelta:
    """How long Flux gets to remove an expired binding before Fluxplane deletes it through the API."""
    return timedelta(minutes=max(0, settings.FLUXPLANE_JIT_GRACE_MINUTES))


def activation_limit() -> timedelta:
    """How long an approved grant may take to appear in the cluster before it expires unused."""
    return timedelta(hours=max(1, settings.FLUXPLANE_JIT_ACTIVATION_HOURS))
