"""Just-in-time access on GitLab and Gitea/Forgejo: the grant's merge request (pull request) is opened through the
provider and merged at once (the approval happened in Fluxplane), Flux applies the RoleBinding, the grant expires
and the removal request is opened and merged through the same provider, and Flux prunes the binding."""

from __future__ import annotations

from datetime import timedelta

import pytest
from guardian.shortcuts import assign_perm

from access.jit.models import GrantState
from graph.models import KubeObject
from jit.playbook import request_access
from jit.sweep import sweep
from playbooks.choices import ChangeState, PlaybookRunStatus
from tests.graph.conftest import wait_for
from tests.playbooks.test_provider_e2e import host  # noqa: F401  (fixture)

from .test_jit_e2e import binding, verbs

pytestmark = pytest.mark.django_db(transaction=True)


def test_grant_and_removal_requests_go_through_gitlab_and_gitea(host, make_user, drain):  # noqa: F811
    h, cluster, connection = host
    dev, lead = make_user("dev"), make_user("lead", perms=("graph.approve_run",))
    namespace = KubeObject.objects.get(kind="Namespace", name="podinfo")
    assign_perm("graph.request_access", dev, namespace)
    grant = request_access(dev, namespace, "view", "1h", "look at the podinfo logs", "INC-7")
    run = grant.request_run
    run.approve(lead, "fine")
    drain()
    run.refresh_from_db()
    grant.refresh_from_db()
    assert run.status == PlaybookRunStatus.SUCCEEDED, (run.error, run.log)
    assert grant.state == GrantState.MERGED and run.change_state == ChangeState.MERGED
    grant_request = h.request(run.pr_number)
    assert grant_request.merged and grant_request.source == f"fluxplane/request-namespace-access-{run.pk}"
    noun = "merge request !" if h.kind == "gitlab" else "pull request #"
    assert any(line["message"].startswith(f"{noun}{run.pr_number} merged") for line in run.log), run.log

    def active() -> bool:
        sweep()
        grant.refresh_from_db()
        return grant.state == GrantState.ACTIVE
    wait_for(active, timeout=60, interval=0.3, what=f"grant #{grant.pk} active (at {grant.state})")
    assert binding(cluster, "podinfo", grant.binding_name)["roleRef"]["name"] == "view"

    later = grant.expires_at + timedelta(seconds=1)

    def removed() -> bool:
        sweep(now=later)
        grant.refresh_from_db()
        return grant.state == GrantState.REMOVED
    wait_for(removed, timeout=60, interval=0.3, what=f"grant #{grant.pk} removed (at {grant.state})")
    assert binding(cluster, "podinfo", grant.binding_name) is None
    removal = h.request(grant.removal_pr_number)
    assert removal.merged and removal.source == f"fluxplane/jit-remove-{grant.pk}"
    assert grant.removal_pr_url.startswith("http://127.0.0.1:")
    assert len(h.requests()) == 2  # the grant's and the removal's: sweeps never opened another
    assert verbs(grant) == ["jit.requested", "jit.approved", "jit.pr_opened", "jit.merged", "jit.active",
                            "jit.expiring", "jit.removal_pr", "jit.removal_merged", "jit.removed"]
