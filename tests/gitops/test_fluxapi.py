"""gitops.fluxapi: the removed-API table and the minimal-diff migration, table-driven on real manifests (the
flux2-kustomize-helm-example fixture rewritten to the beta APIs it once used, the operator fleet's ResourceSet)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gitops.fluxapi import migrate_text, migrate_tree, removed_in_message, removed_message, replacement
from simulator.flux.demo import fixtures_dir

EXAMPLE = fixtures_dir() / "flux2-kustomize-helm-example"


@pytest.mark.parametrize(("api", "kind", "want"), [
    ("helm.toolkit.fluxcd.io/v2beta1", "HelmRelease", "helm.toolkit.fluxcd.io/v2"),
    ("helm.toolkit.fluxcd.io/v2beta2", "HelmRelease", "helm.toolkit.fluxcd.io/v2"),
    ("helm.toolkit.fluxcd.io/v2", "HelmRelease", None),
    ("source.toolkit.fluxcd.io/v1beta2", "HelmRepository", "source.toolkit.fluxcd.io/v1"),
    ("source.toolkit.fluxcd.io/v1beta2", "OCIRepository", "source.toolkit.fluxcd.io/v1"),
    ("kustomize.toolkit.fluxcd.io/v1beta2", "Kustomization", "kustomize.toolkit.fluxcd.io/v1"),
    ("notification.toolkit.fluxcd.io/v1beta2", "Alert", "notification.toolkit.fluxcd.io/v1beta3"),
    ("notification.toolkit.fluxcd.io/v1beta2", "Receiver", "notification.toolkit.fluxcd.io/v1"),
    ("notification.toolkit.fluxcd.io/v1beta3", "Provider", None),
    ("image.toolkit.fluxcd.io/v1beta2", "ImagePolicy", "image.toolkit.fluxcd.io/v1"),
    ("kustomize.config.k8s.io/v1beta1", "Kustomization", None),  # kustomize's own file, not Flux's
    ("apps/v1", "Deployment", None),
])
def test_replacement(api: str, kind: str, want: str | None) -> None:
    assert replacement(api, kind) == want


def test_messages_name_the_fix() -> None:
    assert "migrate it to helm.toolkit.fluxcd.io/v2" in removed_message("helm.toolkit.fluxcd.io/v2beta1", "HelmRelease")
    assert removed_message("apps/v1", "Deployment") is None
    msg = ('HelmRelease/podinfo/podinfo dry-run failed: no matches for kind "HelmRelease" in version '
           '"helm.toolkit.fluxcd.io/v2beta1"')
    assert removed_in_message(msg) == ("HelmRelease", "helm.toolkit.fluxcd.io/v2beta1")
    assert removed_in_message('no matches for kind "Widget" in version "example.com/v1"') is None


RELEASE_V2BETA1 = """\
---
# podinfo from the chart repository
apiVersion: helm.toolkit.fluxcd.io/v2beta1  # still beta
kind: HelmRelease
metadata:
  name: podinfo
  namespace: podinfo
spec:
  releaseName: podinfo
  chart:
    spec:
      chart: podinfo
      valuesFile: 'values-prod.yaml'   # the one file
      sourceRef:
        kind: HelmRepository
        name: podinfo
  interval: 50m
"""

CASES = [
    pytest.param(RELEASE_V2BETA1, [
        ("apiVersion: helm.toolkit.fluxcd.io/v2beta1  # still beta",
         "apiVersion: helm.toolkit.fluxcd.io/v2  # still beta"),
        ("      valuesFile: 'values-prod.yaml'   # the one file",
         "      valuesFiles: ['values-prod.yaml']   # the one file"),
    ], id="helmrelease-v2beta1-with-valuesFile"),
    pytest.param("""\
apiVersion: source.toolkit.fluxcd.io/v1beta2
kind: GitRepository
metadata: {name: flux-system, namespace: flux-system}
spec:
  interval: 1m0s
  gitImplementation: go-git
  ref: {branch: main}
  url: https://github.com/fluxcd/flux2-kustomize-helm-example
""", [("apiVersion: source.toolkit.fluxcd.io/v1beta2", "apiVersion: source.toolkit.fluxcd.io/v1"),
      ("  gitImplementation: go-git", None)], id="gitrepository-drops-gitImplementation"),
    pytest.param("""\
apiVersion: fluxcd.controlplane.io/v1
kind: ResourceSet
metadata: {name: apps, namespace: flux-system}
spec:
  resources:
    - apiVersion: "kustomize.toolkit.fluxcd.io/v1beta2"
      kind: Kustomization
      metadata:
        name: << inputs.tenant >>
      spec:
        path: ./apps
        validation: client
""", [('    - apiVersion: "kustomize.toolkit.fluxcd.io/v1beta2"', '    - apiVersion: "kustomize.toolkit.fluxcd.io/v1"'),
      ("        validation: client", None)], id="resourceset-template-inside"),
    pytest.param("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n", [], id="nothing-to-do"),
    pytest.param("{{ if .x }}\nnot: yaml: at: all\n", [], id="not-yaml-is-left-alone"),
]


@pytest.mark.parametrize(("text", "changed"), CASES)
def test_migrate_text_changes_only_those_lines(text: str, changed: list[tuple[str, str | None]]) -> None:
    new, what = migrate_text(text)
    old_lines, new_lines = text.splitlines(), new.splitlines()
    removed = {o for o, n in changed if n is None}
    expected = [changed_line(line, changed) for line in old_lines if line not in removed]
    assert new_lines == expected
    assert len(what) == len(changed)


def changed_line(line: str, changed: list[tuple[str, str | None]]) -> str:
    return next((n for o, n in changed if o == line and n is not None), line)


def test_migrate_tree_on_a_fixture_rewritten_to_the_beta_apis(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLE, repo)
    originals = {p: p.read_text() for p in repo.rglob("*.yaml")}
    for p, text in originals.items():
        p.write_text(text.replace("helm.toolkit.fluxcd.io/v2\n", "helm.toolkit.fluxcd.io/v2beta1\n")
                     .replace("source.toolkit.fluxcd.io/v1\n", "source.toolkit.fluxcd.io/v1beta2\n"))
    rewritten = {p for p in originals if p.read_text() != originals[p]}
    assert rewritten, "the fixture uses Flux's GA APIs"
    change = migrate_tree(str(repo), ".", build_paths=["clusters/staging"])
    assert sorted(change.files) == sorted(str(p.relative_to(repo)) for p in rewritten)
    assert all(p.read_text() == text for p, text in originals.items())  # byte for byte back to the original
    assert migrate_tree(str(repo)).files == []
