"""Suspend, resume and reconcile against the simulated Flux controllers, through runs and a real worker."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from controlplane.models import AuditEvent
from controlplane.runners import execute
from graph.sync import sync_cluster
from playbooks.choices import PlaybookRunStatus
from playbooks.exec_playbooks import Reconcile, Resume, Suspend
from playbooks.fluxexec import rfc3339nano
from playbooks.models import PlaybookRun
from tests.playbooks.conftest import GITREPO, HR, KS, mirrored

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(make_user):
    return make_user("operator", perms=("graph.run_playbook",))


def run_playbook(playbook, target, user, params, drain, capture) -> PlaybookRun:
    with capture(execute=True):
        run = PlaybookRun.request(playbook, target, user, params)
    drain()
    run.refresh_from_db()
    return run


def test_rfc3339nano_matches_go():
    from datetime import UTC, datetime

    assert rfc3339nano(datetime(2026, 11, 27, 11, 0, 0, 123456, UTC)) == "2026-11-27T11:00:00.123456Z"
    assert rfc3339nano(datetime(2026, 11, 27, 11, 0, 0, 0, UTC)) == "2026-11-27T11:00:00Z"
    assert rfc3339nano(datetime(2026, 11, 27, 11, 0, 0, 500000, UTC)) == "2026-11-27T11:00:00.5Z"


def test_suspend_stops_the_controller_and_resume_reports_the_revision(
        cluster, flux, operator, drain, django_capture_on_commit_callbacks):
    apps = mirrored("Kustomization", "apps", "flux-system")
    old = flux.get(KS, "flux-system", "apps")["status"]["lastAppliedRevision"]
    run = run_playbook(Suspend, apps, operator, {}, drain, django_capture_on_commit_callbacks)
    assert run.status == PlaybookRunStatus.SUCCEEDED, run.error
    assert flux.get(KS, "flux-system", "apps")["spec"]["suspend"] is True

    # A new commit reaches infra (same source) but not the suspended apps.
    sha = flux.repo.commit({"apps/web.yaml": flux.repo.path.joinpath("apps/web.yaml").read_text().replace(
        "replicas: 1", "replicas: 2"), "infra/config.yaml": flux.repo.path.joinpath("infra/config.yaml").read_text()
        .replace("info", "debug")}, "scale web")
    sync_cluster(cluster)
    infra = mirrored("Kustomization", "infra", "flux-system")
    reconcile = run_playbook(Reconcile, infra, operator, {"timeout": 60, "with_source": True}, drain,
                             django_capture_on_commit_callbacks)
    assert reconcile.status == PlaybookRunStatus.SUCCEEDED, reconcile.error
    assert reconcile.result["revision"] == f"main@sha1:{sha}"
    assert flux.get(KS, "flux-system", "apps")["status"]["lastAppliedRevision"] == old
    assert flux.apps.read_namespaced_deployment("web", "default").spec.replicas == 1

    sync_cluster(cluster)
    apps.refresh_from_db()
    assert apps.suspended
    resume = run_playbook(Resume, apps, operator, {"timeout": 60}, drain, django_capture_on_commit_callbacks)
    assert resume.status == PlaybookRunStatus.SUCCEEDED, resume.error
    assert resume.result == {"resumed": True, "revision": f"main@sha1:{sha}"}
    assert "suspend" not in flux.get(KS, "flux-system", "apps")["spec"]
    assert flux.apps.read_namespaced_deployment("web", "default").spec.replicas == 2
    assert any(f"applied revision main@sha1:{sha}" in line["message"] for line in resume.log)
    verbs = list(AuditEvent.objects.filter(target_id=str(resume.pk)).order_by("id").values_list("verb", flat=True))
    assert verbs == ["run.requested", "run.started", "run.succeeded"]


def test_reconcile_updates_last_handled_and_reports_the_revision(cluster, flux, operator, drain,
                                                                 django_capture_on_commit_callbacks):
    apps = mirrored("Kustomization", "apps", "flux-system")
    before = flux.get(KS, "flux-system", "apps")["status"].get("lastHandledReconcileAt")
    run = run_playbook(Reconcile, apps, operator, {"timeout": 60}, drain, django_capture_on_commit_callbacks)
    assert run.status == PlaybookRunStatus.SUCCEEDED, run.error
    status = flux.get(KS, "flux-system", "apps")["status"]
    assert status["lastHandledReconcileAt"] != before
    assert run.result["lastHandledReconcileAt"] == status["lastHandledReconcileAt"]
    assert run.result["revision"] == status["lastAppliedRevision"]
    annotations = flux.get(KS, "flux-system", "apps")["metadata"]["annotations"]
    assert annotations["reconcile.fluxcd.io/requestedAt"] == status["lastHandledReconcileAt"]


def test_reconcile_of_a_suspended_object_is_refused(cluster, flux, operator, drain,
                                                    django_capture_on_commit_callbacks):
    apps = mirrored("Kustomization", "apps", "flux-system")
    run_playbook(Suspend, apps, operator, {}, drain, django_capture_on_commit_callbacks)
    sync_cluster(cluster)
    apps.refresh_from_db()
    with pytest.raises(ValidationError, match="is suspended: resume it before reconciling"):
        PlaybookRun.request(Reconcile, apps, operator, {"timeout": 30})
    # Suspended between the request and the run (the mirror still says not suspended): the job refuses too.
    infra = mirrored("Kustomization", "infra", "flux-system")
    flux.custom.patch_namespaced_custom_object(*KS[:2], "flux-system", KS[2], "infra", {"spec": {"suspend": True}})
    run = run_playbook(Reconcile, infra, operator, {"timeout": 30}, drain, django_capture_on_commit_callbacks)
    assert run.status == PlaybookRunStatus.FAILED
    assert run.error == "Kustomization flux-system/infra is suspended: resume it before reconciling"


def test_with_source_reconciles_the_source_first(cluster, flux, operator, drain,
                                                 django_capture_on_commit_callbacks):
    release = mirrored("HelmRelease", "podinfo", "default")
    run = run_playbook(Reconcile, release, operator, {"timeout": 60, "with_source": True}, drain,
                       django_capture_on_commit_callbacks)
    assert run.status == PlaybookRunStatus.SUCCEEDED, run.error
    annotated = [line["message"].split(" with ")[0] for line in run.log if line["message"].startswith("annotated")]
    assert annotated == ["annotated HelmRepository default/podinfo", "annotated HelmChart default/default-podinfo",
                         "annotated HelmRelease default/podinfo"]
    assert flux.get(GITREPO[:2] + ("helmrepositories",), "default", "podinfo")["status"]["lastHandledReconcileAt"]


def test_helmrelease_force(cluster, flux, operator, drain, django_capture_on_commit_callbacks):
    release = mirrored("HelmRelease", "podinfo", "default")
    versions = len(flux.get(HR, "default", "podinfo")["status"]["history"])
    run = run_playbook(Reconcile, release, operator, {"timeout": 60, "force": True}, drain,
                       django_capture_on_commit_callbacks)
    assert run.status == PlaybookRunStatus.SUCCEEDED, run.error
    obj = flux.get(HR, "default", "podinfo")
    token = obj["metadata"]["annotations"]["reconcile.fluxcd.io/forceAt"]
    assert obj["metadata"]["annotations"]["reconcile.fluxcd.io/requestedAt"] == token
    assert obj["status"]["lastHandledForceAt"] == token
    assert len(obj["status"]["history"]) == versions + 1, "force upgrades even without changes"


def test_timeout_fails_with_the_reason(cluster, flux, operator, drain, django_capture_on_commit_callbacks):
    flux.repo.commit({"apps/broken.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: [not, a, mapping]\n"}, "break")
    apps = mirrored("Kustomization", "apps", "flux-system")
    run = run_playbook(Reconcile, apps, operator, {"timeout": 5, "with_source": True}, drain,
                       django_capture_on_commit_callbacks)
    assert run.status == PlaybookRunStatus.FAILED
    assert run.error.startswith("timed out after 5s waiting for Kustomization flux-system/apps: ")
    assert "kustomize build failed" in run.error or "build" in run.error.lower()


def test_bulk_order_follows_depends_on(cluster, flux, operator, client, drain, django_capture_on_commit_callbacks):
    from django.urls import reverse

    apps = mirrored("Kustomization", "apps", "flux-system")
    infra = mirrored("Kustomization", "infra", "flux-system")
    client.force_login(operator)
    url = reverse("admin:playbooks_bulk", args=["reconcile"])
    page = client.post(url, {"_selected_action": [apps.pk, infra.pk]})
    body = page.content.decode()
    assert page.status_code == 200
    assert body.index("Kustomization flux-system/infra") < body.index("Kustomization flux-system/apps")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"_selected_action": [apps.pk, infra.pk], "confirm": "1", "timeout": 60})
    assert response.status_code == 302
    drain()
    runs = list(PlaybookRun.objects.order_by("batch_position"))
    assert [r.target_name for r in runs] == ["infra", "apps"]
    assert all(r.status == PlaybookRunStatus.SUCCEEDED for r in runs), [r.error for r in runs]
    assert runs[0].finished_at <= runs[1].started_at, "apps waits for infra"


def test_running_the_same_job_twice_does_not_apply_twice(cluster, flux, operator, drain,
                                                         django_capture_on_commit_callbacks):
    apps = mirrored("Kustomization", "apps", "flux-system")
    run = run_playbook(Suspend, apps, operator, {}, drain, django_capture_on_commit_callbacks)
    # The generation moves only with the spec (controllers' status writes do not touch it).
    generation = flux.get(KS, "flux-system", "apps")["metadata"]["generation"]
    assert execute("playbook", run.pk) == PlaybookRunStatus.SUCCEEDED
    run.refresh_from_db()
    assert run.attempts == 1
    assert flux.get(KS, "flux-system", "apps")["metadata"]["generation"] == generation


def test_a_resume_that_fails_its_wait_still_ends_the_maintenance_window(
        cluster, flux, make_user, drain, django_capture_on_commit_callbacks):
    from alerts.models import Silence

    operator = make_user("maintainer", perms=("graph.run_playbook", "graph.silence"))
    apps = mirrored("Kustomization", "apps", "flux-system")
    suspend = run_playbook(Suspend, apps, operator, {"silence_until_resumed": True}, drain,
                           django_capture_on_commit_callbacks)
    assert suspend.status == PlaybookRunStatus.SUCCEEDED, suspend.error
    silence = Silence.objects.get(suspend_run=suspend)
    assert silence.is_active

    # While apps is suspended its source moves to a commit that cannot build: the resume's wait will fail.
    flux.repo.commit({"apps/broken.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: [not, a, mapping]\n"}, "break")
    source = mirrored("GitRepository", "repo", "flux-system")
    fetched = run_playbook(Reconcile, source, operator, {"timeout": 60}, drain, django_capture_on_commit_callbacks)
    assert fetched.status == PlaybookRunStatus.SUCCEEDED, fetched.error
    sync_cluster(cluster)
    apps.refresh_from_db()
    resume = run_playbook(Resume, apps, operator, {"timeout": 5}, drain, django_capture_on_commit_callbacks)

    assert resume.status == PlaybookRunStatus.FAILED
    assert "suspend" not in flux.get(KS, "flux-system", "apps")["spec"], "the cluster is no longer suspended"
    silence.refresh_from_db()
    assert silence.state == "expired" and not silence.is_active
    assert resume.error.endswith("(resumed all the same: the maintenance silence has ended)"), resume.error
    assert any("maintenance silence opened by the suspend has ended" in line["message"] for line in resume.log)
    ended = AuditEvent.objects.get(verb="silence.expired", target_id=str(silence.pk))
    assert f"run #{resume.pk}" in ended.message
