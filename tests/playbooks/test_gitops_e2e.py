"""End to end on the simulators: a developer requests a change, an approver approves, the PR is opened through
PyGithub on the GitHub simulator, merged, the simulated Flux applies it, the sync mirrors it and the request
reads healthy (or "applied, unhealthy" for a broken image)."""

from __future__ import annotations

import contextlib

import pytest
from github import Auth, Github
from guardian.shortcuts import assign_perm

from controlplane.models import Cluster, GitConnection
from graph.models import KubeObject
from graph.sync import sync_cluster
from playbooks.changes.library import Scale, UpdateImage, UpdateResources
from playbooks.changes.tracking import track_changes
from playbooks.choices import ChangeState, PlaybookRunStatus
from playbooks.models import PlaybookRun
from simulator.flux.demo import start_demo
from simulator.github import GitHubSimulator
from tests.graph.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)
TOKEN = "ghs_test_token_0123456789"


@contextlib.contextmanager
def demo_stack(tmp_path, settings):
    """The demo cluster (simulated Flux) with its repository on the GitHub simulator, a Cluster and a GitConnection
    for them, synced once; yields (demo, cluster, github simulator, its API URL)."""
    settings.FLUXPLANE_GIT_CACHE_DIR = str(tmp_path / "git-cache")
    demo = start_demo(tmp_path / "demo", source_interval="1h")
    github = GitHubSimulator(tmp_path / "github", tokens={TOKEN: "fluxplane-bot"})
    try:
        github.add_repo("fluxplane/fleet", demo.bare_repo)
        api = github.start()
        (tmp_path / "token").write_text(TOKEN)
        assert demo.wait_ready(60), "the demo did not converge"
        cluster = Cluster.objects.create(name="demo", connection="simulator", server_url=demo.api_url)
        GitConnection.objects.create(name="demo", provider="github", api_url=api, github_repository="fluxplane/fleet",
                                     repository_url=demo.repo.url, token_ref=f"file:{tmp_path / 'token'}")
        sync_cluster(cluster)
        yield demo, cluster, github, api
    finally:
        github.stop()
        demo.stop()


@pytest.fixture
def demo(tmp_path, settings):
    with demo_stack(tmp_path, settings) as (stack, cluster, _github, api):
        yield stack, cluster, Github(base_url=api, auth=Auth.Token(TOKEN), seconds_between_requests=0,
                                     seconds_between_writes=0).get_repo("fluxplane/fleet")


@pytest.fixture
def people(make_user):
    dev, lead = make_user("dev"), make_user("lead", perms=("graph.approve_run",))
    return dev, lead


def request_and_approve(playbook, target, dev, lead, params, drain) -> PlaybookRun:
    preview = playbook.preview(target, params)
    assert preview.errors == [], preview.errors
    run = PlaybookRun.request(playbook, target, dev, params, diff=preview.diff)
    assert run.status == PlaybookRunStatus.PENDING_APPROVAL
    run.approve(lead, "ok")
    drain()
    run.refresh_from_db()
    assert run.status == PlaybookRunStatus.SUCCEEDED, (run.error, run.log)
    return run


def follow(run: PlaybookRun, cluster, until: set[str]) -> PlaybookRun:
    def step():
        sync_cluster(cluster)
        track_changes()
        run.refresh_from_db()
        return run.change_state in until
    wait_for(step, timeout=90, interval=0.5, what=f"change of {run} to reach {until} (at {run.change_state})")
    return run


def test_scale_podinfo_to_3_through_a_reviewed_pull_request(demo, people, drain):
    sim, cluster, gh_repo = demo
    dev, lead = people
    apps = KubeObject.objects.get(kind="Kustomization", name="apps")
    assign_perm("graph.request_change", dev, apps)
    deployment = KubeObject.objects.get(kind="Deployment", namespace="podinfo", name="podinfo")

    run = request_and_approve(Scale, deployment, dev, lead, {"replicas": 3}, drain)
    assert "+    replicaCount: 3" in run.diff and "apps/staging/podinfo-values.yaml" in run.diff
    assert run.change_state == ChangeState.PR_OPEN and run.pr_number
    pr = gh_repo.get_pull(run.pr_number)
    assert pr.head.ref == f"fluxplane/scale-{run.pk}" and [label.name for label in pr.labels] == ["fluxplane"]
    assert "Requested by **dev**" in pr.body and "lead (ok)" in pr.body
    commit = gh_repo.get_commit(pr.head.sha)
    assert commit.commit.author.name == "dev" and commit.commit.committer.name == "Fluxplane"

    pr.merge(merge_method="merge")
    follow(run, cluster, {ChangeState.HEALTHY, ChangeState.UNHEALTHY})
    assert run.change_state == ChangeState.HEALTHY, run.log
    deployment.refresh_from_db()
    assert deployment.spec["replicas"] == 3
    replicasets = KubeObject.objects.filter(in_edges__source=deployment, kind="ReplicaSet", deleted_at__isnull=True)
    pods = KubeObject.objects.filter(in_edges__source__in=replicasets, kind="Pod", deleted_at__isnull=True)
    assert pods.count() == 3 and all(p.health == "healthy" for p in pods)
    timeline = [line["message"] for line in run.log]
    assert any(m.startswith("pull request #") and "merged" in m for m in timeline)
    assert any("applied main@sha1:" in m for m in timeline)
    # Retrying the finished job changes nothing: still one PR.
    assert len(list(gh_repo.get_pulls(state="all"))) == 1


