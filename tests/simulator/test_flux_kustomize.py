"""kustomize-controller and source-controller simulation: real git repositories, real kustomize, HTTP reads."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes.client.exceptions import ApiException

from .flux_fixtures import (
    GIT,
    KS,
    FluxEnv,
    GitRepo,
    WebhookSink,
    cond,
    deployment_yaml,
    eventually,
    git_repository,
    kustomization,
)

SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports: [{port: 80}]
"""
SUB_KUSTOMIZATION = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [settings.yaml]
"""
SETTINGS = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  colour: ${COLOUR:=blue}
"""


@pytest.fixture
def sink() -> Iterator[WebhookSink]:
    s = WebhookSink()
    yield s
    s.close()


@pytest.fixture
def env(tmp_path: Path, sink: WebhookSink) -> Iterator[FluxEnv]:
    e = FluxEnv(tmp_path, event_webhook_url=sink.url)
    e.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}})
    yield e
    e.close()


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    r = GitRepo(tmp_path / "repo")
    r.commit({"app/deployment.yaml": deployment_yaml("web", 1), "app/service.yaml": SERVICE,
              "app/config/kustomization.yaml": SUB_KUSTOMIZATION, "app/config/settings.yaml": SETTINGS,
              "app/README.md": "not a manifest\n"}, "initial")
    return r


def test_git_change_is_applied_after_requested_reconcile(env: FluxEnv, repo: GitRepo, sink: WebhookSink) -> None:
    sha1 = repo.git("rev-parse", "HEAD").strip()
    env.create(git_repository("repo", "flux-system", repo.url))
    env.create(kustomization("app", "flux-system", "./app", targetNamespace="apps",
                             buildMetadata=["originAnnotations"]))
    ks = env.wait_ready(KS, "flux-system", "app")
    src = env.get(GIT, "flux-system", "repo")
    assert src["status"]["artifact"]["revision"] == f"main@sha1:{sha1}"
    assert src["status"]["artifact"]["digest"].startswith("sha256:")
    assert cond(src, "ArtifactInStorage")["status"] == "True"
    assert ks["status"]["lastAppliedRevision"] == f"main@sha1:{sha1}"
    assert cond(ks, "Ready")["message"] == f"Applied revision: main@sha1:{sha1}"
    assert ks["status"]["observedGeneration"] == ks["metadata"]["generation"]
    assert not cond(ks, "Reconciling") and not cond(ks, "Healthy")
    # The generated kustomization.yaml lists the files and the sub-directory that has its own (scanManifests).
    ids = [e["id"] for e in ks["status"]["inventory"]["entries"]]
    assert ids == ["apps_settings__ConfigMap", "apps_web__Service", "apps_web_apps_Deployment"]
    dep = env.apps.read_namespaced_deployment("web", "apps")
    assert dep.spec.replicas == 1
    assert dep.metadata.labels["kustomize.toolkit.fluxcd.io/name"] == "app"
    assert dep.metadata.labels["kustomize.toolkit.fluxcd.io/namespace"] == "flux-system"
    assert dep.metadata.annotations["config.kubernetes.io/origin"] == "path: deployment.yaml\n"
    cm = env.core.read_namespaced_config_map("settings", "apps")
    assert cm.metadata.annotations["config.kubernetes.io/origin"] == "path: config/settings.yaml\n"

    sha2 = repo.commit({"app/deployment.yaml": deployment_yaml("web", 3)}, "scale web to 3")
    env.request_reconcile(GIT, "flux-system", "repo")
    token = env.request_reconcile(KS, "flux-system", "app")
    # `flux reconcile` waits for lastHandledReconcileAt to change; the new revision may land first (the
    # source's own event) or with the requested reconcile.
    ks = eventually(lambda: (o := env.get(KS, "flux-system", "app"))["status"].get("lastHandledReconcileAt")
                    == token and o, what="request handled")
    ks = eventually(lambda: (o := env.get(KS, "flux-system", "app"))["status"].get("lastAppliedRevision")
                    == f"main@sha1:{sha2}" and o, what="new revision applied")
    assert ks["status"]["lastAttemptedRevision"] == f"main@sha1:{sha2}"
    assert env.apps.read_namespaced_deployment("web", "apps").spec.replicas == 3
    events = env.core.list_namespaced_event("flux-system").items
    mine = [e for e in events if e.involved_object.name == "app" and e.source.component == "kustomize-controller"]
    assert any(e.reason == "ReconciliationSucceeded" and e.type == "Normal" for e in mine)
    assert any(e.reason == "Progressing" and "Deployment/apps/web configured" in e.message for e in mine)
    posted = eventually(lambda: [b for b in sink.bodies if b["reason"] == "Progressing"
                                 and b.get("metadata", {}).get("revision") == f"main@sha1:{sha2}"], what="webhook")
    body = posted[0]  # type: ignore[index]
    assert body["involvedObject"]["kind"] == "Kustomization" and body["severity"] == "info"
    assert body["reportingController"] == "kustomize-controller"


