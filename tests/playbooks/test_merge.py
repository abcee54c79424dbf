"""Merge from Fluxplane, on the simulators: the Merge needs ``merge_change``, met approvals and passing provider
checks; the connection's merge policy lets Fluxplane merge by itself (on approval, or once checks pass), recorded as
Fluxplane acting on the requester's behalf; a plain git connection keeps the pushed branch as the change request
until Fluxplane merges it."""

from __future__ import annotations

import subprocess

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from controlplane.models import AuditEvent, GitConnection
from graph.models import KubeObject
from playbooks.changes.library import Scale
from playbooks.changes.merging import change_request_status, merge_change
from playbooks.changes.tracking import track_changes
from playbooks.choices import ChangeState
from tests.playbooks.test_gitops_e2e import demo, follow, request_and_approve  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def people(make_user):
    dev = make_user("dev", perms=("graph.view_kubeobject", "graph.request_change"))
    lead = make_user("lead", perms=("graph.approve_run", "graph.merge_change"))
    other = make_user("other", perms=("graph.approve_run",))
    return dev, lead, other


def _scale(dev, lead, drain, replicas: int = 3):
    deployment = KubeObject.objects.get(kind="Deployment", namespace="podinfo", name="podinfo")
    return request_and_approve(Scale, deployment, dev, lead, {"replicas": replicas}, drain)


def _merge_events(run) -> list[tuple[str, str]]:
    return [(e.actor_username, e.message) for e in AuditEvent.objects.filter(verb="change.merge",
                                                                             target_id=str(run.pk))]


def test_merge_needs_the_permission_and_passing_checks(demo, people, drain):  # noqa: F811
    _sim, _cluster, gh_repo = demo
    dev, lead, other = people
    run = _scale(dev, lead, drain)
    assert run.change_state == ChangeState.PR_OPEN  # manual (the default): nobody merged it
    assert not gh_repo.get_pull(run.pr_number).merged
    with pytest.raises(PermissionDenied):
        merge_change(run, other)

    commit = gh_repo.get_commit(run.commit_sha)
    commit.create_status("failure", description="lint failed", context="ci/lint")
    status = change_request_status(run)
    assert (status.state, status.checks, status.check_items) == ("open", "failing", [("ci/lint", "failure")])
    with pytest.raises(ValidationError, match="checks are failing"):
        merge_change(run, lead)
    assert not gh_repo.get_pull(run.pr_number).merged  # nothing reached git

    commit.create_status("success", context="ci/lint")
    gh_repo.get_pull(run.pr_number).create_review(body="looks right", event="COMMENT")
    status = change_request_status(run)
    assert status.checks == "passing" and status.mergeable
    assert [(r["state"], r["body"]) for r in status.reviews] == [("COMMENTED", "looks right")]
    merge_change(run, lead)
    run.refresh_from_db()
    pr = gh_repo.get_pull(run.pr_number)
    assert pr.merged and run.change_state == ChangeState.MERGED and run.merge_sha == pr.merge_commit_sha
    assert _merge_events(run)[0][0] == "lead"
    with pytest.raises(ValidationError, match="nothing to merge"):  # a second press merges nothing
        merge_change(run, lead)


def test_on_checks_policy_merges_once_checks_pass_as_fluxplane(demo, people, drain):  # noqa: F811
    _sim, _cluster, gh_repo = demo
    dev, lead, _other = people
    run = _scale(dev, lead, drain)
    gh_repo.get_commit(run.commit_sha).create_status("pending", context="ci/build")
    GitConnection.objects.update(merge_policy=GitConnection.MergePolicy.ON_CHECKS)
    track_changes()
    run.refresh_from_db()
    assert run.change_state == ChangeState.PR_OPEN and not gh_repo.get_pull(run.pr_number).merged

    gh_repo.get_commit(run.commit_sha).create_status("success", context="ci/build")
    track_changes()
    run.refresh_from_db()
    assert run.change_state == ChangeState.MERGED and gh_repo.get_pull(run.pr_number).merged
    [(actor, message)] = _merge_events(run)
    assert actor == "Fluxplane on behalf of dev" and "on-checks" in message


def test_on_approval_policy_merges_in_the_job(demo, people, drain):  # noqa: F811
    _sim, cluster, gh_repo = demo
    dev, lead, _other = people
    GitConnection.objects.update(merge_policy=GitConnection.MergePolicy.ON_APPROVAL)
    run = _scale(dev, lead, drain)
    assert run.change_state == ChangeState.MERGED and gh_repo.get_pull(run.pr_number).merged
    assert _merge_events(run)[0][0] == "Fluxplane on behalf of dev"
    follow(run, cluster, {ChangeState.HEALTHY, ChangeState.UNHEALTHY})
    assert run.change_state == ChangeState.HEALTHY, run.log


def test_plain_git_branch_waits_for_merge_then_flux_applies_it(demo, people, drain):  # noqa: F811
    sim, cluster, _gh_repo = demo
    dev, lead, _other = people
    GitConnection.objects.update(provider=GitConnection.Provider.GIT, api_url="", github_repository="",
                                 token_ref="")
    base_before = subprocess.run(["git", "-C", str(sim.bare_repo), "rev-parse", "main"], capture_output=True,
                                 text=True, check=True).stdout.strip()
    run = _scale(dev, lead, drain, replicas=2)
    assert run.change_state == ChangeState.PR_OPEN and run.branch == f"fluxplane/scale-{run.pk}" and not run.pr_url
    main = subprocess.run(["git", "-C", str(sim.bare_repo), "rev-parse", "main"], capture_output=True, text=True,
                          check=True).stdout.strip()
    assert main == base_before  # nothing merged before someone says so
    status = change_request_status(run)
    assert (status.state, status.checks, status.mergeable) == ("open", "none", True)

    merge_change(run, lead)
    run.refresh_from_db()
    assert run.change_state == ChangeState.MERGED
    log = subprocess.run(["git", "-C", str(sim.bare_repo), "log", "-1", "--format=%an|%P", "main"],
                         capture_output=True, text=True, check=True).stdout.strip()
    author, parents = log.split("|")
    assert author == "lead" and parents.split()[0] == base_before  # a merge commit by the person who merged
    follow(run, cluster, {ChangeState.APPLIED, ChangeState.HEALTHY, ChangeState.UNHEALTHY})
    assert run.change_state in (ChangeState.APPLIED, ChangeState.HEALTHY), run.log
