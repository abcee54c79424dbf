"""Silences: the permission table (access.rules.can_silence on the target or an ancestor), coverage by hierarchy,
policy, preview, audit, the periodic expiry and reminder jobs, health alerts, and suspend as a maintenance window."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from guardian.shortcuts import assign_perm

from alerts import health, jobs
from alerts.intake import ingest_alertmanager
from alerts.maintenance import close_for_resume
from alerts.models import Alert, Silence, coverage
from controlplane.models import AuditEvent
from graph.sync import sync_cluster
from playbooks.choices import PlaybookRunStatus
from playbooks.exec_playbooks import Suspend
from playbooks.models import PlaybookRun
from tests.alerts.conftest import obj, pods

pytestmark = pytest.mark.django_db(transaction=True)


def fire(*alerts: dict) -> None:
    ingest_alertmanager({"version": "4", "groupKey": "g", "alerts": [
        {"status": "firing", "labels": labels, "annotations": {}, "startsAt": "2026-11-27T10:00:00Z",
         "fingerprint": f"fp{index}"} for index, labels in enumerate(alerts)]})


def two_hours():
    return timezone.now() + timedelta(hours=2)


@pytest.mark.parametrize(("grant_on", "superuser", "allowed"), [
    (("Deployment", "podinfo", "podinfo"), False, True),  # the target itself
    (("Kustomization", "flux-system", "apps"), False, True),  # an ancestor
    (("Kustomization", "flux-system", "infra"), False, False),  # another tree
    (None, False, False),  # nothing
    (None, True, True),  # superuser
])
def test_who_may_silence_the_podinfo_deployment(cluster, make_user, client, grant_on, superuser, allowed):
    user = make_user("someone", superuser=superuser)
    if grant_on:
        assign_perm("graph.silence", user, obj(*grant_on))
    target = obj("Deployment", "podinfo", "podinfo")
    client.force_login(user)
    page = client.get(f"/admin/alerts/silence/new/{target.pk}/")
    assert page.status_code == (200 if allowed else 404)  # an object outside one's grants is "not found"
    detail = client.get(target.admin_url())
    assert (b"Silence alerts" in detail.content) == (allowed and detail.status_code == 200)
    posted = client.post(f"/admin/alerts/silence/new/{target.pk}/", {
        "duration_minutes": 60, "reason": "deploy", "include_descendants": "on", "_save": "1"})
    assert posted.status_code == (302 if allowed else 404)
    assert Silence.objects.filter(target=target).exists() == allowed
    if not allowed:
        with pytest.raises(PermissionDenied):
            Silence.open(target=target, user=user, ends_at=two_hours(), reason="x")
        assert not Silence.objects.exists() and not AuditEvent.objects.filter(verb="silence.created").exists()


def test_silence_on_apps_covers_its_tree_not_cert_manager_and_follows_policy(cluster, make_user, client):
    oncall = make_user("oncall", perms=("graph.silence",))
    podinfo_pod, cm_pod = pods("podinfo", "podinfo")[0], pods("cert-manager", "cert-manager")[0]
    fire({"alertname": "A", "namespace": "podinfo", "pod": podinfo_pod.name},
         {"alertname": "A", "namespace": "cert-manager", "pod": cm_pod.name},
         {"alertname": "B", "severity": "info", "namespace": "podinfo", "deployment": "podinfo"})
    apps = obj("Kustomization", "flux-system", "apps")

    preview = coverage.preview(apps, True, [])
    assert podinfo_pod in preview["objects"] and cm_pod not in preview["objects"]
    assert {a.name for a in preview["alerts"]} == {"A", "B"} and all(a.namespace == "podinfo"
                                                                    for a in preview["alerts"])
    client.force_login(oncall)
    page = client.post(f"/admin/alerts/silence/new/{apps.pk}/", {"duration_minutes": 60, "reason": "rollout",
                                                                  "include_descendants": "on", "_preview": "1"})
    assert page.status_code == 200 and podinfo_pod.name.encode() in page.content
    assert not Silence.objects.exists()  # a preview saves nothing

    for bad in ({"ends_at": timezone.now() + timedelta(hours=10_000)}, {"ends_at": timezone.now() - timedelta(
            minutes=1)}, {"ends_at": two_hours(), "reason": " "}, {"ends_at": two_hours(), "matchers": [
            {"name": "severity", "value": "(", "isRegex": True}]}):
        with pytest.raises(ValidationError):
            Silence.open(target=apps, user=oncall, **{"reason": "x", **bad})
    assert not Silence.objects.exists()

    narrow = Silence.open(target=apps, user=oncall, ends_at=two_hours(), reason="only A",
                          matchers=[{"name": "alertname", "value": "A", "isRegex": False, "isEqual": True}])
    assert list(Alert.objects.filter(silenced_by=narrow).values_list("name", "namespace")) == [("A", "podinfo")]
    own = Silence.open(target=apps, user=oncall, ends_at=two_hours(), reason="apps only", include_descendants=False)
    assert set(own.covered.values_list("object_id", flat=True)) == {apps.pk}
    whole = Silence.open(target=apps, user=oncall, ends_at=two_hours(), reason="all of apps")
    assert Alert.objects.get(name="B").silenced_by == whole
    assert Alert.objects.get(namespace="cert-manager").silenced_by is None

    whole.update(oncall, ends_at=timezone.now() + timedelta(hours=3), reason="longer")
    narrow.expire(oncall)
    assert Alert.objects.get(name="A", namespace="podinfo").silenced_by == whole
    verbs = list(AuditEvent.objects.filter(verb__startswith="silence.").order_by("id").values_list("verb", flat=True))
    assert verbs == ["silence.created"] * 3 + ["silence.updated", "silence.expired"]


def test_expiry_and_reminder_jobs_are_idempotent(cluster, make_user):
    oncall = make_user("oncall", perms=("graph.silence",))
    oncall.email = "oncall@example.org"
    oncall.save()
    fire({"alertname": "A", "namespace": "podinfo", "deployment": "podinfo"})
    silence = Silence.open(target=obj("Kustomization", "flux-system", "apps"), user=oncall,
                           ends_at=timezone.now() + timedelta(minutes=30), reason="short")
    assert jobs.remind_silences() == 1 and jobs.remind_silences() == 0
    assert len(mail.outbox) == 1 and "ends soon" in mail.outbox[0].subject
    assert Alert.objects.get().silenced_by == silence

    Silence.objects.filter(pk=silence.pk).update(ends_at=timezone.now() - timedelta(seconds=1))
    assert jobs.expire_silences()["expired"] == 1
    assert jobs.expire_silences()["expired"] == 0
    silence.refresh_from_db()
    assert silence.expired_at is not None and silence.state == "expired"
    assert Alert.objects.get().silenced_by is None
    assert AuditEvent.objects.filter(verb="silence.expired", target_id=str(silence.pk)).count() == 1


def test_health_transitions_fire_after_the_delay_and_resolve(cluster, trees, settings, django_assert_max_num_queries):
    settings.FLUXPLANE_HEALTH_ALERT_AFTER_SECONDS = 3600
    release = copy.deepcopy(trees.store.peek("helmreleases", "podinfo", "frontend"))
    healthy_status = dict(release["status"])
    release["status"] = {**healthy_status, "conditions": [{
        "type": "Ready", "status": "False", "reason": "InstallFailed", "message": "install retries exhausted",
        "observedGeneration": 1, "lastTransitionTime": "2026-11-27T10:00:00Z"}]}
    trees.store.update_status(release)
    sync_cluster(cluster)
    frontend = obj("HelmRelease", "podinfo", "frontend")
    assert frontend.health in ("failed", "degraded"), (frontend.health, frontend.health_reason, frontend.status)
    alert = Alert.objects.get(source="health")
    assert alert.status == "pending" and alert.object == obj("HelmRelease", "podinfo", "frontend")

    settings.FLUXPLANE_HEALTH_ALERT_AFTER_SECONDS = 0
    with django_assert_max_num_queries(20):  # set-based: the count does not grow with the objects
        health.evaluate(cluster)
    alert.refresh_from_db()
    assert alert.status == "firing" and alert.severity in ("critical", "warning")

    release = copy.deepcopy(trees.store.peek("helmreleases", "podinfo", "frontend"))
    release["status"] = healthy_status
    trees.store.update_status(release)
    sync_cluster(cluster)
    alert.refresh_from_db()
    assert alert.status == "resolved" and alert.ends_at is not None


def test_suspend_with_silence_until_resumed_opens_a_silence_that_resume_ends(
        cluster, make_user, drain, django_capture_on_commit_callbacks):
    operator = make_user("operator", perms=("graph.run_playbook", "graph.silence"))
    apps = obj("Kustomization", "flux-system", "apps")
    assert "silence_until_resumed" in Suspend.form_class().fields
    with django_capture_on_commit_callbacks(execute=True):
        run = PlaybookRun.request(Suspend, apps, operator, {"silence_until_resumed": True})
    drain()
    run.refresh_from_db()
    assert run.status == PlaybookRunStatus.SUCCEEDED, run.error
    silence = Silence.objects.get(suspend_run=run)
    assert silence.until_resumed and silence.is_active and silence.target == apps
    assert silence.covered.filter(object=pods("podinfo", "podinfo")[0]).exists()

    resume = PlaybookRun.objects.create(playbook="resume", runner="playbook", cluster=cluster, target=apps,
                                        target_kind="Kustomization", target_name="apps", requested_by=operator,
                                        requested_by_username="operator")
    assert close_for_resume(resume) == 1 and close_for_resume(resume) == 0
    silence.refresh_from_db()
    assert silence.state == "expired"

    # Without the silence permission the suspend still happens, and no silence is opened.
    runner_only = make_user("runner", perms=("graph.run_playbook",))
    infra = obj("Kustomization", "flux-system", "infra")
    with django_capture_on_commit_callbacks(execute=True):
        other = PlaybookRun.request(Suspend, infra, runner_only, {"silence_until_resumed": True})
    drain()
    other.refresh_from_db()
    assert other.status == PlaybookRunStatus.SUCCEEDED and other.result["silence"] is None
    assert not Silence.objects.filter(suspend_run=other).exists()
