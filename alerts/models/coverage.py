"""What a silence covers and which alerts it silences, computed set-wise.

The covered set of a silence is its target plus (by default) every descendant along the Flux tree's ``created`` and
``owns`` edges, expanded in memory from one query of the cluster's tree edges, and stored as SilenceObject rows.
Matching alerts to silences is then a join on those rows plus the silences' label matchers: no tree walk per alert.

It sits in the models package below the Silence model, which calls it on every change (a silence is named by its
relations here, never imported, so the model and its coverage do not import each other).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.db import models
from django.db.models import Q, QuerySet
from django.utils import timezone

from alerts.choices import AlertStatus
from alerts.matchers import matches
from alerts.models.alerts import Alert
from graph.models import Edge, KubeObject


class SilenceObject(models.Model):
    """One object a silence covers (its target and, by default, the target's subtree): the precomputed set."""

    silence = models.ForeignKey("alerts.Silence", on_delete=models.CASCADE, related_name="covered")
    object = models.ForeignKey(KubeObject, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["silence", "object"], name="alerts_silence_object")]
        indexes = [models.Index(fields=["object", "silence"])]

    def __str__(self) -> str:
        return f"{self.silence_id} covers {self.object_id}"


def tree_children(cluster_id: int) -> dict[int, list[int]]:
    """source → targets of the cluster's Flux tree, from one query."""
    children: dict[int, list[int]] = defaultdict(list)
    for source, target in Edge.objects.filter(cluster_id=cluster_id, type__in=Edge.TREE_TYPES).values_list(
            "source_id", "target_id"):
        children[source].append(target)
    return children


def expand(roots: Iterable[int], children: dict[int, list[int]]) -> set[int]:
    """Roots and everything below them (iterative; a cycle in bad data cannot loop)."""
    seen = set(roots)
    stack = list(seen)
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return seen


def covered_ids(target: KubeObject, include_descendants: bool,
                children: dict[int, list[int]] | None = None) -> set[int]:
    """The objects a silence on ``target`` covers. A Namespace target covers what lives in that namespace, as a
    grant on a Namespace does in access.rules."""
    roots = {target.pk}
    if target.kind == "Namespace" and target.api_group == "" and include_descendants:
        roots |= set(KubeObject.objects.filter(cluster_id=target.cluster_id, namespace=target.name,
                                               deleted_at__isnull=True).values_list("pk", flat=True))
    if not include_descendants:
        return roots
    return expand(roots, children if children is not None else tree_children(target.cluster_id))


def refresh_coverage(silences: Iterable) -> int:
    """Recompute and store the covered sets of ``silences`` (one edge query per cluster). Returns rows written."""
    by_cluster: dict[int, list] = defaultdict(list)
    for silence in silences:
        by_cluster[silence.cluster_id].append(silence)
    written = 0
    for cluster_id, group in by_cluster.items():
        children = tree_children(cluster_id)
        targets = {o.pk: o for o in KubeObject.objects.filter(pk__in=[s.target_id for s in group if s.target_id])}
        rows = []
        for silence in group:
            target = targets.get(silence.target_id)
            if target is None:
                continue  # the target is gone: keep the last covered set
            SilenceObject.objects.filter(silence=silence).delete()
            rows += [SilenceObject(silence=silence, object_id=pk)
                     for pk in covered_ids(target, silence.include_descendants, children)]
        SilenceObject.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)
        written += len(rows)
    return written


def active_silences_q(now=None, prefix: str = "") -> Q:
    """Silences in force at ``now``; ``prefix`` (e.g. ``silence__``) applies it across a relation."""
    now = now or timezone.now()
    return Q(**{f"{prefix}expired_at__isnull": True, f"{prefix}starts_at__lte": now, f"{prefix}ends_at__gt": now})


def alerts_of_silence(silence) -> QuerySet:
    """Alerts a change of ``silence`` may affect: those on its covered objects, and those it silenced."""
    return Alert.objects.filter(Q(object_id__in=SilenceObject.objects.filter(silence=silence).values("object_id"))
                                | Q(silenced_by=silence))


def silence_for(alert_labels: dict, candidates: list[tuple[int, list[dict]]]) -> int | None:
    """The first (oldest) candidate silence whose matchers hold for the labels."""
    for silence_id, silence_matchers in sorted(candidates):
        if matches(silence_matchers, alert_labels):
            return silence_id
    return None


def rematch(alerts: QuerySet) -> list[int]:
    """Set ``silenced_by`` on the given alerts from the active silences, in three queries and one bulk update.

    Resolved alerts keep the silence that covered them (history); firing and pending ones follow the silences.
    Returns the ids of firing alerts that just became unsilenced (to be notified).
    """
    rows = list(alerts.exclude(status=AlertStatus.RESOLVED).only("id", "object_id", "labels", "silenced_by_id",
                                                                 "status"))
    if not rows:
        return []
    object_ids = {a.object_id for a in rows if a.object_id}
    candidates: dict[int, list[tuple[int, list[dict]]]] = defaultdict(list)
    for object_id, silence_id, silence_matchers in SilenceObject.objects.filter(
            active_silences_q(prefix="silence__"), object_id__in=object_ids).values_list(
            "object_id", "silence_id", "silence__matchers"):
        candidates[object_id].append((silence_id, silence_matchers or []))
    changed, unsilenced, matches_changed = [], [], []
    for alert in rows:
        wanted = silence_for(alert.labels or {}, candidates.get(alert.object_id, [])) if alert.object_id else None
        if wanted != alert.silenced_by_id:
            if wanted is None and alert.status == AlertStatus.FIRING:
                unsilenced.append(alert.pk)
            matches_changed.append((alert.pk, wanted, alert.silenced_by_id))
            alert.silenced_by_id = wanted
            changed.append(alert)
    Alert.objects.bulk_update(changed, ["silenced_by"], batch_size=500)
    if matches_changed:
        from alerts import audit  # alerts.audit sits above the models package

        named = Alert.objects.in_bulk([pk for pk, _, _ in matches_changed])
        for pk, wanted, previous in matches_changed:
            audit.silence_matched(named[pk], wanted, previous)
    return unsilenced


PREVIEW_ALERT_LIMIT = 5000


def preview(target: KubeObject, include_descendants: bool, matchers: list[dict]) -> dict:
    """What a silence would cover before it is saved: the resources and the firing alerts it would silence."""
    ids = covered_ids(target, include_descendants)
    objects = list(KubeObject.objects.filter(pk__in=ids, deleted_at__isnull=True).order_by("kind", "namespace",
                                                                                            "name"))
    # Bounded work inside a request: matching is linear (RE2, alerts.matchers) and at most PREVIEW_ALERT_LIMIT
    # firing alerts are read; the page says when the preview stopped there.
    candidates = list(Alert.objects.filter(object_id__in=ids, status=AlertStatus.FIRING).select_related("object")
                      .order_by("-last_received_at")[:PREVIEW_ALERT_LIMIT + 1])
    truncated = len(candidates) > PREVIEW_ALERT_LIMIT
    firing = [a for a in candidates[:PREVIEW_ALERT_LIMIT] if matches(matchers, a.labels or {})]
    return {"objects": objects, "alerts": firing, "truncated": truncated, "alerts_scanned": PREVIEW_ALERT_LIMIT}
