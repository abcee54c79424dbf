"""Helm release bookkeeping for the simulated helm-controller: names, values, rendering (Helm's engine, see
helmengine) with helm-controller's post-render metadata, history entries and Helm's own storage Secrets
(`sh.helm.release.v1.<name>.v<n>`, holding the chart and the values as Helm writes them)."""

from __future__ import annotations

import base64
import copy
import hashlib
import json

import yaml

from gitops.charts import ChartUnavailable, decode_storage, encode_storage

from ..store import Store, clone
from . import charts
from .common import HELM_GROUP, rfc3339
from .helmengine import ENGINE


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


def merge_values(base: dict, override: dict) -> dict:
    """helm-controller's merge of values sources: maps merge recursively, everything else (lists included) is
    replaced."""
    out = copy.deepcopy(base)
    for k, v in (override or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge_values(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def compose_values(store: Store, hr: dict) -> dict:
    """Each valuesFrom in order ← spec.values (helm-controller chartutil.ChartValuesFromReferences): the release's
    config; Helm coalesces it with the chart's defaults when it renders."""
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
        merged = merge_values(merged, parsed)
    return merge_values(merged, spec.get("values") or {})


def config_digest(values: dict) -> str:
    return "sha256:" + hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()


def render(hr: dict, chart: charts.Chart, version: str, values: dict, with_crds: bool
           ) -> tuple[list[dict], list[tuple[str, dict]]]:
    """(CRDs of the chart's crds/ directory when they are installed, (template path, object) of the templated
    manifests) rendered by Helm's engine, with helm-controller's post-render labels and Helm's ownership metadata on
    the templated ones. Raises helmengine.RenderError on a template error."""
    m = hr["metadata"]
    rel = release_name(hr)
    target_ns = (hr.get("spec") or {}).get("targetNamespace") or m["namespace"]
    docs = ENGINE.render(chart, version, rel, target_ns, values)
    crd_dir = ENGINE.crds(chart, version) if with_crds else []
    owner = {f"{HELM_GROUP}/name": m["name"], f"{HELM_GROUP}/namespace": m["namespace"]}
    for o in crd_dir:
        o.setdefault("metadata", {}).setdefault("labels", {}).update(owner)
    for _, o in docs:
        meta = o.setdefault("metadata", {})
        meta.setdefault("labels", {}).update({**owner, "app.kubernetes.io/managed-by": "Helm"})
        meta.setdefault("annotations", {}).update({"meta.helm.sh/release-name": rel,
                                                   "meta.helm.sh/release-namespace": target_ns})
    return crd_dir, docs


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


def write_storage(store: Store, hr: dict, chart: charts.Chart, entry: dict, values: dict, manifest: str,
                  description: str) -> None:
    """Helm's Secret storage driver record — the release with its chart (metadata, templates, default values,
    files) and config values — so tools reading Helm storage (`flux tree`, `helm get`, ClickOps' verification) see
    the release and can render its chart again."""
    storage_ns = (hr.get("spec") or {}).get("storageNamespace") or hr["metadata"]["namespace"]
    release = {"name": entry["name"], "namespace": entry["namespace"], "version": entry["version"],
               "info": {"first_deployed": entry["firstDeployed"], "last_deployed": entry["lastDeployed"],
                        "deleted": "", "status": entry["status"], "description": description},
               "chart": ENGINE.record(chart, entry["chartVersion"]),
               "config": values, "manifest": manifest, "hooks": None, "labels": None}
    name = f"sh.helm.release.v1.{entry['name']}.v{entry['version']}"
    secret = {"apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
              "metadata": {"name": name, "namespace": storage_ns,
                           "labels": {"owner": "helm", "name": entry["name"], "status": entry["status"],
                                      "version": str(entry["version"])}},
              "data": {"release": encode_storage(release)}}
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


def mark_storage(store: Store, hr: dict, entry: dict, status: str, description: str | None = None) -> None:
    """Move an existing storage Secret to ``status`` (e.g. deployed, superseded) as Helm does: the label and the
    record's ``info.status`` (and ``info.description`` when given, "Upgrade complete"), which `helm history` reads."""
    storage_ns = (hr.get("spec") or {}).get("storageNamespace") or hr["metadata"]["namespace"]
    live = store.peek("secrets", storage_ns, f"sh.helm.release.v1.{entry['name']}.v{entry['version']}")
    if live is not None and (live["metadata"].get("labels") or {}).get("status") != status:
        new = clone(live)
        new["metadata"]["labels"]["status"] = status
        try:
            record: dict | None = decode_storage((new.get("data") or {}).get("release") or "")
        except ChartUnavailable:
            record = None  # not a record this simulator wrote: relabel only
        if record is not None:
            record.setdefault("info", {})["status"] = status
            if description is not None:
                record["info"]["description"] = description
            new["data"]["release"] = encode_storage(record)
        store.update(new)


def manifest_text(docs: list[tuple[str, dict]]) -> str:
    """The release manifest as Helm stores it: each post-rendered object under its `# Source:` template."""
    return "".join(f"---\n# Source: {path}\n" + yaml.safe_dump(o, sort_keys=False) for path, o in docs)
