"""Locating an object's source document: origin annotation, scan fallback, namespace transformer, escapes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gitops import NotEditable, PathEscape
from gitops.locate import KustomizationRef, ObjectRef, locate

APPS = KustomizationRef(path="./apps/staging", source_url="ssh://git@github.com/org/fleet", source_ref="main")


def test_origin_annotation_joined_with_spec_path(helm_repo: Path) -> None:
    obj = ObjectRef("HelmRelease", "podinfo", "podinfo", origin="path: ../base/podinfo/release.yaml\n")
    loc = locate(str(helm_repo), obj, APPS)
    assert (loc.path, loc.index, loc.found_by, loc.build_path) == ("apps/base/podinfo/release.yaml", 0, "origin",
                                                                    "apps/staging")
    assert (loc.source_url, loc.source_ref) == ("ssh://git@github.com/org/fleet", "main")


def test_origin_picks_the_document_in_a_multi_document_file(helm_repo: Path) -> None:
    obj = ObjectRef("HelmRelease", "cert-manager", "cert-manager", origin={"path": "cert-manager.yaml"})
    loc = locate(str(helm_repo), obj, KustomizationRef(path="infrastructure/controllers"))
    assert (loc.path, loc.index) == ("infrastructure/controllers/cert-manager.yaml", 2)


def test_without_origin_the_build_is_scanned_through_base_dirs(helm_repo: Path) -> None:
    loc = locate(str(helm_repo), ObjectRef("HelmRepository", "podinfo", "podinfo"), APPS)
    assert (loc.path, loc.index, loc.found_by) == ("apps/base/podinfo/repository.yaml", 0, "scan")


def test_namespace_transformer_applies_to_documents_without_namespace(helm_repo: Path, monitoring_repo: Path) -> None:
    # frontend.yaml has no metadata.namespace: the base kustomization's `namespace: podinfo` gives it one
    loc = locate(str(helm_repo), ObjectRef("Deployment", "frontend", "podinfo"), APPS)
    assert loc.path == "apps/base/podinfo/frontend.yaml"
    with pytest.raises(NotEditable, match="was not found"):
        locate(str(helm_repo), ObjectRef("Deployment", "frontend", "default"), APPS)
    # loki's release.yaml has no namespace; loki-stack/kustomization.yaml sets monitoring; Flux generates the root
    loc = locate(str(monitoring_repo), ObjectRef("HelmRelease", "loki", "monitoring"),
                 KustomizationRef(path="./monitoring/controllers"))
    assert loc.path == "monitoring/controllers/loki-stack/release.yaml"


def test_target_namespace_and_name_prefix_of_the_flux_kustomization(helm_repo: Path) -> None:
    kz = KustomizationRef(path="./infrastructure/controllers", target_namespace="tenant-a", name_prefix="t-")
    loc = locate(str(helm_repo), ObjectRef("HelmRelease", "t-ingress-nginx", "tenant-a"), kz)
    assert (loc.path, loc.index) == ("infrastructure/controllers/ingress-nginx.yaml", 2)


def test_origin_with_dotdot_escaping_the_repository_is_refused(helm_repo: Path) -> None:
    obj = ObjectRef("HelmRelease", "podinfo", "podinfo", origin="path: ../../../etc/passwd\n")
    with pytest.raises(PathEscape, match="leaves the repository"):
        locate(str(helm_repo), obj, APPS)
    with pytest.raises(PathEscape, match="absolute"):
        locate(str(helm_repo), ObjectRef("HelmRelease", "podinfo", "podinfo", origin="path: /etc/passwd\n"), APPS)
    with pytest.raises(PathEscape):
        locate(str(helm_repo), ObjectRef("HelmRelease", "podinfo", "podinfo"), KustomizationRef(path="../outside"))


def test_symlink_pointing_outside_is_refused(helm_repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: secret\n")
    os.symlink(outside, helm_repo / "apps/staging/link.yaml")
    obj = ObjectRef("ConfigMap", "secret", "podinfo", origin="path: link.yaml\n")
    with pytest.raises(PathEscape, match="outside the repository"):
        locate(str(helm_repo), obj, APPS)


def test_not_editable_reasons(helm_repo: Path, monitoring_repo: Path) -> None:
    with pytest.raises(NotEditable, match="remote base"):
        locate(str(helm_repo), ObjectRef("Pod", "x", "podinfo",
                                         origin="path: a.yaml\nrepo: https://github.com/x/y\nref: v1\n"), APPS)
    with pytest.raises(NotEditable, match="ConfigMapGenerator configured in monitoring/configs/kustomization.yaml"):
        locate(str(monitoring_repo), ObjectRef(
            "ConfigMap", "flux-grafana-dashboards-abc", "monitoring",
            origin="configuredIn: kustomization.yaml\nconfiguredBy:\n  apiVersion: builtin\n"
                   "  kind: ConfigMapGenerator\n"),
            KustomizationRef(path="./monitoring/configs"))
    with pytest.raises(NotEditable, match="rendered by a HelmRelease"):
        locate(str(helm_repo), ObjectRef("Deployment", "podinfo", "podinfo"), APPS)
    with pytest.raises(NotEditable, match="ExternalArtifact"):
        locate(str(helm_repo), ObjectRef("Deployment", "frontend", "podinfo"),
               KustomizationRef(path="./staging", source_kind="ExternalArtifact"))


def test_moved_file_falls_back_to_scan(helm_repo: Path) -> None:
    obj = ObjectRef("HelmRelease", "podinfo", "podinfo", origin="path: ../base/podinfo/old-release.yaml\n")
    loc = locate(str(helm_repo), obj, APPS)
    assert (loc.path, loc.found_by) == ("apps/base/podinfo/release.yaml", "scan")
