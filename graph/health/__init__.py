"""Health of mirrored objects: pure functions over plain Kubernetes/Flux dicts (no Django, no I/O, no clock).

Public API::

    Health                      the six words, .severity, Health.worst(...), Health.choices()
    Assessment                  frozen (health, reason, message, culprit=None)
    assess(obj, children=None, *, now=None) -> Assessment
    assess_with_children(obj, children, *, now=None) -> Assessment
    worst(assessments) -> Assessment | None
    rollup_all(assessments, children, label) -> dict[node, Assessment]
    rollup(node, assessments, children, label) -> Assessment
    self_contained(obj) -> bool   whether obj's verdict reads nothing but obj (no children, no clock)
    RULES_FINGERPRINT             changes whenever the rules' source does

The rules are documented in graph.health.flux (Flux kinds), graph.health.kstatus (Kubernetes kinds) and
docs/graph-and-health.md.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from .base import Assessment, Health, api_group, is_mapping, status, worst
from .flux import FLUX_GROUPS, assess_flux
from .kstatus import READS_MORE_THAN_ITSELF, RULES, assess_kubernetes, pod
from .rollup import rollup, rollup_all

__all__ = [
    "FLUX_GROUPS",
    "Assessment",
    "Health",
    "assess",
    "assess_with_children",
    "rollup",
    "rollup_all",
    "self_contained",
    "worst",
]


def _fingerprint() -> str:
    """A digest of this package's source: a verdict stored under another fingerprint may come from other rules."""
    digest = hashlib.sha256()
    try:
        for source in sorted(Path(__file__).parent.glob("*.py")):
            digest.update(source.name.encode() + b"\0" + source.read_bytes())
    except OSError:
        return ""  # sources not readable (a zipped install): stored verdicts are never reused
    return digest.hexdigest()[:16]


# The periodic resync keeps an unchanged object's stored verdict only when it was made by these same rules
# (graph.sync): an upgrade that changes a rule re-assesses every object once.
RULES_FINGERPRINT = _fingerprint()


def self_contained(obj: Mapping[str, Any]) -> bool:
    """Whether ``obj``'s own verdict depends on ``obj`` alone — not on its children, not on the clock.

    Such a verdict cannot change while the object's resourceVersion does not, so a resync may keep the stored one.
    Not self-contained: the workload rules (they name the worst failing pod among the children) and a Pending Pod
    (an unschedulable pod turns failed 15 s after its creation)."""
    if not is_mapping(obj):
        return False
    group = api_group(obj)
    if group in FLUX_GROUPS:
        return True
    rule = RULES.get((group, str(obj.get("kind") or "")))
    if rule is pod:
        return status(obj).get("phase") not in ("Pending", "", None)
    return rule not in READS_MORE_THAN_ITSELF


def assess(
    obj: Mapping[str, Any],
    children: Iterable[Mapping[str, Any]] | None = None,
    *,
    now: datetime | None = None,
) -> Assessment:
    """The object's own health, dispatched on apiVersion group and kind.

    ``children`` (optional) are objects the caller already has below it, e.g. a Deployment's ReplicaSets and Pods:
    only Pods are read, to name the worst failing pod in a workload's message ("0/2 ready, ImagePullBackOff: ...").
    ``now`` (aware datetime) is only used for time-based rules (a Pod unschedulable for more than 15 s); without it
    such pods are taken as old. Never raises: an object that cannot be read is ``unknown``, so one odd object
    cannot break a sync.
    """
    try:
        if not is_mapping(obj) or not obj.get("kind"):
            return Assessment(Health.UNKNOWN, "Unparsable", "not a Kubernetes object (no kind)")
        group = api_group(obj)
        if group in FLUX_GROUPS:
            return assess_flux(obj, group)
        return assess_kubernetes(obj, group, list(children or ()), now)
    except Exception as exc:  # a malformed status must give "unknown", never break the caller
        return Assessment(Health.UNKNOWN, "AssessmentError", f"could not read status: {type(exc).__name__}: {exc}")


def assess_with_children(
    obj: Mapping[str, Any],
    children: Iterable[Mapping[str, Any]],
    *,
    now: datetime | None = None,
) -> Assessment:
    """``assess`` with the object's ReplicaSet/Pod children (for workload messages naming the worst pod)."""
    return assess(obj, children, now=now)
