"""Discovery documents (/api, /apis, resource lists) and the OpenAPI documents kubectl asks for."""

from __future__ import annotations

import hashlib
import json

from .registry import Registry, ResourceType

VERSION = {
    "major": "1", "minor": "35", "gitVersion": "v1.35.0+fluxplane-sim", "gitCommit": "0" * 40,
    "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.25", "compiler": "gc",
    "platform": "linux/amd64",
}


def api_versions(address: str) -> dict:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}]}


def _group(name: str, versions: list[str]) -> dict:
    vs = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": vs, "preferredVersion": vs[0]}


def api_group_list(reg: Registry) -> dict:
    return {"kind": "APIGroupList", "apiVersion": "v1",
            "groups": [_group(g, vs) for g, vs in sorted(reg.groups().items())]}


def api_group(reg: Registry, name: str) -> dict | None:
    vs = reg.groups().get(name)
    if not vs:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(name, vs)}


def resources_in(reg: Registry, group: str, version: str) -> list[ResourceType]:
    return sorted((rt for rt in reg.all() if rt.group == group and rt.version == version), key=lambda r: r.plural)


def resource_list(reg: Registry, group: str, version: str) -> dict | None:
    rts = resources_in(reg, group, version)
    if not rts:
        return None
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
            "resources": [r for rt in rts for r in rt.discovery()]}


def _gv_path(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def openapi_v3_index(reg: Registry) -> dict:
    """`/openapi/v3`: one entry per group-version, hashed so kubectl's cache notices new CRDs."""
    paths = {}
    gvs = {(rt.group, rt.version) for rt in reg.all()}
    for g, v in sorted(gvs):
        doc = json.dumps(openapi_v3_doc(reg, g, v), sort_keys=True).encode()
        digest = hashlib.sha256(doc).hexdigest()[:32].upper()
        paths[_gv_path(g, v)] = {"serverRelativeURL": f"/openapi/v3/{_gv_path(g, v)}?hash={digest}"}
    return {"paths": paths}


def openapi_v3_doc(reg: Registry, group: str, version: str) -> dict:
    """A minimal OpenAPI v3 document for one group-version.

    It carries what kubectl reads from it: each PATCH operation's `x-kubernetes-group-version-kind` and the
    `fieldValidation` query parameter, so `kubectl apply` uses server-side field validation (which the
    simulator accepts and does not enforce). There are no schemas, so kubectl falls back to its built-in
    strategic-merge metadata for built-in kinds and to JSON merge patch for custom resources.
    """
    params = [{"name": n, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
              for n in ("dryRun", "fieldManager", "fieldValidation", "pretty")]
    paths = {}
    for rt in resources_in(reg, group, version):
        prefix = f"/{_gv_path(group, version)}"
        base = f"{prefix}/namespaces/{{namespace}}/{rt.plural}" if rt.namespaced else f"{prefix}/{rt.plural}"
        gvk = {"group": group, "version": version, "kind": rt.kind}
        op = {"x-kubernetes-group-version-kind": gvk, "x-kubernetes-action": "patch",
              "responses": {"200": {"description": "OK"}}}
        paths[f"{base}/{{name}}"] = {"parameters": params, "patch": op,
                                     "get": {**op, "x-kubernetes-action": "get"},
                                     "put": {**op, "x-kubernetes-action": "put"}}
        paths[base] = {"parameters": params, "post": {**op, "x-kubernetes-action": "post"}}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes (fluxplane simulator)", "version": VERSION["gitVersion"]},
            "paths": paths, "components": {"schemas": {}}}
