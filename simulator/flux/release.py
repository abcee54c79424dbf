"""Helm release bookkeeping for the simulated helm-controller: names, values, rendering with Helm's
post-render metadata, history entries and Helm's own storage Secrets (`sh.helm.release.v1.<name>.v<n>`)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json

import yaml

from ..store import Store, clone
from . import charts
from .common import HELM_GROUP, rfc3339


class ValuesError(Exception):
    """A valuesFrom reference could not be resolved."""


def release_name(hr: dict) -> str:
    """spec.releaseName, else `<targetNamespace>-<name>` or `<name>`; over 53 characters it is cut to 40 plus
    `-` plus 12 hex characters of its sha256 (helm-controller internal/release/name.go)."""
    spec, name = hr.get("spec") or {}, hr["metadata"]["name"]
    rel = spec.get("releaseName") or (f"{spec['targetNamespace']}-{name}" if spec.get("targetNamespace") else name)
    if len(rel) > 53:
        rel = f"{rel[:40]}-{hashlib.sha256(rel.encode()).hexdigest()[:12]}"
    return rel


def _set_path(values: dict, path: str, value: object) -> None:
    parts = path.split(".")
    cur = values
    for p in parts[:-1]:
        cur = cur.setdefault(p, {}) if isinstance(cur.get(p), dict) or p not in cur else cur[p]
    cur[parts[-1]] = value


def compose_values(store: Store, hr: dict, chart: charts.Chart) -> dict:
    """Chart defaults ← each valuesFrom in order ← spec.values (helm-controller chartutil.ChartValuesFromReferences)."""
    ns = hr["metadata"]["namespace"]
    spec = hr.get("spec") or {}
    merged: dict = {}
    for ref in spec.get("valuesFrom") or []:
        kind, name = ref.get("kind", "ConfigMap"), ref.get("name", "")
        key = ref.get("valuesKey") or "values.yaml"
        obj = store.peek("configmaps" if kind == "ConfigMap" else "secrets", ns, name)
        data = (obj or {}).get("data") or {}
        if obj is None or key not in data:
            if ref.get("optional"):
                continue
            raise ValuesError(f"could not resolve {kind} chart values reference '{ns}/{name}' with key '{key}'")
        raw = data[key] if kind == "ConfigMap" else base64.b64decode(data[key]).decode(errors="replace")
        if ref.get("targetPath"):
            _set_path(merged, ref["targetPath"], raw)
            continue
        try:
            parsed = yaml.safe_load(raw) or {}
        except yaml.YAMLError as e:
            raise ValuesError(f"unable to read values from key '{key}' in {kind} '{ns}/{name}': {e}") from e
        if not isinstance(parsed, dict):
            raise ValuesError(f"unable to read values from key '{key}' in {kind} '{ns}/{name}': not a map")
        merged = charts.merge_values(merged, parsed)
    merged = charts.merge_values(merged, spec.get("values") or {})
    return charts.merge_values(chart.defaults, merged)


def config_digest(values: dict) -> str:
    return "sha256:" + hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()


def render(hr: dict, chart: charts.Chart, version: str, values: dict, with_crds: bool) -> tuple[list[dict], list[dict]]:
    """(crds from the chart's crds/ directory, templated objects) with helm-controller's post-render labels and
    Helm's ownership metadata on the templated ones."""
    m = hr["metadata"]
    rel = release_name(hr)
    target_ns = (hr.get("spec") or {}).get("targetNamespace") or m["namespace"]
    crd_dir, objs = chart.render(chart, version, rel, target_ns, clone(values))
    if with_crds:
        crd_dir = crd_dir + chart.crds(values)
    else:
        crd_dir = []
    owner = {f"{HELM_GROUP}/name": m["name"], f"{HELM_GROUP}/namespace": m["namespace"]}
    for o in crd_dir:
        o["metadata"].setdefault("labels", {}).update(owner)
    for o in objs:
        meta = o["metadata"]
        meta.setdefault("labels", {}).update({**owner, "app.kubernetes.io/managed-by": "Helm"})
        meta.setdefault("annotations", {}).update({"meta.helm.sh/release-name": rel,
                                                   "meta.helm.sh/release-namespace": target_ns})
    return crd_dir, objs


def history_entry(hr: dict, chart: charts.Chart, version: str, values: dict, number: int, status: str,
                  first_deployed: str | None, manifest: str) -> dict:
    """One `status.history` snapshot (helm-controller api/v2 Snapshot)."""
    rel = release_name(hr)
    ns = (hr.get("spec") or {}).get("targetNamespace") or hr["metadata"]["namespace"]
    t = rfc3339()
    entry = {"name": rel, "namespace": ns, "version": number, "status": status, "chartName": chart.name,
             "chartVersion": version, "appVersion": chart.app_version(version), "configDigest": config_digest(values),
             "firstDeployed": first_deployed or t, "lastDeployed": t}
    entry["digest"] = "sha256:" + hashlib.sha256(json.dumps({**entry, "manifest": manifest},
                                                            sort_keys=True).encode()).hexdigest()
    return entry


def write_storage(store: Store, hr: dict, entry: dict, values: dict, manifest: str, description: str) -> None:
    """Helm's Secret storage driver record, so tools reading Helm storage (`flux tree`) see the release."""
    storage_ns = (hr.get("spec") or {}).get("storageNamespace") or hr["metadata"]["namespace"]
    release = {"name": entry["name"], "namespace": entry["namespace"], "version": entry["version"],
               "info": {"first_deployed": entry["firstDeployed"], "last_deployed": entry["lastDeployed"],
                        "status": entry["status"], "description": description},
               "chart": {"metadata": {"name": entry["chartName"], "version": entry["chartVersion"],
                                      "appVersion": entry["appVersion"], "apiVersion": "v2"}},
               "config": values, "manifest": manifest}
    # Helm stores base64(gzip(json)); the Secret's data encoding adds the second base64 layer.
    blob = base64.b64encode(gzip.compress(json.dumps(release).encode(), mtime=0)).decode()
    name = f"sh.helm.release.v1.{entry['name']}.v{entry['version']}"
    secret = {"apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
              "metadata": {"name": name, "namespace": storage_ns,
                           "labels": {"owner": "helm", "name": entry["name"], "status": entry["status"],
                                      "version": str(entry["version"])}},
              "data": {"release": base64.b64encode(blob.encode()).decode()}}
    if store.peek("namespaces", None, storage_ns) is None:
        return
    live = store.peek("secrets", storage_ns, name)
    if live is None:
        store.create(secret)
    else:
        new = clone(live)
        new["metadata"]["labels"] = secret["metadata"]["labels"]
        new["data"] = secret["data"]
        store.update(new)


def mark_storage(store: Store, hr: dict, entry: dict, status: str) -> None:
    """Relabel an existing storage Secret (e.g. superseded) without rewriting its payload."""
    storage_ns = (hr.get("spec") or {}).get("storageNamespace") or hr["metadata"]["namespace"]
    live = store.peek("secrets", storage_ns, f"sh.helm.release.v1.{entry['name']}.v{entry['version']}")
    if live is not None and (live["metadata"].get("labels") or {}).get("status") != status:
        new = clone(live)
        new["metadata"]["labels"]["status"] = status
        store.update(new)


def manifest_text(objs: list[dict]) -> str:
    return "".join("---\n" + yaml.safe_dump(o, sort_keys=False) for o in objs)