def test_a_broken_image_ends_applied_unhealthy(demo, people, drain):
    sim, cluster, gh_repo = demo
    dev, lead = people
    assign_perm("graph.request_change", dev, KubeObject.objects.get(kind="Namespace", name="podinfo"))
    deployment = KubeObject.objects.get(kind="Deployment", namespace="podinfo", name="podinfo")
    run = request_and_approve(UpdateImage, deployment, dev, lead,
                              {"container": "podinfo", "image": "ghcr.io/stefanprodan/podinfo:6.9.2-broken"}, drain)
    gh_repo.get_pull(run.pr_number).merge()
    follow(run, cluster, {ChangeState.HEALTHY, ChangeState.UNHEALTHY})
    assert run.change_state == ChangeState.UNHEALTHY
    assert "ImagePullBackOff" in run.log[-1]["message"] or "Back-off" in run.log[-1]["message"]


def test_helm_workload_changes_are_verified_against_the_chart_in_helm_storage(demo, people, drain, settings):
    """On the demo, Deployments podinfo and podinfo-redis are rendered by the podinfo release from a real chart that
    the simulated helm-controller keeps in Helm storage: with no chart folder configured, scaling podinfo is proven by
    rendering that chart (replicaCount), scaling podinfo-redis writes the redis values path (proven too), never
    podinfo's replicaCount, and once merged only podinfo-redis scales; a container podinfo-redis lacks is a field
    error."""
    from gitops import InvalidInput

    settings.FLUXPLANE_HELM_CHARTS_DIR = ""
    sim, cluster, gh_repo = demo
    dev, lead = people
    assign_perm("graph.request_change", dev, KubeObject.objects.get(kind="Namespace", name="podinfo"))
    podinfo = KubeObject.objects.get(kind="Deployment", namespace="podinfo", name="podinfo")
    redis = KubeObject.objects.get(kind="Deployment", namespace="podinfo", name="podinfo-redis")
    with pytest.raises(InvalidInput, match="has no container 'podinfo'") as info:
        UpdateImage.preview(redis, {"container": "podinfo", "image": "docker.io/redis:7.2.4"})
    assert info.value.field == "container"
    # a limit below the live request is refused for Helm values as it is for a Deployment's own resources
    live = podinfo.spec["template"]["spec"]["containers"][0]["resources"]["requests"]["memory"]
    assert live.endswith("Mi") and int(live[:-2]) > 1
    with pytest.raises(InvalidInput, match="lower than the request"):
        UpdateResources.preview(podinfo, {"container": "podinfo", "limits": {"memory": "1Mi"}})

    preview = Scale.preview(podinfo, {"replicas": 2})
    assert preview.errors == [] and "+    replicaCount: 2" in preview.diff
    assert preview.notes[0] == ("Effect verified: rendering chart podinfo with the new values changes only "
                                "spec.replicas of Deployment podinfo."), preview.notes

    preview = Scale.preview(redis, {"replicas": 2})
    assert preview.errors == [] and preview.notes[0] == (
        "Effect verified: rendering chart podinfo with the new values changes only spec.replicas of Deployment "
        "podinfo-redis."), preview.notes
    added = [line for line in preview.diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    assert added == ["+    redis:", "+      replicaCount: 2"], preview.diff

    run = request_and_approve(Scale, redis, dev, lead, {"replicas": 2}, drain)
    gh_repo.get_pull(run.pr_number).merge()
    follow(run, cluster, {ChangeState.HEALTHY, ChangeState.UNHEALTHY})
    assert run.change_state == ChangeState.HEALTHY, run.log
    redis.refresh_from_db()
    podinfo.refresh_from_db()
    assert (redis.spec["replicas"], podinfo.spec["replicas"]) == (2, 1)
