"""GitHub down after the push: the run records the pushed branch, goes back to the queue with backoff instead of
ending errored, and once GitHub answers again the retry finds the branch and opens exactly one pull request — no
second branch, commit or PR, and nobody has to request or approve again."""

from __future__ import annotations

import pytest
from django.utils import timezone
from github import Auth, Github
from guardian.shortcuts import assign_perm

from controlplane.jobs import sweep_runs_job
from controlplane.models import AuditEvent
from graph.models import KubeObject
from playbooks.changes.library import Scale
from playbooks.choices import ChangeState, PlaybookRunStatus
from playbooks.models import PlaybookRun
from tests.playbooks.test_gitops_e2e import TOKEN, demo_stack

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def demo_with_github(tmp_path, settings):
    with demo_stack(tmp_path, settings) as (_demo, _cluster, github, api):
        yield github, api


def test_github_down_after_the_push_resumes_without_duplicates(demo_with_github, make_user, drain, settings):
    github, api = demo_with_github
    dev, lead = make_user("dev"), make_user("lead", perms=("graph.approve_run",))
    assign_perm("graph.request_change", dev, KubeObject.objects.get(kind="Kustomization", name="apps"))
    deployment = KubeObject.objects.get(kind="Deployment", namespace="podinfo", name="podinfo")
    preview = Scale.preview(deployment, {"replicas": 3})
    run = PlaybookRun.request(Scale, deployment, dev, {"replicas": 3}, diff=preview.diff)

    github.stop()  # GitHub goes away; git pushes (to the bare repository) still work
    run.approve(lead, "ok")
    drain()
    run.refresh_from_db()
    assert run.status == PlaybookRunStatus.QUEUED, (run.status, run.error, run.log)
    assert run.branch == f"fluxplane/scale-{run.pk}" and run.commit_sha  # the durable step is recorded
    assert "GitHub did not answer" in run.log[-1]["message"] and "trying again in 15 s" in run.log[-1]["message"]
    assert run.enqueued_at > timezone.now()  # backoff: not before then
    settings.FLUXPLANE_RUN_REQUEUE_AFTER_SECONDS = 0
    assert sweep_runs_job()["requeued"] == 0  # still backing off

    github.start()  # back, on the same address
    type(run).objects.filter(pk=run.pk).update(enqueued_at=timezone.now())  # the backoff elapsed
    assert sweep_runs_job()["requeued"] == 1
    drain()
    run.refresh_from_db()
    assert run.status == PlaybookRunStatus.SUCCEEDED, (run.error, run.log)
    assert run.change_state == ChangeState.PR_OPEN and run.attempts == 2
    assert any(line["message"].startswith("found branch") for line in run.log)  # reused, not pushed again
    repo = Github(base_url=api, auth=Auth.Token(TOKEN), seconds_between_requests=0,
                  seconds_between_writes=0).get_repo("fluxplane/fleet")
    pulls = list(repo.get_pulls(state="all"))
    assert [p.head.ref for p in pulls] == [run.branch] and pulls[0].head.sha == run.commit_sha
    assert [b.name for b in repo.get_branches() if b.name.startswith("fluxplane/")] == [run.branch]
    assert AuditEvent.objects.filter(verb="run.retried", target_id=str(run.pk)).count() == 1
    assert PlaybookRun.objects.count() == 1
