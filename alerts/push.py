"""A Fluxplane silence as Alertmanager silences: matchers for its covered objects, kept in step with it.

Alertmanager ANDs the matchers of one silence, so one Fluxplane silence becomes one Alertmanager silence per
(namespace, label) pair: ``namespace="podinfo", pod=~"podinfo-[a-z0-9]+-[a-z0-9]+|…"``,
``namespace="podinfo", deployment=~"podinfo"``, … — the labels kube-state-metrics and kube-prometheus alerts carry —
plus ``kind``/``name`` matchers for Flux objects as Flux's own metrics label them (``exported_namespace`` and
``namespace``). Pod matchers cover pods yet to be created by the covered workloads (generated-name patterns), so a
rollout during the silence stays silenced. The silence's own label matchers are added to each.
"""

from __future__ import annotations

import logging
from collections import defaultdict

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from access import rules
from alerts.alertmanager import AlertmanagerError
from alerts.choices import PushState
from alerts.models import AlertmanagerConnection, PushedSilence, Silence, SilenceObject

logger = logging.getLogger(__name__)

WORKLOAD_LABELS = {
    "Deployment": "deployment", "StatefulSet": "statefulset", "DaemonSet": "daemonset", "ReplicaSet": "replicaset",
    "Job": "job_name", "CronJob": "cronjob", "Service": "service", "PersistentVolumeClaim": "persistentvolumeclaim",
    "HorizontalPodAutoscaler": "horizontalpodautoscaler",
}
# Pod names Kubernetes generates for a workload's pods.
POD_PATTERNS = {
    "Deployment": "{}-[a-z0-9]+-[a-z0-9]+", "ReplicaSet": "{}-[a-z0-9]+", "StatefulSet": "{}-[0-9]+",
    "DaemonSet": "{}-[a-z0-9]+", "Job": "{}-[a-z0-9]+", "CronJob": "{}-[0-9]+-[a-z0-9]+",
}
FLUX_KINDS = {"Kustomization", "HelmRelease", "GitRepository", "OCIRepository", "HelmRepository", "HelmChart",
              "Bucket", "ImageRepository", "ImagePolicy", "ImageUpdateAutomation", "Alert", "Provider", "Receiver"}


def _escape(name: str) -> str:
    # Kubernetes names hold [a-z0-9.-]; only the dot is special in RE2.
    return name.replace(".", "\\.")


def _alternation(values: set[str]) -> str:
    return "|".join(sorted(values))


def tag(silence: Silence, key: str) -> str:
    return f"[fluxplane:{silence.pk}:{key}]"


def desired(silence: Silence) -> dict[str, list[dict]]:
    """The Alertmanager matcher sets for the silence, by key (empty when it has ended)."""
    if silence.expired_at is not None or silence.ends_at <= timezone.now():
        return {}
    rows = SilenceObject.objects.filter(silence=silence).values_list("object__kind", "object__namespace",
                                                                     "object__name")
    per_label: dict[tuple[str, str], set[str]] = defaultdict(set)
    flux: dict[tuple[str, str], set[str]] = defaultdict(set)
    whole_namespaces: set[str] = set()
    for kind, namespace, name in rows:
        if kind == "Namespace" and silence.target is not None and silence.target.kind == "Namespace" \
                and name == silence.target.name:
            whole_namespaces.add(name)
            continue
        if not namespace:
            continue
        if kind == "Pod":
            per_label[(namespace, "pod")].add(_escape(name))
        if kind in POD_PATTERNS:
            per_label[(namespace, "pod")].add(POD_PATTERNS[kind].format(_escape(name)))
        if kind in WORKLOAD_LABELS:
            per_label[(namespace, WORKLOAD_LABELS[kind])].add(_escape(name))
        if kind in FLUX_KINDS:
            flux[(namespace, kind)].add(_escape(name))
    extra = list(silence.matchers or [])
    result: dict[str, list[dict]] = {}
    for namespace in sorted(whole_namespaces):
        result[f"{namespace}/namespace"] = [_eq("namespace", namespace), *extra]
    for (namespace, label), values in sorted(per_label.items()):
        if namespace in whole_namespaces:
            continue
        result[f"{namespace}/{label}"] = [_eq("namespace", namespace), _re(label, _alternation(values)), *extra]
    for (namespace, kind), values in sorted(flux.items()):
        for ns_label in ("exported_namespace", "namespace"):
            result[f"{namespace}/{kind}/{ns_label}"] = [_eq(ns_label, namespace), _eq("kind", kind),
                                                        _re("name", _alternation(values)), *extra]
    return result


def _eq(name: str, value: str) -> dict:
    return {"name": name, "value": value, "isRegex": False, "isEqual": True}


def _re(name: str, value: str) -> dict:
    return {"name": name, "value": value, "isRegex": True, "isEqual": True}


def creator_may_silence(silence: Silence) -> bool:
    """Rule re-checked by jobs: the creator still holds ``silence`` on the target or an ancestor (access.rules)."""
    if silence.created_by is None:
        return False
    if silence.target is None:
        return rules.has_global(silence.created_by, rules.SILENCE)
    return rules.can_silence(silence.created_by, silence.target)