def test_prune_removes_objects_dropped_from_git(env: FluxEnv, repo: GitRepo) -> None:
    env.create(git_repository("repo", "flux-system", repo.url))
    env.create(kustomization("app", "flux-system", "./app", targetNamespace="apps"))
    env.wait_ready(KS, "flux-system", "app")
    assert env.core.read_namespaced_service("web", "apps")
    sha = repo.commit({"app/service.yaml": None}, "drop the service")
    env.request_reconcile(GIT, "flux-system", "repo")
    eventually(lambda: env.get(KS, "flux-system", "app")["status"].get("lastAppliedRevision") == f"main@sha1:{sha}")
    with pytest.raises(ApiException) as e:
        env.core.read_namespaced_service("web", "apps")
    assert e.value.status == 404
    ids = [x["id"] for x in env.get(KS, "flux-system", "app")["status"]["inventory"]["entries"]]
    assert "apps_web__Service" not in ids and "apps_web_apps_Deployment" in ids


def test_suspend_stops_reconciliation_and_resume_catches_up(env: FluxEnv, repo: GitRepo) -> None:
    env.create(git_repository("repo", "flux-system", repo.url))
    env.create(kustomization("app", "flux-system", "./app", targetNamespace="apps"))
    env.create(kustomization("witness", "flux-system", "./app/config", targetNamespace="apps"))
    env.wait_ready(KS, "flux-system", "app")
    env.custom.patch_namespaced_custom_object(*KS[:2], "flux-system", KS[2], "app", {"spec": {"suspend": True}})
    sha = repo.commit({"app/deployment.yaml": deployment_yaml("web", 4)}, "scale")
    env.request_reconcile(GIT, "flux-system", "repo")
    env.request_reconcile(KS, "flux-system", "app")
    # The witness shares the source: once it applied the new revision the controller has seen it too.
    eventually(lambda: env.get(KS, "flux-system", "witness")["status"].get("lastAppliedRevision")
               == f"main@sha1:{sha}", what="witness applied")
    app = env.get(KS, "flux-system", "app")
    assert app["status"]["lastAppliedRevision"] != f"main@sha1:{sha}"
    assert env.apps.read_namespaced_deployment("web", "apps").spec.replicas == 1
    # `flux resume` sends {"spec":{"suspend":null}}; the generation bump triggers a reconcile.
    env.custom.patch_namespaced_custom_object(*KS[:2], "flux-system", KS[2], "app", {"spec": {"suspend": None}})
    eventually(lambda: env.apps.read_namespaced_deployment("web", "apps").spec.replicas == 4, what="resumed")


def test_depends_on_orders_kustomizations(env: FluxEnv, repo: GitRepo) -> None:
    repo.commit({"extra/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\ndata:\n  k: v\n"})
    watch, _ = env.store.watch(["configmaps", "services"], resource_version=env.store.resource_version)
    env.create(git_repository("repo", "flux-system", repo.url))
    env.create(kustomization("second", "flux-system", "./extra", targetNamespace="apps",
                             dependsOn=[{"name": "first"}]))
    blocked = eventually(lambda: cond(env.get(KS, "flux-system", "second"), "Ready").get("reason")
                         == "DependencyNotReady" and env.get(KS, "flux-system", "second"), what="blocked")
    assert "first" in cond(blocked, "Ready")["message"]
    assert env.store.peek("configmaps", "apps", "extra") is None
    env.create(kustomization("first", "flux-system", "./app", targetNamespace="apps"))
    env.wait_ready(KS, "flux-system", "second")
    added = []
    while (ev := watch.next(timeout=0)) is not None:
        if ev.type == "ADDED":
            added.append(ev.obj["metadata"]["name"])
    watch.close()
    # Everything `first` applies was created before anything of `second`.
    assert added.index("extra") > max(added.index("web"), added.index("settings"))
    assert env.core.read_namespaced_config_map("extra", "apps").metadata.labels[
        "kustomize.toolkit.fluxcd.io/name"] == "second"


def test_broken_build_reports_build_failed(env: FluxEnv, repo: GitRepo, sink: WebhookSink) -> None:
    sha = repo.commit({"broken/kustomization.yaml": "resources: [missing.yaml]\n"}, "broken")
    env.create(git_repository("repo", "flux-system", repo.url))
    env.create(kustomization("broken", "flux-system", "./broken", retryInterval="1m"))
    # The source may not be ready on the first attempt (ArtifactFailed); wait for the build's own verdict.
    ks = eventually(lambda: (o := env.get(KS, "flux-system", "broken")) and cond(o, "Ready").get("reason")
                    == "BuildFailed" and o, what="BuildFailed")
    ready_c = cond(ks, "Ready")  # type: ignore[arg-type]
    assert ready_c["reason"] == "BuildFailed"
    assert ready_c["message"].startswith("kustomize build failed:") and "missing.yaml" in ready_c["message"]
    assert cond(ks, "Reconciling")["reason"] == "ProgressingWithRetry"  # type: ignore[arg-type]
    assert "observedGeneration" not in ks["status"]  # type: ignore[index]
    assert ks["status"]["lastAttemptedRevision"] == f"main@sha1:{sha}"  # type: ignore[index]
    assert "lastAppliedRevision" not in ks["status"]  # type: ignore[index]
    warn = eventually(lambda: [b for b in sink.bodies if b["reason"] == "BuildFailed"], what="webhook warning")
    assert warn[0]["severity"] == "error"  # type: ignore[index]


