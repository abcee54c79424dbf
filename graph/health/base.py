"""Health words, the Assessment value and small readers of Kubernetes status shapes.

Pure: no Django, no I/O, no clock. Everything here reads plain ``dict`` objects as the Kubernetes API returns them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class Health(StrEnum):
    """The six health words, with a severity for "worst of" roll-ups.

    Severity, highest first: failed > degraded > progressing > unknown > suspended > healthy.

    - ``failed`` outranks everything: a controller gave up (Stalled=True, RetriesExceeded,
      ProgressDeadlineExceeded, a failed Job) and nothing changes without a human.
    - ``degraded`` is failing but still being retried (Ready=False with ProgressingWithRetry, ImagePullBackOff,
      CrashLoopBackOff). It may heal by itself, so it ranks below failed, but it is broken *now*.
    - ``progressing`` is a change on its way (new generation, rollout, fetch). It is expected to end, and a user
      following a change must see it rather than the green around it.
    - ``unknown`` is an absence of evidence (unparsable object, a status we cannot read), not evidence of trouble.
      Ranking it above progressing would let one odd custom resource mask every rollout in its tree forever;
      ranking it below healthy/suspended would hide it, so it sits between.
    - ``suspended`` is a deliberate operator choice. It ranks above healthy because a suspended subtree is not being
      reconciled, so its green cannot be trusted, but below everything else so that a suspended Kustomization
      never hides a failed or degraded descendant: on-call must still see the fire under a paused parent.
      (The suspension itself stays visible as the object's own health and the model's suspended flag.)
    - ``healthy`` is the identity of "worst of": the worst of nothing is healthy.
    """

    HEALTHY = "healthy"
    PROGRESSING = "progressing"
    DEGRADED = "degraded"
    FAILED = "failed"
    SUSPENDED = "suspended"
    UNKNOWN = "unknown"

    @property
    def severity(self) -> int:
        """Rank for roll-ups: higher is worse."""
        return _SEVERITY[self]

    @property
    def label(self) -> str:
        """Human label (Django choices compatible)."""
        return self.value

    @classmethod
    def choices(cls) -> list[tuple[str, str]]:
        """``[(value, label), ...]`` in severity order, usable as a Django field's ``choices``."""
        return [(h.value, h.label) for h in sorted(cls, key=lambda h: -h.severity)]

    @classmethod
    def worst(cls, items: Iterable[Health | str]) -> Health:
        """The most severe word among ``items`` (strings accepted); ``healthy`` when empty."""
        result = cls.HEALTHY
        for item in items:
            h = cls(item)
            if h.severity > result.severity:
                result = h
        return result


_SEVERITY = {
    Health.HEALTHY: 0,
    Health.SUSPENDED: 1,
    Health.UNKNOWN: 2,
    Health.PROGRESSING: 3,
    Health.DEGRADED: 4,
    Health.FAILED: 5,
}


@dataclass(frozen=True)
class Assessment:
    """One verdict: a health word, a short machine ``reason`` and a human ``message``.

    ``culprit`` is only set on roll-ups: the node id of the descendant the verdict comes from (None when the node's
    own assessment is the worst), so a UI can link to it.
    """

    health: Health
    reason: str
    message: str
    culprit: Any = None

    @property
    def severity(self) -> int:
        """Shortcut for ``health.severity``."""
        return self.health.severity


def worst(assessments: Iterable[Assessment]) -> Assessment | None:
    """The most severe assessment; the first one wins a tie; None when empty."""
    best: Assessment | None = None
    for a in assessments:
        if best is None or a.health.severity > best.health.severity:
            best = a
    return best


# ------------------------------------------------------------------ readers of status shapes


def meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """``metadata`` or an empty mapping."""
    return _mapping(obj.get("metadata"))


def spec(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """``spec`` or an empty mapping."""
    return _mapping(obj.get("spec"))


def status(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """``status`` or an empty mapping."""
    return _mapping(obj.get("status"))


def is_mapping(value: Any) -> bool:
    """``isinstance(value, Mapping)``, with decoded JSON's plain dict first: the ABC check costs several times as
    much, and the rules make it a few million times in a 60k-object sync."""
    return type(value) is dict or isinstance(value, Mapping)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if is_mapping(value) else {}


def condition(obj: Mapping[str, Any], type_: str) -> Mapping[str, Any] | None:
    """The condition of that type in ``status.conditions``, if any."""
    for c in status(obj).get("conditions") or ():
        if is_mapping(c) and c.get("type") == type_:
            return c
    return None


def is_true(c: Mapping[str, Any] | None) -> bool:
    """Whether a condition exists with status "True"."""
    return c is not None and c.get("status") == "True"


def is_false(c: Mapping[str, Any] | None) -> bool:
    """Whether a condition exists with status "False"."""
    return c is not None and c.get("status") == "False"


def cond_text(c: Mapping[str, Any] | None) -> str:
    """A condition's message, or its reason when the message is empty."""
    if c is None:
        return ""
    return str(c.get("message") or c.get("reason") or "")


def as_int(value: Any, default: int | None = None) -> int | None:
    """An integer field, tolerating strings ("2") and junk (→ default)."""
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return default


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp as an aware datetime, or None."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def api_group(obj: Mapping[str, Any]) -> str:
    """The API group of ``apiVersion`` ("" for the core group)."""
    api_version = str(obj.get("apiVersion") or "")
    return api_version.rpartition("/")[0] if "/" in api_version else ""


def a(health: Health, reason: str, message: str) -> Assessment:
    """Terse constructor used by the rule tables."""
    return Assessment(health, reason, message)
