"""Helm's own release storage, decoded: which objects a release created, for clusters whose helm-controller does
not write ``status.inventory`` on HelmReleases (Flux before 2.5).

A release is a Secret ``sh.helm.release.v1.<release>.v<revision>`` (labels ``owner=helm``, ``name``, ``status``)
whose ``release`` key holds base64(gzip(JSON)); the JSON's ``manifest`` is the rendered YAML.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import zlib

import yaml

GZIP_MAGIC = b"\x1f\x8b"


def decode_release(secret: dict) -> dict | None:
    """The release JSON of a Helm storage Secret, or None when it is not one or cannot be decoded."""
    raw = ((secret.get("data") or {}).get("release")) or ""
    try:
        payload = base64.b64decode(base64.b64decode(raw))  # Secret data, then Helm's own base64 layer
        if payload[:2] == GZIP_MAGIC:
            payload = gzip.decompress(payload)
        return json.loads(payload)
    except (binascii.Error, ValueError, OSError, zlib.error):
        return None


def manifest_keys(release: dict, default_namespace: str) -> list[tuple[str, str, str, str]]:
    """(group, kind, namespace, name) of every object in a release manifest."""
    keys = []
    try:
        documents = list(yaml.safe_load_all(release.get("manifest") or ""))
    except yaml.YAMLError:
        return keys
    for doc in documents:
        if not isinstance(doc, dict) or not doc.get("kind") or not isinstance(doc.get("metadata"), dict):
            continue
        group = str(doc.get("apiVersion", "")).rpartition("/")[0]
        meta = doc["metadata"]
        keys.append((group, str(doc["kind"]), str(meta.get("namespace") or default_namespace), str(meta.get("name"))))
    return keys


def release_name(helmrelease: dict) -> tuple[str, str]:
    """(storage namespace, release name) of a HelmRelease as helm-controller computes them."""
    spec, meta = helmrelease.get("spec") or {}, helmrelease.get("metadata") or {}
    namespace = meta.get("namespace", "")
    target = spec.get("targetNamespace") or ""
    name = spec.get("releaseName") or (f"{target}-{meta.get('name')}" if target else meta.get("name", ""))
    return spec.get("storageNamespace") or namespace, name[:53]


def deployed_manifests(secrets: list[dict]) -> dict[tuple[str, str], list[tuple[str, str, str, str]]]:
    """(storage namespace, release) → objects of its latest deployed revision, from Helm storage Secrets."""
    latest: dict[tuple[str, str], tuple[int, dict, str]] = {}
    for secret in secrets:
        meta = secret.get("metadata") or {}
        labels = meta.get("labels") or {}
        if labels.get("owner") != "helm" or labels.get("status") != "deployed":
            continue
        key = (meta.get("namespace", ""), labels.get("name", ""))
        try:
            version = int(labels.get("version", "0"))
        except ValueError:
            continue
        if key not in latest or version > latest[key][0]:
            latest[key] = (version, secret, meta.get("namespace", ""))
    result = {}
    for key, (_version, secret, namespace) in latest.items():
        release = decode_release(secret)
        if release is not None:
            result[key] = manifest_keys(release, release.get("namespace") or namespace)
    return result
