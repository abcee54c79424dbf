"""The real kubectl against the simulator: discovery, tables, apply, patch, annotate, delete, watch."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
import yaml

from simulator import Simulator
from simulator.flux.demo import fixtures_dir

from .conftest import Kubectl, deployment, wait_for

FIXTURES = fixtures_dir()

# CRDs of the non-Flux kinds the fixtures use, as their projects ship them (names/scope/versions only).
EXTRA_CRDS = [
    ("cert-manager.io", "ClusterIssuer", "clusterissuers", "Cluster", ["v1"]),
    ("gateway.networking.k8s.io", "GatewayClass", "gatewayclasses", "Cluster", ["v1", "v1beta1"]),
    ("gateway.networking.k8s.io", "Gateway", "gateways", "Namespaced", ["v1", "v1beta1"]),
    ("monitoring.coreos.com", "PodMonitor", "podmonitors", "Namespaced", ["v1"]),
]


class GoStringsLoader(yaml.SafeLoader):
    """YAML as kubectl reads it: a bare ``=`` (``matchType: =`` in real repositories) is a string, not YAML 1.1's
    "value" type that PyYAML cannot construct."""


GoStringsLoader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))


def crd_yaml() -> str:
    docs = []
    for group, kind, plural, scope, versions in EXTRA_CRDS:
        docs.append({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                     "metadata": {"name": f"{plural}.{group}"},
                     "spec": {"group": group, "scope": scope,
                              "names": {"kind": kind, "plural": plural, "singular": kind.lower(),
                                        "listKind": f"{kind}List"},
                              "versions": [{"name": v, "served": True, "storage": i == 0,
                                            "subresources": {"status": {}},
                                            "schema": {"openAPIV3Schema": {
                                                "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}
                                           for i, v in enumerate(versions)]}})
    return yaml.safe_dump_all(docs)


def manifest_files(root: Path) -> list[Path]:
    """Every fixture file holding Kubernetes objects (not kustomize configs or empty placeholders)."""
    out = []
    for p in sorted(root.rglob("*.yaml")):
        docs = [d for d in yaml.load_all(p.read_text(), Loader=GoStringsLoader) if d]
        if docs and all(isinstance(d, dict) and "apiVersion" in d and "kind" in d
                        and not d["apiVersion"].startswith("kustomize.config.k8s.io") for d in docs):
            out.append(p)
    return out


def test_discovery_lists_builtin_and_flux_kinds(kubectl: Kubectl) -> None:
    out = kubectl.run("api-resources", "-o", "name").stdout.split()
    for name in ["pods", "deployments.apps", "jobs.batch", "cronjobs.batch", "roles.rbac.authorization.k8s.io",
                 "ingresses.networking.k8s.io", "customresourcedefinitions.apiextensions.k8s.io",
                 "kustomizations.kustomize.toolkit.fluxcd.io", "helmreleases.helm.toolkit.fluxcd.io",
                 "ocirepositories.source.toolkit.fluxcd.io", "externalartifacts.source.toolkit.fluxcd.io",
                 "alerts.notification.toolkit.fluxcd.io", "receivers.notification.toolkit.fluxcd.io",
                 "imagepolicies.image.toolkit.fluxcd.io"]:
        assert name in out
    fluxcd = kubectl.run("api-resources", "--categories", "fluxcd", "-o", "name").stdout.split()
    assert len(fluxcd) == 15 and "deployments.apps" not in fluxcd
    versions = kubectl.run("api-versions").stdout.split()
    assert "notification.toolkit.fluxcd.io/v1beta3" in versions and "helm.toolkit.fluxcd.io/v2" in versions


def test_get_tables_json_all_namespaces_and_label_selectors(kubectl: Kubectl, sim: Simulator, ns: str) -> None:
    for i, tier in enumerate(["web", "web", "db"]):
        sim.store.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
            "name": f"cm-{i}", "namespace": ns, "labels": {"tier": tier, **({"canary": "y"} if i == 1 else {})}},
            "data": {"k": "v"}})
    table = kubectl.run("get", "configmaps", "-n", ns).stdout.splitlines()
    assert table[0].split() == ["NAME", "DATA", "AGE"]
    assert [r.split()[:2] for r in table[1:]] == [["cm-0", "1"], ["cm-1", "1"], ["cm-2", "1"]]
    wide = kubectl.run("get", "configmaps", "-A").stdout.splitlines()
    assert wide[0].split()[:2] == ["NAMESPACE", "NAME"]
    assert any(r.split()[:2] == [ns, "cm-2"] for r in wide)
    names = lambda sel: [i["metadata"]["name"] for i in kubectl.json("get", "cm", "-n", ns, "-l", sel)["items"]]  # noqa: E731
    assert names("tier=web") == ["cm-0", "cm-1"]
    assert names("tier!=web") == ["cm-2"]
    assert names("tier in (db)") == ["cm-2"]
    assert names("tier notin (db),canary") == ["cm-1"]
    assert names("!canary") == ["cm-0", "cm-2"]
    everywhere = kubectl.json("get", "cm", "-A", "-l", "tier=db")["items"]
    assert [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in everywhere] == [(ns, "cm-2")]
    one = kubectl.json("get", "cm", "cm-0", "-n", ns)
    assert one["kind"] == "ConfigMap" and one["data"] == {"k": "v"}
    missing = kubectl.run("get", "cm", "nope", "-n", ns, check=False)
    assert missing.returncode == 1 and 'configmaps "nope" not found' in missing.stderr


def test_flux_printer_columns(kubectl: Kubectl, sim: Simulator, ns: str) -> None:
    sim.store.create({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
                      "metadata": {"name": "repo", "namespace": ns},
                      "spec": {"url": "https://example.com/repo.git", "interval": "1m"}})
    obj = sim.store.get("gitrepositories", ns, "repo")
    obj["status"] = {"conditions": [{"type": "Ready", "status": "True", "reason": "Succeeded",
                                     "message": "stored artifact for revision 'main@sha1:abc'"}]}
    sim.store.update_status(obj)
    rows = kubectl.run("get", "gitrepo", "-n", ns).stdout.splitlines()
    assert rows[0].split() == ["NAME", "URL", "AGE", "READY", "STATUS"]
    assert rows[1].split()[:2] == ["repo", "https://example.com/repo.git"]
    assert rows[1].split()[3:] == ["True", "stored", "artifact", "for", "revision", "'main@sha1:abc'"]


def test_apply_every_fixture_manifest_after_crds(kubectl: Kubectl, tmp_path: Path) -> None:
    crds = tmp_path / "crds.yaml"
    crds.write_text(crd_yaml())
    kubectl.run("apply", "-f", str(crds))
    assert "clusterissuers" in kubectl.run("api-resources", "--api-group", "cert-manager.io").stdout
    work = tmp_path / "fixtures"
    # The Flux example repositories: bjw-s-home-ops applies CRDs this test does not install (external-secrets, …);
    # the ClickOps tests cover it.
    shutil.copytree(FIXTURES, work, ignore=shutil.ignore_patterns("bjw-s-home-ops"))
    files = manifest_files(work)
    assert len(files) >= 35
    # Namespaces first, as `kubectl apply -k` would order them.
    files.sort(key=lambda p: "kind: Namespace" not in p.read_text())
    for f in files:
        kubectl.run("apply", "-f", str(f))
    for f in files:
        for doc in yaml.load_all(f.read_text(), Loader=GoStringsLoader):
            if not doc:
                continue
            group = doc["apiVersion"].rpartition("/")[0]
            ref = f"{doc['kind']}.{group}" if group else doc["kind"]
            args = ["get", ref, doc["metadata"]["name"]]
            if doc["kind"] not in ("Namespace", "ClusterIssuer", "GatewayClass"):
                args += ["-n", doc["metadata"].get("namespace", "default")]
            assert kubectl.json(*args)["metadata"]["name"] == doc["metadata"]["name"]
    # Re-applying the same files changes nothing.
    again = kubectl.run("apply", "-f", str(files[0])).stdout
    assert "unchanged" in again
    # Directories whose kustomization builds locally apply with -k too.
    built = 0
    for kfile in sorted(work.rglob("kustomization.yaml")):
        build = kubectl.run("kustomize", str(kfile.parent), check=False)
        if build.returncode == 0 and build.stdout.strip():  # the flux-system dirs build to nothing
            kubectl.run("apply", "-k", str(kfile.parent))
            built += 1
    assert built >= 10
    cm = kubectl.json("get", "cm", "-n", "monitoring", "-l", "grafana_dashboard=1")["items"]
    assert cm and cm[0]["metadata"]["name"].startswith("flux-grafana-dashboards-")


def test_apply_rollout_patch_merge_annotate_and_delete(kubectl: Kubectl, sim: Simulator, ns: str,
                                                       tmp_path: Path) -> None:
    path = tmp_path / "d.yaml"
    path.write_text(yaml.safe_dump(deployment("web", ns)))
    assert "created" in kubectl.run("apply", "-f", str(path)).stdout
    kubectl.run("rollout", "status", "deployment/web", "-n", ns, "--timeout=20s")
    path.write_text(yaml.safe_dump(deployment("web", ns, image="nginx:1.28")))
    assert "configured" in kubectl.run("apply", "-f", str(path)).stdout
    kubectl.run("rollout", "status", "deployment/web", "-n", ns, "--timeout=20s")
    d = kubectl.json("get", "deploy", "web", "-n", ns)
    assert d["metadata"]["generation"] == 2 and d["status"]["observedGeneration"] == 2
    assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.28"
    rs = kubectl.json("get", "rs", "-n", ns)["items"]
    assert sorted(r["spec"]["replicas"] for r in rs) == [0, 2]

    kubectl.run("patch", "deployment", "web", "-n", ns, "--type", "merge", "-p", '{"spec":{"replicas":3}}')
    wait_for(lambda: kubectl.json("get", "deploy", "web", "-n", ns)["status"].get("readyReplicas") == 3,
             what="3 ready replicas")
    kubectl.run("scale", "deployment/web", "-n", ns, "--replicas=1")
    wait_for(lambda: len(kubectl.json("get", "pods", "-n", ns, "-l", "app=web")["items"]) == 1, what="scale to 1")

    kubectl.run("annotate", "deployment", "web", "-n", ns, "team=a")
    kubectl.run("annotate", "--overwrite", "deployment", "web", "-n", ns, "team=b")
    d = kubectl.json("get", "deploy", "web", "-n", ns)
    assert d["metadata"]["annotations"]["team"] == "b"
    assert "kubectl.kubernetes.io/last-applied-configuration" in d["metadata"]["annotations"]
    kubectl.run("label", "deployment", "web", "-n", ns, "tier=front")
    assert kubectl.json("get", "deploy", "-n", ns, "-l", "tier=front")["items"][0]["metadata"]["name"] == "web"

    out = kubectl.run("delete", "deployment", "web", "-n", ns, "--timeout=20s").stdout
    assert 'deployment.apps "web" deleted' in out
    # Garbage collection removed the ReplicaSets and their Pods.
    assert kubectl.json("get", "rs,pods", "-n", ns)["items"] == []


def test_get_watch_receives_events(kubectl: Kubectl, sim: Simulator, ns: str) -> None:
    proc = kubectl.popen("get", "configmaps", "-n", ns, "-w", "--output-watch-events")
    try:
        # No need to wait for kubectl: it watches from its list's resourceVersion, so nothing is missed.
        sim.store.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "late", "namespace": ns}})
        assert proc.stdout is not None
        line = ""
        deadline = time.monotonic() + 15
        while "late" not in line and time.monotonic() < deadline:
            line = proc.stdout.readline()
        assert line.split()[:2] == ["ADDED", "late"]
    finally:
        proc.kill()
        proc.wait()


def test_get_watch_json_stream(kubectl: Kubectl, sim: Simulator, ns: str) -> None:
    sim.store.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "w", "namespace": ns}})
    # A collection watch (list, then watch from the list's resourceVersion) cannot miss the patch below;
    # `get NAME -w` watches from resourceVersion 0 and would race with it, on a real cluster too.
    proc = kubectl.popen("get", "configmaps", "-n", ns, "--field-selector", "metadata.name=w", "-w", "-o", "json",
                         "--output-watch-events")
    try:
        assert proc.stdout is not None
        first = json.loads(_read_json_doc(proc))
        assert first["type"] == "ADDED" and first["object"]["metadata"]["name"] == "w"
        sim.store.patch("configmaps", ns, "w", {"data": {"x": "1"}}, "merge")
        second = json.loads(_read_json_doc(proc))
        assert second["type"] == "MODIFIED" and second["object"]["data"] == {"x": "1"}
    finally:
        proc.kill()
        proc.wait()


def _read_json_doc(proc: object) -> str:
    buf, depth = "", 0
    while True:
        line = proc.stdout.readline()  # type: ignore[attr-defined]
        if not line:
            raise AssertionError("kubectl closed its output")
        buf += line
        depth += line.count("{") - line.count("}")
        if depth == 0 and buf.strip():
            return buf


def test_crd_registers_kind_and_deleting_it_removes_objects(kubectl: Kubectl, tmp_path: Path) -> None:
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "widgets.example.com"},
           "spec": {"group": "example.com", "scope": "Namespaced",
                    "names": {"kind": "Widget", "plural": "widgets", "shortNames": ["wd"], "categories": ["all"]},
                    "versions": [{"name": "v1", "served": True, "storage": True,
                                  "additionalPrinterColumns": [{"name": "Size", "type": "integer",
                                                                "jsonPath": ".spec.size"}],
                                  "schema": {"openAPIV3Schema": {"type": "object",
                                                                 "x-kubernetes-preserve-unknown-fields": True}}}]}}
    (tmp_path / "crd.yaml").write_text(yaml.safe_dump(crd))
    kubectl.run("apply", "-f", str(tmp_path / "crd.yaml"))
    (tmp_path / "w.yaml").write_text(yaml.safe_dump({"apiVersion": "example.com/v1", "kind": "Widget",
                                                     "metadata": {"name": "w1", "namespace": "default"},
                                                     "spec": {"size": 3}}))
    kubectl.run("apply", "-f", str(tmp_path / "w.yaml"))
    rows = kubectl.run("get", "wd").stdout.splitlines()
    assert rows[0].split() == ["NAME", "SIZE", "AGE"] and rows[1].split()[:2] == ["w1", "3"]
    est = kubectl.json("get", "crd", "widgets.example.com")["status"]["conditions"]
    assert {c["type"]: c["status"] for c in est} == {"NamesAccepted": "True", "Established": "True"}
    kubectl.run("delete", "crd", "widgets.example.com")
    gone = kubectl.run("get", "widgets.example.com", check=False)
    assert gone.returncode != 0


@pytest.mark.parametrize("validate", ["true", "false", "strict"])
def test_apply_validate_modes(kubectl: Kubectl, ns: str, tmp_path: Path, validate: str) -> None:
    (tmp_path / "cm.yaml").write_text(yaml.safe_dump(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "v", "namespace": ns}, "data": {"a": "1"}}))
    assert "created" in kubectl.run("apply", f"--validate={validate}", "-f", str(tmp_path / "cm.yaml")).stdout


def test_server_side_dry_run_stores_nothing(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    (tmp_path / "cm.yaml").write_text(yaml.safe_dump(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dry", "namespace": ns}}))
    assert "server dry run" in kubectl.run("apply", "--dry-run=server", "-f", str(tmp_path / "cm.yaml")).stdout
    assert kubectl.run("get", "cm", "dry", "-n", ns, check=False).returncode == 1
