"""Health of Flux objects, by Flux's own meaning of its conditions (research/flux.md §1.3, §4.1–4.4).

Order of the rules (first match wins), and why:

1. ``deletionTimestamp`` → progressing/Terminating: controllers finalise (prune) even suspended objects.
2. Static kinds (Alert, Provider, HelmRepository ``type: oci``) have nothing to reconcile → healthy unless a legacy
   ``Ready=False`` says otherwise.
3. ``spec.suspend`` (Flux Operator kinds: ``fluxcd.controlplane.io/reconcile: disabled``) → suspended; the last Ready
   message is kept so the user sees what state was frozen.
4. No status at all → progressing/AwaitingReconciliation: the flux CLI's readiness predicate treats an object
   whose ``observedGeneration`` is not ≥ 1 as "not yet", and a fresh object is usually seconds from its first
   reconcile. (If its controller is not installed it stays there, and the message says so.)
5. ``Stalled=True`` for the current generation → failed with Stalled's reason (RetriesExceeded, AccessDenied, ...).
6. Stale generation → progressing/LatestGenerationNotObserved, using the CLI's rule: when Ready carries a non-zero
   per-condition ``observedGeneration`` that one is compared, else ``status.observedGeneration``. This matters
   because kustomize-controller moves ``status.observedGeneration`` **only on success**: a Kustomization that fails
   on a new spec has a lagging ``status.observedGeneration`` but a current Ready (og = generation) that tells the
   truth (BuildFailed), which a plain kstatus generation check would hide as "progressing" forever.
7. ``Ready=False``:
   a. reason DependencyNotReady → progressing: the object is *waiting*, not broken; the broken thing is the
      dependency, which shows its own failure (depends-on edges are not part of the roll-up, so blaming the
      dependant would double-count one fault and send on-call to the wrong object).
   b. HelmRelease with ``Remediated=True`` → degraded after a successful rollback/uninstall (the last good release
      runs; the controller retries the upgrade), failed when the remediation itself failed (RollbackFailed,
      UninstallFailed: the release is in a state the controller cannot restore on its own).
   c. Sources with an abnormal-true failure condition (FetchFailed, BuildFailed, StorageOperationFailed,
      IncludeUnavailable) → degraded with that condition's reason (AuthenticationFailed, GitOperationFailed...).
   d. Sources with only ``ArtifactOutdated=True`` → progressing/ArtifactOutdated (a new revision is being fetched).
   f. (checked before b–e) a message naming a Flux kind in a version Flux no longer serves (``no matches for kind
      "HelmRelease" in version "helm.toolkit.fluxcd.io/v2beta1"``) → degraded/RemovedAPIVersion with the fix.
   e. Anything else → degraded with Ready's reason (BuildFailed, HealthCheckFailed, InstallFailed, ...). With
      ``Reconciling=True/ProgressingWithRetry`` the message says "retrying": Flux will try again at the retry
      interval, which is exactly "failing but retrying". ``Stalled`` was already handled in 5.
8. ``Reconciling=True``, ``Ready=Unknown`` or ``ArtifactOutdated=True`` → progressing.
9. ``Ready=True`` → healthy with Ready's message ("Applied revision: main@sha1:...").
10. Conditions but no Ready → unknown/NoReadyCondition.
11. (inside 9) Ready on an API version current Flux removed (an old Flux installation) → healthy with reason
    DeprecatedAPIVersion and the migration to do before upgrading.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitops.fluxapi import FIX, removed_in_message, replacement

from .base import (
    Assessment,
    Health,
    a,
    as_int,
    cond_text,
    condition,
    is_false,
    is_true,
    meta,
    spec,
    status,
)

FLUX_GROUPS = frozenset(
    {
        "kustomize.toolkit.fluxcd.io",
        "helm.toolkit.fluxcd.io",
        "source.toolkit.fluxcd.io",
        "notification.toolkit.fluxcd.io",
        "image.toolkit.fluxcd.io",
        "source.extensions.fluxcd.io",
        "fluxcd.controlplane.io",  # the Flux Operator's kinds follow the same conditions (kstatus-compatible)
    }
)
OPERATOR_GROUP = "fluxcd.controlplane.io"
SOURCE_GROUPS = frozenset({"source.toolkit.fluxcd.io", "source.extensions.fluxcd.io"})
# Abnormal-true conditions of source-controller that mean "this attempt failed" (§4.4).
SOURCE_FAILURES = ("FetchFailed", "BuildFailed", "StorageOperationFailed", "IncludeUnavailable")
REMEDIATION_FAILED = frozenset({"RollbackFailed", "UninstallFailed"})


def is_static(obj: Mapping[str, Any]) -> bool:
    """Alert, Provider and OCI HelmRepository are static in Flux 2 (the CLI's ``isStatic``): no reconcile loop."""
    kind = obj.get("kind")
    if kind in ("Alert", "Provider"):
        return True
    return kind == "HelmRepository" and spec(obj).get("type") == "oci"


def stale_generation(obj: Mapping[str, Any]) -> tuple[int, int] | None:
    """``(observed, generation)`` when the controller has not yet acted on the latest spec, else None.

    The flux CLI's rule (§1.3 step 2): Ready's own non-zero ``observedGeneration`` wins over
    ``status.observedGeneration``; an absent observedGeneration skips the check, as in kstatus.
    """
    generation = as_int(meta(obj).get("generation"))
    if generation is None:
        return None
    ready = condition(obj, "Ready")
    observed = as_int(ready.get("observedGeneration"), 0) if ready is not None else 0
    if not observed:
        observed = as_int(status(obj).get("observedGeneration"))
    if observed is None or observed >= generation:
        return None
    return observed, generation


def assess_flux(obj: Mapping[str, Any], group: str) -> Assessment:
    """Rules 1–10 of the module docstring for every Flux kind."""
    m, st = meta(obj), status(obj)
    kind = str(obj.get("kind") or "")
    ready = condition(obj, "Ready")
    if m.get("deletionTimestamp"):
        return a(Health.PROGRESSING, "Terminating", "being deleted; waiting for the controller's finalizer")
    if is_static(obj):
        return _assess_static(obj, ready)
    if _suspended(obj, group):
        last = cond_text(ready)
        return a(Health.SUSPENDED, "Suspended", f"suspended; last status: {last}" if last else "suspended")
    if not st.get("conditions") and as_int(st.get("observedGeneration")) in (None, 0, -1):
        return a(Health.PROGRESSING, "AwaitingReconciliation",
                 f"no status yet: the {kind} controller has not reconciled this object")

    generation = as_int(m.get("generation"))
    stalled = condition(obj, "Stalled")
    if is_true(stalled) and (as_int(stalled.get("observedGeneration"), 0) in (0, generation)):
        return a(Health.FAILED, str(stalled.get("reason") or "Stalled"), _with_ready(cond_text(stalled), ready))
    stale = stale_generation(obj)
    if stale is not None:
        observed, generation = stale
        return a(Health.PROGRESSING, "LatestGenerationNotObserved",
                 f"generation {generation} not yet reconciled (last reconciled: {observed})")

    reconciling = condition(obj, "Reconciling")
    if is_false(ready):
        return _assess_not_ready(obj, group, kind, ready, reconciling)
    outdated = condition(obj, "ArtifactOutdated")
    if is_true(outdated):
        return a(Health.PROGRESSING, "ArtifactOutdated", cond_text(outdated))
    if is_true(reconciling):
        return a(Health.PROGRESSING, str(reconciling.get("reason") or "Progressing"), cond_text(reconciling))
    if ready is not None and ready.get("status") == "Unknown":
        return a(Health.PROGRESSING, str(ready.get("reason") or "Progressing"), cond_text(ready))
    if is_true(ready):
        served_as = str(obj.get("apiVersion") or "")
        newer = replacement(served_as, kind)
        if newer is not None:  # rule 11: an old Flux serving only an API current Flux removed
            return a(Health.HEALTHY, "DeprecatedAPIVersion",
                     f"{cond_text(ready)}; this cluster serves {kind} only as {served_as}, which current Flux no "
                     f"longer serves: before upgrading Flux, migrate the manifests to {newer} ({FIX})")
        return a(Health.HEALTHY, str(ready.get("reason") or "Succeeded"), cond_text(ready))
    if ready is None:
        return a(Health.UNKNOWN, "NoReadyCondition", f"the {kind} has no Ready condition")
    return a(Health.UNKNOWN, "UnknownReadyStatus", f"Ready has status {ready.get('status')!r}")


def _suspended(obj: Mapping[str, Any], group: str) -> bool:
    """``spec.suspend: true``; for the operator's kinds the ``fluxcd.controlplane.io/reconcile: disabled`` annotation
    (the operator has no spec.suspend)."""
    if group == OPERATOR_GROUP:
        annotations = meta(obj).get("annotations") or {}
        return str(annotations.get("fluxcd.controlplane.io/reconcile", "")).lower() == "disabled"
    return spec(obj).get("suspend") is True


def _assess_not_ready(
    obj: Mapping[str, Any],
    group: str,
    kind: str,
    ready: Mapping[str, Any],
    reconciling: Mapping[str, Any] | None,
) -> Assessment:
    """Rule 7: Ready=False, split into waiting (progressing), failing-and-retrying (degraded) and failed."""
    reason = str(ready.get("reason") or "NotReady")
    if reason == "DependencyNotReady":
        return a(Health.PROGRESSING, reason, f"waiting: {cond_text(ready)}")
    removed = removed_in_message(cond_text(ready))
    if removed is not None:  # rule 7f: git holds manifests on an API version Flux no longer serves
        old_kind, old_api = removed
        return a(Health.DEGRADED, "RemovedAPIVersion",
                 f"{old_kind} {old_api} is not served by this cluster's Flux: migrate the manifests to "
                 f"{replacement(old_api, old_kind)} ({FIX}). {_retrying(cond_text(ready), reconciling)}")
    if kind == "HelmRelease":
        remediated = condition(obj, "Remediated")
        if is_true(remediated):
            return _assess_remediated(obj, remediated)
    if group in SOURCE_GROUPS:
        for failure in SOURCE_FAILURES:
            c = condition(obj, failure)
            if is_true(c):
                return a(Health.DEGRADED, str(c.get("reason") or failure), _retrying(f"{failure}: {cond_text(c)}",
                                                                                     reconciling))
        outdated = condition(obj, "ArtifactOutdated")
        if is_true(outdated):
            return a(Health.PROGRESSING, "ArtifactOutdated", cond_text(outdated))
    return a(Health.DEGRADED, reason, _retrying(cond_text(ready), reconciling))


def _assess_remediated(obj: Mapping[str, Any], remediated: Mapping[str, Any]) -> Assessment:
    """Rule 7b: any Remediated=True is an error (§4.3); a failed remediation is terminal."""
    reason = str(remediated.get("reason") or "Remediated")
    message = cond_text(remediated)
    released = condition(obj, "Released")
    if is_false(released):
        message = f"{message} (after {released.get('reason')}: {cond_text(released)})"
    health = Health.FAILED if reason in REMEDIATION_FAILED else Health.DEGRADED
    return a(health, reason, message)


def _assess_static(obj: Mapping[str, Any], ready: Mapping[str, Any] | None) -> Assessment:
    """Rule 2: static kinds are healthy unless suspended or a (legacy) Ready=False says otherwise."""
    if spec(obj).get("suspend") is True:
        return a(Health.SUSPENDED, "Suspended", "suspended")
    if is_false(ready):
        return a(Health.DEGRADED, str(ready.get("reason") or "NotReady"), cond_text(ready))
    return a(Health.HEALTHY, "Static", cond_text(ready) if is_true(ready) else "static object: nothing to reconcile")


def _retrying(message: str, reconciling: Mapping[str, Any] | None) -> str:
    if is_true(reconciling) and reconciling.get("reason") == "ProgressingWithRetry":
        return f"{message} (retrying)"
    return message


def _with_ready(message: str, ready: Mapping[str, Any] | None) -> str:
    """Stalled's message, plus Ready's when it says something different (e.g. the last install error)."""
    extra = cond_text(ready) if is_false(ready) else ""
    return f"{message}; {extra}" if extra and extra != message else message