def test_unknown_kind_is_reconciliation_failed_and_bad_path_artifact_failed(env: FluxEnv, repo: GitRepo) -> None:
    repo.commit({"crd/issuer.yaml": "apiVersion: cert-manager.io/v1\nkind: ClusterIssuer\nmetadata:\n  name: le\n"})
    env.create(git_repository("repo", "flux-system", repo.url))
    env.create(kustomization("crd", "flux-system", "./crd"))
    env.create(kustomization("nopath", "flux-system", "./does-not-exist"))
    ks = eventually(lambda: cond(env.get(KS, "flux-system", "crd"), "Ready").get("reason") == "ReconciliationFailed"
                    and env.get(KS, "flux-system", "crd"), what="ReconciliationFailed")
    assert 'no matches for kind "ClusterIssuer" in version "cert-manager.io/v1"' in cond(ks, "Ready")["message"]
    eventually(lambda: cond(env.get(KS, "flux-system", "nopath"), "Ready").get("reason") == "ArtifactFailed")


def test_wait_health_check_fails_on_timeout(env: FluxEnv, repo: GitRepo) -> None:
    repo.commit({"bad/deployment.yaml": deployment_yaml("bad", 1, "ghcr.io/example/app:1.0-broken")})
    env.create(git_repository("repo", "flux-system", repo.url))
    env.create(kustomization("bad", "flux-system", "./bad", targetNamespace="apps", wait=True, timeout="2s"))
    ks = eventually(lambda: cond(env.get(KS, "flux-system", "bad"), "Ready").get("reason") == "HealthCheckFailed"
                    and env.get(KS, "flux-system", "bad"), what="HealthCheckFailed")
    assert "timeout waiting for: [Deployment/apps/bad status: 'InProgress']" in cond(ks, "Ready")["message"]
    assert cond(ks, "Healthy")["status"] == "False"
    pods = env.core.list_namespaced_pod("apps", label_selector="app=bad").items
    assert pods and pods[0].status.container_statuses[0].state.waiting.reason == "ImagePullBackOff"


def test_overlay_fields_and_post_build_substitution(env: FluxEnv, repo: GitRepo) -> None:
    env.create(git_repository("repo", "flux-system", repo.url))
    env.create(kustomization(
        "overlay", "flux-system", "./app", targetNamespace="apps", namePrefix="pre-", nameSuffix="-suf",
        images=[{"name": "ghcr.io/stefanprodan/podinfo", "newTag": "6.5.0"}],
        patches=[{"target": {"kind": "Deployment"}, "patch": "- op: replace\n  path: /spec/replicas\n  value: 2\n"}],
        postBuild={"substitute": {"COLOUR": "green"}}))
    env.wait_ready(KS, "flux-system", "overlay")
    dep = env.apps.read_namespaced_deployment("pre-web-suf", "apps")
    assert dep.spec.replicas == 2
    assert dep.spec.template.spec.containers[0].image == "ghcr.io/stefanprodan/podinfo:6.5.0"
    assert env.core.read_namespaced_config_map("pre-settings-suf", "apps").data == {"colour": "green"}


def test_git_refs_tag_semver_commit_and_missing_branch(env: FluxEnv, repo: GitRepo) -> None:
    first = repo.git("rev-parse", "HEAD").strip()
    repo.git("tag", "v1.0.0")
    second = repo.commit({"app/deployment.yaml": deployment_yaml("web", 2)})
    repo.git("tag", "v1.1.0")
    repo.git("tag", "v2.0.0-rc.1")
    refs = {"tag": ({"tag": "v1.0.0"}, f"v1.0.0@sha1:{first}"),
            "semver": ({"semver": "1.x"}, f"v1.1.0@sha1:{second}"),
            "pre": ({"semver": ">=2.0.0-0"}, f"v2.0.0-rc.1@sha1:{second}"),
            "commit": ({"commit": first}, f"sha1:{first}")}
    for name, (ref, _) in refs.items():
        env.create(git_repository(name, "flux-system", repo.url, ref=ref))
    env.create(git_repository("nobranch", "flux-system", repo.url, ref={"branch": "develop"}))
    for name, (_, want) in refs.items():
        got = env.wait_ready(GIT, "flux-system", name)["status"]["artifact"]
        assert got["revision"] == want and got["path"].startswith(f"gitrepository/flux-system/{name}/")
        assert got["url"].startswith("http://source-controller.flux-system.svc.cluster.local./")
    bad = eventually(lambda: cond(env.get(GIT, "flux-system", "nobranch"), "FetchFailed").get("status") == "True"
                     and env.get(GIT, "flux-system", "nobranch"), what="FetchFailed")
    assert cond(bad, "Ready")["reason"] == "GitOperationFailed" and "refs/heads/develop" in cond(bad, "Ready")[
        "message"]
    assert not cond(bad, "ArtifactInStorage")
