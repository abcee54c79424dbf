"""Bad input is refused with a clear message, before anything is written, committed or pushed."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops import GitOpsError, InvalidInput, NotEditable, PathEscape, create, validate, yamledit
from gitops.locate import KustomizationRef, ObjectRef, locate
from gitops.repo import Identity, WorkingCopy, branch_name

from .conftest import git

APPS = KustomizationRef(path="./apps/staging")
BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b, *b]\n"


def _frontend(repo: str):
    return locate(repo, ObjectRef("Deployment", "frontend", "podinfo"), APPS)


def _release(repo: str):
    return locate(repo, ObjectRef("HelmRelease", "podinfo", "podinfo"), APPS)


def _podinfo_ns(repo: str):
    return locate(repo, ObjectRef("Namespace", "podinfo"), APPS)


CASES = [
    ("name uppercase", lambda r: create.create_namespace(r, "clusters/staging", "Team_A"), "DNS-1123 label"),
    (
        "name too long",
        lambda r: create.create_deployment(r, _podinfo_ns(r), name="a" * 64, image="nginx"),
        "at most 63",
    ),
    ("image spaces", lambda r: yamledit.set_image(r, _frontend(r), "app", "nginx latest"), "not a valid image"),
    ("image uppercase", lambda r: yamledit.set_image(r, _frontend(r), "app", "Nginx:1"), "lower-case"),
    ("image bad digest", lambda r: yamledit.set_image(r, _frontend(r), "app", "nginx@sha256:xyz"), "image reference"),
    (
        "quantity",
        lambda r: yamledit.set_resources(r, _frontend(r), "app", {"cpu": "lots"}),
        "not a Kubernetes quantity",
    ),
    (
        "memory milli",
        lambda r: yamledit.set_resources(r, _frontend(r), "app", {"memory": "128m"}),
        "did you mean 128Mi",
    ),
    (
        "limits < requests",
        lambda r: yamledit.set_resources(r, _frontend(r), "app", {"cpu": "2"}, {"cpu": "500m"}),
        "lower than the request",
    ),
    ("replicas -1", lambda r: yamledit.set_replicas(r, _frontend(r), -1), "between 0 and 1000"),
    ("replicas 1001", lambda r: yamledit.set_replicas(r, _frontend(r), 1001), "between 0 and 1000"),
    ("replicas '3'", lambda r: yamledit.set_replicas(r, _frontend(r), "3"), "whole number"),
    ("replicas True", lambda r: yamledit.set_replicas(r, _frontend(r), True), "whole number"),
    ("yaml anchors bomb", lambda r: yamledit.merge_values(r, _release(r), BOMB), "anchors and aliases"),
    ("yaml tabs", lambda r: yamledit.merge_values(r, _release(r), "redis:\n\ttag: 1\n"), "indented with a tab"),
    ("yaml multiple docs", lambda r: yamledit.merge_values(r, _release(r), "a: 1\n---\nb: 2\n"), "one YAML document"),
    ("yaml duplicate keys", lambda r: yamledit.merge_values(r, _release(r), "a: 1\na: 2\n"), "duplicate key"),
    ("yaml not a mapping", lambda r: yamledit.merge_values(r, _release(r), "- a\n- b\n"), "expected a mapping"),
    ("yaml huge", lambda r: yamledit.merge_values(r, _release(r), "a: " + "x" * 300_000 + "\n"), "larger than"),
    (
        "edit renames",
        lambda r: yamledit.replace_document(
            r, _release(r), "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: other\n"
        ),
        "metadata.name changed",
    ),
    ("chart version", lambda r: yamledit.set_chart_version(r, _release(r), "1.x.2"), "after a wildcard"),
    ("chart version junk", lambda r: yamledit.set_chart_version(r, _release(r), "latest"), "not a version constraint"),
    (
        "interval",
        lambda r: create.create_kustomization(
            r, "clusters/staging", name="x", path="apps/staging", source_name="flux-system", interval="5 minutes"
        ),
        "not a duration",
    ),
    (
        "path dotdot",
        lambda r: create.create_kustomization(
            r, "clusters/staging", name="x", path="../../etc", source_name="flux-system"
        ),
        "leaves the repository",
    ),
    (
        "path missing",
        lambda r: create.create_kustomization(
            r, "clusters/staging", name="x", path="apps/nope", source_name="flux-system"
        ),
        "not a directory",
    ),
    (
        "origin dotdot",
        lambda r: locate(
            r, ObjectRef("HelmRelease", "podinfo", "podinfo", origin="path: ../../../../etc/hosts\n"), APPS
        ),
        "leaves the repository",
    ),
    ("scale daemonset-like kind", lambda r: yamledit.set_replicas(r, _release(r), 3), "has no spec.replicas"),
    (
        "namespace under namespace transformer",
        lambda r: create.create_namespace(r, "apps/staging", "team-b"),
        "would rename the new Namespace",
    ),
    ("existing folder", lambda r: create.create_namespace(r, "clusters/staging", "flux-system"), "already exists"),
    (
        "blank limit on service without port",
        lambda r: create.create_deployment(r, _podinfo_ns(r), name="api", image="nginx", service=True),
        "needs the container port",
    ),
]


@pytest.mark.parametrize(("label", "action", "message"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_and_nothing_is_pushed(tmp_path: Path, helm_repo: Path, label, action, message) -> None:
    bare = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(helm_repo), str(bare))
    refs_before = git(bare, "show-ref")
    wc = WorkingCopy(tmp_path / "cache", str(bare))
    wc.prepare()
    with pytest.raises((InvalidInput, NotEditable, PathEscape)) as info:
        action(str(wc.path))
    assert message in str(info.value)
    assert wc.diff() == ""
    with pytest.raises(GitOpsError, match="the change is empty"):
        wc.commit_branch(branch_name("scale", 1), Identity("Dev", "dev@example.com"), "chore: x\n")
    assert git(bare, "show-ref") == refs_before


def test_validators_accept_good_values() -> None:
    assert validate.image_reference("ghcr.io/stefanprodan/podinfo:6.5.0@sha256:" + "a" * 64)["tag"] == "6.5.0"
    assert validate.image_reference("localhost:5000/team/app")["name"] == "localhost:5000/team/app"
    assert validate.quantity("1.5Gi", "memory") == 1.5 * 2**30
    assert validate.quantity("250m") * 4 == 1
    for constraint in ("1.x", ">=1.0.0 <2.0.0", "~1.2", "^1.2", "*", ">= 1.8.0-rc.0", "1.2 - 1.4.5", "1.x || >=3"):
        assert validate.semver_constraint(constraint) == constraint
    for good in ("5m", "1h30m", "10m0s", "90s"):
        assert validate.duration(good) == good
    with pytest.raises(InvalidInput, match="longer than zero"):
        validate.duration("0s")
    assert validate.semver("v1.2.3-rc.1+build.5")
    with pytest.raises(InvalidInput):
        validate.semver("1.2")
    assert validate.repo_path("./apps/staging/") == "apps/staging"
    assert validate.dns1123_subdomain("podinfo.example") == "podinfo.example"
    with pytest.raises(InvalidInput, match="subdomain"):
        validate.dns1123_subdomain("-bad.example")