def push(silence: Silence, connection: AlertmanagerConnection) -> dict[str, int]:
    """Make Alertmanager hold exactly the silences ``desired`` says, idempotently. Errors leave rows *failed* for
    the re-push job. Returns counts of created/updated/expired."""
    counts = {"pushed": 0, "expired": 0}
    wanted = desired(silence)
    if wanted and not creator_may_silence(silence):
        # The creator lost the right since: a job checks the rule too; what was pushed is withdrawn.
        logger.warning("%s: %s may no longer silence %s; not pushing", silence, silence.created_by_username,
                       silence.target_label)
        wanted = {}
    rows = {row.key: row for row in PushedSilence.objects.filter(silence=silence, connection=connection)}
    for key, matchers in wanted.items():
        if key not in rows:
            rows[key], _ = PushedSilence.objects.get_or_create(silence=silence, connection=connection, key=key,
                                                               defaults={"matchers": matchers})
    client = connection.client()
    try:
        remote, items = {}, {}
        marker = f"[fluxplane:{silence.pk}:"
        for item in client.silences():
            comment = item.get("comment") or ""
            if marker in comment and (item.get("status") or {}).get("state") != "expired":
                key = comment[comment.index(marker) + len(marker):].split("]", 1)[0]
                remote.setdefault(key, []).append(item["id"])
                items[item["id"]] = item
        for key, row in rows.items():
            known = remote.pop(key, [])
            if key in wanted:
                current = row.alertmanager_id if row.alertmanager_id in known else (known[0] if known else None)
                comment = (f"{silence.reason} — Fluxplane silence #{silence.pk} on {silence.target_label} "
                           f"{tag(silence, key)}")
                if current and _unchanged(items[current], wanted[key], silence.ends_at, comment):
                    new_id = current  # a retry: Alertmanager already holds exactly this silence
                else:
                    new_id = client.put_silence(
                        matchers=wanted[key], starts_at=_start(items.get(current), silence.starts_at),
                        ends_at=silence.ends_at, created_by=f"{silence.created_by_username or 'fluxplane'} via "
                                                            f"Fluxplane", comment=comment, silence_id=current)
                for duplicate in known:  # left over by an earlier lost response
                    if duplicate != new_id:
                        client.expire_silence(duplicate)
                _done(row, PushState.PUSHED, silence.revision, alertmanager_id=new_id, matchers=wanted[key])
                counts["pushed"] += 1
            else:
                for silence_id in {row.alertmanager_id, *known} - {""}:
                    client.expire_silence(silence_id)
                _done(row, PushState.EXPIRED, silence.revision)
                counts["expired"] += 1
        for ids in remote.values():  # tagged for this silence but with a key we no longer have a row for
            for silence_id in ids:
                client.expire_silence(silence_id)
                counts["expired"] += 1
    except AlertmanagerError as exc:
        logger.warning("push of %s to %s failed: %s", silence, connection, exc)
        PushedSilence.objects.filter(silence=silence, connection=connection).exclude(
            state=PushState.EXPIRED, revision=silence.revision).update(state=PushState.FAILED, last_error=str(exc))
        raise
    return counts


def _same_second(remote: str | None, local) -> bool:
    when = parse_datetime(remote or "")
    return when is not None and int(when.timestamp()) == int(local.timestamp())


def _unchanged(item: dict, matchers: list[dict], ends_at, comment: str) -> bool:
    """Whether the Alertmanager silence already says what we would push (then a retry sends nothing)."""
    theirs = sorted((m.get("name"), m.get("value"), bool(m.get("isRegex")), m.get("isEqual", True))
                    for m in item.get("matchers") or [])
    ours = sorted((m.get("name"), m.get("value"), bool(m.get("isRegex")), m.get("isEqual", True)) for m in matchers)
    return theirs == ours and item.get("comment") == comment and _same_second(item.get("endsAt"), ends_at)


def _start(item: dict | None, starts_at):
    """The start to send. Alertmanager moves a past start to the moment it creates the silence, and it replaces (a
    new id, the old one expired) an active silence whose update names another start: keep the start it holds."""
    if item and (item.get("status") or {}).get("state") == "active":
        return parse_datetime(item.get("startsAt") or "") or starts_at
    return starts_at


def _done(row: PushedSilence, state: str, revision: int, **fields) -> None:
    with transaction.atomic():
        for name, value in fields.items():
            setattr(row, name, value)
        row.state, row.revision, row.last_error = state, revision, ""
        row.attempts += 1
        row.save()


def push_everywhere(silence_pk: int) -> dict[str, str]:
    """Push one silence to every connection with ``push_silences``; returns an outcome per connection."""
    silence = Silence.objects.select_related("target", "created_by").get(pk=silence_pk)
    outcome = {}
    for connection in AlertmanagerConnection.objects.filter(push_silences=True):
        try:
            counts = push(silence, connection)
        except AlertmanagerError as exc:
            outcome[connection.name] = f"failed: {exc}"
        else:
            outcome[connection.name] = f"{counts['pushed']} pushed, {counts['expired']} expired"
    return outcome


def needing_push() -> list[int]:
    """Silences whose Alertmanager counterparts are missing, failed or behind (for the re-push job)."""
    pushing = list(AlertmanagerConnection.objects.filter(push_silences=True).values_list("pk", flat=True))
    if not pushing:
        return []
    behind = set()
    for silence_id, revision, state, push_revision in PushedSilence.objects.filter(
            connection_id__in=pushing).values_list("silence_id", "silence__revision", "state", "revision"):
        if state in (PushState.FAILED, PushState.PENDING) or push_revision < revision:
            behind.add(silence_id)
    live = Silence.objects.filter(expired_at__isnull=True, ends_at__gt=timezone.now())
    for silence_id, connections in _connections_by_silence(live).items():
        if set(pushing) - connections:
            behind.add(silence_id)
    return sorted(behind)


def _connections_by_silence(silences) -> dict[int, set[int]]:
    found: dict[int, set[int]] = {pk: set() for pk in silences.values_list("pk", flat=True)}
    for silence_id, connection_id in PushedSilence.objects.filter(silence_id__in=list(found)).values_list(
            "silence_id", "connection_id"):
        found[silence_id].add(connection_id)
    return found
