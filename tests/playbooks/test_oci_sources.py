"""ClickOps through an OCIRepository: fleets publish their manifests from git with `flux push artifact
--source --revision`; the artifact's annotations lead the change back to that git repository. Run the user's way
on the simulators: request, approve, the worker merges in git, CI publishes the next artifact, Flux applies it,
the request reads healthy. An artifact without its origin is refused with the missing annotation named."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from guardian.shortcuts import assign_perm

from controlplane.models import Cluster, GitConnection
from graph.models import KubeObject
from graph.sync import sync_cluster
from playbooks.changes.library import Scale
from playbooks.choices import ChangeState
from simulator.flux.common import REQUESTED_AT
from simulator.flux.registry_oci import SOURCE
from tests.playbooks.test_gitops_e2e import follow, request_and_approve
from tests.simulator.flux_fixtures import FluxEnv, GitRepo, deployment_yaml, eventually, ready

pytestmark = pytest.mark.django_db(transaction=True)
ARTIFACT = "oci://ghcr.io/example/fleet-manifests"


def publish(env: FluxEnv, bare: Path) -> str:
    """The fleet's push-artifact workflow: the head of main, with its git origin stamped on the artifact."""
    sha = subprocess.run(["git", "-C", str(bare), "rev-parse", "main"], capture_output=True, text=True,
                         check=True).stdout.strip()
    env.flux.registry.push_git(ARTIFACT, "latest", bare, sha, "main", str(bare))
    env.store.patch("ocirepositories", "flux-system", "fleet", {"metadata": {"annotations": {REQUESTED_AT: sha}}},
                    "merge")
    return sha


@pytest.fixture
def oci_fleet(tmp_path, settings):
    settings.FLUXPLANE_GIT_CACHE_DIR = str(tmp_path / "git-cache")
    work = GitRepo(tmp_path / "work")
    work.commit({"apps/web.yaml": deployment_yaml("web").replace("metadata:\n  name: web\n",
                                                                  "metadata:\n  name: web\n  namespace: default\n")},
                "web")
    bare = tmp_path / "fleet.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(work.path), str(bare)], check=True)
    env = FluxEnv(tmp_path / "sim")
    env.create({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "OCIRepository",
                "metadata": {"name": "fleet", "namespace": "flux-system"},
                "spec": {"interval": "1h", "url": ARTIFACT, "ref": {"tag": "latest"}}})
    env.create({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
                "metadata": {"name": "apps", "namespace": "flux-system"},
                "spec": {"interval": "1h", "path": "./apps", "prune": True, "wait": True, "timeout": "1m",
                         "sourceRef": {"kind": "OCIRepository", "name": "fleet"}}})
    publish(env, bare)
    eventually(lambda: ready(env.store.peek("kustomizations", "flux-system", "apps")), 60, "apps Ready from OCI")
    cluster = Cluster.objects.create(name="oci", connection=Cluster.Connection.SIMULATOR, server_url=env.url)
    # Fluxplane merges the approved branch itself (plain git; merge policy on approval, not the manual default).
    GitConnection.objects.create(name="fleet", provider="git", repository_url=str(bare), merge_policy="on-approval")
    sync_cluster(cluster)
    yield env, cluster, bare
    env.close()


def test_scale_through_an_oci_artifact_built_from_git(oci_fleet, make_user, drain):
    env, cluster, bare = oci_fleet
    dev, lead = make_user("dev"), make_user("lead", perms=("graph.approve_run",))
    apps = KubeObject.objects.get(kind="Kustomization", name="apps")
    oci = KubeObject.objects.get(kind="OCIRepository", name="fleet")
    assert oci.status["artifact"]["metadata"][SOURCE] == str(bare)
    assign_perm("graph.request_change", dev, apps)
    web = KubeObject.objects.get(kind="Deployment", name="web")
    assert Scale.refusal(web) is None

    run = request_and_approve(Scale, web, dev, lead, {"replicas": 3}, drain)
    assert "apps/web.yaml" in run.diff and "+  replicas: 3" in run.diff
    assert run.change_state == ChangeState.MERGED, run.log
    merged = subprocess.run(["git", "-C", str(bare), "show", "main:apps/web.yaml"], capture_output=True, text=True,
                            check=True).stdout
    assert "replicas: 3" in merged
    publish(env, bare)  # CI publishes the merge as the next artifact
    follow(run, cluster, {ChangeState.HEALTHY, ChangeState.UNHEALTHY})
    assert run.change_state == ChangeState.HEALTHY, run.log
    assert env.store.get("deployments", "default", "web")["spec"]["replicas"] == 3


def test_an_artifact_without_its_git_origin_is_refused_with_the_annotation_named(oci_fleet):
    env, cluster, _bare = oci_fleet
    oci = KubeObject.objects.get(kind="OCIRepository", name="fleet")
    metadata = oci.status["artifact"]["metadata"]
    del metadata["org.opencontainers.image.revision"]
    oci.save()
    web = KubeObject.objects.get(kind="Deployment", name="web")
    refusal = Scale.refusal(web)
    assert refusal is not None and "org.opencontainers.image.revision missing" in refusal
    assert "flux push artifact" in refusal
